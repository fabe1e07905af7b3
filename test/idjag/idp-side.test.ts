// Cross-App Access, IdP side: token exchange with requested_token_type id-jag
// (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.3), over the real HTTP endpoint. Subject
// tokens come from independent signers: ID tokens from PyJWT, SAML assertions from xmlsec1.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import { ACCESS_TOKEN_TYPE, API, CLIENTS, decodeJwt, exchange, expectError, signedAssertion, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";
import { CORP_AUD, ID_TOKEN, JWT, JWT_CLIENT, corpClaims } from "../support/jwt-fixtures.js";
import { JWT_KEYS, pySign, pySignMany } from "../support/independent-jwt.js";
import { CHAT_API, CHAT_FILES, C1_AT_CHAT, ID_JAG, RAS_ISS, WIKI_AT_CHAT, WIKI_AT_CORP, startIdpBridge } from "./support.js";

const SAML2 = "urn:ietf:params:oauth:token-type:saml2";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startIdpBridge();
});
afterAll(async () => {
  await bridge.close();
});

/** An ID token from the corporate IdP, issued to the wiki app (its aud), signed by PyJWT. */
function idToken(over: Record<string, unknown> = {}): string {
  return pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(bridge.clock.now, { aud: WIKI_AT_CORP, amr: ["pwd", "otp"], ...over }) });
}

function requestIdJag(o: { token: string; tokenType?: string; audience?: string | string[]; resource?: string | string[]; scope?: string; client?: { id: string; secret: string }; extra?: Record<string, string> }) {
  return exchange(bridge, {
    rawToken: o.token, tokenType: o.tokenType ?? ID_TOKEN, audience: o.audience ?? RAS_ISS,
    ...(o.resource !== undefined ? { resource: o.resource } : {}), ...(o.scope !== undefined ? { scope: o.scope } : {}),
    client: o.client ?? JWT_CLIENT, extra: { requested_token_type: ID_JAG, ...o.extra },
  });
}

describe("issuing an ID-JAG from an ID token", () => {
  it("answers per §4.3.4: issued_token_type id-jag, token_type N_A, the grant signed with the bridge's keys", async () => {
    const res = await requestIdJag({ token: idToken(), resource: CHAT_API, scope: "chat.read chat.history" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.issued_token_type).toBe(ID_JAG);
    expect(res.body.token_type).toBe("N_A");
    expect(res.body.scope).toBe("chat.read chat.history");
    expect(res.body.expires_in).toBe(300);
    expect(res.body.refresh_token).toBeUndefined();
    const jwks = (await bridge.http.get("/.well-known/jwks.json")).body;
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token, createLocalJWKSet(jwks), {
      issuer: BRIDGE_ISSUER, audience: RAS_ISS, typ: "oauth-id-jag+jwt", currentDate: new Date(bridge.clock.now),
    });
    expect(protectedHeader.typ).toBe("oauth-id-jag+jwt");
    expect(payload).toMatchObject({
      iss: BRIDGE_ISSUER, sub: "alice", aud: RAS_ISS, client_id: WIKI_AT_CHAT.id, resource: CHAT_API,
      scope: "chat.read chat.history", acr: "urn:corp:mfa", amr: ["pwd", "otp"], email: "alice@corp.test",
    });
    expect(typeof payload.jti).toBe("string");
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.auth_time).toBe(Math.floor(bridge.clock.now / 1000) - 30);
    // Never an access-token claim set: no act, no idp, no may_act.
    expect(payload.act).toBeUndefined();
    expect(payload.idp).toBeUndefined();
    expect(bridge.logs.at(-1)).toMatchObject({ event: "token_exchange", outcome: "issued", audience: [RAS_ISS] });
  });

  it("without resource: every resource of the client's entry; without scope: the entry's defaults, returned", async () => {
    const res = await requestIdJag({ token: idToken() });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe("chat.read");
    expect(decodeJwt(res.body.access_token).payload.resource).toEqual([CHAT_API, CHAT_FILES]);
  });

  it("never outlives the subject token", async () => {
    const now = Math.floor(bridge.clock.now / 1000);
    const res = await requestIdJag({ token: idToken({ exp: now + 40 }) });
    expect(res.status).toBe(200);
    expect(res.body.expires_in).toBe(40);
  });

  it("uses the server's subjectClaim as sub when configured", async () => {
    const b = await startIdpBridge((c) => { c.resourceAuthorizationServers[0].subjectClaim = "email"; });
    try {
      const t = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(b.clock.now, { aud: WIKI_AT_CORP }) });
      const res = await exchange(b, { rawToken: t, tokenType: ID_TOKEN, audience: RAS_ISS, client: JWT_CLIENT, extra: { requested_token_type: ID_JAG } });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).payload.sub).toBe("alice@corp.test");
    } finally {
      await b.close();
    }
  });
});

