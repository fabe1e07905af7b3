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
      // metadata uploads and refreshes parse IdP metadata inside tests (src/saml/metadata.ts): at
      // bridge start-up the same code is only reached in a beforeAll ("static", not testable)
      "test/admin/admin-api.test.ts",
      "test/admin/bad-bodies.test.ts",
      "test/admin/invariants.test.ts",
      "test/admin/metadata-fetch.test.ts",
      "test/admin/metadata-refresh.test.ts",
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
    // One module graph for all test files (Stryker runs them in one worker thread): a mutant run then
    // re-imports nothing, only the covering tests run (≈ 4× less import time). Mutants are switched at
    // run time (globalThis.__stryker__), so cached modules see each one; static mutants are ignored
    // anyway (stryker.config.mjs ignoreStatic). The whole mutation set passes this way (dry run).
    isolate: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
