/**
 * The on-behalf-of chain (RFC 8693 §1.1, §4.1, §4.4), over HTTP:
 *   user SAML assertion → gateway token for service A → A re-exchanges for service B
 *   → B re-exchanges for service C.
 * The final token names the user as `sub`, records a three-deep `act` chain, carries the
 * narrowest scope and the shortest lifetime; every hop's refusals are tested. An OAuth client
 * nobody here wrote (oauth4webapi) performs an exchange, and PyJWT verifies the issued token.
 */
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { SignJWT } from "jose";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as oauth from "oauth4webapi";
import {
  ACCESS_TOKEN_TYPE, GRANT, SAML2, decodeJwt, exchange, expectError, signedAssertion, startBridge, type TestBridge,
} from "../support/harness.js";
import { BRIDGE_ISSUER, BRIDGE_SIGNING_KEY } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";

const A = "https://a.example.com";
const B = "https://b.example.com";
const C = "https://c.example.com";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const secret = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const client = (id: string) => ({ id, secret: `${id}-secret` });

const GATEWAY = client("gateway");
const SVC_A = client("svc-a");
const SVC_B = client("svc-b");
const ROGUE = client("rogue");
const IMP = client("imp-chain");
const RS = client("rs");

function chainConfig(c: Record<string, any>, maxChainDepth = 4): void {
  c.audiences.push(
    { id: A, scopes: ["read", "write"], defaultScopes: ["read"], mayAct: "svc-a" },
    { id: B, scopes: ["read", "write"], defaultScopes: ["read"], mayAct: "svc-b", tokenTtlSeconds: 120 },
    { id: C, scopes: ["read"], defaultScopes: ["read"], tokenTtlSeconds: 60 },
  );
  const reexchange = { subjectTokenTypes: [ACCESS_TOKEN_TYPE], actorTokenTypes: [ACCESS_TOKEN_TYPE] };
  c.clients.push(
    { id: GATEWAY.id, secretHash: secret(GATEWAY.secret), audiences: [A], scopes: ["read", "write"], idps: ["idp1"] },
    { id: SVC_A.id, secretHash: secret(SVC_A.secret), audiences: [B], scopes: ["read", "write"], ...reexchange },
    { id: SVC_B.id, secretHash: secret(SVC_B.secret), audiences: [C], scopes: ["read"], ...reexchange },
    { id: ROGUE.id, secretHash: secret(ROGUE.secret), audiences: [B, C], scopes: ["read", "write"], ...reexchange },
    { id: IMP.id, secretHash: secret(IMP.secret), audiences: [B], scopes: ["read"], mode: "impersonation", subjectTokenTypes: [ACCESS_TOKEN_TYPE] },
    { id: RS.id, secretHash: secret(RS.secret), audiences: [A, C], idps: [], subjectTokenTypes: [], introspect: true },
  );
  c.delegation = { maxChainDepth };
}

/** Re-exchange one of the bridge's own tokens. */
function reexchange(b: TestBridge, token: string, o: { client: { id: string; secret: string }; audience?: string; scope?: string; extra?: Record<string, string> }) {
  const form = new URLSearchParams({ grant_type: GRANT, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE });
  if (o.audience) form.append("audience", o.audience);
  if (o.scope) form.append("scope", o.scope);
  for (const [k, v] of Object.entries(o.extra ?? {})) form.append(k, v);
  return b.http.post("/token").auth(o.client.id, o.client.secret).type("form").send(form.toString());
}

let bridge: TestBridge;
let t1: string;
let t2: string;
let t3: string;

beforeAll(async () => {
  bridge = await startBridge({ patch: (c) => chainConfig(c) });
  const hop1 = await exchange(bridge, {
    xml: signedAssertion(bridge, { attributes: [{ name: "role", values: ["editor"] }] }),
    client: GATEWAY, audience: A, scope: "read write",
  });
  expect(hop1.status, JSON.stringify(hop1.body)).toBe(200);
  t1 = hop1.body.access_token;
  const hop2 = await reexchange(bridge, t1, { client: SVC_A, audience: B, scope: "read write" });
  expect(hop2.status, JSON.stringify(hop2.body)).toBe(200);
  t2 = hop2.body.access_token;
  const hop3 = await reexchange(bridge, t2, { client: SVC_B, audience: C, scope: "read" });
  expect(hop3.status, JSON.stringify(hop3.body)).toBe(200);
  t3 = hop3.body.access_token;
});
afterAll(() => bridge.close());

