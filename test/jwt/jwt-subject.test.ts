/**
 * OIDC ID tokens and JWTs from trusted issuers as subject and actor tokens (RFC 8693 §3), over
 * HTTP, against static JWKS files: the happy paths (a corporate OIDC IdP, a CI workload token) and
 * one negative test per rule, each asserting status, `error` and reason code (attack catalogue
 * section G; RFC 8725, RFC 9068 §4, OIDC Core §3.1.3.7). Positive tokens are signed by PyJWT or
 * jwcrypto (independent implementations); jose builds only the malformed ones.
 */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CompactSign, FlattenedSign, SignJWT, base64url, createLocalJWKSet, importPKCS8, jwtVerify,
  type CryptoKey, type JWK,
} from "jose";
import { ACCESS_TOKEN_TYPE, API, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { JWT_KEYS, pySign, pySignMany, type PySignSpec } from "../support/independent-jwt.js";
import {
  CI_AUD, CI_ISS, CORP_AUD, CORP_ISS, ID_TOKEN, JWT, JWT_CLIENT, ciClaims, corpClaims, withJwtIssuers,
} from "../support/jwt-fixtures.js";

const CI_ONLY = { id: "ci-only", secret: "ci-only-secret" };
let bridge: TestBridge;
let oidcKey: CryptoKey;
let attackerKey: CryptoKey;
beforeAll(async () => {
  bridge = await startBridge({
    patch: (c) => {
      withJwtIssuers(c);
      // CI workload tokens name no client: as actor tokens they bind by `sub` (src/policy/client-binding.ts).
      c.jwtIssuers.find((i: { id: string }) => i.id === "ci").actorBinding = "sub";
      c.clients.find((x: { id: string }) => x.id === JWT_CLIENT.id).issuerParties = { ci: ["repo:acme/payments:ref:refs/heads/main"] };
      c.clients.push({
        id: CI_ONLY.id, secretHash: `sha256:${createHash("sha256").update(CI_ONLY.secret).digest("base64url")}`,
        audiences: [API], defaultAudience: API, scopes: ["read"], subjectTokenTypes: [ID_TOKEN, JWT], idps: ["ci"],
      });
    },
  });
  oidcKey = await importPKCS8(readFileSync(JWT_KEYS.oidc, "utf8"), "RS256");
  attackerKey = await importPKCS8(readFileSync(JWT_KEYS.attacker, "utf8"), "RS256");
});
afterAll(() => bridge.close());

const now = (): number => bridge.clock.now;
const sec = (): number => Math.floor(now() / 1000);

/** An ID token from the corporate IdP, signed by PyJWT (or jwcrypto) with its real key. */
function corp(over: Record<string, unknown> = {}, o: Partial<PySignSpec> = {}): string {
  return pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(now(), over), ...o });
}
/** A CI workload token, signed by PyJWT (or jwcrypto) with the CI provider's key. */
function ci(over: Record<string, unknown> = {}, o: Partial<PySignSpec> = {}): string {
  return pySign({ key: JWT_KEYS.ci, alg: "ES256", header: { kid: "ci-es-1" }, claims: ciClaims(now(), over), ...o });
}
function send(token: string, o: { type?: string; scope?: string; extra?: Record<string, string> } = {}) {
  return exchange(bridge, {
    rawToken: token, tokenType: o.type ?? ID_TOKEN, client: JWT_CLIENT,
    ...(o.scope !== undefined ? { scope: o.scope } : {}), ...(o.extra ? { extra: o.extra } : {}),
  });
}
/** A compact JWS built by hand (header and payload as given), signed by jose with `key`. */
async function joseSign(header: Record<string, unknown>, payload: unknown, key: CryptoKey | Uint8Array = oidcKey): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header as never)
    .sign(key);
}
const b64 = (v: unknown): string => base64url.encode(JSON.stringify(v));

