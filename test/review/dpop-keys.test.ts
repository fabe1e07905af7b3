/**
 * Review of DPoP (RFC 9449) proof keys, as an attacker, over the real POST /token endpoint with the
 * replay store on the REAL test Redis (random prefix, deleted afterwards):
 *
 * 1. Keys for which ANYONE can make a proof, without any private key: an Ed25519 public key of
 *    small order (RFC 8032 §5.1.7 verification is cofactorless; with A in the 8-torsion, R = -[k]A
 *    and S = 0 verify for every message), and an RSA key with e = 1 (the "signature" is the
 *    EMSA-PKCS1-v1_5 encoding itself). A token bound to such a key is a bearer token for whoever
 *    knows the key, which, for the small-order Ed25519 points, is a public list: requireDpop and
 *    clients[].dpop: required would be satisfied by nobody's key.
 * 2. One key, one `jkt`: the jwk's members are canonical base64url (RFC 7515 §2), without leading
 *    zero octets for n and e (RFC 7518 §6.3.1.1/§6.3.1.2), so the RFC 7638 thumbprint is a function
 *    of the KEY, as the resource server that recomputes it from a re-encoded key expects.
 *
 * Every forged signature here is checked to verify at the crypto layer first (node:crypto, i.e.
 * OpenSSL), so a refusal pins the bridge's own rule, not an accident. Keys are generated per run
 * (test keys only).
 */
import { createHash, createPublicKey, generateKeyPairSync, randomUUID, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, calculateJwkThumbprint, exportJWK, importJWK, type JWK } from "jose";
import { decodeJwt, type TestBridge } from "../support/harness.js";
import { TOKEN_ENDPOINT } from "../support/constants.js";
import { deleteKeys, makeProof, proofKey, redisBridge, tokenRequest } from "../dpop/support.js";

const prefixes: string[] = [];
let bridge: TestBridge;

beforeAll(async () => {
  bridge = await redisBridge(prefixes);
});
afterAll(async () => {
  await bridge.close();
  await deleteKeys(prefixes);
});

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
const claims = (): Record<string, unknown> => ({ jti: randomUUID(), htm: "POST", htu: TOKEN_ENDPOINT, iat: Math.floor(bridge.clock.now / 1000) });

async function expectInvalid(proof: string, what: string): Promise<void> {
  const r = await tokenRequest({ bridge, dpop: [proof] });
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }, `${what}: ${r.status} ${r.body.error} ${r.body.error_description}`)
    .toEqual({ status: 400, error: "invalid_dpop_proof", reason: "dpop_proof_invalid" });
}

async function expectBound(proof: string, jwk: JWK, what: string): Promise<void> {
  const r = await tokenRequest({ bridge, dpop: [proof] });
  expect(r.status, `${what}: ${r.body.error} ${r.body.error_description}`).toBe(200);
  expect(r.body.token_type).toBe("DPoP");
  expect(decodeJwt(r.body.access_token).payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(jwk, "sha256") });
}

