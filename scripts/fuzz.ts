/**
 * The long fuzz run (issue 9): every fuzz target under test/fuzz and the pre-scan/xmldom
 * differential test, with many more cases than CI runs, then a summary of the cost per input.
 *
 *   npm run fuzz                           # 1,000,000 inputs in total
 *   npm run fuzz -- --runs 200000          # fewer
 *   npm run fuzz -- --seed 42 --runs 5000  # replay a reported failure's seed
 *
 * --runs is the total; it is split evenly over the fast-check properties (FUZZ_RUNS each). The
 * targets append one JSON line each to the report file (--report, default in the temp folder):
 * cases, outcomes by reason, the slowest input's time and size, and the slowest when timed again
 * (fastest of three re-runs: a pause of the shared machine is not the input's cost), whose input
 * is written beside the report (<report>.<target>.worst).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** fast-check properties run with FUZZ_RUNS cases: test/fuzz (14) and the differential test (3). */
const PROPERTIES = 17;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const total = Number(option("runs") ?? 1_000_000);
if (!Number.isInteger(total) || total < PROPERTIES) {
  console.error(`--runs must be an integer of at least ${PROPERTIES}`);
  process.exit(2);
}
const seed = option("seed");
const report = option("report") ?? path.join(tmpdir(), `fedbridge-fuzz-${process.pid}.jsonl`);
rmSync(report, { force: true });
const perProperty = Math.ceil(total / PROPERTIES);

console.log(`fuzz: ${total} inputs, ${perProperty} per property; report ${report}`);
const started = Date.now();
const vitest = path.resolve("node_modules/vitest/vitest.mjs");
const run = spawnSync(process.execPath, [vitest, "run", "test/fuzz", "test/xml/safe-parse-differential.test.ts", "--testTimeout=0", "--hookTimeout=0"], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_RUNS: String(perProperty), FUZZ_REPORT: report, ...(seed ? { FUZZ_SEED: seed } : {}) },
});

interface Line { target: string; cases: number; accepted: number; worstMs: number; worstBytes: number; stableMs: number; stableBytes: number; meanMs: number }
const lines: Line[] = existsSync(report)
  ? readFileSync(report, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line)
  : [];
const cases = lines.reduce((n, l) => n + l.cases, 0) + 3 * perProperty;
console.log(`\nfuzz summary (${Math.round((Date.now() - started) / 1000)} s, ${cases} inputs incl. ${3 * perProperty} differential):`);
for (const l of lines) {
  console.log(`  ${l.target.padEnd(28)} ${String(l.cases).padStart(9)} cases  worst ${l.worstMs.toFixed(1).padStart(7)} ms at ${String(l.worstBytes).padStart(6)} bytes  `
    + `re-timed ${l.stableMs.toFixed(1).padStart(6)} ms at ${String(l.stableBytes).padStart(6)} bytes  mean ${l.meanMs} ms`);
}
process.exit(run.status ?? 1);