describe("a corporate OIDC IdP's ID token (OIDC Core §2)", () => {
  it("is exchanged: sub, mapped claims and scopes, auth_time/acr, act, lifetime bounded by the ID token", async () => {
    const res = await send(corp({ exp: sec() + 120 }), { scope: "read" });
    expect(res.status).toBe(200);
    const jwks = createLocalJWKSet((await bridge.http.get("/.well-known/jwks.json")).body);
    const { payload } = await jwtVerify(res.body.access_token, jwks, { issuer: BRIDGE_ISSUER, audience: API, typ: "at+jwt" });
    expect(payload).toMatchObject({
      sub: "alice", client_id: JWT_CLIENT.id, scope: "read", idp: CORP_ISS,
      email: "alice@corp.test", groups: ["staff"], act: { sub: JWT_CLIENT.id },
      auth_time: sec() - 30, acr: "urn:corp:mfa",
    });
    expect(payload).not.toHaveProperty("nonce");
    // The issued token never outlives the ID token (exp in 120 s, TTL 300 s).
    expect(payload.exp).toBe(sec() + 120);
    expect(res.body.expires_in).toBeLessThanOrEqual(120);
  });

  it("grants what the mapping grants: editors may have write, staff may not", async () => {
    const editor = await send(corp({ groups: ["staff", "editors"] }), { scope: "read write" });
    expect(editor.status).toBe(200);
    expect(decodeJwt(editor.body.access_token).payload).toMatchObject({ scope: "read write", groups: ["staff", "editors"] });
    expectError(await send(corp(), { scope: "write" }), 400, "invalid_scope", "scope_not_allowed");
  });

  it("is accepted as jwcrypto signed it, without typ, and with typ JWT / application/jwt in any case", async () => {
    const tokens = pySignMany([
      { lib: "jwcrypto", key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(now()) },
      { key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1", typ: null }, claims: corpClaims(now()) },
      { key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1", typ: "jwt" }, claims: corpClaims(now()) },
      { key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1", typ: "application/JWT" }, claims: corpClaims(now()) },
    ]);
    expect(decodeJwt(tokens[0]!).header).not.toHaveProperty("typ");
    for (const t of tokens) expect((await send(t)).status).toBe(200);
  });

  it("is also accepted as a plain jwt when the issuer lists that type", async () => {
    expect((await send(corp(), { type: JWT })).status).toBe(200);
  });

  it("an ID token without kid is verified against the issuer's only key", async () => {
    expect((await send(corp({}, { header: {} }))).status).toBe(200);
  });

  it("several audiences with azp naming the bridge are accepted (OIDC Core §3.1.3.7)", async () => {
    expect((await send(corp({ aud: [CORP_AUD, "other-app"], azp: CORP_AUD }))).status).toBe(200);
  });

  it("an unverified email is refused by the mapping (catalogue G17)", async () => {
    expectError(await send(corp({ email_verified: false })), 400, "invalid_request", "policy_condition_failed");
  });

  it("tolerates nbf and iat up to the clock skew in the future (catalogue G8)", async () => {
    expect((await send(corp({ nbf: sec() + 30 }))).status).toBe(200);
    expect((await send(corp({ iat: sec() + 30, exp: sec() + 330 }))).status).toBe(200);
  });

  it("an exp 10 s past passes verification within the skew, but no token may outlive it (catalogue G8f)", async () => {
    // Not token_expired (the skew applies), yet the issued token's lifetime would be nil.
    expectError(await send(corp({ iat: sec() - 100, exp: sec() - 10 })), 400, "invalid_request", "session_expired");
  });
});

describe("a CI provider's workload token (GitHub-Actions-like)", () => {
  it("is exchanged when repository and branch satisfy the mapping's conditions", async () => {
    const res = await send(ci(), { type: JWT, scope: "deploy" });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload).toMatchObject({
      sub: "repo:acme/payments:ref:refs/heads/main", scope: "deploy", idp: CI_ISS,
      repository: "acme/payments", ref: "refs/heads/main",
    });
  });

  it("is exchanged as jwcrypto signed it (ES256, no typ)", async () => {
    const res = await send(ci({}, { lib: "jwcrypto" }), { type: JWT, scope: "deploy" });
    expect(res.status).toBe(200);
  });

  it("another repository or another branch is refused: policy_condition_failed", async () => {
    expectError(await send(ci({ repository: "acme/forked" }), { type: JWT }), 400, "invalid_request", "policy_condition_failed");
    expectError(await send(ci({ ref: "refs/heads/feature" }), { type: JWT }), 400, "invalid_request", "policy_condition_failed");
    expectError(await send(ci({ ref: "refs/pull/7/merge", ref_type: "pull_request" }), { type: JWT }), 400, "invalid_request", "policy_condition_failed");
  });

  it("is not an ID token: the issuer does not list id_token", async () => {
    expectError(await send(ci()), 400, "invalid_request", "token_type_mismatch");
  });

  it("is accepted once (by jti, per issuer); a refused request does not burn it", async () => {
    const token = ci();
    expectError(await send(token, { type: JWT, scope: "admin" }), 400, "invalid_scope", "scope_not_allowed");
    expect((await send(token, { type: JWT, scope: "deploy" })).status).toBe(200);
    expectError(await send(token, { type: JWT, scope: "deploy" }), 400, "invalid_request", "replayed");
  });

  it("a one-time issuer's token without jti is refused: jti_missing", async () => {
    expectError(await send(ci({ jti: undefined }), { type: JWT }), 400, "invalid_request", "jti_missing");
  });

  it("a one-time issuer's jti that is there but not a usable string: jti_invalid", async () => {
    for (const jti of ["", 42, ["a"], null, "j".repeat(1025)]) {
      expectError(await send(ci({ jti }), { type: JWT }), 400, "invalid_request", "jti_invalid");
    }
  });

  it("a token from another issuer with the same jti is not a replay (keys are per issuer)", async () => {
    // The corp issuer is not one-time: only the CI token's jti is marked, under the CI issuer.
    const jti = `shared-${Date.now()}`;
    expect((await send(ci({ jti }), { type: JWT, scope: "deploy" })).status).toBe(200);
    expect((await send(corp({ jti }))).status).toBe(200);
  });
});

describe("actor tokens (RFC 8693 §2.1, §4.1)", () => {
  it("a CI token as actor_token: the issued token's act names the actor's sub and iss", async () => {
    const res = await send(corp(), { extra: { actor_token: ci(), actor_token_type: JWT } });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload).toMatchObject({
      sub: "alice", act: { sub: "repo:acme/payments:ref:refs/heads/main", iss: CI_ISS },
    });
  });

  it("the actor token goes through every rule too (expired actor → token_expired)", async () => {
    const res = await send(corp(), { extra: { actor_token: ci({ iat: sec() - 500, exp: sec() - 120 }), actor_token_type: JWT } });
    expectError(res, 400, "invalid_request", "token_expired");
  });

  it("may_act in the ID token binds who may act (RFC 8693 §4.4)", async () => {
    expect((await send(corp({ may_act: { sub: JWT_CLIENT.id } }))).status).toBe(200);
    expectError(await send(corp({ may_act: { sub: "someone-else" } })), 400, "invalid_request", "may_act_mismatch");
    expectError(await send(corp({ may_act: "someone-else" })), 400, "invalid_request", "act_claim_invalid");
    expectError(await send(corp({ may_act: { sub: "a".repeat(2000) } })), 400, "invalid_request", "act_claim_invalid");
    expectError(await send(corp({ may_act: { sub: "svc\u202e" } })), 400, "invalid_request", "act_claim_invalid");
  });

  it("an act chain the ID token already carries is kept beneath the new actor, in its issuer's namespace", async () => {
    const res = await send(corp({ act: { sub: "upstream-service", act: { sub: "edge", iss: "https://edge.test" } } }));
    expect(res.status).toBe(200);
    // Entries without `iss` get the token's issuer: they must never read as the bridge's client ids.
    expect(decodeJwt(res.body.access_token).payload.act).toEqual({
      sub: JWT_CLIENT.id,
      act: { sub: "upstream-service", iss: CORP_ISS, act: { sub: "edge", iss: "https://edge.test" } },
    });
  });
});

describe("issuer and keys (catalogue G5, G6, G16)", () => {
  it("an iss that is not exactly a configured issuer is refused: issuer_unknown", async () => {
    for (const iss of [`${CORP_ISS}/`, CORP_ISS.toUpperCase(), "https://evil.test"]) {
      expectError(await send(corp({ iss })), 400, "invalid_request", "issuer_unknown");
    }
  });

  it("no iss: issuer_missing", async () => {
    expectError(await send(corp({ iss: undefined })), 400, "invalid_request", "issuer_missing");
  });

  it("an iss that is there but not a non-empty string is issuer_invalid, not issuer_missing", async () => {
    for (const iss of [[CORP_ISS], [CORP_ISS, CI_ISS], 42, "", null, { iss: CORP_ISS }, true]) {
      expectError(await send(corp({ iss })), 400, "invalid_request", "issuer_invalid");
    }
  });

  it("a key from another trusted issuer does not verify: each issuer's keys only", async () => {
    // iss = the CI provider (which accepts RS256), signed with the corporate IdP's key and kid.
    const token = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: ciClaims(now()) });
    expectError(await send(token, { type: JWT }), 400, "invalid_request", "token_invalid");
  });

  it("an attacker's key is refused, with the issuer's kid or its own", async () => {
    for (const kid of ["oidc-rs-1", "attacker-1", undefined]) {
      const token = pySign({ key: JWT_KEYS.attacker, alg: "RS256", header: kid ? { kid } : {}, claims: corpClaims(now()) });
      expectError(await send(token), 400, "invalid_request", "token_invalid");
    }
  });

  it("jku, x5u and x5c headers are never trusted (the attacker's key behind them does not verify)", async () => {
    const cert = readFileSync(JWT_KEYS.attacker.replace(/\.key$/, ".crt"), "utf8").replace(/-----[^-]+-----|\s/g, "");
    const tokens = pySignMany([
      { key: JWT_KEYS.attacker, alg: "RS256", header: { kid: "attacker-1", jku: "http://127.0.0.1:9/jwks.json" }, claims: corpClaims(now()) },
      { key: JWT_KEYS.attacker, alg: "RS256", header: { kid: "oidc-rs-1", jku: "http://127.0.0.1:9/jwks.json" }, claims: corpClaims(now()) },
      { key: JWT_KEYS.attacker, alg: "RS256", header: { kid: "attacker-1", x5u: "http://127.0.0.1:9/cert.pem" }, claims: corpClaims(now()) },
      { key: JWT_KEYS.attacker, alg: "RS256", header: { x5c: [cert] }, claims: corpClaims(now()) },
    ]);
    for (const t of tokens) expectError(await send(t), 400, "invalid_request", "token_invalid");
  });

  it("an embedded jwk header is never trusted (CVE-2018-0114)", async () => {
    const jwk = createPublicKey(createPrivateKey(readFileSync(JWT_KEYS.attacker, "utf8"))).export({ format: "jwk" }) as JWK;
    const token = await new SignJWT(corpClaims(now()))
      .setProtectedHeader({ alg: "RS256", jwk })
      .sign(attackerKey);
    expectError(await send(token), 400, "invalid_request", "token_invalid");
    const withKid = await new SignJWT(corpClaims(now()))
      .setProtectedHeader({ alg: "RS256", kid: "oidc-rs-1", jwk })
      .sign(attackerKey);
    expectError(await send(withKid), 400, "invalid_request", "token_invalid");
  });

  it("a hostile kid is only a lookup key (catalogue G4)", async () => {
    for (const kid of ["../../../../dev/null", "' UNION SELECT 'secret'--", "|id", "http://127.0.0.1:9/k"]) {
      const token = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid }, claims: corpClaims(now()) });
      expectError(await send(token), 400, "invalid_request", "token_invalid");
    }
    const long = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "k".repeat(300) }, claims: corpClaims(now()) });
    expectError(await send(long), 400, "invalid_request", "token_invalid");
  });
});

