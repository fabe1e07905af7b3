/**
 * The cached signer (signing-keys.ts compactSigner): every configured algorithm produces JWS compact
 * tokens that independent verifiers accept (jose, and PyJWT under /usr/bin/python3), with the
 * header {alg, typ, kid}, and nothing else verifies.
 */
import { execFileSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLocalJWKSet, exportJWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { compactSigner, loadSigningKeys } from "../../src/tokens/signing-keys.js";

const dir = mkdtempSync(join(tmpdir(), "fedbridge-signers-"));
const PYJWT_VERIFY = resolve(import.meta.dirname, "..", "support", "pyjwt_verify.py");

const KEYS: Record<string, () => ReturnType<typeof generateKeyPairSync>> = {
  RS256: () => generateKeyPairSync("rsa", { modulusLength: 2048 }),
  PS256: () => generateKeyPairSync("rsa", { modulusLength: 2048 }),
  ES256: () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }),
  ES384: () => generateKeyPairSync("ec", { namedCurve: "secp384r1" }),
  EdDSA: () => generateKeyPairSync("ed25519"),
};
const SIGNATURE_BYTES: Record<string, number> = { RS256: 256, PS256: 256, ES256: 64, ES384: 96, EdDSA: 64 };

async function keySet(alg: string) {
  const file = join(dir, `${alg}.pem`);
  writeFileSync(file, KEYS[alg]!().privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  return loadSigningKeys({ keys: [{ kid: `k-${alg}`, alg: alg as "RS256", privateKeyFile: file }] }, (p) => p);
}

const claims = (now: number) => ({ iss: "https://bridge.test", sub: "alice@example.com", aud: "https://api.test", iat: now, exp: now + 300, scope: "read", jti: "j-1", note: "ünïcødé ✓" });

function segments(token: string): [Record<string, unknown>, Record<string, unknown>, Buffer] {
  const [h, p, s] = token.split(".");
  return [JSON.parse(Buffer.from(h!, "base64url").toString()), JSON.parse(Buffer.from(p!, "base64url").toString()), Buffer.from(s!, "base64url")];
}

describe("cached compact signer", () => {
  for (const alg of Object.keys(KEYS)) {
    it(`${alg}: jose and PyJWT verify it; header {alg, typ, kid}; raw signature of the JWA length`, async () => {
      const keys = await keySet(alg);
      const now = Math.floor(Date.now() / 1000);
      const token = await keys.active.signCompact("at+jwt", claims(now));
      const [header, payload, sig] = segments(token);
      expect(header).toEqual({ alg, typ: "at+jwt", kid: `k-${alg}` });
      expect(Object.keys(header)).toEqual(["alg", "typ", "kid"]);
      expect(payload).toEqual(claims(now));
      expect(sig.length).toBe(SIGNATURE_BYTES[alg]);

      const verified = await jwtVerify(token, createLocalJWKSet(keys.jwks), { algorithms: [alg], typ: "at+jwt" });
      expect(verified.payload).toEqual(claims(now));

      const py = JSON.parse(execFileSync("/usr/bin/python3", [PYJWT_VERIFY], {
        input: JSON.stringify({ token, jwks: keys.jwks, audience: "https://api.test", issuer: "https://bridge.test" }), encoding: "utf8",
      })) as { ok: boolean; claims?: unknown; error?: string };
      expect(py, py.error).toMatchObject({ ok: true, claims: claims(now) });
    });

    it(`${alg}: a changed payload, header or signature, or another key's JWKS, does not verify`, async () => {
      const keys = await keySet(alg);
      const other = await keySet(alg);
      const now = Math.floor(Date.now() / 1000);
      const token = await keys.active.signCompact("at+jwt", claims(now));
      const [h, p, s] = token.split(".") as [string, string, string];
      const flipped = (seg: string): string => {
        const b = Buffer.from(seg, "base64url");
        b[b.length >> 1]! ^= 0x01;
        return b.toString("base64url");
      };
      const forged = [
        `${h}.${Buffer.from(JSON.stringify({ ...claims(now), sub: "mallory" })).toString("base64url")}.${s}`,
        `${Buffer.from(JSON.stringify({ alg, typ: "JWT", kid: `k-${alg}` })).toString("base64url")}.${p}.${s}`,
        `${h}.${p}.${flipped(s)}`,
      ];
      for (const f of forged) await expect(jwtVerify(f, createLocalJWKSet(keys.jwks), { algorithms: [alg] })).rejects.toThrow();
      const jwksOther = { keys: other.jwks.keys.map((k) => ({ ...k, kid: `k-${alg}` })) };
      await expect(jwtVerify(token, createLocalJWKSet(jwksOther), { algorithms: [alg] })).rejects.toThrow();
    });
  }

  it("caches one header per typ, and each token signs its own payload", async () => {
    const keys = await keySet("ES256");
    const a = await keys.active.signCompact("at+jwt", { n: 1 });
    const b = await keys.active.signCompact("JWT", { n: 2 });
    const c = await keys.active.signCompact("at+jwt", { n: 3 });
    expect(segments(a)[0]).toEqual({ alg: "ES256", typ: "at+jwt", kid: "k-ES256" });
    expect(segments(b)[0]).toEqual({ alg: "ES256", typ: "JWT", kid: "k-ES256" });
    expect(a.split(".")[0]).toBe(c.split(".")[0]);
    expect(segments(c)[1]).toEqual({ n: 3 });
  });

  it("PS256 and ES256 signatures are randomised, RS256 and EdDSA deterministic", async () => {
    for (const [alg, same] of [["PS256", false], ["ES256", false], ["RS256", true], ["EdDSA", true]] as const) {
      const keys = await keySet(alg);
      const x = await keys.active.signCompact("at+jwt", { n: 1 });
      const y = await keys.active.signCompact("at+jwt", { n: 1 });
      expect(x === y, alg).toBe(same);
    }
  });

  it("both signing paths (calling thread and thread pool) make tokens that verify, for every algorithm", async () => {
    for (const alg of Object.keys(KEYS)) {
      const { privateKey } = KEYS[alg]!();
      const keys = await keySet(alg);
      const signer = compactSigner(`k-${alg}`, alg, privateKey as KeyObject);
      const publicJwks = { keys: [{ ...(await exportJWK(createPublicKey(privateKey as KeyObject))), kid: `k-${alg}`, alg }] };
      for (const token of [signer.sync("at+jwt", { n: 1 }), await signer.offloaded("at+jwt", { n: 2 })]) {
        expect((await jwtVerify(token, createLocalJWKSet(publicJwks), { algorithms: [alg] })).payload, alg).toHaveProperty("n");
        await expect(jwtVerify(token, createLocalJWKSet(keys.jwks), { algorithms: [alg] }), `${alg} with another key`).rejects.toThrow();
      }
    }
  });
});
