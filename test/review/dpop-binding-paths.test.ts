/**
 * Review of the ways a DPoP-bound token of the bridge (cnf.jkt, RFC 9449 §6.1) could lose its
 * binding, over the real POST /token endpoint with the replay store on the REAL test Redis:
 *
 * - re-exchange by ANOTHER client: without a proof, or with its own key, it is refused
 *   (check_dpop_binding does not care who presents the token, only which key signs the proof);
 * - the ID-JAG path (token exchange for an id-jag), which deliberately ignores DPoP: a bound access
 *   token can never be its subject (the draft's §4.3 subject is an identity assertion; the bridge's
 *   own at+jwt tokens are refused whatever subject_token_type claims), so a bound token cannot be
 *   laundered into an unbound ID-JAG and then into a Bearer access token at the resource side.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calculateJwkThumbprint } from "jose";
import { CLIENTS, decodeJwt, exchange, type TestBridge } from "../support/harness.js";
import { ID_TOKEN, JWT, JWT_CLIENT, corpClaims } from "../support/jwt-fixtures.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";
import { TEST_REDIS_URL } from "../support/redis-url.js";
import { CHAT_API, ID_JAG, RAS_ISS, WIKI_AT_CORP, startIdpBridge } from "../idjag/support.js";
import { ACCESS_TOKEN, deleteKeys, makeProof, proofKey, redisBridge, tokenRequest, type ProofKey } from "../dpop/support.js";

const prefixes: string[] = [`fedbridge:test:dpop-review:${crypto.randomUUID()}:`];
let bridge: TestBridge;
let idp: TestBridge;
let key: ProofKey;
let stranger: ProofKey;

beforeAll(async () => {
  bridge = await redisBridge(prefixes, (c) => {
    const c2 = c.clients.find((x: any) => x.id === CLIENTS.c2.id);
    c2.grantTypes = ["urn:ietf:params:oauth:grant-type:token-exchange"];
    c2.subjectTokenTypes = ["urn:ietf:params:oauth:token-type:saml2", ACCESS_TOKEN];
  });
  idp = await startIdpBridge((c) => {
    c.replay = { store: "redis", redisUrl: TEST_REDIS_URL, keyPrefix: prefixes[0] };
  });
  [key, stranger] = await Promise.all([proofKey("ES256"), proofKey("ES256")]);
});
afterAll(async () => {
  await bridge?.close();
  await idp?.close();
  await deleteKeys(prefixes);
});

describe("a bound token presented by another client", () => {
  it("needs a proof by the bound key: none → dpop_proof_missing, the other client's own key → dpop_key_mismatch", async () => {
    const bound = await tokenRequest({ bridge, dpop: [await makeProof(key, bridge.clock.now)] });
    expect(bound.status).toBe(200);
    const token = bound.body.access_token as string;
    const reexchange = async (dpop?: string) => tokenRequest({ bridge, client: CLIENTS.c2, subjectToken: token, subjectTokenType: ACCESS_TOKEN, ...(dpop ? { dpop: [dpop] } : {}) });

    const missing = await reexchange();
    expect({ status: missing.status, error: missing.body.error, reason: missing.body.error_description }).toEqual({ status: 400, error: "invalid_dpop_proof", reason: "dpop_proof_missing" });
    const other = await reexchange(await makeProof(stranger, bridge.clock.now));
    expect({ status: other.status, error: other.body.error, reason: other.body.error_description }).toEqual({ status: 400, error: "invalid_dpop_proof", reason: "dpop_key_mismatch" });
    // Control: c2 may re-exchange it at all (so the refusals above are the binding's).
    const same = await reexchange(await makeProof(key, bridge.clock.now));
    expect(same.status, same.body.error_description).toBe(200);
    expect(decodeJwt(same.body.access_token).payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(key.publicJwk, "sha256") });
  });
});

describe("a bound access token is never the subject of an ID-JAG (the path that ignores DPoP)", () => {
  it("is refused as access_token, jwt or id_token, with or without the bound key's proof", async () => {
    const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(idp.clock.now, { aud: WIKI_AT_CORP, amr: ["pwd"] }) });
    const bound = await exchange(idp, { rawToken: idToken, tokenType: ID_TOKEN, client: JWT_CLIENT }).set("DPoP", await makeProof(key, idp.clock.now));
    expect(bound.status, bound.body.error_description).toBe(200);
    expect(bound.body.token_type).toBe("DPoP");
    const token = bound.body.access_token as string;
    expect(decodeJwt(token).payload.cnf.jkt).toBe(await calculateJwkThumbprint(key.publicJwk, "sha256"));

    for (const tokenType of [ACCESS_TOKEN, JWT, ID_TOKEN]) {
      for (const dpop of [undefined, await makeProof(key, idp.clock.now)]) {
        let req = exchange(idp, { rawToken: token, tokenType, audience: RAS_ISS, resource: CHAT_API, scope: "chat.read", client: JWT_CLIENT, extra: { requested_token_type: ID_JAG } });
        if (dpop !== undefined) req = req.set("DPoP", dpop);
        const res = await req;
        expect(res.status, `${tokenType} ${dpop ? "with" : "without"} proof: ${res.body.error_description}`).toBe(400);
        expect(res.body.access_token).toBeUndefined();
      }
    }
  });

  it("(control) the same client gets an ID-JAG for an identity assertion, so the refusals above are the subject's", async () => {
    const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(idp.clock.now, { aud: WIKI_AT_CORP, amr: ["pwd"] }) });
    const res = await exchange(idp, { rawToken: idToken, tokenType: ID_TOKEN, audience: RAS_ISS, resource: CHAT_API, scope: "chat.read", client: JWT_CLIENT, extra: { requested_token_type: ID_JAG } });
    expect(res.status, res.body.error_description).toBe(200);
    expect(res.body.issued_token_type).toBe(ID_JAG);
  });
});