describe("issuing an ID-JAG from a SAML assertion", () => {
  it("is the same pipeline: verified, mapped, one-time", async () => {
    const xml = signedAssertion(bridge, { attributes: [{ name: "role", values: ["user"] }, { name: "mail", values: ["bob@example.com"] }] });
    const res = await requestIdJag({ token: toBase64Url(xml), tokenType: SAML2, client: CLIENTS.c1, scope: "chat.read" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { header, payload } = decodeJwt(res.body.access_token);
    expect(header.typ).toBe("oauth-id-jag+jwt");
    expect(payload).toMatchObject({ sub: "alice@example.com", aud: RAS_ISS, client_id: C1_AT_CHAT.id, resource: CHAT_API, scope: "chat.read", email: "bob@example.com" });
    expect(payload.acr).toBe("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport");
    // Replayed: the same assertion again.
    expectError(await requestIdJag({ token: toBase64Url(xml), tokenType: SAML2, client: CLIENTS.c1, scope: "chat.read" }), 400, "invalid_request", "replayed");
  });

  it("a replayed assertion is refused even when first used for an access token", async () => {
    const xml = signedAssertion(bridge);
    expect((await exchange(bridge, { xml, audience: API })).status).toBe(200);
    expectError(await requestIdJag({ token: toBase64Url(xml), tokenType: SAML2, client: CLIENTS.c1 }), 400, "invalid_request", "replayed");
  });
});

describe("the audience must be a configured resource authorization server", () => {
  it("refuses a missing, repeated, unknown or not-permitted audience alike in kind", async () => {
    const t = idToken();
    expectError(await requestIdJag({ token: t, audience: [] }), 400, "invalid_target", "target_missing");
    expectError(await requestIdJag({ token: t, audience: [RAS_ISS, RAS_ISS] }), 400, "invalid_target", "target_too_many");
    expectError(await requestIdJag({ token: t, audience: "https://as.other.test/" }), 400, "invalid_target", "id_jag_audience_unknown");
    // Near misses are not matches (no normalization): trailing slash, case.
    expectError(await requestIdJag({ token: t, audience: "https://as.chat.test" }), 400, "invalid_target", "id_jag_audience_unknown");
    expectError(await requestIdJag({ token: t, audience: "HTTPS://AS.CHAT.TEST/" }), 400, "invalid_target", "id_jag_audience_unknown");
    // A bridge audience (a resource server of the bridge) is not a resource authorization server.
    expectError(await requestIdJag({ token: t, audience: API }), 400, "invalid_target", "id_jag_audience_unknown");
  });

  it("refuses a client the server does not list, with the same answer as an unknown server", async () => {
    const xml = signedAssertion(bridge);
    expectError(await exchange(bridge, { xml, audience: RAS_ISS, client: CLIENTS.imp, extra: { requested_token_type: ID_JAG } }), 400, "invalid_target", "id_jag_audience_unknown");
  });
});

describe("resource and scope are checked against the client's entry and never widened", () => {
  it("refuses a resource outside the entry, a malformed one, a scope outside the entry or outside the subject's grant", async () => {
    expectError(await requestIdJag({ token: idToken(), resource: "https://api.chat.test/admin" }), 400, "invalid_target", "target_not_allowed");
    expectError(await requestIdJag({ token: idToken(), resource: `${CHAT_API}#frag` }), 400, "invalid_target", "target_invalid");
    expectError(await requestIdJag({ token: idToken(), resource: "not a uri" }), 400, "invalid_target", "target_invalid");
    expectError(await requestIdJag({ token: idToken(), scope: "chat.admin" }), 400, "invalid_scope", "scope_not_allowed");
    // c1's entry allows only chat.read.
    const xml = signedAssertion(bridge);
    expectError(await requestIdJag({ token: toBase64Url(xml), tokenType: SAML2, client: CLIENTS.c1, scope: "chat.history" }), 400, "invalid_scope", "scope_not_allowed");
    // The subject's mapping grants chat.* only to staff.
    expectError(await requestIdJag({ token: idToken({ groups: ["contractors"] }), scope: "chat.read" }), 400, "invalid_scope", "scope_not_allowed");
    expectError(await requestIdJag({ token: idToken({ groups: ["contractors"] }) }), 400, "invalid_scope", "scope_empty");
  });

  it("a refused request burns nothing: the subject token still works", async () => {
    const xml = signedAssertion(bridge);
    expectError(await requestIdJag({ token: toBase64Url(xml), tokenType: SAML2, client: CLIENTS.c1, scope: "chat.history" }), 400, "invalid_scope", "scope_not_allowed");
    expect((await requestIdJag({ token: toBase64Url(xml), tokenType: SAML2, client: CLIENTS.c1 })).status).toBe(200);
  });
});

describe("the subject token must be an identity assertion issued to the calling client", () => {
  it("refuses an ID token issued to another relying party (draft §4.3.3)", async () => {
    expectError(await requestIdJag({ token: idToken({ aud: CORP_AUD }) }), 400, "invalid_request", "id_jag_subject_client_mismatch");
    expectError(await requestIdJag({ token: idToken({ aud: [CORP_AUD, WIKI_AT_CORP], azp: CORP_AUD }) }), 400, "invalid_request", "id_jag_subject_client_mismatch");
    // Several audiences with azp naming the caller: accepted.
    expect((await requestIdJag({ token: idToken({ aud: [CORP_AUD, WIKI_AT_CORP], azp: WIKI_AT_CORP }) })).status).toBe(200);
  });

  it("refuses the bridge's own access token as subject, and an ID-JAG presented as a subject token", async () => {
    const at = await exchange(bridge, { rawToken: idToken(), tokenType: ID_TOKEN, audience: API, client: JWT_CLIENT });
    expect(at.status, JSON.stringify(at.body)).toBe(200);
    expectError(await requestIdJag({ token: at.body.access_token, tokenType: ACCESS_TOKEN_TYPE }), 400, "invalid_request", "id_jag_subject_not_assertion");

    const jag = (await requestIdJag({ token: idToken() })).body.access_token as string;
    // The reverse: the bridge's own ID-JAG is no ID token or JWT here (its issuer is no trusted
    // issuer: the bridge never takes its own grants back, draft §8.3; the typ rule is shown in
    // resource-side.test.ts, where the issuer is trusted) and no access token (typ at+jwt required).
    for (const type of [ID_TOKEN, JWT]) {
      expectError(await requestIdJag({ token: jag, tokenType: type }), 400, "invalid_request", "issuer_unknown");
      expectError(await exchange(bridge, { rawToken: jag, tokenType: type, audience: API, client: JWT_CLIENT }), 400, "invalid_request", "issuer_unknown");
    }
    expectError(await exchange(bridge, { rawToken: jag, tokenType: ACCESS_TOKEN_TYPE, audience: API, client: JWT_CLIENT }), 400, "invalid_request", "token_type_mismatch");
  });

  it("refuses a token type the client may not present, and an unverifiable token", async () => {
    const xml = signedAssertion(bridge);
    expectError(await requestIdJag({ token: toBase64Url(xml), tokenType: SAML2 }), 400, "invalid_request", "subject_token_type_not_allowed");
    const forged = pySign({ key: JWT_KEYS.attacker, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(bridge.clock.now, { aud: WIKI_AT_CORP }) });
    expectError(await requestIdJag({ token: forged }), 400, "invalid_request", "token_invalid");
    const [expired] = pySignMany([{ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(bridge.clock.now - 3_600_000, { aud: WIKI_AT_CORP }) }]);
    expectError(await requestIdJag({ token: expired! }), 400, "invalid_request", "token_expired");
  });
});

describe("delegation", () => {
  it("refuses an actor token and a subject token that already carries act: the draft defines no processing (§4.3, §8.5)", async () => {
    const actor = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(bridge.clock.now, { sub: "agent-7" }) });
    expectError(await requestIdJag({ token: idToken(), extra: { actor_token: actor, actor_token_type: JWT } }), 400, "invalid_request", "id_jag_actor_unsupported");
    expectError(await requestIdJag({ token: idToken(), extra: { actor_token: actor } }), 400, "invalid_request", "actor_token_pairing");
    expectError(await requestIdJag({ token: idToken({ act: { sub: "agent-7" } }) }), 400, "invalid_request", "id_jag_actor_unsupported");
  });

  it("refuses authorization_details (RAR is not implemented: never silently dropped)", async () => {
    expectError(await requestIdJag({ token: idToken(), extra: { authorization_details: '[{"type":"chat_read"}]' } }), 400, "invalid_request", "parameter_invalid");
  });

  it("honours may_act: only the named client may act", async () => {
    expectError(await requestIdJag({ token: idToken({ may_act: { sub: "someone-else" } }) }), 400, "invalid_request", "may_act_mismatch");
    expect((await requestIdJag({ token: idToken({ may_act: { sub: JWT_CLIENT.id, iss: BRIDGE_ISSUER } }) })).status).toBe(200);
  });
});

