/**
 * DPoP proofs at POST /token (RFC 9449 §4.3, §5), over the real HTTP endpoint with the replay
 * store on the REAL test Redis: every check of §4.3 refused in several shapes, each with its
 * stable reason, and a refusal never burns the subject assertion. Proofs are signed by jose (or
 * by hand for alg none); the bridge's clock is fixed, so every time is exact.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, calculateJwkThumbprint, type JWK } from "jose";
import { decodeJwt, signedAssertion, type TestBridge } from "../support/harness.js";
import { TOKEN_ENDPOINT } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";
import { deleteKeys, makeProof, proofKey, rawJws, redisBridge, tokenRequest, unsignedProof, type ProofKey } from "./support.js";

const prefixes: string[] = [];
let bridge: TestBridge;
let es: ProofKey;
let ed: ProofKey;
let rs: ProofKey;
let other: ProofKey;

beforeAll(async () => {
  bridge = await redisBridge(prefixes);
  [es, ed, rs, other] = await Promise.all([proofKey("ES256"), proofKey("Ed25519"), proofKey("RS256"), proofKey("ES256")]);
});
afterAll(async () => {
  await bridge.close();
  await deleteKeys(prefixes);
});

const now = (): number => bridge.clock.now;
const nowS = (): number => Math.floor(bridge.clock.now / 1000);

async function expectRefused(proofs: string[] | Promise<string>, error: string, reason: string): Promise<void> {
  const dpop = Array.isArray(proofs) ? proofs : [await proofs];
  const r = await tokenRequest({ bridge, dpop });
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }, JSON.stringify(r.body)).toEqual({ status: 400, error, reason });
  expect(r.body.access_token).toBeUndefined();
  expect(r.headers["cache-control"]).toBe("no-store");
}
const invalid = (p: string[] | Promise<string>): Promise<void> => expectRefused(p, "invalid_dpop_proof", "dpop_proof_invalid");

describe("a valid proof binds the token (RFC 9449 §5, §6.1)", () => {
  it("answers token_type DPoP and cnf.jkt = the RFC 7638 thumbprint, for ES256, Ed25519 and RS256 keys", async () => {
    for (const key of [es, ed, rs]) {
      const r = await tokenRequest({ bridge, dpop: [await makeProof(key, now())] });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.token_type).toBe("DPoP");
      expect(decodeJwt(r.body.access_token).payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(key.publicJwk, "sha256") });
    }
  });

  it("answers Bearer without cnf when the request has no proof", async () => {
    const r = await tokenRequest({ bridge });
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe("Bearer");
    expect(decodeJwt(r.body.access_token).payload.cnf).toBeUndefined();
  });

  it("accepts an htu that equals the token endpoint after RFC 3986 normalization", async () => {
    for (const htu of ["HTTPS://BRIDGE.TEST/token", "https://bridge.test:443/token", "https://bridge.test/./token", "https://bridge.test/a/../token", "https://bridge.test/%74oken"]) {
      const r = await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { htu })] });
      expect(r.status, htu).toBe(200);
    }
  });

  it("accepts iat at the edges of the window: maxAgeSeconds (60) old, futureSkewSeconds (5) ahead", async () => {
    expect((await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { iat: nowS() - 60 })] })).status).toBe(200);
    expect((await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { iat: nowS() + 5 })] })).status).toBe(200);
  });

  it("ignores an ath claim (no access token is presented at the token endpoint)", async () => {
    const r = await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { claims: { ath: "x".repeat(43) } })] });
    expect(r.status).toBe(200);
  });
});

describe("§4.3 check 1: exactly one DPoP header", () => {
  it("refuses two header lines: two proofs, the same proof twice", async () => {
    const a = await makeProof(es, now());
    const b = await makeProof(es, now());
    await expectRefused([a, b], "invalid_dpop_proof", "dpop_proof_multiple");
    await expectRefused([a, a], "invalid_dpop_proof", "dpop_proof_multiple");
    // Neither was used: a refused request marks no jti.
    expect((await tokenRequest({ bridge, dpop: [a] })).status).toBe(200);
  });

  it("refuses two proofs joined in one line, and an empty header", async () => {
    await invalid([`${await makeProof(es, now())}, ${await makeProof(es, now())}`]);
    await invalid([""]);
  });
});

describe("§4.3 checks 2–4: a compact JWS of typ dpop+jwt", () => {
  it("refuses what is not a compact JWS: garbage, two or five segments, padding, whitespace, too long", async () => {
    const good = await makeProof(es, now());
    const [h, p, s] = good.split(".");
    // (Surrounding whitespace is not among them: HTTP strips it from a field value, RFC 9110 §5.5.)
    for (const bad of ["abc", `${h}.${p}`, `${good}.x.y`, `${h}=.${p}.${s}`, `${h}.${p}. ${s}`, `${h}.${p}.${s}${"A".repeat(9000)}`]) await invalid([bad]);
  });

  it("refuses a typ other than dpop+jwt: missing, JWT, at+jwt, upper case, with the application/ prefix", async () => {
    for (const typ of [undefined, "JWT", "at+jwt", "DPOP+JWT", "application/dpop+jwt"]) await invalid(makeProof(es, now(), { header: { typ } }));
  });

  it("refuses a proof without one of jti, htm, htu, iat, or with one of the wrong type", async () => {
    for (const claim of ["jti", "htm", "htu", "iat"]) await invalid(makeProof(es, now(), { claims: { [claim]: undefined } }));
    for (const claims of [{ jti: 7 }, { jti: "" }, { jti: "j".repeat(257) }, { htm: ["POST"] }, { htu: { u: TOKEN_ENDPOINT } }, { iat: String(nowS()) }, { nonce: 5 }]) {
      await invalid(makeProof(es, now(), { claims }));
    }
  });

  it("refuses a repeated member in the header or the claims (strict JSON)", async () => {
    const header = `{"typ":"dpop+jwt","alg":"ES256","jwk":${JSON.stringify(es.publicJwk)}}`;
    const claims = `{"jti":"a","htm":"POST","htu":"${TOKEN_ENDPOINT}","iat":${nowS()}}`;
    // The control: the same text without a repeat is accepted.
    expect((await tokenRequest({ bridge, dpop: [rawJws(header, claims, es.privateKey, "ES256")] })).status).toBe(200);
    await invalid([rawJws(header.replace(/}$/, ',"typ":"dpop+jwt"}'), claims.replace('"a"', '"b"'), es.privateKey, "ES256")]);
    await invalid([rawJws(header, claims.replace('"a"', '"c"').replace(/}$/, ',"htm":"POST"}'), es.privateKey, "ES256")]);
  });
});

describe("§4.3 check 5: an allowed asymmetric alg", () => {
  it("refuses alg none, HS256 keyed with the public key, and an asymmetric alg not on the list (RS512)", async () => {
    await expectRefused([unsignedProof(es, now())], "invalid_dpop_proof", "dpop_proof_alg_forbidden");
    const hs = new SignJWT({ jti: "h", htm: "POST", htu: TOKEN_ENDPOINT, iat: nowS() })
      .setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk: es.publicJwk } as never)
      .sign(new TextEncoder().encode(String(es.publicJwk.x)));
    await expectRefused(hs, "invalid_dpop_proof", "dpop_proof_alg_forbidden");
    const rs512 = await proofKey("RS512");
    await expectRefused(makeProof(rs512, now()), "invalid_dpop_proof", "dpop_proof_alg_forbidden");
    const claims = JSON.stringify({ jti: "na", htm: "POST", htu: TOKEN_ENDPOINT, iat: nowS() });
    for (const alg of [undefined, "", "none", "NONE", 256]) {
      const header = JSON.stringify({ typ: "dpop+jwt", ...(alg !== undefined ? { alg } : {}), jwk: es.publicJwk });
      await expectRefused([rawJws(header, claims, es.privateKey, "ES256")], "invalid_dpop_proof", "dpop_proof_alg_forbidden");
    }
  });

  it("refuses an alg that does not fit the jwk: ES256 over an RSA key, RS256 over an EC key, ES256 over a P-384 key", async () => {
    await invalid(makeProof(es, now(), { header: { jwk: rs.publicJwk } }));
    await invalid(makeProof(rs, now(), { header: { jwk: es.publicJwk } }));
    const p384 = await proofKey("ES384");
    await invalid(makeProof(es, now(), { header: { jwk: p384.publicJwk } }));
  });
});

describe("§4.3 checks 6–7: a public jwk whose key made the signature", () => {
  it("refuses a jwk with private members (EC d, RSA d/p/q, a symmetric k), even when the signature is right", async () => {
    await invalid(makeProof(es, now(), { header: { jwk: es.privateJwk } }));
    await invalid(makeProof(rs, now(), { header: { jwk: rs.privateJwk } }));
    await invalid(makeProof(es, now(), { header: { jwk: { ...es.publicJwk, k: "AAAA" } } }));
    await invalid(makeProof(es, now(), { header: { jwk: { kty: "oct", k: "c2VjcmV0" } } }));
  });

  it("refuses a missing or non-object jwk, a jwk whose alg or use disagree, an RSA key under 2048 bits", async () => {
    for (const jwk of [undefined, "jwk", [es.publicJwk], null]) await invalid(makeProof(es, now(), { header: { jwk } }));
    await invalid(makeProof(es, now(), { header: { jwk: { ...es.publicJwk, alg: "ES384" } } }));
    await invalid(makeProof(es, now(), { header: { jwk: { ...es.publicJwk, use: "enc" } } }));
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const smallJwk = small.publicKey.export({ format: "jwk" }) as JWK;
    const smallHeader = JSON.stringify({ typ: "dpop+jwt", alg: "RS256", jwk: smallJwk });
    await invalid([rawJws(smallHeader, JSON.stringify({ jti: "s", htm: "POST", htu: TOKEN_ENDPOINT, iat: nowS() }), small.privateKey, "RS256")]);
  });

  it("refuses a signature by another key than the jwk's, and a proof whose claims were changed after signing", async () => {
    await invalid(makeProof(es, now(), { signWith: other.privateKey }));
    const good = await makeProof(es, now());
    const [h, , s] = good.split(".");
    const forged = Buffer.from(JSON.stringify({ jti: "f", htm: "POST", htu: TOKEN_ENDPOINT, iat: nowS() })).toString("base64url");
    await invalid([`${h}.${forged}.${s}`]);
    await invalid([`${h}.${good.split(".")[1]}.${s!.slice(0, -4)}AAAA`]);
  });
});

describe("§4.3 checks 8–9: htm and htu name this request", () => {
  it("refuses an htm other than POST: GET, lower-case post", async () => {
    for (const htm of ["GET", "post", "PUT"]) await expectRefused(makeProof(es, now(), { htm }), "invalid_dpop_proof", "dpop_htm_mismatch");
  });

  it("refuses an htu of another path, with a query or fragment, of another host, scheme or port, or the Host the request used", async () => {
    const address = bridge.http.post("/token").url;
    for (const htu of [
      "https://bridge.test/introspect", "https://bridge.test/token/", "https://bridge.test/token?a=b", "https://bridge.test/token?",
      "https://bridge.test/token#f", "https://evil.test/token", "http://bridge.test/token", "https://bridge.test:8443/token",
      "https://user@bridge.test/token", "https://bridge.test/to%6Ben/../x", "/token", "bridge.test/token", "https://bridge.test/to ken",
      new URL("/token", address).href,
    ]) {
      await expectRefused(makeProof(es, now(), { htu }), "invalid_dpop_proof", "dpop_htu_mismatch");
    }
  });
});

describe("§4.3 check 11: iat within the window", () => {
  it("refuses a proof older than maxAgeSeconds (61 s, an hour, the epoch)", async () => {
    for (const iat of [nowS() - 62, nowS() - 3600, 0]) await expectRefused(makeProof(es, now(), { iat }), "invalid_dpop_proof", "dpop_proof_expired");
  });

  it("refuses a proof from further in the future than futureSkewSeconds (7 s, a day)", async () => {
    for (const iat of [nowS() + 7, nowS() + 86_400]) await expectRefused(makeProof(es, now(), { iat }), "invalid_dpop_proof", "dpop_proof_not_yet_valid");
  });
});

describe("§11.1: each proof once, in the shared replay store", () => {
  it("refuses the same proof twice, and another proof of the same key with the same jti", async () => {
    const proof = await makeProof(es, now());
    expect((await tokenRequest({ bridge, dpop: [proof] })).status).toBe(200);
    await expectRefused([proof], "invalid_dpop_proof", "dpop_proof_replayed");
    const jti = `fixed-${Math.random()}`;
    expect((await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { jti })] })).status).toBe(200);
    await expectRefused(makeProof(es, now(), { jti, iat: nowS() - 1 }), "invalid_dpop_proof", "dpop_proof_replayed");
    // Another key's identical jti is its own (the replay key is the proof key's thumbprint + jti).
    expect((await tokenRequest({ bridge, dpop: [await makeProof(other, now(), { jti })] })).status).toBe(200);
  });

  it("refuses at a second instance on the same Redis a proof the first one took", async () => {
    const second = await redisBridge([], undefined, { keyPrefix: prefixes[0]!, now: bridge.clock.now });
    try {
      const proof = await makeProof(es, now());
      expect((await tokenRequest({ bridge, dpop: [proof] })).status).toBe(200);
      const r = await tokenRequest({ bridge: second, dpop: [proof] });
      expect(r.body.error_description).toBe("dpop_proof_replayed");
    } finally {
      await second.close();
    }
  });

  it("keeps the jti mark in Redis for the proof's remaining life only (iat + maxAgeSeconds)", async () => {
    const { createClient } = await import("redis");
    const { TEST_REDIS_URL } = await import("../support/redis-url.js");
    const redis = createClient({ url: TEST_REDIS_URL, socket: { reconnectStrategy: false } });
    redis.on("error", () => undefined);
    await redis.connect();
    try {
      const before = new Set<string>();
      for await (const keys of redis.scanIterator({ MATCH: `${prefixes[0]}*` })) keys.forEach((k) => before.add(k));
      expect((await tokenRequest({ bridge, dpop: [await makeProof(es, now(), { iat: nowS() - 30 })] })).status).toBe(200);
      const added: string[] = [];
      for await (const keys of redis.scanIterator({ MATCH: `${prefixes[0]}*` })) added.push(...keys.filter((k) => !before.has(k) && !k.endsWith("epoch")));
      const ttls = await Promise.all(added.map((k) => redis.pTTL(k)));
      // The proof had 30 s left (+1 s rounding margin): the only new mark lives no longer than that.
      expect(ttls.filter((t) => t > 0 && t <= 31_000).length).toBeGreaterThanOrEqual(1);
      expect(ttls.every((t) => t <= 31_000 || t > 60_000)).toBe(true);
    } finally {
      await redis.quit();
    }
  });
});

describe("a refused proof never burns the subject assertion", () => {
  it("exchanges the same assertion after a DPoP refusal", async () => {
    const assertion = toBase64Url(signedAssertion(bridge));
    const bad = await tokenRequest({ bridge, subjectToken: assertion, dpop: [await makeProof(es, now(), { htm: "GET" })] });
    expect(bad.body.error_description).toBe("dpop_htm_mismatch");
    const good = await tokenRequest({ bridge, subjectToken: assertion, dpop: [await makeProof(es, now())] });
    expect(good.status).toBe(200);
  });
});

describe("the exchange log", () => {
  it("names the step and reason, never the proof", async () => {
    const proof = await makeProof(es, now(), { htu: "https://evil.test/token" });
    await tokenRequest({ bridge, dpop: [proof] });
    const line = bridge.logs.filter((l) => l.event === "token_exchange").at(-1)!;
    expect(line).toMatchObject({ outcome: "refused", error: "invalid_dpop_proof", reason: "dpop_htu_mismatch", step: "check_dpop" });
    expect(JSON.stringify(bridge.logs)).not.toContain(proof.split(".")[2]);
  });
});

