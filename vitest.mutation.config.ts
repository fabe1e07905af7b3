import { defineConfig } from "vitest/config";

/**
 * The test set Stryker runs for mutation testing (`npm run mutate`, docs/mutation-testing.md):
 * only the suites that exercise src/xml, src/saml, src/jwt and src/policy. Fuzz, cluster, bench,
 * admin, replay-integration and process-spawning start-up tests are left out: they cover none of the
 * mutated code through the in-process app (or cover it only via dist/, which mutants never reach)
 * and would make every Stryker run minutes slower. `npm test` keeps using vitest.config.ts.
 */
export default defineConfig({
  test: {
    include: [
      "test/xml/**/*.test.ts",
      "test/saml/**/*.test.ts",
      "test/jwt/**/*.test.ts",
      "test/policy/**/*.test.ts",
      "test/mapping/**/*.test.ts",
      "test/tokens/**/*.test.ts",
      "test/http/**/*.test.ts",
    ],
    exclude: [
      "**/node_modules/**",
      // spawns dist/src/main.js (built code, never mutated) and real sockets
      "test/http/startup-errors.test.ts",
      // slow-socket timing tests: seconds each, no coverage of the mutated folders
      "test/http/slow-clients.test.ts",
      // timed growth-exponent assertions (minutes per run): on a machine loaded by the mutation run
      // itself a timing failure would count as a kill that the mutant did not earn; their functional
      // checks (forged → signature_invalid, large documents parse) are repeated in the saml/xml suites
      "test/xml/growth.test.ts",
    ],
    // Property-test run counts during mutation runs (only if not set by the caller): fewer random
    // cases can only let a mutant survive, never kill one falsely; the full counts stay in `npm test`.
    env: {
      DIFF_RUNS: process.env.DIFF_RUNS ?? "50", // test/xml/verifier-differential.test.ts (default 250)
      FUZZ_RUNS: process.env.FUZZ_RUNS ?? "300", // test/xml/safe-parse-differential.test.ts (default 2,000)
    },
    environment: "node",
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
