// Keys anyone can sign for (RSA with e = 1 or an even e, an Ed25519 point of small order): OpenSSL
// verifies forged signatures with them, so a JWT issuer's or client's JWK Set holding one would make
// its tokens forgeable without any private key. Refused at start-up for a static JWK Set
// (checkStaticJwks) and at verification for any key source (jws-verify.ts, e.g. a jwks_uri).
import { createHash, createPublicKey, generateKeyPairSync, verify as cryptoVerify } from "node:crypto";
import { createLocalJWKSet, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { checkStaticJwks } from "../../src/jwt/keys.js";
import { verifyCompactJwt } from "../../src/jwt/jws-verify.js";
import { forgeableByAnyone } from "../../src/jwt/key-material.js";

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
const P = 2n ** 255n - 19n;
/** RFC 8032 §5.1.2 encoding of (y, sign). */
function encode(y: bigint, sign: 0 | 1): Buffer {
  const out = Buffer.alloc(32);
  for (let i = 0, v = y; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  out[31]! |= sign << 7;
  return out;
}
/** libsodium's order-8 y (crypto_core/ed25519 blocklist). */
const Y8 = Buffer.from("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "hex").reduceRight((v, b) => (v << 8n) | BigInt(b), 0n);
const TORSION = [encode(1n, 0), encode(P - 1n, 0), encode(0n, 0), encode(0n, 1), encode(Y8, 0), encode(Y8, 1), encode(P - Y8, 0), encode(P - Y8, 1)];
const honestN = (): string => (generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }) as JWK).n!;
const now = Math.floor(Date.now() / 1000);
const claims = { iss: "https://issuer.example", sub: "mallory", aud: "bridge", iat: now, exp: now + 60 };

/** An RS256 JWT "signed" for e = 1: the EMSA-PKCS1-v1_5 encoding of the digest is its own signature. */
function forgedRs256(jwk: JWK): string {
  const input = `${b64({ alg: "RS256", kid: jwk.kid })}.${b64(claims)}`;
  const t = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), createHash("sha256").update(input).digest()]);
  const em = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - t.length - 3, 0xff), Buffer.from([0]), t]);
  expect(cryptoVerify("sha256", Buffer.from(input), createPublicKey({ key: jwk as never, format: "jwk" }), em), "the forgery verifies in OpenSSL").toBe(true);
  return `${input}.${em.toString("base64url")}`;
}

/** An EdDSA JWT with S = 0 and R in the 8-torsion, for a small-order key (found by trying jtis). */
function forgedEdDsa(jwk: JWK): string | undefined {
  const key = createPublicKey({ key: jwk as never, format: "jwk" });
  for (let attempt = 0; attempt < 64; attempt++) {
    const input = `${b64({ alg: "EdDSA", kid: jwk.kid })}.${b64({ ...claims, jti: `j${attempt}` })}`;
    for (const r of TORSION) {
      const sig = Buffer.concat([r, Buffer.alloc(32)]);
      if (cryptoVerify(null, Buffer.from(input), key, sig)) return `${input}.${sig.toString("base64url")}`;
    }
  }
  return undefined;
}

const verify = (token: string, jwk: JWK, alg: string) =>
  verifyCompactJwt(token, JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()), createLocalJWKSet({ keys: [jwk] }), new Set([alg]), {});

describe("keys anyone can sign for", () => {
  it("a static JWK Set with RSA e = 1, e = 2 or e = 65536 is refused at start-up", () => {
    for (const e of ["AQ", "Ag", "AQAA"]) {
      expect(checkStaticJwks({ keys: [{ kty: "RSA", n: honestN(), e, kid: "k" }] }, ["RS256"])).toMatch(/anyone can sign for/);
    }
  });

  it("a static JWK Set with any small-order Ed25519 point is refused at start-up", () => {
    for (const x of TORSION.slice(0, 3)) {
      expect(checkStaticJwks({ keys: [{ kty: "OKP", crv: "Ed25519", x: x.toString("base64url"), kid: "k" }] }, ["EdDSA"])).toMatch(/anyone can sign for/);
    }
  });

  it("real keys pass (RSA e = 65537, Ed25519, EC)", () => {
    for (const [type, alg] of [["rsa", "RS256"], ["ed25519", "EdDSA"], ["ec", "ES256"]] as const) {
      const { publicKey } = type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : type === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
      expect(forgeableByAnyone(publicKey)).toBe(false);
      expect(checkStaticJwks({ keys: [{ ...(publicKey.export({ format: "jwk" }) as JWK), kid: "k" }] }, [alg])).toBeUndefined();
    }
  });

  it("a forged RS256 token under an e = 1 key from any key source (e.g. jwks_uri) is refused at verification", async () => {
    const jwk: JWK = { kty: "RSA", n: honestN(), e: "AQ", kid: "weak" };
    await expect(verify(forgedRs256(jwk), jwk, "RS256")).rejects.toThrow(/anyone can sign for/);
  });

  it("a forged EdDSA token under a small-order key is refused at verification", async () => {
    let forged = 0;
    for (const x of TORSION) {
      const jwk: JWK = { kty: "OKP", crv: "Ed25519", x: x.toString("base64url"), kid: "weak" };
      let token: string | undefined;
      try {
        token = forgedEdDsa(jwk);
      } catch {
        continue; // a point Node will not import at all
      }
      if (token === undefined) continue;
      forged++;
      await expect(verify(token, jwk, "EdDSA")).rejects.toThrow(/anyone can sign for/);
    }
    expect(forged, "at least one small-order key yields a forgery OpenSSL accepts").toBeGreaterThan(0);
  });
});