describe("three-hop chain", () => {
  it("keeps the user as sub and records the whole chain, newest actor outermost", () => {
    const p = decodeJwt(t3).payload;
    expect(p.sub).toBe("alice@example.com");
    expect(p.aud).toBe(C);
    expect(p.client_id).toBe("svc-b");
    expect(p.act).toEqual({ sub: "svc-b", act: { sub: "svc-a", act: { sub: "gateway" } } });
    expect(p.idp).toBe("https://idp1.test/idp");
    expect(p.role).toEqual(["editor"]);
  });

  it("narrows scope and lifetime at every hop", () => {
    const [p1, p2, p3] = [t1, t2, t3].map((t) => decodeJwt(t).payload);
    expect([p1!.scope, p2!.scope, p3!.scope]).toEqual(["read write", "read write", "read"]);
    expect(p1!.exp - p1!.iat).toBe(300);
    expect(p2!.exp - p2!.iat).toBe(120);
    expect(p3!.exp - p3!.iat).toBe(60);
    expect(p3!.exp).toBeLessThanOrEqual(p2!.exp);
    expect(p2!.exp).toBeLessThanOrEqual(p1!.exp);
  });

  it("names the next permitted actor in may_act", () => {
    expect(decodeJwt(t1).payload.may_act).toEqual({ sub: "svc-a", iss: BRIDGE_ISSUER });
    expect(decodeJwt(t2).payload.may_act).toEqual({ sub: "svc-b", iss: BRIDGE_ISSUER });
    expect(decodeJwt(t3).payload).not.toHaveProperty("may_act");
  });

  it("lets the bridge's own tokens be re-exchanged more than once (fan-out)", async () => {
    const again = await reexchange(bridge, t1, { client: SVC_A, audience: B, scope: "read" });
    expect(again.status).toBe(200);
  });

  it("never outlives the token it was exchanged from", async () => {
    const b = await startBridge({ patch: (c) => chainConfig(c) });
    const hop1 = await exchange(b, { xml: signedAssertion(b), client: GATEWAY, audience: A });
    b.clock.advance(250_000); // 50 s of t1 left, B's TTL is 120 s
    const hop2 = await reexchange(b, hop1.body.access_token, { client: SVC_A, audience: B });
    expect(hop2.status).toBe(200);
    expect(decodeJwt(hop2.body.access_token).payload.exp).toBe(decodeJwt(hop1.body.access_token).payload.exp);
    expect(hop2.body.expires_in).toBeLessThanOrEqual(50);
    await b.close();
  });
});

