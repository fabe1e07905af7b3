/** The benchmark's report arithmetic: costs add, rates of independent cores add, nothing else does. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allCoreFloor, exchangeCost, formatCost, ofFloor, percentile, perSecond, round } from "../../bench/arithmetic.js";

/** Re-adds the printed terms of a formatted line and compares with its printed total. */
function addsUp(line: string): boolean {
  const [lhs, rhs] = line.split(" = ");
  const terms = lhs!.split(" + ").map((t) => Number(t.split(" ").at(-1)));
  const total = Number(rhs!.split(" ")[0]);
  return Math.abs(terms.reduce((a, b) => a + b, 0) - total) < 1e-9;
}

describe("exchange cost", () => {
  it("is the sum of per-op costs, and the per-core floor is 1e6 over it", () => {
    const c = exchangeCost({ verify: 17.87, sign: 296.74 });
    expect(c.totalUs).toBe(314.6);
    expect(c.perCorePerS).toBeCloseTo(1e6 / 314.6, 6);
  });

  it("the old report's line cannot come out of it: a sum is never below one of its terms", () => {
    // "verify 27.75 + sign 543.84 = crypto 529.28" added a rate to a cost.
    const c = exchangeCost({ verify: 1e6 / 27.75 / 1000, sign: 543.84 });
    expect(c.totalUs).toBeGreaterThanOrEqual(543.8);
    expect(formatCost(c)).not.toMatch(/= 529\.28/);
  });

  it("the printed line adds up exactly for any costs (terms rounded first)", () => {
    const cases = [
      { parse: 84.71, digest: 3.149, verify: 17.87, sign: 296.74 },
      { a: 0.05, b: 0.05, c: 0.05 },
      { a: 1.25, b: 2.35, c: 3.45, d: 4.55 },
      { x: 12345.678, y: 0.04 },
    ];
    for (const ops of cases) {
      const line = formatCost(exchangeCost(ops));
      expect(addsUp(line), line).toBe(true);
    }
    fc.assert(fc.property(fc.array(fc.double({ min: 0.05, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 8 }), (costs) => {
      const line = formatCost(exchangeCost(Object.fromEntries(costs.map((c, k) => [`op${k}`, c]))));
      expect(addsUp(line), line).toBe(true);
    }), { numRuns: 1000 });
  });

  it("refuses negative, non-finite, missing or zero costs", () => {
    expect(() => exchangeCost({ a: -1 })).toThrow();
    expect(() => exchangeCost({ a: Number.NaN })).toThrow();
    expect(() => exchangeCost({ a: Number.POSITIVE_INFINITY })).toThrow();
    expect(() => exchangeCost({})).toThrow();
    expect(() => exchangeCost({ a: 0, b: 0.01 })).toThrow();
  });
});

describe("all-core floor", () => {
  it("adds the rates of independent cores", () => {
    expect(allCoreFloor([400, 400])).toBeCloseTo(5000, 9);
    expect(allCoreFloor([500, 250])).toBeCloseTo(2000 + 4000, 9);
    expect(allCoreFloor([1000])).toBeCloseTo(1000, 9);
  });
  it("is never the rate of summed costs", () => {
    expect(allCoreFloor([400, 400])).not.toBeCloseTo(1e6 / 800, 0);
  });
  it("refuses empty, zero or negative costs", () => {
    expect(() => allCoreFloor([])).toThrow();
    expect(() => allCoreFloor([0])).toThrow();
    expect(() => allCoreFloor([100, -5])).toThrow();
  });
});

describe("rates and percentiles", () => {
  it("ratio to the floor, throughput from count and wall time", () => {
    expect(ofFloor(1500, 3000)).toBe(0.5);
    expect(perSecond(3000, 2000)).toBe(1500);
    expect(() => ofFloor(1, 0)).toThrow();
    expect(() => perSecond(1, 0)).toThrow();
  });
  it("nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
  it("rounds half away from zero", () => {
    expect(round(2.25, 1)).toBe(2.3);
    expect(round(-2.25, 1)).toBe(-2.3);
    expect(round(314.61, 0)).toBe(315);
  });
});