describe("algorithms (RFC 8725 §3.1, catalogue G1, G3)", () => {
  it.each(["none", "None", "NONE", "nOnE"])("alg %s is refused: signature_algorithm_forbidden", async (alg) => {
    const token = `${b64({ alg, typ: "JWT" })}.${b64(corpClaims(now()))}.`;
    expectError(await send(token), 400, "invalid_request", "signature_algorithm_forbidden");
  });

  it("an RS256 token with its signature stripped is refused", async () => {
    const [h, p] = corp().split(".");
    expectError(await send(`${h}.${p}.`), 400, "invalid_request", "token_invalid");
  });

  it("HS256 with the issuer's public key as the HMAC secret is refused", async () => {
    const jwks = readFileSync(new URL("../fixtures/jwks/oidc.jwks.json", import.meta.url), "utf8");
    for (const secret of [jwks, JSON.stringify(JSON.parse(jwks).keys[0])]) {
      const token = await joseSign({ alg: "HS256", kid: "oidc-rs-1", typ: "JWT" }, corpClaims(now()), new TextEncoder().encode(secret));
      expectError(await send(token), 400, "invalid_request", "signature_algorithm_forbidden");
    }
  });

  it("an algorithm the issuer does not list is refused, even with its real key (PS256, RS512)", async () => {
    for (const alg of ["PS256", "RS512"]) {
      const token = pySign({ key: JWT_KEYS.oidc, alg, header: { kid: "oidc-rs-1" }, claims: corpClaims(now()) });
      expectError(await send(token), 400, "invalid_request", "signature_algorithm_forbidden");
    }
  });

  it("an ES256 \"psychic signature\" (r = s = 0) is refused (CVE-2022-21449)", async () => {
    const [h, p] = ci().split(".");
    expectError(await send(`${h}.${p}.${base64url.encode(new Uint8Array(64))}`, { type: JWT }), 400, "invalid_request", "token_invalid");
  });

  it("an ES256 token is refused by an RS256-only issuer", async () => {
    const token = pySign({ key: JWT_KEYS.ci, alg: "ES256", header: { kid: "oidc-rs-1" }, claims: corpClaims(now()) });
    expectError(await send(token), 400, "invalid_request", "signature_algorithm_forbidden");
  });
});

