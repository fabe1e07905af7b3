// Mutation testing (issue 8): StrykerJS + its vitest runner over the security-rule folders.
// How to run it, how long each folder takes and the current scores: docs/mutation-testing.md.
// Not part of `npm test` or CI (too slow on a shared 2-core machine).
//
//   npm run mutate                                   all four folders
//   npm run mutate:policy | :jwt | :saml | :xml      one folder
//   npm run mutate -- --mutate "src/jwt/compact.ts"  any file set (Stryker's own --mutate)
//
// Reports and the incremental file are named after the mutated scope, so each folder keeps its own
// incremental baseline (reruns only test mutants whose code or covering tests changed).

import { readFileSync } from "node:fs";
import path from "node:path";

const FOLDERS = ["xml", "saml", "jwt", "policy"];

/** The value of Stryker's `--mutate`/`-m` CLI option, if one was given. */
function mutateArg(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--mutate" || a === "-m") return argv[i + 1] ?? "";
    if (a.startsWith("--mutate=")) return a.slice("--mutate=".length);
  }
  return undefined;
}

/** A file-name-safe name for the scope: "policy", "jwt", ..., "all", or a slug of a custom pattern. */
function scopeName(pattern) {
  if (pattern === undefined) return "all";
  const folders = FOLDERS.filter((f) => pattern.includes(`src/${f}/`));
  if (folders.length > 0 && /^src\/(xml|saml|jwt|policy)\/\*\*\/\*\.ts$/.test(pattern)) return folders[0];
  return `custom-${pattern.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60)}`;
}

// A sampled run (scripts/mutation-sample.mjs): STRYKER_SAMPLE names the sample file; its chosen
// mutant locations are the mutate patterns, and the "sample" ignorer keeps nested mutants out.
const sample = process.env.STRYKER_SAMPLE ? JSON.parse(readFileSync(process.env.STRYKER_SAMPLE, "utf8")) : undefined;

const scope = sample
  ? path.basename(process.env.STRYKER_SAMPLE).replace(/\.json$/, "").replace(/^(?!sample)/, "sample-")
  : scopeName(mutateArg(process.argv));

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  $schema: "./node_modules/@stryker-mutator/core/schema/stryker-schema.json",
  packageManager: "npm",
  testRunner: "vitest",
  vitest: {
    // the mutation test set: the suites covering these folders, without fuzz/cluster/bench/e2e
    configFile: "vitest.mutation.config.ts",
    // only test files that (transitively) import a mutated file take part in the dry run
    related: process.env.STRYKER_RELATED !== "0",
  },
  // default scope: the four folders; `--mutate` on the command line overrides it
  mutate: sample ? sample.mutate : FOLDERS.map((f) => `src/${f}/**/*.ts`),
  ...(sample
    ? { plugins: ["@stryker-mutator/*", "./scripts/mutation-sample-ignorer.mjs"], ignorers: ["sample"] }
    : {}),
  coverageAnalysis: "perTest",
  // A "static" mutant is reached only outside any test: at module load or in a beforeAll (the test
  // harness parses its config and builds the bridge there). Stryker can only test those by rerunning
  // EVERY test with a fresh module graph (~2 min each here, so hours per folder); they are reported as
  // "Ignored" instead and listed in docs/mutation-testing.md. Mutants also reached inside a test
  // ("hybrid") are still tested, against the tests that reach them.
  ignoreStatic: true,
  // TypeScript checker off: the type-check per mutant costs more than the tests that kill them on
  // this machine; type-invalid mutants simply show up as killed/survived at run time.
  checkers: [],
  // 2 cores shared with other work: at most two test-runner processes (run under `nice`)
  concurrency: 2,
  // a loaded machine makes test times noisy: generous absolute slack before a mutant counts as timeout
  timeoutMS: 90_000,
  timeoutFactor: 2.5,
  dryRunTimeoutMinutes: 30,
  incremental: true,
  incrementalFile: `reports/mutation/${scope}.incremental.json`,
  // event-recorder: one JSON file per tested mutant as it happens (plus the plan after the dry run), so
  // survivors can be read while a long run is going and a run stopped early still leaves its results;
  // scripts/mutation-scores.mjs summarises either a JSON report or this folder
  reporters: ["progress", "clear-text", "html", "json", "event-recorder"],
  eventReporter: { baseDir: `reports/mutation/${scope}.events` },
  htmlReporter: { fileName: `reports/mutation/${scope}.html` },
  jsonReporter: { fileName: `reports/mutation/${scope}.json` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 75, break: null },
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  // not needed by the mutation test set; keeps the sandbox copy small
  // (other runs' sandboxes too: runs with their own --tempDirName go on side by side)
  ignorePatterns: ["/dist", "/bench", "/reports", "/docs/**/*.html", "/.stryker-tmp*"],
};
