// Stryker ignorer plugin for sampled runs (scripts/mutation-sample.mjs, docs/mutation-testing.md).
// A `--mutate file:l:c-l:c` range takes every mutant nested inside a chosen location (a chosen
// block statement would bring in its whole body). This ignorer keeps a sampled run to the sample:
// a node is ignored ("not in the sample") unless its own location was chosen or a chosen location
// lies inside it (so the walk still reaches it). Active only when STRYKER_SAMPLE names a sample file.
import { readFileSync } from "node:fs";
import path from "node:path";
import { PluginKind, declareValuePlugin } from "@stryker-mutator/api/plugin";

const samplePath = process.env.STRYKER_SAMPLE;
/** "src/…/file.ts" → chosen locations as [startLine, startCol, endLine, endCol] (1-based lines). */
const chosen = new Map();
if (samplePath) {
  for (const p of JSON.parse(readFileSync(path.resolve(samplePath), "utf8")).mutate) {
    const m = /^(.*):(\d+):(\d+)-(\d+):(\d+)$/.exec(p);
    if (!m) continue;
    const list = chosen.get(m[1]) ?? [];
    list.push([+m[2], +m[3], +m[4], +m[5]]);
    chosen.set(m[1], list);
  }
}

const before = (l1, c1, l2, c2) => l1 < l2 || (l1 === l2 && c1 <= c2);

const sampleIgnorer = {
  shouldIgnore(nodePath) {
    const loc = nodePath.node.loc;
    const file = nodePath.hub?.file?.opts?.filename;
    if (!loc || !file) return undefined;
    const i = file.split(path.sep).join("/").lastIndexOf("/src/");
    const list = chosen.get(i >= 0 ? file.split(path.sep).join("/").slice(i + 1) : file);
    if (!list) return undefined; // a file outside the sample: the mutate patterns decide
    const [sl, sc, el, ec] = [loc.start.line, loc.start.column, loc.end.line, loc.end.column];
    for (const [a, b, c, d] of list) {
      if (a === sl && b === sc && c === el && d === ec) return undefined; // chosen itself
      if (before(sl, sc, a, b) && before(c, d, el, ec)) return undefined; // holds a chosen location
    }
    return "not in the mutation sample";
  },
};

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, "sample", sampleIgnorer)];
