// Cross-App Access, resource side: the JWT bearer grant (RFC 7523 §2.1) with an ID-JAG
// (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.4), over the real HTTP endpoint. Bridge B
// trusts bridge A's ID-JAGs; the grants under test are A's own, or forged by PyJWT with A's key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import type { Test } from "supertest";
import { API, decodeJwt, exchange, expectError, type TestBridge, startBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { ID_TOKEN, JWT_CLIENT, corpClaims } from "../support/jwt-fixtures.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";
import {
  CHAT_API, CHAT_FILES, C1_AT_CHAT, ID_JAG, JWT_BEARER, RAS_ISS, WIKI_AT_CHAT, WIKI_AT_CORP,
  grantClaims, pyGrant, rasPatch, startIdpBridge, writeJwks,
} from "./support.js";

let idp: TestBridge;
let ras: TestBridge;
let jwks: { file: string; dispose(): void };

beforeAll(async () => {
  idp = await startIdpBridge();
  jwks = writeJwks((await idp.http.get("/.well-known/jwks.json")).body);
  ras = await startBridge({ patch: rasPatch(jwks.file), now: idp.clock.now });
});
afterAll(async () => {
  await ras.close();
  await idp.close();
  jwks.dispose();
});

function present(assertion: string, o: { client?: { id: string; secret: string }; scope?: string; resource?: string; bridge?: TestBridge } = {}): Test {
  const client = o.client ?? WIKI_AT_CHAT;
  const form = new URLSearchParams({ grant_type: JWT_BEARER, assertion });
  if (o.scope !== undefined) form.append("scope", o.scope);
  if (o.resource !== undefined) form.append("resource", o.resource);
  return (o.bridge ?? ras).http.post("/token").type("form").auth(client.id, client.secret).send(form.toString());
}

/** A real ID-JAG from bridge A, for the wiki app, from a PyJWT-signed ID token. */
async function realGrant(scope = "chat.read chat.history"): Promise<string> {
  const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(idp.clock.now, { aud: WIKI_AT_CORP, amr: ["pwd"] }) });
  const res = await exchange(idp, { rawToken: idToken, tokenType: ID_TOKEN, audience: RAS_ISS, resource: CHAT_API, scope, client: JWT_CLIENT, extra: { requested_token_type: ID_JAG } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token;
}

describe("a valid ID-JAG", () => {
  it("is exchanged for the bridge's usual access token, with the granted scope and no refresh token", async () => {
    const res = await present(await realGrant());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ token_type: "Bearer", scope: "chat.read chat.history" });
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.issued_token_type).toBeUndefined();
    const keys = createLocalJWKSet((await ras.http.get("/.well-known/jwks.json")).body);
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token, keys, { issuer: RAS_ISS, audience: CHAT_API, typ: "at+jwt", currentDate: new Date(ras.clock.now) });
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(payload).toMatchObject({ sub: "alice", client_id: WIKI_AT_CHAT.id, scope: "chat.read chat.history", idp: BRIDGE_ISSUER, email: "alice@corp.test", act: { sub: WIKI_AT_CHAT.id } });
    expect(ras.logs.at(-1)).toMatchObject({ event: "token_exchange", outcome: "issued", grant_type: JWT_BEARER, idp: "bridge-a", subject_token_type: "urn:ietf:params:oauth:token-type:id-jag" });
  });

  it("a scope or resource parameter only narrows", async () => {
    const res = await present(pyGrant(grantClaims(ras.clock.now, { resource: [CHAT_API, CHAT_FILES], scope: "chat.read chat.history" })), { scope: "chat.read", resource: CHAT_FILES });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.scope).toBe("chat.read");
    expect(decodeJwt(res.body.access_token).payload.aud).toBe(CHAT_FILES);
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { scope: "chat.read" })), { scope: "chat.read chat.history" }), 400, "invalid_scope", "scope_not_allowed");
    expectError(await present(pyGrant(grantClaims(ras.clock.now)), { resource: CHAT_FILES }), 400, "invalid_target", "target_not_allowed");
  });

  it("accepts aud as an array of exactly one element, and application/oauth-id-jag+jwt", async () => {
    expect((await present(pyGrant(grantClaims(ras.clock.now, { aud: [RAS_ISS] })))).status).toBe(200);
    expect((await present(pyGrant(grantClaims(ras.clock.now), { typ: "application/oauth-id-jag+jwt", kid: "test-rs" }))).status).toBe(200);
  });
});