describe("refusals at each hop", () => {
  it("may_act is a hard constraint: another client cannot re-exchange A's token", async () => {
    expectError(await reexchange(bridge, t1, { client: ROGUE, audience: B }), 400, "invalid_request", "may_act_mismatch");
  });

  it("may_act cannot be dodged with an actor token naming someone else", async () => {
    // svc-a presents t1 with t2 (issued to svc-a, sub alice) as the actor: the actor is then alice, not svc-a.
    const res = await reexchange(bridge, t1, { client: SVC_A, audience: B, extra: { actor_token: t2, actor_token_type: ACCESS_TOKEN_TYPE } });
    expectError(res, 400, "invalid_request", "may_act_mismatch");
  });

  it("one of the bridge's tokens as actor token must have been issued to the calling client", async () => {
    const res = await reexchange(bridge, t1, { client: SVC_A, audience: B, extra: { actor_token: t3, actor_token_type: ACCESS_TOKEN_TYPE } });
    expectError(res, 400, "invalid_request", "actor_client_mismatch");
  });

  it("a user whose NameID equals a client id does not pass that client's may_act", async () => {
    const b = await startBridge({
      patch: (c) => {
        chainConfig(c);
        c.clients.push({ id: "rogue2", secretHash: secret("rogue2-secret"), audiences: [B], scopes: ["read"], idps: ["idp1"],
          subjectTokenTypes: [SAML2, ACCESS_TOKEN_TYPE], actorTokenTypes: [ACCESS_TOKEN_TYPE] });
      },
    });
    const rogue2 = { id: "rogue2", secret: "rogue2-secret" };
    const alice = await exchange(b, { xml: signedAssertion(b), client: GATEWAY, audience: A });
    const fake = await exchange(b, { xml: signedAssertion(b, { nameId: "svc-a" }), client: rogue2, audience: B });
    expect(fake.status).toBe(200);
    const res = await reexchange(b, alice.body.access_token, { client: rogue2, audience: B, extra: { actor_token: fake.body.access_token, actor_token_type: ACCESS_TOKEN_TYPE } });
    expectError(res, 400, "invalid_request", "may_act_mismatch");
    await b.close();
  });

  it("scope never widens: B's token cannot buy write at C", async () => {
    expectError(await reexchange(bridge, t2, { client: SVC_B, audience: C, scope: "read write" }), 400, "invalid_scope", "scope_not_allowed");
  });

  it("scope never widens past the subject token's own scope", async () => {
    const hop1 = await exchange(bridge, { xml: signedAssertion(bridge, { attributes: [{ name: "role", values: ["editor"] }] }), client: GATEWAY, audience: A, scope: "read" });
    expectError(await reexchange(bridge, hop1.body.access_token, { client: SVC_A, audience: B, scope: "write" }), 400, "invalid_scope", "scope_not_allowed");
  });

  it("the audience must be in the re-exchanging client's set", async () => {
    expectError(await reexchange(bridge, t1, { client: SVC_A, audience: C }), 400, "invalid_target", "target_not_allowed");
  });

  it("refuses a chain deeper than delegation.maxChainDepth", async () => {
    const b = await startBridge({ patch: (c) => chainConfig(c, 2) });
    const h1 = await exchange(b, { xml: signedAssertion(b), client: GATEWAY, audience: A });
    const h2 = await reexchange(b, h1.body.access_token, { client: SVC_A, audience: B });
    expect(h2.status).toBe(200);
    expectError(await reexchange(b, h2.body.access_token, { client: SVC_B, audience: C }), 400, "invalid_request", "delegation_too_deep");
    await b.close();
  });

  it("an impersonation client cannot silently drop an existing chain", async () => {
    const b = await startBridge({ patch: (c) => { chainConfig(c); c.audiences.find((a: any) => a.id === A).mayAct = undefined; } });
    const h1 = await exchange(b, { xml: signedAssertion(b), client: GATEWAY, audience: A });
    expectError(await reexchange(b, h1.body.access_token, { client: IMP, audience: B }), 400, "invalid_request", "delegation_chain_present");
    await b.close();
    const allowed = await startBridge({ patch: (c) => {
      chainConfig(c);
      c.audiences.find((a: any) => a.id === A).mayAct = undefined;
      c.clients.find((x: any) => x.id === IMP.id).impersonateChains = true;
    } });
    const g1 = await exchange(allowed, { xml: signedAssertion(allowed), client: GATEWAY, audience: A });
    const res = await reexchange(allowed, g1.body.access_token, { client: IMP, audience: B });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload).not.toHaveProperty("act");
    await allowed.close();
  });

  it("a client not allowed access_token subject tokens cannot re-exchange", async () => {
    expectError(await reexchange(bridge, t1, { client: GATEWAY, audience: A }), 400, "invalid_request", "subject_token_type_not_allowed");
  });

  it.each([
    ["tampered", () => `${t1.slice(0, -4)}AAAA`],
    ["not a JWT", () => "abc"],
    // The header was changed after signing: the signature fails before typ is looked at.
    ["re-typed (JWT) after signing", () => { const [h, p, s] = t1.split("."); return [Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(h!, "base64url").toString()), typ: "JWT" })).toString("base64url"), p, s].join("."); }],
  ])("refuses a %s subject access token", async (_n, make) => {
    expectError(await reexchange(bridge, make(), { client: SVC_A, audience: B }), 400, "invalid_request", "token_invalid");
  });

  describe("the bridge's tokens must be typed at+jwt (RFC 9068 §2.1), even when its key signed them", () => {
    const resign = async (token: string, typ: string | undefined): Promise<string> => {
      const key = createPrivateKey(readFileSync(BRIDGE_SIGNING_KEY, "utf8"));
      return new SignJWT(decodeJwt(token).payload).setProtectedHeader({ alg: "RS256", kid: "test-rs", ...(typ ? { typ } : {}) }).sign(key);
    };

    it("control: the same payload re-signed with typ at+jwt is accepted", async () => {
      expect((await reexchange(bridge, await resign(t1, "at+jwt"), { client: SVC_A, audience: B })).status).toBe(200);
    });

    it.each(["JWT", undefined])("refuses typ %s as a subject token, and introspection calls it inactive", async (typ) => {
      const token = await resign(t1, typ);
      expectError(await reexchange(bridge, token, { client: SVC_A, audience: B }), 400, "invalid_request", "token_type_mismatch");
      const res = await bridge.http.post("/introspect").auth(RS.id, RS.secret).type("form").send(new URLSearchParams({ token: await resign(t3, typ) }).toString());
      expect(res.body).toEqual({ active: false });
    });
  });

  it("refuses an expired subject access token", async () => {
    const b = await startBridge({ patch: (c) => chainConfig(c) });
    const h1 = await exchange(b, { xml: signedAssertion(b), client: GATEWAY, audience: A });
    b.clock.advance(301_000 + 60_000);
    expectError(await reexchange(b, h1.body.access_token, { client: SVC_A, audience: B }), 400, "invalid_request", "token_expired");
    await b.close();
  });

  it("requested_token_type jwt is answered with issued_token_type jwt", async () => {
    const res = await reexchange(bridge, t1, { client: SVC_A, audience: B, extra: { requested_token_type: JWT_TYPE } });
    expect(res.status).toBe(200);
    expect(res.body.issued_token_type).toBe(JWT_TYPE);
  });
});

