/**
 * Review of DPoP (RFC 9449) proofs at POST /token, over the real endpoint with the replay store on
 * the REAL test Redis (random prefix, deleted afterwards):
 *
 * - `crit` (RFC 7515 §4.1.11): a proof is a JWT (RFC 9449 §4.2) and RFC 9449 defines no critical
 *   extension, so any `crit` is refused. jose itself would accept `crit: ["b64"]`, with `b64: false`
 *   too: a JWS whose payload segment jose takes as the raw payload while the bridge decodes it as
 *   base64url JSON (RFC 7797 §6: an unencoded payload is not a JWT; the bridge's other JWT paths
 *   refuse it, src/jwt/jws-verify.ts).
 * - `htu` (§4.3 check 9): RFC 3986 §6.2.3 normalization does not drop an empty user info (`@`) or
 *   an empty authority (`https:///host/...`), which the WHATWG parser silently repairs; those are
 *   other URIs. The empty port (`host:`) is the one empty delimiter §6.2.3 removes. The numeric IPv4
 *   spellings the WHATWG parser rewrites (`0x7f.1`, `2130706433`) are reg-names in RFC 3986 §3.2.2.
 * - what holds and is pinned here: X-Forwarded-* never changes the htu (even with trustProxy), the
 *   jti replay scope is the key (another client's jti never refuses this one's proof), a proof sent
 *   to /introspect is not looked at (and so not burnt), iat at odd values.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENTS, type TestBridge } from "../support/harness.js";
import { TOKEN_ENDPOINT } from "../support/constants.js";
import { htuMatches } from "../../src/dpop/htu.js";
import { DPOP_CLIENT, deleteKeys, makeProof, proofKey, rawJws, redisBridge, tokenRequest, type ProofKey } from "../dpop/support.js";

const prefixes: string[] = [];
let bridge: TestBridge;
let es: ProofKey;

beforeAll(async () => {
  bridge = await redisBridge(prefixes, (c) => {
    // Express `trust proxy` on: the loopback peer (supertest) is a trusted proxy, so X-Forwarded-*
    // are believed for req.ip / req.protocol / req.hostname. The htu must still ignore them.
    c.server = { ...c.server, trustProxy: ["loopback"] };
  });
  es = await proofKey("ES256");
});
afterAll(async () => {
  await bridge.close();
  await deleteKeys(prefixes);
});

const now = (): number => bridge.clock.now;
const nowS = (): number => Math.floor(bridge.clock.now / 1000);

async function expectRefused(proof: string, reason: string, what: string): Promise<void> {
  const r = await tokenRequest({ bridge, dpop: [proof] });
  const error = reason.startsWith("dpop_nonce") ? "use_dpop_nonce" : "invalid_dpop_proof";
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }, what).toEqual({ status: 400, error, reason });
  expect(r.body.access_token).toBeUndefined();
}

describe("crit: no critical extension in a DPoP proof", () => {
  const claims = (): string => JSON.stringify({ jti: randomUUID(), htm: "POST", htu: TOKEN_ENDPOINT, iat: nowS() });
  const header = (extra: Record<string, unknown>): string => JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk: es.publicJwk, ...extra });

  it("accepts the same proof without crit (control)", async () => {
    const r = await tokenRequest({ bridge, dpop: [rawJws(header({}), claims(), es.privateKey, "ES256")] });
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe("DPoP");
  });

  it("refuses crit [b64] with b64 false (an unencoded payload is not a JWT) and with b64 true", async () => {
    await expectRefused(rawJws(header({ b64: false, crit: ["b64"] }), claims(), es.privateKey, "ES256"), "dpop_proof_invalid", "b64 false");
    await expectRefused(rawJws(header({ b64: true, crit: ["b64"] }), claims(), es.privateKey, "ES256"), "dpop_proof_invalid", "b64 true");
  });

  it("refuses crit naming an unknown or absent parameter, an empty crit, a non-array crit", async () => {
    await expectRefused(rawJws(header({ crit: ["exp"], exp: 1 }), claims(), es.privateKey, "ES256"), "dpop_proof_invalid", "crit exp");
    await expectRefused(rawJws(header({ crit: ["nonce"] }), claims(), es.privateKey, "ES256"), "dpop_proof_invalid", "crit absent member");
    await expectRefused(rawJws(header({ crit: [] }), claims(), es.privateKey, "ES256"), "dpop_proof_invalid", "crit []");
    await expectRefused(rawJws(header({ crit: "b64", b64: true }), claims(), es.privateKey, "ES256"), "dpop_proof_invalid", "crit string");
  });

  it("ignores jku, x5u, x5c and kid (nothing is fetched: the key is the jwk, which made the signature)", async () => {
    const proof = await makeProof(es, now(), { header: { jku: "http://127.0.0.1:9/jwks", x5u: "http://127.0.0.1:9/cert", kid: "k1", x5c: ["MIIB"] } });
    const r = await tokenRequest({ bridge, dpop: [proof] });
    expect(r.status).toBe(200);
  });
});

describe("htu: only RFC 3986 normalization, nothing the WHATWG parser repairs", () => {
  it("refuses an empty user info (@, :@) and any user info", async () => {
    for (const htu of ["https://@bridge.test/token", "https://:@bridge.test/token", "https://u@bridge.test/token", "https://u:p@bridge.test/token", "https://@@bridge.test/token"]) {
      await expectRefused(await makeProof(es, now(), { htu }), "dpop_htu_mismatch", htu);
    }
  });

  it("refuses an empty authority and missing slashes (https:///host/token is host-less in RFC 3986)", async () => {
    for (const htu of ["https:///bridge.test/token", "https:////bridge.test/token", "https:/bridge.test/token", "https:bridge.test/token", "https://"]) {
      await expectRefused(await makeProof(es, now(), { htu }), "dpop_htu_mismatch", htu);
    }
  });

  it("accepts an empty port (RFC 3986 §6.2.3: http://example.com:/ is the normal form's equivalent)", async () => {
    const r = await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { htu: "https://bridge.test:/token" })] });
    expect(r.status).toBe(200);
  });

  it("does not equate numeric IPv4 spellings with a dotted-decimal endpoint (RFC 3986 §3.2.2: they are reg-names)", () => {
    const endpoint = "https://127.0.0.1/token";
    expect(htuMatches("https://127.0.0.1/token", endpoint)).toBe(true);
    expect(htuMatches("https://127.0.0.1:443/token", endpoint)).toBe(true);
    for (const htu of ["https://2130706433/token", "https://0x7f.1/token", "https://0177.0.0.1/token", "https://127.1/token", "https://127.0.0.1./token"]) {
      expect(htuMatches(htu, endpoint), htu).toBe(false);
    }
  });

  it("never takes X-Forwarded-Proto/Host or Host into account, even from a trusted proxy", async () => {
    const send = async (proof: string): Promise<{ status: number; body: any }> => {
      const form = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token_type: "urn:ietf:params:oauth:token-type:saml2", audience: "https://api.example.com" });
      const { signedAssertion } = await import("../support/harness.js");
      const { toBase64Url } = await import("../support/independent-signers.js");
      form.set("subject_token", toBase64Url(signedAssertion(bridge)));
      const res = await bridge.http.post("/token").type("form").auth(CLIENTS.c1.id, CLIENTS.c1.secret)
        .set("Host", "evil.test").set("X-Forwarded-Proto", "http").set("X-Forwarded-Host", "evil.test").set("X-Forwarded-Port", "8443")
        .set("Forwarded", "proto=http;host=evil.test").set("DPoP", proof).send(form.toString());
      return { status: res.status, body: res.body };
    };
    for (const htu of ["http://evil.test/token", "https://evil.test/token", "http://evil.test:8443/token", "https://evil.test:8443/token"]) {
      const r = await send(await makeProof(es, now(), { htu }));
      expect({ status: r.status, reason: r.body.error_description }, htu).toEqual({ status: 400, reason: "dpop_htu_mismatch" });
    }
    const ok = await send(await makeProof(es, now()));
    expect(ok.status, ok.body.error_description).toBe(200);
  });
});

describe("jti replay scope is the key (RFC 9449 §11.1)", () => {
  it("another client's (and another key's) use of a jti never refuses this client's proof", async () => {
    const other = await proofKey("ES256");
    const jti = randomUUID();
    expect((await tokenRequest({ bridge, dpop: [await makeProof(other, now(), { jti })], client: DPOP_CLIENT, audience: null })).status).toBe(200);
    expect((await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { jti })] })).status).toBe(200);
  });

  it("the same key's jti is used once whichever client presents it (a replayed capture, or a shared key)", async () => {
    const jti = randomUUID();
    expect((await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { jti })] })).status).toBe(200);
    const r = await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { jti })], client: DPOP_CLIENT, audience: null });
    expect({ status: r.status, reason: r.body.error_description }).toEqual({ status: 400, reason: "dpop_proof_replayed" });
  });

  it("a proof sent to /introspect is not looked at there and stays usable once at /token", async () => {
    const issued = await tokenRequest({ bridge });
    expect(issued.status).toBe(200);
    const proof = await makeProof(es, now());
    const intro = await bridge.http.post("/introspect").type("form").auth(CLIENTS.c1.id, CLIENTS.c1.secret).set("DPoP", proof)
      .send(new URLSearchParams({ token: issued.body.access_token }).toString());
    expect(intro.status).toBe(200);
    expect(intro.body.active).toBe(true);
    expect(intro.headers["dpop-nonce"]).toBeUndefined();
    expect((await tokenRequest({ bridge, dpop: [proof] })).status).toBe(200);
    expect((await tokenRequest({ bridge, dpop: [proof] })).body.error_description).toBe("dpop_proof_replayed");
  });
});

describe("iat at odd values (§4.3 check 11)", () => {
  it("accepts a fractional iat inside the window, refuses one just outside either side", async () => {
    expect((await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { iat: nowS() - 59.5 })] })).status).toBe(200);
    await expectRefused(await makeProof(es, now(), { iat: nowS() - 60.5 }), "dpop_proof_expired", "-60.5");
    await expectRefused(await makeProof(es, now(), { iat: nowS() + 5.5 }), "dpop_proof_not_yet_valid", "+5.5");
  });

  it("refuses a negative, zero, huge or non-number iat", async () => {
    await expectRefused(await makeProof(es, now(), { iat: -1 }), "dpop_proof_expired", "-1");
    await expectRefused(await makeProof(es, now(), { iat: 0 }), "dpop_proof_expired", "0");
    await expectRefused(await makeProof(es, now(), { iat: 1e300 }), "dpop_proof_not_yet_valid", "1e300");
    await expectRefused(await makeProof(es, now(), { iat: Number.MAX_SAFE_INTEGER }), "dpop_proof_not_yet_valid", "max safe");
    for (const iat of [String(nowS()), null, true, [nowS()], { t: nowS() }]) {
      await expectRefused(await makeProof(es, now(), { claims: { iat } }), "dpop_proof_invalid", JSON.stringify(iat));
    }
  });
});
