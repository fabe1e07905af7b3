import { createHash, randomBytes, scrypt as scryptCb, scryptSync, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { scryptMaxmem, scryptParamsOf, scryptParamsProblem } from "./scrypt-params.js";

/**
 * Client secrets are stored only as hashes. Two formats:
 *  - `sha256:<b64url>` for generated high-entropy secrets (≥ 256 bits from `npm run hash-secret`),
 *    where a slow hash adds nothing and would cap throughput;
 *  - `scrypt:N:r:p:<salt>:<hash>` for secrets a person chose.
 * Comparison is constant-time over equal-length digests (timingSafeEqual).
 */
function scrypt(secret: string, salt: Buffer, len: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(secret, salt, len, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split(":");
  if (parts[0] === "sha256" && parts.length === 2) {
    const expected = Buffer.from(parts[1]!, "base64url");
    const actual = createHash("sha256").update(secret, "utf8").digest();
    return expected.length === actual.length && timingSafeEqual(actual, expected);
  }
  const params = scryptParamsOf(stored);
  // Out-of-bounds parameters are refused by the schema; checked again so no path hashes with them.
  if (params && !scryptParamsProblem(params)) {
    const [, , , , salt, hash] = parts as [string, string, string, string, string, string];
    const expected = Buffer.from(hash, "base64url");
    const actual = await scrypt(secret, Buffer.from(salt, "base64url"), expected.length, { ...params, maxmem: scryptMaxmem(params) });
    return timingSafeEqual(actual, expected);
  }
  return false;
}

export function hashSecretSha256(secret: string): string {
  return `sha256:${createHash("sha256").update(secret, "utf8").digest("base64url")}`;
}

export async function hashSecretScrypt(secret: string, N = 16384, r = 8, p = 1): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, 32, { N, r, p, maxmem: scryptMaxmem({ N, r, p }) });
  return `scrypt:${N}:${r}:${p}:${salt.toString("base64url")}:${hash.toString("base64url")}`;
}

/** An scrypt hash of a random secret with these parameters, to compare unknown client ids against. */
export function dummyScryptHash(N: number, r: number, p: number): string {
  const salt = randomBytes(16);
  const hash = scryptSync(randomBytes(16).toString("hex"), salt, 32, { N, r, p, maxmem: scryptMaxmem({ N, r, p }) });
  return `scrypt:${N}:${r}:${p}:${salt.toString("base64url")}:${hash.toString("base64url")}`;
}

export function generateSecret(): string {
  return randomBytes(32).toString("base64url");
}