describe("discovery and configuration", () => {
  it("advertises the id-jag token type (draft §7), never the servers", async () => {
    const md = (await bridge.http.get("/.well-known/oauth-authorization-server")).body;
    expect(md.token_exchange_requested_token_types_supported).toContain(ID_JAG);
    expect(md.identity_chaining_requested_token_types_supported).toEqual([ID_JAG]);
    expect(JSON.stringify(md)).not.toContain(RAS_ISS);
    // No ID-JAG issuer trusted here: not a resource authorization server.
    expect(md.authorization_grant_profiles_supported).toBeUndefined();
    expect(md.grant_types_supported).not.toContain("urn:ietf:params:oauth:grant-type:jwt-bearer");
  });

  it("without servers configured, an ID-JAG request is refused and nothing is advertised", async () => {
    const b = await startIdpBridge((c) => { c.resourceAuthorizationServers = []; });
    try {
      const md = (await b.http.get("/.well-known/oauth-authorization-server")).body;
      expect(md.token_exchange_requested_token_types_supported).not.toContain(ID_JAG);
      expect(md.identity_chaining_requested_token_types_supported).toBeUndefined();
      const t = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(b.clock.now, { aud: WIKI_AT_CORP }) });
      expectError(await exchange(b, { rawToken: t, tokenType: ID_TOKEN, audience: RAS_ISS, client: JWT_CLIENT, extra: { requested_token_type: ID_JAG } }), 400, "invalid_target", "id_jag_audience_unknown");
    } finally {
      await b.close();
    }
  });
});
