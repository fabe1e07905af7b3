#!/usr/bin/env node
// Mutation scores per folder and per file (docs/mutation-testing.md), from Stryker's JSON report
// (reports/mutation/<scope>.json) or from its event-recorder folder (reports/mutation/<scope>.events,
// written mutant by mutant, so a run still going or stopped early can be read). Several inputs are
// merged (a later result for the same file:line:column:mutator replaces an earlier one).
//
//   node scripts/mutation-scores.mjs reports/mutation/x.json [reports/mutation/y.events ...]
//   node scripts/mutation-scores.mjs --survivors reports/mutation/x.events    also list survivors
//   node scripts/mutation-scores.mjs --markdown ...                            Markdown table rows
//   node scripts/mutation-scores.mjs --sample reports/mutation/sample-15.json reports/mutation/sample-15.events
//        a sampled run (scripts/mutation-sample.mjs): only the chosen mutant locations are counted, and
//        each score gets its 95 % Wilson interval
//
// Score = (killed + timeout) / (killed + timeout + survived + no coverage), as Stryker computes it;
// ignored (static) mutants and runtime/compile errors are listed but not scored.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const sampleAt = args.indexOf("--sample");
const sampleFile = sampleAt >= 0 ? args.splice(sampleAt, 2)[1] : undefined;
const flags = new Set(args.filter((a) => a.startsWith("--")));
const inputs = args.filter((a) => !a.startsWith("--"));
if (inputs.length === 0) {
  console.error("usage: node scripts/mutation-scores.mjs [--survivors] [--markdown] <report.json | events-dir> ...");
  process.exit(2);
}

/** key → { file, line, column, mutator, replacement, status } */
const mutants = new Map();
const keyOf = (m) => `${m.file}:${m.line}:${m.column}:${m.end}:${m.mutator}:${m.replacement}`;
const add = (m) => mutants.set(keyOf(m), m);
const rel = (f) => path.relative(process.cwd(), path.resolve(f)).split(path.sep).join("/");

function fromReport(file) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  for (const [name, f] of Object.entries(report.files)) {
    for (const m of f.mutants) {
      add({ ...where(name, m.location), mutator: m.mutatorName, replacement: m.replacement ?? "", status: m.status });
    }
  }
}

function fromEvents(dir) {
  const names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  const byId = new Map();
  for (const n of names) {
    const data = JSON.parse(readFileSync(path.join(dir, n), "utf8"));
    if (n.endsWith("-onMutationTestingPlanReady.json")) {
      for (const p of data.mutantPlans) {
        const m = p.mutant;
        // early results (ignored, no coverage, cached by the incremental file) carry their status already
        // the plan's locations are the instrumenter's (0-based lines and columns); tested mutants'
        // and reports' are 1-based: one convention, so a mutant has one key whichever record holds it
        const { start, end } = m.location;
        const location = { start: { line: start.line + 1, column: start.column + 1 }, end: { line: end.line + 1, column: end.column + 1 } };
        byId.set(m.id, toRecord({ ...m, location }, p.plan === "EarlyResult" ? m.status : "Pending"));
      }
    } else if (n.endsWith("-onMutantTested.json")) {
      byId.set(data.id, toRecord(data, data.status));
    }
  }
  for (const m of byId.values()) add(m);
}

function toRecord(m, status) {
  return { ...where(m.fileName, m.location), mutator: m.mutatorName, replacement: m.replacement ?? "", status };
}

/** Start and end of a mutant: two mutants may share a start (`a || b || c` → false, at two lengths). */
function where(file, loc) {
  return { file: rel(file), line: loc.start.line, column: loc.start.column, end: `${loc.end.line}:${loc.end.column}` };
}

for (const input of inputs) (statSync(input).isDirectory() ? fromEvents : fromReport)(input);

// A sampled run: keep the chosen locations only (sample columns are 0-based, reports' 1-based).
if (sampleFile) {
  const chosen = new Set(
    JSON.parse(readFileSync(sampleFile, "utf8")).mutate.map((p) => {
      const [, file, sl, sc, el, ec] = /^(.*):(\d+):(\d+)-(\d+):(\d+)$/.exec(p);
      return `${rel(file)}:${sl}:${+sc + 1}-${el}:${+ec + 1}`;
    }),
  );
  for (const [k, m] of mutants) if (!chosen.has(`${m.file}:${m.line}:${m.column}-${m.end}`)) mutants.delete(k);
}

const STATUSES = ["Killed", "Timeout", "Survived", "NoCoverage", "Ignored", "RuntimeError", "CompileError", "Pending"];
const empty = () => Object.fromEntries(STATUSES.map((s) => [s, 0]));
const perFile = new Map();
const perFolder = new Map();
for (const m of mutants.values()) {
  const folder = m.file.split("/").slice(0, 2).join("/");
  for (const [map, k] of [[perFile, m.file], [perFolder, folder]]) {
    if (!map.has(k)) map.set(k, empty());
    map.get(k)[m.status] = (map.get(k)[m.status] ?? 0) + 1;
  }
}

/** 95 % Wilson score interval of a proportion k/n (for sampled runs). */
const wilson = (k, n) => {
  const z = 1.96;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return `${(100 * (centre - half)).toFixed(1)}–${(100 * (centre + half)).toFixed(1)}`;
};
const score = (c) => {
  const detected = c.Killed + c.Timeout;
  const valid = detected + c.Survived + c.NoCoverage;
  if (valid === 0) return "n/a";
  return `${((100 * detected) / valid).toFixed(1)} %${sampleFile ? ` (95 % CI ${wilson(detected, valid)})` : ""}`;
};
const total = (c) => STATUSES.reduce((n, s) => n + c[s], 0);

if (flags.has("--markdown")) {
  console.log("| Scope | Mutants | Killed | Timeout | Survived | No cov. | Ignored (static) | Errors | Not run | Score |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
}
const row = (name, c) => flags.has("--markdown")
  ? `| ${name} | ${total(c)} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} | ${c.Ignored} | ${c.RuntimeError + c.CompileError} | ${c.Pending} | ${score(c)} |`
  : `${name.padEnd(32)} total ${String(total(c)).padStart(4)}  killed ${String(c.Killed).padStart(4)}  timeout ${String(c.Timeout).padStart(3)}  survived ${String(c.Survived).padStart(3)}  nocov ${String(c.NoCoverage).padStart(3)}  ignored ${String(c.Ignored).padStart(3)}  errors ${c.RuntimeError + c.CompileError}  pending ${c.Pending}  score ${score(c)}`;

for (const [folder, c] of [...perFolder].sort()) {
  console.log(row(folder, c));
  for (const [file, fc] of [...perFile].sort()) if (file.startsWith(`${folder}/`)) console.log(row(`  ${file}`, fc));
}

if (flags.has("--survivors")) {
  console.log("\nSurvived / no coverage:");
  const list = [...mutants.values()].filter((m) => m.status === "Survived" || m.status === "NoCoverage");
  list.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  for (const m of list) console.log(`${m.file}:${m.line}:${m.column} ${m.status === "NoCoverage" ? "[nocov] " : ""}${m.mutator} → ${m.replacement.replace(/\s+/g, " ").slice(0, 100)}`);
}