// ---- Ed25519 small-order points (RFC 8032 §5.1: p = 2^255 - 19, d = -121665/121666) ------------------
const P = 2n ** 255n - 19n;
const mod = (a: bigint): bigint => ((a % P) + P) % P;
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  for (b = mod(b); e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) r = mod(r * b);
  return r;
}
const D = mod(-121665n * pow(121666n, P - 2n));
/** A 255-bit y and the x sign bit, as RFC 8032 §5.1.2 encodes a point (little-endian). */
function encode(y: bigint, sign: 0 | 1): Buffer {
  const out = Buffer.alloc(32);
  for (let i = 0, v = y; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  out[31]! |= sign << 7;
  return out;
}
/** libsodium's order-8 y (crypto_core/ed25519 blocklist), checked below to satisfy d·y⁴ + 2y² − 1 = 0. */
const Y8 = Buffer.from("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "hex").reduceRight((v, b) => (v << 8n) | BigInt(b), 0n);
/** The canonical encodings of the 8 points of the 8-torsion subgroup (every R a forgery needs). */
const TORSION = [encode(1n, 0), encode(P - 1n, 0), encode(0n, 0), encode(0n, 1), encode(Y8, 0), encode(Y8, 1), encode(P - Y8, 0), encode(P - Y8, 1)];

/**
 * A proof "signed" by an Ed25519 key of small order with S = 0, and whether OpenSSL verifies it:
 * k = SHA-512(R || A || M) depends on R, so each (R, jti) pair verifies with probability about
 * 1/ord(A); a few fresh jtis over the 8 candidate Rs find one (no private key anywhere).
 */
function forgedEd25519Proof(x: Buffer): { proof: string; verifies: boolean } {
  const jwk = { kty: "OKP", crv: "Ed25519", x: x.toString("base64url") };
  let key: KeyObject | undefined;
  try {
    key = createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    key = undefined;
  }
  let input = "";
  for (let attempt = 0; attempt < 64; attempt++) {
    input = `${b64({ typ: "dpop+jwt", alg: "EdDSA", jwk })}.${b64(claims())}`;
    for (const r of TORSION) {
      const sig = Buffer.concat([r, Buffer.alloc(32)]);
      if (key && cryptoVerify(null, Buffer.from(input), key, sig)) return { proof: `${input}.${sig.toString("base64url")}`, verifies: true };
    }
    if (!key) break;
  }
  return { proof: `${input}.${Buffer.concat([TORSION[0]!, Buffer.alloc(32)]).toString("base64url")}`, verifies: false };
}

describe("keys anyone can sign for are refused (no private key needed: not a proof of possession)", () => {
  it("the order-8 y used here is one (d·y⁴ + 2y² − 1 ≡ 0 mod p), so the 8 encodings are the whole 8-torsion", () => {
    expect(mod(D * pow(Y8, 4n) + 2n * pow(Y8, 2n) - 1n)).toBe(0n);
  });

  it("refuses every canonical small-order Ed25519 jwk, each with a forged proof that OpenSSL verifies", async () => {
    for (const point of TORSION) {
      const { proof, verifies } = forgedEd25519Proof(point);
      expect(verifies, `forgery for ${point.toString("hex")}`).toBe(true);
      await expectInvalid(proof, `small-order x ${point.toString("hex")}`);
    }
  });

  it("refuses the non-canonical encodings (y ≥ p, or x = 0 with the sign bit set), forged or not", async () => {
    for (const point of [encode(P, 0), encode(P + 1n, 0), encode(P, 1), encode(P + 1n, 1), encode(1n, 1), encode(P - 1n, 1)]) {
      await expectInvalid(forgedEd25519Proof(point).proof, `non-canonical x ${point.toString("hex")}`);
    }
  });

  it("still binds a real Ed25519 key, under EdDSA and Ed25519", async () => {
    const ed = await proofKey("Ed25519");
    await expectBound(await makeProof(ed, bridge.clock.now), ed.publicJwk, "Ed25519");
    await expectBound(await makeProof(ed, bridge.clock.now, { header: { alg: "EdDSA" } }), ed.publicJwk, "EdDSA");
  });

  it("refuses RSA e = 1 (the EMSA-PKCS1-v1_5 encoding is its own signature), with an honest modulus", async () => {
    const n = (generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }) as JWK).n!;
    for (const alg of ["RS256"]) {
      const jwk = { kty: "RSA", n, e: "AQ" };
      const input = `${b64({ typ: "dpop+jwt", alg, jwk })}.${b64(claims())}`;
      const t = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), createHash("sha256").update(input).digest()]);
      const em = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - t.length - 3, 0xff), Buffer.from([0]), t]);
      expect(cryptoVerify("sha256", Buffer.from(input), createPublicKey({ key: jwk, format: "jwk" }), em), "forgery verifies").toBe(true);
      await expectInvalid(`${input}.${em.toString("base64url")}`, "e = 1");
    }
  });

  it("refuses an even public exponent (RFC 8017 §3.1: e odd, 3 ≤ e) and an even modulus", async () => {
    const rs = await proofKey("RS256");
    for (const e of ["Ag", "AQAA", "AQAC"]) await expectInvalid(await makeProof(rs, bridge.clock.now, { header: { jwk: { ...rs.publicJwk, e } } }), `e ${e}`);
    const n = Buffer.from(rs.publicJwk.n!, "base64url");
    n[n.length - 1]! &= 0xfe;
    await expectInvalid(await makeProof(rs, bridge.clock.now, { header: { jwk: { ...rs.publicJwk, n: n.toString("base64url") } } }), "even n");
  });

  it("still binds RSA keys with e = 65537 and e = 3 (RFC 8017 allows 3; the PKCS#1 check is strict)", async () => {
    const rs = await proofKey("RS256");
    await expectBound(await makeProof(rs, bridge.clock.now), rs.publicJwk, "e 65537");
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 });
    const jwk = publicKey.export({ format: "jwk" }) as JWK;
    expect(jwk.e).toBe("Aw");
    const proof = await new SignJWT(claims()).setProtectedHeader({ typ: "dpop+jwt", alg: "RS256", jwk }).sign(privateKey);
    await expectBound(proof, jwk, "e 3");
  });
});