describe("explicit typing (RFC 8725 §3.11, RFC 9068 §2.1)", () => {
  it.each(["at+jwt", "application/at+jwt", "AT+JWT", "logout+jwt", "secevent+jwt", "dpop+jwt"])(
    "typ %s is not an ID token nor a JWT: token_type_mismatch",
    async (typ) => {
      const token = corp({}, { header: { kid: "oidc-rs-1", typ } });
      expectError(await send(token, { type: ID_TOKEN }), 400, "invalid_request", "token_type_mismatch");
      expectError(await send(token, { type: JWT }), 400, "invalid_request", "token_type_mismatch");
    },
  );

  it("a non-string typ is refused", async () => {
    const token = await joseSign({ alg: "RS256", kid: "oidc-rs-1", typ: 1 }, corpClaims(now()));
    expectError(await send(token), 400, "invalid_request", "token_type_mismatch");
  });

  it("and the reverse: an ID token is not an access token (typ at+jwt, the bridge's own issuer)", async () => {
    expectError(await send(corp(), { type: ACCESS_TOKEN_TYPE }), 400, "invalid_request", "token_invalid");
  });

  it("a nested JWT (cty) is refused (catalogue G12)", async () => {
    const token = corp({}, { header: { kid: "oidc-rs-1", cty: "JWT" } });
    expectError(await send(token), 400, "invalid_request", "token_invalid");
  });
});

