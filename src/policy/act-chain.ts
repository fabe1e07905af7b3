import { refuse } from "../oauth/errors.js";
import type { ActClaim, MayAct } from "../oauth/claims.js";
import { isSubjectIdentifier } from "../subject/identifier.js";

/**
 * Delegation claims read from incoming tokens (trusted JWT issuers and the bridge's own tokens):
 * `act` (RFC 8693 §4.1) and `may_act` (§4.4). They are copied into the token the bridge issues,
 * so nothing in them is taken on trust beyond what the bridge can stand behind:
 *
 * - every entry is a JSON object (a string, array, number or null entry: act_claim_invalid);
 * - its `sub` passes the one subject-identifier rule of src/subject/identifier.ts (non-empty, not
 *   padded, ≤ 1024 characters, no control or bidi characters), and so does `iss` when present
 *   (act_claim_invalid): an actor is displayed and compared exactly like a subject;
 * - only `sub`, `iss` and the nested `act` are kept. RFC 8693 §4.1 says the members of `act` are
 *   claims identifying the actor and that non-identity claims (exp, nbf, aud) are not meaningful
 *   there; of the identity claims, `sub` + `iss` are what the bridge and resource servers compare
 *   (may_act, audit). `client_id` and anything else are dropped: a `client_id` inside an external
 *   token's chain names a client in that issuer's namespace, and once copied into a token the
 *   bridge signs it would read as one of the bridge's own clients;
 * - the chain is bounded here by ACT_MAX_DEPTH (the largest delegation.maxChainDepth the schema
 *   allows; deeper is delegation_too_deep) and, once nested under the new actor, by the configured
 *   delegation.maxChainDepth and maxChainBytes (src/policy/delegation.ts).
 *
 * The walk is iterative (an explicit loop down the chain), never recursive.
 */

/** The schema's upper bound of delegation.maxChainDepth: no chain deeper than this is ever read. */
export const ACT_MAX_DEPTH = 16;

export function readActClaim(value: unknown): ActClaim | undefined {
  if (value === undefined) return undefined;
  const entries: { sub: string; iss: string | undefined }[] = [];
  let cur: unknown = value;
  while (cur !== undefined) {
    if (entries.length >= ACT_MAX_DEPTH) throw refuse("delegation_too_deep");
    entries.push(readEntry(cur));
    cur = (cur as Record<string, unknown>).act;
  }
  // Rebuild innermost first: only the kept members, nested as they came.
  let act: ActClaim | undefined;
  for (let i = entries.length - 1; i >= 0; i--) {
    const { sub, iss } = entries[i]!;
    act = { sub, ...(iss !== undefined ? { iss } : {}), ...(act ? { act } : {}) };
  }
  return act;
}

/** RFC 8693 §4.4 `may_act`: one object naming the party by `sub` (and `iss`), same rules. */
export function readMayActClaim(value: unknown): MayAct | undefined {
  if (value === undefined) return undefined;
  const { sub, iss } = readEntry(value);
  return { sub, ...(iss !== undefined ? { iss } : {}) };
}

function readEntry(value: unknown): { sub: string; iss: string | undefined } {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw refuse("act_claim_invalid");
  const v = value as Record<string, unknown>;
  if (!isSubjectIdentifier(v.sub)) throw refuse("act_claim_invalid");
  if (v.iss !== undefined && !isSubjectIdentifier(v.iss)) throw refuse("act_claim_invalid");
  return { sub: v.sub, iss: v.iss as string | undefined };
}

/** Bytes of the chain as the issued token will carry it (UTF-8 JSON). */
export function actChainBytes(act: ActClaim): number {
  return Buffer.byteLength(JSON.stringify(act), "utf8");
}