describe("introspection (RFC 7662)", () => {
  const introspect = (token: string, who = RS) =>
    bridge.http.post("/introspect").auth(who.id, who.secret).type("form").send(new URLSearchParams({ token }).toString());

  it("shows an active token's claims, the act chain included, exactly as the JWT says", async () => {
    const res = await introspect(t3);
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    const { active, token_type, ...claims } = res.body;
    expect(active).toBe(true);
    expect(token_type).toBe("Bearer");
    expect(claims).toEqual(decodeJwt(t3).payload);
  });

  it("answers only active:false for anything else", async () => {
    for (const t of [`${t3.slice(0, -4)}AAAA`, "garbage", toBase64Url("<x/>")]) {
      expect((await introspect(t)).body).toEqual({ active: false });
    }
    const b = await startBridge({ patch: (c) => chainConfig(c), now: bridge.clock.now + 3_600_000 });
    const res = await b.http.post("/introspect").auth(RS.id, RS.secret).type("form").send(new URLSearchParams({ token: t3 }).toString());
    expect(res.body).toEqual({ active: false });
    await b.close();
  });

  it("shows a resource server only tokens meant for one of its audiences (RFC 7662 §4)", async () => {
    // t2 is for B; RS serves A and C.
    expect((await introspect(t2)).body).toEqual({ active: false });
  });

  it("answers other methods with 405 and Allow: POST, like the token endpoint", async () => {
    const res = await bridge.http.get("/introspect");
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("POST");
    expect(res.body.error).toBe("invalid_request");
  });

  it("is only for clients allowed to introspect, and only authenticated", async () => {
    expectError(await introspect(t3, SVC_A), 400, "unauthorized_client", "grant_not_allowed");
    const anon = await bridge.http.post("/introspect").type("form").send(new URLSearchParams({ token: t3 }).toString());
    expectError(anon, 401, "invalid_client", "client_auth_missing");
  });
});

