/**
 * Growth exponents (issue 9 "Quadratic work on comments inside the signed element"): for every
 * input dimension, the full SAML 2.0 verification path (decode + pre-scan + parse + signature +
 * rules, through verifySaml2Token) is timed at two sizes 4× apart in the same run, and the fitted
 * exponent log(t2/t1)/log(n2/n1) must stay near 1. Fastest of interleaved repetitions; a slow
 * measurement is repeated (never the assertion), so a loaded machine does not fail the test.
 * Each dimension is measured for a validly signed document and for a forged one (a well-formed
 * ds:Signature with a garbage SignatureValue: all an attacker needs is the IdP's entityID), against
 * an IdP with five trusted keys (the right one last) and one with two.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS, REGISTRY_FIVE_KEYS, REGISTRY_ONE_KEY, REGISTRY_TWO_KEYS, ROOMY_LIMITS, enterpriseToken, growthExponent, inflatedToken, fastest, runSaml2,
  type Dimension,
} from "./growth-support.js";
import { parseUntrustedXml } from "../../src/xml/safe-parse.js";

const BOUND = 1.35;
/** n1 per dimension (n2 = 4 × n1), chosen so n2 stays inside the schema's largest limits. */
const SIZES: Record<Dimension, number> = {
  comments: 4_000,
  bareComments: 4_000,
  elements: 2_000,
  attributes: 2_000,
  nsDeclarations: 2_000,
  ids: 2_000,
  depth: 50,
  textBytes: 64 * 1024,
  keyInfo: 48 * 1024,
  statements: 500,
  signedInfoBulk: 2_000,
};

describe("growth exponent of SAML verification, per input dimension", () => {
  for (const dim of Object.keys(SIZES) as Dimension[]) {
    for (const signed of [true, false]) {
      it(`${dim}, ${signed ? "validly signed" : "forged signature"}: exponent < ${BOUND}`, () => {
        const n1 = SIZES[dim];
        const n2 = n1 * 4;
        const t1 = inflatedToken(dim, n1, signed);
        const t2 = inflatedToken(dim, n2, signed);
        const registry = signed ? REGISTRY_TWO_KEYS : REGISTRY_FIVE_KEYS;
        // The larger document must pass the input limits, or we would be timing the pre-scan's refusal.
        expect(() => parseUntrustedXml(Buffer.from(t2, "base64url").toString("utf8"), ROOMY_LIMITS)).not.toThrow();
        const outcome = runSaml2(t2, registry, ROOMY_LIMITS);
        if (!signed) expect(outcome).toBe("signature_invalid");
        const g = growthExponent(() => runSaml2(t1, registry, ROOMY_LIMITS), () => runSaml2(t2, registry, ROOMY_LIMITS), n1, n2, { bound: BOUND });
        expect(g.exponent, `${dim}: ${g.t1.toFixed(2)} ms at ${n1}, ${g.t2.toFixed(2)} ms at ${n2}`).toBeLessThan(BOUND);
      }, 120_000);
    }
  }
});

/** The largest n for which the document still passes the default input limits (binary search). */
function largestWithinDefaults(dim: Dimension, hi: number): number {
  const fits = (n: number): boolean => {
    try {
      parseUntrustedXml(Buffer.from(inflatedToken(dim, n, false), "base64url").toString("utf8"), DEFAULT_LIMITS);
      return Buffer.from(inflatedToken(dim, n, false), "base64url").length <= DEFAULT_LIMITS.maxTokenBytes;
    } catch {
      return false;
    }
  };
  let lo = 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The bound: a worst-case document is 12–18× the bytes of the normal one (90–128 KB against a
 * 7 KB Response), and its cost is the linear work on those bytes. 1,965 AttributeValues (90 KB),
 * validly signed, is the dearest: two xmldom parses of ≈ 90 KB (the token, then the signed bytes
 * identity is read from, README 4) plus the verifier's c14n, digest and RSA. Measured on the
 * 2-core development machine (2026-12-05): 15.1 ms against 0.95 ms for the normal Response
 * (15.8×) alone, 16.8 ms (17.1×) beside the rest of the suite; the same document forged 7 ms
 * (8×); every other dimension below 7×. 24× leaves room for that noise, while any super-linear
 * step fails by orders of magnitude (15,894 comments cost 27 s before: 10⁴×).
 */
const WORST_CASE_FACTOR = 24;

describe("a worst-case document inside the default limits", () => {
  it(`costs no more than ${WORST_CASE_FACTOR}× a normal enterprise-shaped exchange's verification (same run)`, () => {
    const normal = enterpriseToken();
    expect(runSaml2(normal, REGISTRY_TWO_KEYS, DEFAULT_LIMITS)).toBe("ok");
    const worst: [string, string][] = [];
    for (const [dim, hi] of [["comments", 20_000], ["bareComments", 20_000], ["textBytes", 130_000], ["keyInfo", 130_000], ["elements", 2_000]] as [Dimension, number][]) {
      const n = largestWithinDefaults(dim, hi);
      for (const signed of [true, false]) worst.push([`${dim}×${n}${signed ? "" : " forged"}`, inflatedToken(dim, n, signed)]);
    }
    for (const [name, token] of worst) {
      let ratio = Number.POSITIVE_INFINITY;
      let times: number[] = [];
      for (let attempt = 0; attempt < 5 && ratio > WORST_CASE_FACTOR; attempt++) {
        times = fastest([() => runSaml2(normal, REGISTRY_TWO_KEYS, DEFAULT_LIMITS), () => runSaml2(token, REGISTRY_FIVE_KEYS, DEFAULT_LIMITS)], 9);
        ratio = times[1]! / times[0]!;
      }
      if (process.env.GROWTH_VERBOSE) console.log(`worst case ${name}: ${times[1]!.toFixed(2)} ms vs normal ${times[0]!.toFixed(2)} ms (×${ratio.toFixed(1)})`);
      expect(ratio, `${name}: ${times[1]!.toFixed(2)} ms vs normal ${times[0]!.toFixed(2)} ms`).toBeLessThanOrEqual(WORST_CASE_FACTOR);
    }
  }, 300_000);
});

describe("several trusted keys", () => {
  it("an IdP with five keys (the right one last) costs about what one key costs: the document is digested once", () => {
    // Fresh registries per measurement would reset the last-good-key order; these keep it, so the
    // five-key case is measured both cold (first run) and warm. Either way a wrong key costs one
    // public-key operation over SignedInfo, never a canonicalization of the document.
    const token = inflatedToken("elements", 4_000, true);
    expect(runSaml2(token, REGISTRY_ONE_KEY, ROOMY_LIMITS)).toBe(runSaml2(token, REGISTRY_FIVE_KEYS, ROOMY_LIMITS));
    const forged = inflatedToken("elements", 4_000, false);
    let ratio = Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < 5 && ratio > 1.5; attempt++) {
      const [one, five, oneForged, fiveForged] = fastest([
        () => runSaml2(token, REGISTRY_ONE_KEY, ROOMY_LIMITS), () => runSaml2(token, REGISTRY_FIVE_KEYS, ROOMY_LIMITS),
        () => runSaml2(forged, REGISTRY_ONE_KEY, ROOMY_LIMITS), () => runSaml2(forged, REGISTRY_FIVE_KEYS, ROOMY_LIMITS),
      ], 9);
      ratio = Math.max(five! / one!, fiveForged! / oneForged!);
    }
    expect(ratio).toBeLessThan(1.5);
  }, 120_000);
});