describe("audience (RFC 7519 §4.1.3, OIDC Core §3.1.3.7)", () => {
  it("an aud that is not one of the issuer's audiences is refused: audience_mismatch", async () => {
    for (const aud of ["other-app", ["other-app", "another"], BRIDGE_ISSUER]) {
      expectError(await send(corp({ aud })), 400, "invalid_request", "audience_mismatch");
    }
  });

  it("no aud, or an aud that is not a string or string array: audience_mismatch (not token_invalid)", async () => {
    for (const aud of [undefined, [], 42, null, { aud: CORP_AUD }, [CORP_AUD, 7]]) {
      expectError(await send(corp({ aud })), 400, "invalid_request", "audience_mismatch");
    }
  });

  it("several audiences without azp, or with azp naming another party: audience_mismatch", async () => {
    expectError(await send(corp({ aud: [CORP_AUD, "other-app"] })), 400, "invalid_request", "audience_mismatch");
    expectError(await send(corp({ aud: [CORP_AUD, "other-app"], azp: "other-app" })), 400, "invalid_request", "audience_mismatch");
  });

  it("the CI issuer's audience is not the corporate IdP's", async () => {
    expectError(await send(ci({ aud: CORP_AUD }), { type: JWT }), 400, "invalid_request", "audience_mismatch");
    expect(CI_AUD).not.toBe(CORP_AUD);
  });
});

