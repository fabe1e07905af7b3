import { SCOPE_TOKEN } from "../oauth/constants.js";
import { refuse } from "../oauth/errors.js";
import type { AudienceConfig } from "../config/schema.js";

/**
 * Scope is never wider than any party allows (RFC 8693 §2.1, RFC 6749 §3.3):
 *   requested ∩ client's allowed ∩ every target audience's scopes ∩ what the mapping grants.
 * A requested scope outside that set is refused (`invalid_scope`) rather than silently dropped,
 * so a caller never believes it holds a permission it does not. Without `scope`, the audiences'
 * default scopes go through the same intersection: the minimal default, never "everything".
 *
 * An empty result is refused (`scope_empty`, invalid_scope): RFC 9068 §2.2.3 makes `scope` the
 * carrier of the grant, and many resource servers read a token without `scope` as "no scope
 * restriction". The bridge never issues a token whose permissions are nothing, spelled as absence.
 */

export function parseScope(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  // RFC 6749 §3.3: space-delimited; tabs, empty tokens or odd characters are malformed.
  const parts = raw.split(" ");
  if (raw === "" || parts.some((p) => !SCOPE_TOKEN.test(p))) throw refuse("scope_invalid");
  return [...new Set(parts)];
}

export function decideScope(
  requested: readonly string[] | undefined,
  clientScopes: readonly string[],
  targets: readonly AudienceConfig[],
  granted: ReadonlySet<string>,
): string[] {
  const allowed = (s: string): boolean =>
    clientScopes.includes(s) && granted.has(s) && targets.every((t) => t.scopes.includes(s));
  if (requested !== undefined) {
    if (!requested.every(allowed)) throw refuse("scope_not_allowed");
    return [...requested];
  }
  const defaults = new Set(targets.flatMap((t) => t.defaultScopes));
  const scope = [...defaults].filter(allowed);
  if (scope.length === 0) throw refuse("scope_empty");
  return scope;
}
