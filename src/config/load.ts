import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { configSchema, type Config } from "./schema.js";

/** A configuration problem: every bad field with its path, so start-up can say exactly what is wrong. */
export class ConfigError extends Error {
  readonly issues: readonly { path: string; message: string }[];
  constructor(issues: readonly { path: string; message: string }[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export interface LoadedConfig {
  config: Config;
  /** Directory relative file paths in the config are resolved against. */
  baseDir: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out || "(root)";
}

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({
    path: formatPath(i.path),
    // zod reports a bad record key as "Invalid key in record"; the nested issue says why.
    message: i.code === "invalid_key" ? (i.issues[0]?.message ?? i.message) : i.message,
  }));
}

const POISON_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Keys that address Object.prototype machinery are refused anywhere in the document, with their
 * path. zod would drop some of them silently, and a silently ignored config entry is a bug.
 */
function poisonKeyIssues(root: unknown): { path: string; message: string }[] {
  // An explicit stack, not recursion: an admin request's JSON (or a config file) may nest deeper
  // than the call stack allows, and a check must not overflow on attacker-controlled depth. Paths
  // are parent links, spelled out only for an issue (copying them per node would be quadratic).
  type Step = { parent: Step | undefined; key: PropertyKey };
  const spell = (s: Step): PropertyKey[] => {
    const keys: PropertyKey[] = [];
    for (let at: Step | undefined = s; at; at = at.parent) keys.push(at.key);
    return keys.reverse();
  };
  const out: { path: string; message: string }[] = [];
  // Issues come out in document order (a pre-order walk): children are pushed in reverse.
  const stack: ({ issue: Step } | { value: unknown; at: Step | undefined })[] = [{ value: root, at: undefined }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ("issue" in item) {
      out.push({ path: formatPath(spell(item.issue)), message: "reserved key name" });
      continue;
    }
    const { value, at } = item;
    if (value === null || typeof value !== "object") continue;
    const keys = Object.getOwnPropertyNames(value).filter((k) => !(Array.isArray(value) && k === "length"));
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const step: Step = { parent: at, key: Array.isArray(value) ? Number(key) : key };
      stack.push(POISON_KEYS.has(key) ? { issue: step } : { value: (value as Record<string, unknown>)[key], at: step });
    }
  }
  return out;
}

/**
 * Validate a document against a schema of the config family (the whole config, or the admin API's
 * IdP record), throwing a ConfigError that names every bad field.
 */
export function validate<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const poisoned = poisonKeyIssues(raw);
  if (poisoned.length > 0) throw new ConfigError(poisoned);
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(issuesOf(result.error));
  return result.data;
}

/** Validate an already-parsed document (used by tests and by the file loader). */
export function parseConfig(raw: unknown): Config {
  return validate(configSchema, raw);
}

/** Read a YAML or JSON config file and validate it strictly. */
export function loadConfigFile(path: string): LoadedConfig {
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([{ path: "(file)", message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}` }]);
  }
  let raw: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser serves both. No custom tags, no merge keys.
    raw = parseYaml(source, { schema: "core", merge: false, maxAliasCount: 100, uniqueKeys: true });
  } catch (e) {
    throw new ConfigError([{ path: "(file)", message: `not valid YAML/JSON: ${(e as Error).message.split("\n")[0]}` }]);
  }
  return { config: parseConfig(raw), baseDir: dirname(resolve(path)) };
}

export function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}
