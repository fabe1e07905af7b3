#!/usr/bin/env node
// A reproducible random sample of mutants for Stryker (docs/mutation-testing.md, "Sampled runs").
// A full run of src/saml + src/xml (~4,000 mutants) takes many hours on a shared 2-core machine; a
// uniform sample of mutant locations gives each folder's score with a confidence interval, and every
// survivor it finds is handled like any other (killed by a test or explained).
//
//   node scripts/mutation-sample.mjs --fraction 0.15 --seed 20261205 src/saml src/xml > reports/mutation/sample.json
//   STRYKER_SAMPLE=reports/mutation/sample.json npx stryker run stryker.config.mjs
//   node scripts/mutation-scores.mjs --sample reports/mutation/sample.json reports/mutation/sample.events
//
// The sampling unit is a mutant location (file, start, end): Stryker's instrumenter (the same one a
// run uses) lists every mutant; a location is chosen when SHA-256(seed, location) falls below the
// fraction, so the same seed always gives the same sample and no one picks which mutants are tested.
// Stryker's `--mutate file:line:col-line:col` range also takes every mutant nested inside a chosen
// location; those extra results are tested and reported but the score counts chosen locations only
// (scripts/mutation-scores.mjs --sample), which keeps the estimate unbiased.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { Instrumenter } from "@stryker-mutator/instrumenter";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const fraction = Number(opt("--fraction", "0.15"));
const seed = opt("--seed", "20261205");
const exclude = opt("--exclude", "").split(",").filter(Boolean);
if (!(fraction > 0 && fraction <= 1) || args.length === 0) {
  console.error("usage: node scripts/mutation-sample.mjs [--fraction 0.15] [--seed N] [--exclude a.ts,b.ts] <folder|file> ...");
  process.exit(2);
}

const files = [];
const walk = (p) => {
  if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) walk(path.join(p, n));
  else if (p.endsWith(".ts") && !p.endsWith(".d.ts") && !exclude.some((e) => p.endsWith(e))) files.push(p);
};
for (const a of args) walk(a);

const quiet = { debug() {}, info() {}, warn() {}, error() {}, trace() {}, isDebugEnabled: () => false, isTraceEnabled: () => false };
const instrumenter = new Instrumenter(quiet);

const chosen = [];
const perFile = {};
for (const file of files) {
  const { mutants } = await instrumenter.instrument(
    [{ name: path.resolve(file), mutate: true, content: readFileSync(file, "utf8") }],
    { plugins: null, excludedMutations: [], ignorers: [], noHeader: true },
  );
  // API locations: 0-based lines and columns. Reports and range patterns: 1-based lines.
  const locations = new Map();
  for (const m of mutants) {
    const { start, end } = m.location;
    locations.set(`${start.line + 1}:${start.column}-${end.line + 1}:${end.column}`, (locations.get(`${start.line + 1}:${start.column}-${end.line + 1}:${end.column}`) ?? 0) + 1);
  }
  let picked = 0;
  let pickedMutants = 0;
  for (const [loc, count] of locations) {
    const h = createHash("sha256").update(`${seed}\0${file}\0${loc}`).digest();
    if (h.readUInt32BE(0) / 2 ** 32 < fraction) {
      chosen.push(`${file}:${loc}`);
      picked++;
      pickedMutants += count;
    }
  }
  perFile[file] = { mutants: mutants.length, locations: locations.size, chosenLocations: picked, chosenMutants: pickedMutants };
}

process.stdout.write(JSON.stringify({ seed, fraction, files: perFile, mutate: chosen }, null, 1) + "\n");
