/**
 * How many cases each fuzz property runs. CI uses the small default given by each property (the
 * whole fuzz folder stays within ~30 s on a loaded 2-core box); a long run sets FUZZ_RUNS, the
 * number of cases per property (`npm run fuzz -- --runs 1000000` sets it from the total).
 */
export function fuzzRuns(ciDefault: number): number {
  const raw = process.env.FUZZ_RUNS;
  if (raw === undefined || raw === "") return ciDefault;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got ${raw}`);
  return n;
}

/** A fixed seed when FUZZ_SEED is set (to replay a failure), otherwise fast-check's random one. */
export function fuzzSeed(): { seed: number } | Record<string, never> {
  const raw = process.env.FUZZ_SEED;
  return raw ? { seed: Number(raw) } : {};
}