describe("one key, one jkt: the jwk's members are canonical (RFC 7515 §2, RFC 7518 §6)", () => {
  /** Variants of one base64url member that Node's decoder reads as the same bytes. */
  function respellings(value: string): Record<string, string> {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const out: Record<string, string> = {
      padded: value + "=".repeat((4 - (value.length % 4)) % 4 || 1),
      "inner space": `${value.slice(0, 8)} ${value.slice(8)}`,
      "inner newline": `${value.slice(0, 8)}\n${value.slice(8)}`,
      "standard alphabet with padding": Buffer.from(value, "base64url").toString("base64"),
    };
    if (value.length % 4 !== 0) {
      const last = alphabet.indexOf(value.at(-1)!);
      out["unused trailing bits set"] = value.slice(0, -1) + alphabet[last ^ 1];
    }
    return out;
  }

  it("refuses an EC jwk whose x or y is spelled another way (each spelling is the same key)", async () => {
    const es = await proofKey("ES256");
    for (const member of ["x", "y"] as const) {
      for (const [name, spelled] of Object.entries(respellings(es.publicJwk[member]!))) {
        await expectInvalid(await makeProof(es, bridge.clock.now, { header: { jwk: { ...es.publicJwk, [member]: spelled } } }), `${member} ${name}`);
      }
    }
    // A leading zero octet (33 bytes for a P-256 coordinate).
    const x0 = Buffer.concat([Buffer.alloc(1), Buffer.from(es.publicJwk.x!, "base64url")]).toString("base64url");
    await expectInvalid(await makeProof(es, bridge.clock.now, { header: { jwk: { ...es.publicJwk, x: x0 } } }), "x leading zero");
    // A coordinate with its leading zero octet stripped (31 bytes), as sloppy encoders write it
    // (RFC 7518 §6.2.1.2: "MUST be the full size"); Node imports it. A key whose x starts with 0x00.
    let short: { jwk: JWK; key: KeyObject } | undefined;
    for (let i = 0; i < 8192 && short === undefined; i++) {
      const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = pair.publicKey.export({ format: "jwk" }) as JWK;
      if (Buffer.from(jwk.x!, "base64url")[0] === 0) short = { jwk: { ...jwk, x: Buffer.from(jwk.x!, "base64url").subarray(1).toString("base64url") }, key: pair.privateKey };
    }
    expect(short, "a P-256 key whose x starts with a zero octet").toBeDefined();
    await expectInvalid(await new SignJWT(claims()).setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: short!.jwk }).sign(short!.key), "x without its leading zero octet");
    await expectBound(await makeProof(es, bridge.clock.now), es.publicJwk, "canonical EC");
  });

  it("refuses an Ed25519 jwk whose x is spelled another way", async () => {
    const ed = await proofKey("Ed25519");
    for (const [name, spelled] of Object.entries(respellings(ed.publicJwk.x!))) {
      await expectInvalid(await makeProof(ed, bridge.clock.now, { header: { jwk: { ...ed.publicJwk, x: spelled } } }), `x ${name}`);
    }
  });

  it("refuses an RSA jwk with leading zero octets in n or e, or n/e spelled another way", async () => {
    const rs = await proofKey("RS256");
    const n0 = Buffer.concat([Buffer.alloc(1), Buffer.from(rs.publicJwk.n!, "base64url")]).toString("base64url");
    await expectInvalid(await makeProof(rs, bridge.clock.now, { header: { jwk: { ...rs.publicJwk, n: n0 } } }), "n leading zero");
    for (const e of ["AAEAAQ", "AAAAAQAB", "AQAB=", "AQ AB"]) {
      await expectInvalid(await makeProof(rs, bridge.clock.now, { header: { jwk: { ...rs.publicJwk, e } } }), `e ${JSON.stringify(e)}`);
    }
    for (const [name, spelled] of Object.entries(respellings(rs.publicJwk.n!))) {
      await expectInvalid(await makeProof(rs, bridge.clock.now, { header: { jwk: { ...rs.publicJwk, n: spelled } } }), `n ${name}`);
    }
  });

  it("the jkt of an accepted proof equals the thumbprint of the key re-exported by jose (a resource server's view)", async () => {
    for (const alg of ["ES256", "Ed25519", "RS256", "PS256"]) {
      const k = await proofKey(alg);
      const r = await tokenRequest({ bridge, dpop: [await makeProof(k, bridge.clock.now)] });
      expect(r.status, alg).toBe(200);
      const reexported = await exportJWK(await importJWK(k.publicJwk, alg === "Ed25519" ? "Ed25519" : alg, { extractable: true }));
      expect(decodeJwt(r.body.access_token).payload.cnf.jkt, alg).toBe(await calculateJwkThumbprint(reexported, "sha256"));
    }
  });
});

describe("every configurable algorithm still binds real keys (the length and exponent rules fit them)", () => {
  // Key generation (an RSA-4096 among them) is slow on a loaded machine: a longer timeout, no timing assertion.
  it("ES256/384/512, RS/PS 256/384/512 (2048 and 4096 bits), EdDSA and Ed25519", { timeout: 120_000 }, async () => {
    const all = await redisBridge(prefixes, (c) => {
      c.dpop = { algorithms: ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519"] };
    });
    try {
      for (const [alg, options] of [["ES256"], ["ES384"], ["ES512"], ["RS256"], ["RS384"], ["RS512"], ["PS256"], ["PS384"], ["PS512", { modulusLength: 4096 }], ["EdDSA"], ["Ed25519"]] as const) {
        const k = await proofKey(alg === "EdDSA" ? "Ed25519" : alg, options ?? {});
        const r = await tokenRequest({ bridge: all, dpop: [await makeProof(k, all.clock.now, { header: { alg } })] });
        expect(r.status, `${alg}: ${r.body.error_description}`).toBe(200);
        expect(decodeJwt(r.body.access_token).payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(k.publicJwk, "sha256") });
      }
    } finally {
      await all.close();
    }
  });
});
