/**
 * The benchmark's arithmetic, in one place and unit-tested (test/bench/arithmetic.test.ts).
 *
 * Costs add, rates do not: one exchange costs the SUM of its operations' costs (µs per op), and a
 * core's floor is 1e6 / that sum exchanges per second. Only independent cores add rates: the
 * all-core floor is the sum over cores of each core's floor. (The old report added a verify RATE
 * to a sign COST: "verify 27.75 + sign 543.84 = crypto 529.28".)
 */

/** Rounds to `d` decimals (half away from zero on the decimal string, so printed sums agree). */
export function round(x: number, d = 1): number {
  const f = 10 ** d;
  return Math.sign(x) * Math.round(Math.abs(x) * f) / f;
}

export interface CostBreakdown {
  /** Per-operation cost, µs, rounded for printing; `total` is the sum of exactly these. */
  terms: [string, number][];
  totalUs: number;
  /** 1e6 / totalUs: exchanges per second on one core. */
  perCorePerS: number;
}

/**
 * One exchange's floor on one core from its operations' µs/op. Terms are rounded to `d` decimals
 * FIRST and the total is the sum of the rounded terms, so the printed line adds up exactly.
 */
export function exchangeCost(opsUs: Readonly<Record<string, number>>, d = 1): CostBreakdown {
  const terms = Object.entries(opsUs).map(([k, v]): [string, number] => {
    if (!Number.isFinite(v) || v < 0) throw new Error(`cost of ${k} must be a finite non-negative number (µs/op), got ${v}`);
    return [k, round(v, d)];
  });
  if (terms.length === 0) throw new Error("no operations");
  const totalUs = round(terms.reduce((a, [, v]) => a + v, 0), d);
  if (totalUs <= 0) throw new Error("an exchange cannot cost nothing");
  return { terms, totalUs, perCorePerS: 1e6 / totalUs };
}

/** The all-core floor: independent cores add their rates (each 1e6 / its own per-exchange cost). */
export function allCoreFloor(perCoreTotalsUs: readonly number[]): number {
  if (perCoreTotalsUs.length === 0) throw new Error("no cores measured");
  return perCoreTotalsUs.reduce((a, us) => {
    if (!(us > 0) || !Number.isFinite(us)) throw new Error(`per-exchange cost must be positive, got ${us}`);
    return a + 1e6 / us;
  }, 0);
}

/** "parse 84.7 + digest 3.1 + verify 17.9 + sign 296.7 = 402.4 µs (2485/s per core)". */
export function formatCost(c: CostBreakdown): string {
  return `${c.terms.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(" + ")} = ${c.totalUs.toFixed(1)} µs (${Math.round(c.perCorePerS)}/s per core)`;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** Measured throughput as a fraction of the floor (0.5 = half of what the cryptography allows). */
export function ofFloor(throughputPerS: number, floorPerS: number): number {
  if (!(floorPerS > 0)) throw new Error("floor must be positive");
  return throughputPerS / floorPerS;
}

/** Throughput from a completed count and the wall time it took. */
export function perSecond(count: number, wallMs: number): number {
  if (!(wallMs > 0)) throw new Error("wall time must be positive");
  return (count * 1000) / wallMs;
}
