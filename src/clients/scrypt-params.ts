/**
 * Bounds of the scrypt parameters a client's `secretHash` may carry (RFC 7914 §2: N a power of two,
 * memory ≈ 128·N·r bytes, work ∝ N·r·p). A config may not make one failed authentication cost more
 * than this: every failure pays one hash of the configured cost (clients/registry.ts), so an unbounded
 * N, r or p would let the config turn each unknown client id into seconds of thread-pool time.
 */
export const SCRYPT_LIMITS = {
  minN: 1024,
  maxN: 65_536,
  maxR: 16,
  maxP: 4,
  /** 128·N·r: 32 MiB. */
  maxMemoryBytes: 32 * 1024 * 1024,
  /** N·r·p: four times the `npm run hash-secret` default (16384·8·1). */
  maxWork: 4 * 16_384 * 8,
} as const;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

const SCRYPT_HASH = /^scrypt:(\d+):(\d+):(\d+):[A-Za-z0-9_-]{22,}:[A-Za-z0-9_-]{43,}$/;

/** The N, r, p of a `scrypt:N:r:p:salt:hash` string; undefined for any other format. */
export function scryptParamsOf(stored: string): ScryptParams | undefined {
  const m = SCRYPT_HASH.exec(stored);
  return m ? { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) } : undefined;
}

/** Why these parameters are refused, or undefined when they are within SCRYPT_LIMITS. */
export function scryptParamsProblem({ N, r, p }: ScryptParams): string | undefined {
  const L = SCRYPT_LIMITS;
  if (!Number.isSafeInteger(N) || N < L.minN || N > L.maxN || (N & (N - 1)) !== 0) return `N must be a power of two from ${L.minN} to ${L.maxN}`;
  if (!Number.isSafeInteger(r) || r < 1 || r > L.maxR) return `r must be 1 to ${L.maxR}`;
  if (!Number.isSafeInteger(p) || p < 1 || p > L.maxP) return `p must be 1 to ${L.maxP}`;
  if (128 * N * r > L.maxMemoryBytes) return `128·N·r must be at most ${L.maxMemoryBytes} bytes (${L.maxMemoryBytes / 1024 / 1024} MiB)`;
  if (N * r * p > L.maxWork) return `N·r·p must be at most ${L.maxWork}`;
  return undefined;
}

/** scrypt's maxmem for these parameters (Node refuses above 32 MiB by default; ours are bounded anyway). */
export function scryptMaxmem({ N, r }: ScryptParams): number {
  return 256 * N * r + 1024 * 1024;
}
