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
    ],
    environment: "node",
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
