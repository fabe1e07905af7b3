/**
 * What start-up refuses in a configuration, as the tests compare it: each ConfigError issue as one
 * "path: message" line (the path names the field, docs/configuration.md), [] when the configuration
 * parses. Any other error is thrown: a crash in the schema is a bug, never a refusal.
 */
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { baseConfig } from "./harness.js";

/** The issues of `raw` as it is. */
export function parseIssues(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

/** The issues of the harness's baseConfig() changed by `patches`, in order. */
export function configIssues(...patches: ((c: Record<string, any>) => void)[]): string[] {
  const c = baseConfig();
  for (const patch of patches) patch(c);
  return parseIssues(c);
}