describe("time claims (RFC 7519 §4.1.4-6, catalogue G8)", () => {
  it("exp is required: timestamp_missing", async () => {
    expectError(await send(corp({ exp: undefined })), 400, "invalid_request", "timestamp_missing");
  });

  it("iat is required: timestamp_missing", async () => {
    expectError(await send(corp({ iat: undefined })), 400, "invalid_request", "timestamp_missing");
  });

  it("an exp past the clock skew: token_expired", async () => {
    expectError(await send(corp({ iat: sec() - 600, exp: sec() - 61 })), 400, "invalid_request", "token_expired");
  });

  it("a time claim that is not a number: timestamp_invalid", async () => {
    expectError(await send(corp({ exp: String(sec() + 300) })), 400, "invalid_request", "timestamp_invalid");
    expectError(await send(corp({ iat: String(sec()) })), 400, "invalid_request", "timestamp_invalid");
    expectError(await send(corp({ nbf: [sec()] })), 400, "invalid_request", "timestamp_invalid");
    expectError(await send(corp({ exp: null })), 400, "invalid_request", "timestamp_invalid");
  });

  it("an nbf in the future (beyond skew): assertion_not_yet_valid", async () => {
    expectError(await send(corp({ nbf: sec() + 600 })), 400, "invalid_request", "assertion_not_yet_valid");
  });

  it("an iat in the future (beyond skew): assertion_not_yet_valid", async () => {
    expectError(await send(corp({ iat: sec() + 3600, exp: sec() + 3900 })), 400, "invalid_request", "assertion_not_yet_valid");
  });

  it("an iat older than maxTokenAgeSeconds: token_expired", async () => {
    // corp: default 3600 s; the token itself is still unexpired.
    expectError(await send(corp({ iat: sec() - 3600 - 120, exp: sec() + 600 })), 400, "invalid_request", "token_expired");
    // ci: 600 s
    expectError(await send(ci({ iat: sec() - 700, nbf: undefined, exp: sec() + 60 }), { type: JWT }), 400, "invalid_request", "token_expired");
  });

  it("a lifetime (exp − iat) over maxLifetimeSeconds: token_lifetime_too_long", async () => {
    expectError(await send(corp({ exp: sec() + 10 * 365 * 86400 })), 400, "invalid_request", "token_lifetime_too_long");
    expectError(await send(ci({ exp: sec() + 3601 }), { type: JWT }), 400, "invalid_request", "token_lifetime_too_long");
  });

  it("exp not after iat: timestamp_invalid", async () => {
    expectError(await send(corp({ iat: sec(), exp: sec() })), 400, "invalid_request", "timestamp_invalid");
    expectError(await send(corp({ iat: sec(), exp: sec() - 1 })), 400, "invalid_request", "timestamp_invalid");
  });
});

