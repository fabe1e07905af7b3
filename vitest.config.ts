import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // every log line of a harness-built bridge is checked for credential shapes (issue 12, Logs)
    setupFiles: ["test/support/log-hygiene.setup.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
