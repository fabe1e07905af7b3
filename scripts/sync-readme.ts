/**
 * Rewrites the generated config reference in docs/configuration.md from the schema (`npm run docs`;
 * test/config checks the two agree). The README links there; it holds no reference of its own.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { configReferenceMarkdown } from "../src/config/reference.js";

const page = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."), "docs", "configuration.md");
const text = readFileSync(page, "utf8");
const pattern = /(<!-- config-reference:start -->\n)[\s\S]*?(\n<!-- config-reference:end -->)/;
if (!pattern.test(text)) {
  process.stderr.write(`${page}: the config-reference markers are missing\n`);
  process.exit(1);
}
const next = text.replace(pattern, (_m, a: string, b: string) => `${a}${configReferenceMarkdown()}${b}`);
writeFileSync(page, next);
process.stdout.write(next === text ? "docs/configuration.md: config reference already up to date\n" : "docs/configuration.md: config reference updated\n");
