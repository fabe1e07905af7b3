/**
 * Who must use DPoP (clients[].dpop, audiences[].requireDpop), what a DPoP-bound token of the
 * bridge needs when it is exchanged again (a proof by its own key), and what introspection and
 * discovery say, over the real HTTP endpoint with the replay store on the REAL test Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calculateJwkThumbprint } from "jose";
import { API, CLIENTS, decodeJwt, type TestBridge } from "../support/harness.js";
import { ACCESS_TOKEN, DPOP_API, DPOP_CLIENT, deleteKeys, makeProof, proofKey, redisBridge, tokenRequest, type ProofKey } from "./support.js";

const SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer";
const prefixes: string[] = [];
let bridge: TestBridge;
let k1: ProofKey;
let k2: ProofKey;

beforeAll(async () => {
  bridge = await redisBridge(prefixes);
  [k1, k2] = await Promise.all([proofKey("ES256"), proofKey("ES256")]);
});
afterAll(async () => {
  await bridge.close();
  await deleteKeys(prefixes);
});

const proof = (key: ProofKey = k1): Promise<string> => makeProof(key, bridge.clock.now);

function expectReason(r: { status: number; body: any }, error: string, reason: string): void {
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }, JSON.stringify(r.body)).toEqual({ status: 400, error, reason });
  expect(r.body.access_token).toBeUndefined();
}

describe("clients[].dpop: required", () => {
  it("refuses a token exchange without a proof (dpop_proof_missing), issues a DPoP token with one", async () => {
    expectReason(await tokenRequest({ bridge, client: DPOP_CLIENT }), "invalid_dpop_proof", "dpop_proof_missing");
    const r = await tokenRequest({ bridge, client: DPOP_CLIENT, dpop: [await proof()] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.token_type).toBe("DPoP");
  });

  it("applies to the saml2-bearer grant too (RFC 9449 §5: every grant type)", async () => {
    expectReason(await tokenRequest({ bridge, client: DPOP_CLIENT, grantType: SAML2_BEARER }), "invalid_dpop_proof", "dpop_proof_missing");
    const r = await tokenRequest({ bridge, client: DPOP_CLIENT, grantType: SAML2_BEARER, dpop: [await proof()] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.token_type).toBe("DPoP");
    expect(decodeJwt(r.body.access_token).payload.cnf.jkt).toBe(await calculateJwkThumbprint(k1.publicJwk, "sha256"));
  });

  it("still checks the proof fully: a required proof that is bad is refused for what is wrong with it", async () => {
    expectReason(await tokenRequest({ bridge, client: DPOP_CLIENT, dpop: [await makeProof(k1, bridge.clock.now, { htm: "GET" })] }), "invalid_dpop_proof", "dpop_htm_mismatch");
  });

  it("leaves an allowed client (the default) free to get a Bearer token", async () => {
    const r = await tokenRequest({ bridge, client: CLIENTS.c1 });
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe("Bearer");
  });
});

describe("audiences[].requireDpop", () => {
  it("refuses a request naming the audience without a proof, by `audience` and by `resource`", async () => {
    expectReason(await tokenRequest({ bridge, audience: DPOP_API }), "invalid_dpop_proof", "dpop_proof_missing");
    expectReason(await tokenRequest({ bridge, audience: null, resource: DPOP_API }), "invalid_dpop_proof", "dpop_proof_missing");
  });

  it("issues a DPoP-bound token for it with a proof, and Bearer tokens for other audiences as before", async () => {
    const r = await tokenRequest({ bridge, audience: DPOP_API, dpop: [await proof()] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.token_type).toBe("DPoP");
    expect(decodeJwt(r.body.access_token).payload.aud).toBe(DPOP_API);
    expect((await tokenRequest({ bridge, audience: API })).body.token_type).toBe("Bearer");
  });
});

describe("re-exchange of a DPoP-bound token of the bridge (subject or actor)", () => {
  async function boundToken(key: ProofKey): Promise<string> {
    const r = await tokenRequest({ bridge, dpop: [await proof(key)] });
    expect(r.status).toBe(200);
    return r.body.access_token as string;
  }

  it("refuses it as subject_token without a proof, and with a proof by another key", async () => {
    const token = await boundToken(k1);
    expectReason(await tokenRequest({ bridge, subjectToken: token, subjectTokenType: ACCESS_TOKEN }), "invalid_dpop_proof", "dpop_proof_missing");
    expectReason(await tokenRequest({ bridge, subjectToken: token, subjectTokenType: ACCESS_TOKEN, dpop: [await proof(k2)] }), "invalid_dpop_proof", "dpop_key_mismatch");
  });

  it("accepts it with a proof by its own key, and binds the new token to that key again", async () => {
    const token = await boundToken(k1);
    const r = await tokenRequest({ bridge, subjectToken: token, subjectTokenType: ACCESS_TOKEN, dpop: [await proof(k1)] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.token_type).toBe("DPoP");
    expect(decodeJwt(r.body.access_token).payload.cnf).toEqual(decodeJwt(token).payload.cnf);
  });

  it("refuses it as actor_token without a proof, and with another key's", async () => {
    const actor = await boundToken(k1);
    expectReason(await tokenRequest({ bridge, actorToken: actor }), "invalid_dpop_proof", "dpop_proof_missing");
    expectReason(await tokenRequest({ bridge, actorToken: actor, dpop: [await proof(k2)] }), "invalid_dpop_proof", "dpop_key_mismatch");
    const ok = await tokenRequest({ bridge, actorToken: actor, dpop: [await proof(k1)] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.token_type).toBe("DPoP");
  });

  it("leaves a Bearer token of the bridge re-exchangeable without a proof (and binds the next one when a proof comes)", async () => {
    const bearer = (await tokenRequest({ bridge })).body.access_token as string;
    const plain = await tokenRequest({ bridge, subjectToken: bearer, subjectTokenType: ACCESS_TOKEN });
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    expect(plain.body.token_type).toBe("Bearer");
    const bound = await tokenRequest({ bridge, subjectToken: bearer, subjectTokenType: ACCESS_TOKEN, dpop: [await proof(k2)] });
    expect(bound.body.token_type).toBe("DPoP");
  });
});

describe("introspection and discovery", () => {
  it("introspection answers cnf.jkt and token_type DPoP for a bound token, Bearer without cnf otherwise", async () => {
    const bound = (await tokenRequest({ bridge, dpop: [await proof(k1)] })).body.access_token as string;
    const plain = (await tokenRequest({ bridge })).body.access_token as string;
    const introspect = (token: string) => bridge.http.post("/introspect").type("form").auth(CLIENTS.c1.id, CLIENTS.c1.secret).send(new URLSearchParams({ token }).toString());
    const b = await introspect(bound);
    expect(b.body).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt: await calculateJwkThumbprint(k1.publicJwk, "sha256") } });
    const p = await introspect(plain);
    expect(p.body.active).toBe(true);
    expect(p.body.token_type).toBe("Bearer");
    expect(p.body.cnf).toBeUndefined();
  });

  it("advertises dpop_signing_alg_values_supported (RFC 9449 §5.1) from dpop.algorithms", async () => {
    const md = (await bridge.http.get("/.well-known/oauth-authorization-server")).body;
    expect(md.dpop_signing_alg_values_supported).toEqual(["ES256", "EdDSA", "Ed25519", "RS256", "PS256"]);
    const narrowed = await redisBridge(prefixes, (c) => {
      c.dpop = { algorithms: ["ES256"] };
    });
    try {
      expect((await narrowed.http.get("/.well-known/oauth-authorization-server")).body.dpop_signing_alg_values_supported).toEqual(["ES256"]);
      const ed = await proofKey("Ed25519");
      const r = await tokenRequest({ bridge: narrowed, dpop: [await makeProof(ed, narrowed.clock.now)] });
      expect(r.body.error_description).toBe("dpop_proof_alg_forbidden");
    } finally {
      await narrowed.close();
    }
  });
});