describe("interoperability", () => {
  let server: Server;
  let base: string;
  let live: TestBridge;
  beforeAll(async () => {
    live = await startBridge({ patch: (c) => chainConfig(c) });
    server = live.app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.close();
    await live.close();
  });

  it("oauth4webapi performs a token exchange, validates the RFC 9068 token, and introspects it", async () => {
    const as: oauth.AuthorizationServer = {
      issuer: BRIDGE_ISSUER,
      token_endpoint: `${base}/token`,
      introspection_endpoint: `${base}/introspect`,
      jwks_uri: `${base}/.well-known/jwks.json`,
    };
    const opts = { [oauth.allowInsecureRequests]: true } as const;
    const gateway: oauth.Client = { client_id: GATEWAY.id };
    const response = await oauth.genericTokenEndpointRequest(as, gateway, oauth.ClientSecretBasic(GATEWAY.secret), GRANT, {
      subject_token: toBase64Url(signedAssertion(live)),
      subject_token_type: SAML2,
      audience: A,
      scope: "read",
    }, opts);
    const result = await oauth.processGenericTokenEndpointResponse(as, gateway, response);
    expect(result.token_type).toBe("bearer");
    expect(result.issued_token_type).toBe(ACCESS_TOKEN_TYPE);

    const request = new Request(`${A}/orders`, { headers: { authorization: `Bearer ${result.access_token}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, A, opts);
    expect(claims).toMatchObject({ sub: "alice@example.com", client_id: "gateway", scope: "read", act: { sub: "gateway" } });

    const rs: oauth.Client = { client_id: RS.id };
    const ir = await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(RS.secret), result.access_token, opts);
    const introspection = await oauth.processIntrospectionResponse(as, rs, ir);
    expect(introspection.active).toBe(true);
    expect(introspection.sub).toBe("alice@example.com");
  });

  it("PyJWT (an independent JOSE implementation) verifies the issued token against the JWKS", async () => {
    const jwks = (await live.http.get("/.well-known/jwks.json")).body;
    const out = execFileSync("/usr/bin/python3", [resolve(import.meta.dirname, "../support/pyjwt_verify.py")], {
      input: JSON.stringify({ token: t3, jwks: (await bridge.http.get("/.well-known/jwks.json")).body, audience: C, issuer: BRIDGE_ISSUER }),
      encoding: "utf8",
    });
    const verified = JSON.parse(out);
    expect(verified.ok, out).toBe(true);
    expect(verified.header).toMatchObject({ typ: "at+jwt", alg: "RS256" });
    expect(verified.claims.act).toEqual({ sub: "svc-b", act: { sub: "svc-a", act: { sub: "gateway" } } });
    const forged = JSON.parse(execFileSync("/usr/bin/python3", [resolve(import.meta.dirname, "../support/pyjwt_verify.py")], {
      input: JSON.stringify({ token: `${t3.slice(0, -6)}AAAAAA`, jwks, audience: C, issuer: BRIDGE_ISSUER }),
      encoding: "utf8",
    }));
    expect(forged.ok).toBe(false);
  });
});

describe("may_act for SAML subjects (from the IdP mapping)", () => {
  let b: TestBridge;
  beforeAll(async () => {
    b = await startBridge({
      patch: (c) => {
        chainConfig(c);
        c.samlIdps.find((i: any) => i.id === "idp1").mapping.mayAct = { name: "allowedActor" };
      },
    });
  });
  afterAll(() => b.close());
  const withActor = (values: string[]) => signedAssertion(b, { attributes: [{ name: "role", values: ["user"] }, { name: "allowedActor", values }] });

  it("lets the named client act", async () => {
    const res = await exchange(b, { xml: withActor(["gateway"]), client: GATEWAY, audience: A });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it("refuses any other client, with no way around it", async () => {
    expectError(await exchange(b, { xml: withActor(["gateway"]), client: { id: "c1", secret: "c1-secret" } }), 400, "invalid_request", "may_act_mismatch");
  });

  it("refuses an ambiguous constraint rather than reading it loosely", async () => {
    expectError(await exchange(b, { xml: withActor(["gateway", "c1"]), client: GATEWAY, audience: A }), 400, "invalid_request", "mapping_required_missing");
  });

  it("does not constrain subjects whose assertion carries no such attribute", async () => {
    const res = await exchange(b, { xml: signedAssertion(b), client: { id: "c1", secret: "c1-secret" } });
    expect(res.status).toBe(200);
  });
});

describe("refusals never burn an assertion", () => {
  it("targets naming different next actors are refused before the assertion is marked used", async () => {
    const b = await startBridge({ patch: (c) => { chainConfig(c); c.clients.find((x: any) => x.id === GATEWAY.id).audiences = [A, B]; } });
    const xml = signedAssertion(b);
    expectError(await exchange(b, { xml, client: GATEWAY, audience: [A, B] }), 400, "invalid_target", "target_not_allowed");
    expect((await exchange(b, { xml, client: GATEWAY, audience: A })).status).toBe(200);
    await b.close();
  });
});
