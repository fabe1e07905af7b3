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
function poisonKeyIssues(value: unknown, path: PropertyKey[] = []): { path: string; message: string }[] {
  if (value === null || typeof value !== "object") return [];
  const out: { path: string; message: string }[] = [];
  for (const key of Object.getOwnPropertyNames(value)) {
    if (Array.isArray(value) && key === "length") continue;
    const child = (value as Record<string, unknown>)[key];
    const at = [...path, Array.isArray(value) ? Number(key) : key];
    if (POISON_KEYS.has(key)) out.push({ path: formatPath(at), message: "reserved key name" });
    else out.push(...poisonKeyIssues(child, at));
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
