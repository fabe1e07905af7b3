/**
 * DPoP in the other grants (RFC 9449 §5: "all access token requests regardless of grant type"):
 * the jwt-bearer grant (RFC 7523, an ID-JAG at the bridge as resource authorization server) binds
 * and requires like token exchange, with the proof's htu that server's own token endpoint; the
 * ID-JAG request (token exchange for an id-jag) issues a grant, not an access token, and does not
 * bind it. Both bridges' replay stores are the REAL test Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calculateJwkThumbprint } from "jose";
import { decodeJwt, exchange, startBridge, type TestBridge } from "../support/harness.js";
import { ID_TOKEN, JWT_CLIENT, corpClaims } from "../support/jwt-fixtures.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";
import { TEST_REDIS_URL } from "../support/redis-url.js";
import { TOKEN_ENDPOINT } from "../support/constants.js";
import { CHAT_API, CHAT_FILES, ID_JAG, JWT_BEARER, RAS_ISS, WIKI_AT_CHAT, WIKI_AT_CORP, grantClaims, pyGrant, rasPatch, startIdpBridge, writeJwks } from "../idjag/support.js";
import { deleteKeys, makeProof, proofKey, type ProofKey } from "./support.js";

const prefixes = [`fedbridge:test:dpop:${crypto.randomUUID()}:`, `fedbridge:test:dpop:${crypto.randomUUID()}:`];
let idp: TestBridge;
let ras: TestBridge;
let jwks: { file: string; dispose(): void };
let key: ProofKey;
const RAS_TOKEN = `${RAS_ISS}token`;

beforeAll(async () => {
  idp = await startIdpBridge((c) => {
    c.replay = { store: "redis", redisUrl: TEST_REDIS_URL, keyPrefix: prefixes[0] };
    c.clients.find((x: any) => x.id === JWT_CLIENT.id).dpop = "required";
  });
  jwks = writeJwks((await idp.http.get("/.well-known/jwks.json")).body);
  ras = await startBridge({
    now: idp.clock.now,
    patch: (c) => {
      rasPatch(jwks.file)(c);
      c.replay = { store: "redis", redisUrl: TEST_REDIS_URL, keyPrefix: prefixes[1] };
      c.audiences.find((a: any) => a.id === CHAT_FILES).requireDpop = true;
    },
  });
  key = await proofKey("ES256");
});
afterAll(async () => {
  await ras?.close();
  await idp?.close();
  jwks?.dispose();
  await deleteKeys(prefixes);
});

function present(assertion: string, o: { dpop?: string; resource?: string } = {}) {
  const form = new URLSearchParams({ grant_type: JWT_BEARER, assertion });
  if (o.resource !== undefined) form.append("resource", o.resource);
  let req = ras.http.post("/token").type("form").auth(WIKI_AT_CHAT.id, WIKI_AT_CHAT.secret);
  if (o.dpop !== undefined) req = req.set("DPoP", o.dpop);
  return req.send(form.toString());
}

describe("jwt-bearer (the bridge as resource authorization server)", () => {
  it("binds the access token to the proof's key, the proof naming this server's token endpoint", async () => {
    const res = await present(pyGrant(grantClaims(ras.clock.now)), { dpop: await makeProof(key, ras.clock.now, { htu: RAS_TOKEN }) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.token_type).toBe("DPoP");
    expect(decodeJwt(res.body.access_token).payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(key.publicJwk, "sha256") });
  });

  it("refuses a proof made for another server's token endpoint", async () => {
    const res = await present(pyGrant(grantClaims(ras.clock.now)), { dpop: await makeProof(key, ras.clock.now, { htu: TOKEN_ENDPOINT }) });
    expect({ status: res.status, error: res.body.error, reason: res.body.error_description }).toEqual({ status: 400, error: "invalid_dpop_proof", reason: "dpop_htu_mismatch" });
  });

  it("requires a proof for an audience with requireDpop, and the refusal leaves the ID-JAG usable", async () => {
    const grant = pyGrant(grantClaims(ras.clock.now, { resource: CHAT_FILES, scope: "chat.read" }));
    const refused = await present(grant, { resource: CHAT_FILES });
    expect({ status: refused.status, error: refused.body.error, reason: refused.body.error_description }).toEqual({ status: 400, error: "invalid_dpop_proof", reason: "dpop_proof_missing" });
    const ok = await present(grant, { resource: CHAT_FILES, dpop: await makeProof(key, ras.clock.now, { htu: RAS_TOKEN }) });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.token_type).toBe("DPoP");
  });

  it("issues a Bearer token without a proof where none is required", async () => {
    const res = await present(pyGrant(grantClaims(ras.clock.now)));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.token_type).toBe("Bearer");
  });
});

describe("ID-JAG issuance (token exchange for an id-jag)", () => {
  it("does not bind the grant, look at a DPoP header, or apply clients[].dpop: token_type N_A, no cnf", async () => {
    const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(idp.clock.now, { aud: WIKI_AT_CORP, amr: ["pwd"] }) });
    for (const dpop of [undefined, await makeProof(key, idp.clock.now), "not-a-proof"]) {
      let req = exchange(idp, { rawToken: idToken, tokenType: ID_TOKEN, audience: RAS_ISS, resource: CHAT_API, scope: "chat.read", client: JWT_CLIENT, extra: { requested_token_type: ID_JAG } });
      if (dpop !== undefined) req = req.set("DPoP", dpop);
      const res = await req;
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.token_type).toBe("N_A");
      expect(decodeJwt(res.body.access_token).payload.cnf).toBeUndefined();
    }
  });

  it("while the same client's access-token exchange requires DPoP (clients[].dpop: required)", async () => {
    const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(idp.clock.now, { aud: WIKI_AT_CORP, amr: ["pwd"] }) });
    const res = await exchange(idp, { rawToken: idToken, tokenType: ID_TOKEN, client: JWT_CLIENT });
    expect(res.body.error_description).toBe("dpop_proof_missing");
  });
});