describe("typ must be oauth-id-jag+jwt (draft §4.4.1, RFC 8725 §3.11)", () => {
  it("refuses JWT, at+jwt, none at all, and an ID token or access token from a trusted issuer", async () => {
    for (const typ of ["JWT", "at+jwt", "oauth-id-jag", "id-jag+jwt"]) {
      expectError(await present(pyGrant(grantClaims(ras.clock.now), { typ, kid: "test-rs" })), 400, "invalid_grant", "token_type_mismatch");
    }
    expectError(await present(pyGrant(grantClaims(ras.clock.now), { typ: null, kid: "test-rs" })), 400, "invalid_grant", "token_type_mismatch");
    // A's normal access token (RFC 9068), even one for B's issuer, is no grant.
    const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(idp.clock.now, { aud: WIKI_AT_CORP }) });
    const at = await exchange(idp, { rawToken: idToken, tokenType: ID_TOKEN, audience: API, client: JWT_CLIENT });
    expect(at.status).toBe(200);
    expectError(await present(at.body.access_token), 400, "invalid_grant", "token_type_mismatch");
  });

  it("the reverse: an ID-JAG from an issuer trusted for ID tokens is not an ID token", async () => {
    // B trusts A for ID tokens too (tokenTypes id_token): the typ alone tells them apart.
    const b = await startBridge({ patch: (c) => {
      rasPatch(jwks.file, { audiences: [RAS_ISS] })(c);
      c.clients[0].grantTypes.push("urn:ietf:params:oauth:grant-type:token-exchange");
      c.clients[0].subjectTokenTypes = [ID_TOKEN];
    }, now: ras.clock.now });
    try {
      const jag = await realGrant();
      expectError(await exchange(b, { rawToken: jag, tokenType: ID_TOKEN, audience: CHAT_API, client: WIKI_AT_CHAT }), 400, "invalid_request", "token_type_mismatch");
      // The same claims as a typ JWT ID token are accepted there: the refusal is the typ.
      const asIdToken = pyGrant(grantClaims(ras.clock.now), { kid: "test-rs" });
      const ok = await exchange(b, { rawToken: asIdToken, tokenType: ID_TOKEN, audience: CHAT_API, scope: "chat.read", client: WIKI_AT_CHAT });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    } finally {
      await b.close();
    }
  });
});

describe("aud must be this bridge's issuer", () => {
  it("refuses another server, a trailing-slash variant, and an array with more than one element", async () => {
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { aud: "https://as.other.test/" }))), 400, "invalid_grant", "audience_mismatch");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { aud: "https://as.chat.test" }))), 400, "invalid_grant", "audience_mismatch");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { aud: [RAS_ISS, "https://as.other.test/"] }))), 400, "invalid_grant", "id_jag_claim_invalid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { aud: undefined }))), 400, "invalid_grant", "audience_mismatch");
  });
});

describe("client_id must be the authenticated client", () => {
  it("refuses a grant for another client, and a malformed client_id", async () => {
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { client_id: C1_AT_CHAT.id }))), 400, "invalid_grant", "id_jag_client_mismatch");
    expectError(await present(pyGrant(grantClaims(ras.clock.now)), { client: C1_AT_CHAT }), 400, "invalid_grant", "id_jag_client_mismatch");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { client_id: 42 }))), 400, "invalid_grant", "id_jag_claim_invalid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { client_id: undefined }))), 400, "invalid_grant", "token_invalid");
  });

  it("the client must be allowed the jwt-bearer grant", async () => {
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { client_id: "no-grant" })), { client: { id: "no-grant", secret: "no-grant-secret" } }), 400, "unauthorized_client", "grant_not_allowed");
  });
});

describe("one use, short lifetime", () => {
  it("refuses a replayed grant (jti once), and a refused request burns nothing", async () => {
    const claims = grantClaims(ras.clock.now);
    const jag = pyGrant(claims);
    expectError(await present(jag, { scope: "chat.admin" }), 400, "invalid_scope", "scope_not_allowed");
    expect((await present(jag)).status).toBe(200);
    expectError(await present(jag), 400, "invalid_grant", "replayed");
    // Another signature over the same jti is the same grant.
    expectError(await present(pyGrant({ ...claims, scope: "chat.read" })), 400, "invalid_grant", "replayed");
  });

  it("refuses an expired grant, one from the future, one living too long, and missing jti/exp/iat", async () => {
    const now = Math.floor(ras.clock.now / 1000);
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { iat: now - 700, exp: now - 100 }))), 400, "invalid_grant", "token_expired");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { iat: now + 600, exp: now + 900 }))), 400, "invalid_grant", "assertion_not_yet_valid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { exp: now + 601 }))), 400, "invalid_grant", "token_lifetime_too_long");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { jti: undefined }))), 400, "invalid_grant", "token_invalid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { jti: "" }))), 400, "invalid_grant", "jti_invalid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { exp: undefined }))), 400, "invalid_grant", "timestamp_missing");
    // Expiry passes with the clock too.
    const jag = pyGrant(grantClaims(ras.clock.now, { exp: now + 30 }));
    ras.clock.advance(120_000);
    try {
      expectError(await present(jag), 400, "invalid_grant", "token_expired");
    } finally {
      ras.clock.advance(-120_000);
    }
  });
});

