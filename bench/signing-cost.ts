/**
 * Cost of one access-token signature per algorithm on this machine, so an operator can choose
 * `signing.keys[].alg`:
 *
 *   npm run bench:signing [-- --ms 1000]
 *
 * For each of RS256, PS256, ES256, ES384 and EdDSA (throwaway keys, generated here): µs per token
 * with the bridge's cached signer (src/tokens/signing-keys.ts: key imported once, header cached,
 * one node:crypto signature) on the calling thread, the same on libuv's thread pool, jose's
 * SignJWT as the bridge used it before (WebCrypto), the cost for a resource server to verify
 * one token (jose jwtVerify), and the same verification as the bridge does it for the tokens it is
 * given (src/jwt: the strict decoder, then jose's rules with node:crypto doing the signature). CPU time (process user + system, all threads), not wall time, so a
 * machine shared with other work still gives the cost; a typical RFC 9068 claim set; the best of
 * five alternating rounds.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { importJWK, exportJWK, jwtVerify, SignJWT, type CryptoKey } from "jose";
import { decodeUnverified } from "../src/jwt/compact.js";
import { verifyCompactJwt } from "../src/jwt/jws-verify.js";
import { compactSigner } from "../src/tokens/signing-keys.js";
import { round } from "./arithmetic.js";

const { values } = parseArgs({ options: { ms: { type: "string", default: "1000" } } });
const MS = Number(values.ms);

/**
 * CPU µs per op of each function (process user + system time, every thread: what the op costs,
 * however busy the machine is), in alternating rounds; the best round counts.
 */
async function usPerOp(fns: Record<string, () => unknown>, rounds = 5): Promise<Record<string, number>> {
  const best: Record<string, number> = {};
  for (const fn of Object.values(fns)) for (let i = 0; i < 30; i++) await fn();
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      let ops = 0;
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      while (performance.now() - start < MS / rounds || ops < 20) {
        await fn();
        ops++;
      }
      const cpu = process.cpuUsage(cpu0);
      best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, (cpu.user + cpu.system) / ops);
    }
  }
  return best;
}

function keyFor(alg: string): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case "RS256": case "PS256": return generateKeyPairSync("rsa", { modulusLength: 2048 });
    case "ES256": return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    case "ES384": return generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    default: return generateKeyPairSync("ed25519");
  }
}

const now = Math.floor(Date.now() / 1000);
const claims = {
  email: "alice@example.org", groups: ["staff", "editors"], iss: "https://bridge.example.org", sub: "alice@example.org", aud: "https://api.example.org",
  iat: now, exp: now + 300, client_id: "legacy-app", idp: "https://idp.example.org/saml", scope: "orders:read", act: { sub: "legacy-app" },
};

const rows: string[][] = [["alg", "sign µs", "tokens/s per core", "thread pool µs", "jose SignJWT µs", "verify µs", "bridge verify µs", "RS256 cost ÷ this"]];
const results: Record<string, unknown>[] = [];
let rs256 = 0;
for (const alg of ["RS256", "PS256", "ES256", "ES384", "EdDSA"]) {
  const { privateKey, publicKey } = keyFor(alg);
  const signer = compactSigner("k1", alg, privateKey);
  const token = signer.sync("at+jwt", { ...claims, jti: randomUUID() });
  const verifyKey = await importJWK({ ...(await exportJWK(publicKey)), alg }, alg);
  const t = await usPerOp({
    lean: () => signer.sync("at+jwt", { ...claims, jti: randomUUID() }),
    pool: () => signer.offloaded("at+jwt", { ...claims, jti: randomUUID() }),
    jose: () => new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg, typ: "at+jwt", kid: "k1" }).sign(privateKey),
    verify: () => jwtVerify(token, verifyKey, { algorithms: [alg] }),
    bridgeVerify: () => verifyCompactJwt(token, decodeUnverified(token).header, verifyKey as CryptoKey, new Set([alg]), {}),
  });
  if (alg === "RS256") rs256 = t.lean!;
  results.push({ alg, sign_us: round(t.lean!), thread_pool_us: round(t.pool!), jose_us: round(t.jose!), verify_us: round(t.verify!), bridge_verify_us: round(t.bridgeVerify!) });
  rows.push([alg, round(t.lean!).toFixed(1), String(Math.round(1e6 / t.lean!)), round(t.pool!).toFixed(1), round(t.jose!).toFixed(1), round(t.verify!).toFixed(1), round(t.bridgeVerify!).toFixed(1), `${(rs256 / t.lean!).toFixed(1)}×`]);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
process.stdout.write(`\naccess-token signing cost, ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} CPUs, node ${process.version}, CPU µs per token, one op at a time\n\n`);
for (const r of rows) process.stdout.write(`  ${r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join("  ")}\n`);
process.stdout.write(`\n${JSON.stringify({ bench: "fedbridge-signing", node: process.version, results })}\n`);