describe("structure and bounds (catalogue G7, G12, G13, G15, G17)", () => {
  it("an unknown crit extension is refused", async () => {
    const token = corp({}, { header: { kid: "oidc-rs-1", crit: ["foo"], foo: 1 } });
    expectError(await send(token), 400, "invalid_request", "token_invalid");
    const exp = corp({}, { header: { kid: "oidc-rs-1", crit: ["exp"] } });
    expectError(await send(exp), 400, "invalid_request", "token_invalid");
  });

  it("an unencoded payload (b64: false) is refused", async () => {
    // The unencoded payload is the base64url text of real claims: it even looks like a normal JWS.
    const payload = b64(corpClaims(now()));
    const jws = await new FlattenedSign(new TextEncoder().encode(payload))
      .setProtectedHeader({ alg: "RS256", kid: "oidc-rs-1", b64: false, crit: ["b64"] })
      .sign(oidcKey);
    expectError(await send(`${jws.protected}.${payload}.${jws.signature}`), 400, "invalid_request", "token_invalid");
  });

  it("a token over 16 KiB is refused before parsing: token_too_large", async () => {
    const big = corp({ padding: "x".repeat(17 * 1024) });
    expectError(await send(big), 400, "invalid_request", "token_too_large");
    expectError(await send(`${"A".repeat(20_000)}.x.y`), 400, "invalid_request", "token_too_large");
  });

  it("a JWE (five parts) or garbage is refused: token_invalid", async () => {
    for (const t of ["a.b.c.d.e", "not-a-jwt", "a.b", `${b64({ alg: "RS256" })}.%%%.sig`, `${b64([1])}.${b64({})}.c2ln`]) {
      expectError(await send(t), 400, "invalid_request", "token_invalid");
    }
  });

  it("a validly signed claims set that is not an object is refused", async () => {
    for (const payload of [[1, 2, 3], "x", null]) {
      const token = await joseSign({ alg: "RS256", kid: "oidc-rs-1" }, payload);
      // The unverified payload is not an object: refused before any key is looked at.
      expectError(await send(token), 400, "invalid_request", "token_invalid");
    }
  });

  it("a sub that is empty, padded, has control characters or is not a string: subject_invalid", async () => {
    for (const sub of [" alice", "alice ", "ali\u0000ce", "ali\u202ece", "a".repeat(1025), 42]) {
      expectError(await send(corp({ sub })), 400, "invalid_request", "subject_invalid");
    }
    for (const sub of [null, [], ["alice"], { sub: "alice" }, true]) {
      expectError(await send(corp({ sub })), 400, "invalid_request", "subject_invalid");
    }
  });

  it("no sub at all: subject_missing (not subject_invalid, not token_invalid)", async () => {
    expectError(await send(corp({ sub: undefined })), 400, "invalid_request", "subject_missing");
  });

  it("an act claim of the wrong shape is refused: act_claim_invalid", async () => {
    expectError(await send(corp({ act: "upstream" })), 400, "invalid_request", "act_claim_invalid");
    expectError(await send(corp({ act: { iss: CORP_ISS } })), 400, "invalid_request", "act_claim_invalid");
  });
});

describe("clients and discovery", () => {
  it("a client not allowed this issuer is refused: idp_not_allowed", async () => {
    expectError(await exchange(bridge, { rawToken: corp(), tokenType: ID_TOKEN, client: CI_ONLY }), 400, "invalid_request", "idp_not_allowed");
  });

  it("a client not allowed the token type is refused before verification", async () => {
    const res = await exchange(bridge, { rawToken: corp(), tokenType: ID_TOKEN, client: { id: "c1", secret: "c1-secret" } });
    expectError(res, 400, "invalid_request", "subject_token_type_not_allowed");
  });

  it("advertises id_token and jwt, as subject and actor token types, once issuers are configured", async () => {
    const res = await bridge.http.get("/.well-known/oauth-authorization-server");
    expect(res.body.token_exchange_subject_token_types_supported).toEqual(expect.arrayContaining([ID_TOKEN, JWT]));
    expect(res.body.token_exchange_actor_token_types_supported).toEqual(expect.arrayContaining([ID_TOKEN, JWT]));
  });
});