describe("the issuer must be trusted for ID-JAGs", () => {
  it("refuses an unknown issuer, a wrong key, and a known issuer not marked idJag", async () => {
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { iss: "https://idp.other.test" }))), 400, "invalid_grant", "issuer_unknown");
    expectError(await present(pyGrant(grantClaims(ras.clock.now), undefined, JWT_KEYS.attacker)), 400, "invalid_grant", "token_invalid");
    const b = await startBridge({ patch: (c) => { rasPatch(jwks.file)(c); c.jwtIssuers.push({ ...c.jwtIssuers[0], id: "corp-oidc", issuer: "https://login.corp.test", jwksFile: "jwks/oidc.jwks.json", idJag: undefined }); delete c.jwtIssuers[1].idJag; c.clients[0].idps.push("corp-oidc"); }, now: ras.clock.now });
    try {
      const forged = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { typ: "oauth-id-jag+jwt", kid: "oidc-rs-1" }, claims: grantClaims(ras.clock.now, { iss: "https://login.corp.test" }) });
      expectError(await present(forged, { bridge: b }), 400, "invalid_grant", "id_jag_issuer_not_trusted");
    } finally {
      await b.close();
    }
  });

  it("refuses alg none, an algorithm the issuer does not use, and an oversized grant", async () => {
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
    const none = `${b64({ alg: "none", typ: "oauth-id-jag+jwt" })}.${b64(grantClaims(ras.clock.now))}.`;
    expectError(await present(none), 400, "invalid_grant", "signature_algorithm_forbidden");
    const ps256 = pySign({ key: JWT_KEYS.oidc, alg: "PS256", header: { typ: "oauth-id-jag+jwt", kid: "test-rs" }, claims: grantClaims(ras.clock.now) });
    expectError(await present(ps256), 400, "invalid_grant", "signature_algorithm_forbidden");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { pad: "x".repeat(17_000) }))), 400, "invalid_grant", "token_too_large");
  });

  it("refuses an issuer the client may not take grants from", async () => {
    const b = await startBridge({ patch: (c) => { rasPatch(jwks.file)(c); c.clients[0].idps = []; }, now: ras.clock.now });
    try {
      expectError(await present(pyGrant(grantClaims(ras.clock.now)), { bridge: b }), 400, "invalid_grant", "idp_not_allowed");
    } finally {
      await b.close();
    }
  });
});

describe("resource and scope within policy", () => {
  it("refuses a resource that is not one of the client's audiences, and malformed claims", async () => {
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { resource: "https://api.other.test/" }))), 400, "invalid_target", "target_not_allowed");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { resource: [] }))), 400, "invalid_grant", "id_jag_claim_invalid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { resource: "relative/path" }))), 400, "invalid_grant", "id_jag_claim_invalid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { scope: ["chat.read"] }))), 400, "invalid_grant", "id_jag_claim_invalid");
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { amr: "pwd" }))), 400, "invalid_grant", "id_jag_claim_invalid");
  });

  it("never grants more than the grant says: a scope outside the client's, or no scope at all", async () => {
    // c1-at-chat may have chat.read only.
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { client_id: C1_AT_CHAT.id })), { client: C1_AT_CHAT }), 400, "invalid_scope", "scope_not_allowed");
    expect((await present(pyGrant(grantClaims(ras.clock.now, { client_id: C1_AT_CHAT.id, scope: "chat.read" })), { client: C1_AT_CHAT })).status).toBe(200);
    // No scope claim: nothing was authorized.
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { scope: undefined }))), 400, "invalid_scope", "scope_empty");
  });

  it("refuses a proof-of-possession grant (cnf): DPoP is not supported", async () => {
    expectError(await present(pyGrant(grantClaims(ras.clock.now, { cnf: { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } }))), 400, "invalid_grant", "id_jag_pop_unsupported");
  });
});

describe("discovery", () => {
  it("advertises the jwt-bearer grant and the id-jag grant profile (draft §7), never the trusted issuers", async () => {
    const md = (await ras.http.get("/.well-known/oauth-authorization-server")).body;
    expect(md.issuer).toBe(RAS_ISS);
    expect(md.grant_types_supported).toContain(JWT_BEARER);
    expect(md.authorization_grant_profiles_supported).toEqual(["urn:ietf:params:oauth:grant-profile:id-jag"]);
    expect(JSON.stringify(md)).not.toContain(BRIDGE_ISSUER);
  });
});
