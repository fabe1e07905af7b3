import { refuse } from "./errors.js";

/**
 * The delegation claims of RFC 8693 §4: their shapes and their validation, shared by every token
 * that carries them (the bridge's own tokens, trusted JWTs) and by the tokens the bridge issues.
 */

/** RFC 8693 §4.1: the `act` claim; nested `act` records earlier actors of a chain. */
export interface ActClaim {
  sub: string;
  iss?: string;
  act?: ActClaim;
}

/** RFC 8693 §4.4 `may_act`: who may act for the subject. */
export interface MayAct {
  sub: string;
  iss?: string;
}

const MAX_ACT_DEPTH = 16;

/** Validates an `act` claim's shape (RFC 8693 §4.1): nested objects with a string `sub`. */
export function parseAct(value: unknown, depth = 0): ActClaim | undefined {
  if (value === undefined) return undefined;
  if (depth >= MAX_ACT_DEPTH || value === null || typeof value !== "object" || Array.isArray(value)) throw refuse("token_invalid");
  const v = value as Record<string, unknown>;
  if (typeof v.sub !== "string" || v.sub === "") throw refuse("token_invalid");
  if (v.iss !== undefined && typeof v.iss !== "string") throw refuse("token_invalid");
  const nested = parseAct(v.act, depth + 1);
  return { sub: v.sub, ...(typeof v.iss === "string" ? { iss: v.iss } : {}), ...(nested ? { act: nested } : {}) };
}

/** Validates a `may_act` claim's shape (RFC 8693 §4.4): an object with a string `sub`. */
export function parseMayAct(value: unknown): MayAct | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw refuse("token_invalid");
  const v = value as Record<string, unknown>;
  if (typeof v.sub !== "string" || v.sub === "" || (v.iss !== undefined && typeof v.iss !== "string")) throw refuse("token_invalid");
  return { sub: v.sub, ...(typeof v.iss === "string" ? { iss: v.iss } : {}) };
}
