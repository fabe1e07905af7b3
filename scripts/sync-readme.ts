/** Rewrites the README's config reference from the schema (what test/config checks). */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { configReferenceMarkdown } from "../src/config/reference.js";

const readme = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."), "README.md");
const text = readFileSync(readme, "utf8");
const next = text.replace(
  /(<!-- config-reference:start -->\n)[\s\S]*?(\n<!-- config-reference:end -->)/,
  (_m, a: string, b: string) => `${a}${configReferenceMarkdown()}${b}`,
);
writeFileSync(readme, next);
process.stdout.write(next === text ? "README config reference already up to date\n" : "README config reference updated\n");
