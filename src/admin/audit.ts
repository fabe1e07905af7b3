/**
 * The admin audit trail: one entry per change (written by the store in the same atomic step as the
 * change, so a change without its entry, or an entry for a change that never landed, cannot
 * exist) and one per refused admin request (who tried what, and why). Entries carry fingerprints,
 * ids, settings values and reason codes; never tokens or metadata documents.
 */
export interface AuditEntry {
  /** Assigned by the store: increasing, the cursor of GET /admin/audit. */
  seq?: number;
  at: string;
  /** The admin id, `scheduler` for scheduled refreshes, `unauthenticated` for a refused token. */
  actor: string;
  /** create | replace | rotate | refresh | delete | refused */
  action: string;
  idp?: string;
  outcome: "applied" | "refused";
  /** For refusals: the HTTP status, the error code and the reasons. */
  status?: number;
  error?: string;
  reasons?: string[];
  method?: string;
  path?: string;
  remote?: string;
  version?: number;
  entityId?: string;
  previousEntityId?: string;
  oldFingerprints?: string[];
  newFingerprints?: string[];
  /** Fingerprints no longer trusted for the entity (delete: every key of the record). */
  removedFingerprints?: string[];
  forced?: boolean;
  /** Field-level diff of the settings: `allowSha1: false → true`. */
  changes?: { field: string; from: unknown; to: unknown }[];
}

/**
 * The actor of a refusal whose caller presented no valid admin token. Such entries are kept apart
 * from the rest, under their own retention (admin/store.ts appendAudit): anyone on the network can
 * cause them, and a flood of them must never push an admin's changes or refusals out of the trail.
 */
export const UNAUTHENTICATED = "unauthenticated";

export interface AuditQuery {
  idp?: string;
  actor?: string;
  action?: string;
  /** ISO instants, inclusive. */
  since?: string;
  until?: string;
  /** Only entries with seq below this (the previous page's `next`). */
  before?: number;
  limit: number;
}

/** Filters and pages entries (given newest first, as the stores keep them). */
export function queryAudit(entries: readonly AuditEntry[], q: AuditQuery): { entries: AuditEntry[]; next: number | null } {
  const out: AuditEntry[] = [];
  for (const e of entries) {
    if (q.before !== undefined && (e.seq ?? 0) >= q.before) continue;
    if (q.idp !== undefined && e.idp !== q.idp) continue;
    if (q.actor !== undefined && e.actor !== q.actor) continue;
    if (q.action !== undefined && e.action !== q.action) continue;
    if (q.since !== undefined && e.at < q.since) continue;
    if (q.until !== undefined && e.at > q.until) continue;
    if (out.length === q.limit) return { entries: out, next: out[out.length - 1]!.seq ?? null };
    out.push(e);
  }
  return { entries: out, next: null };
}

/**
 * Field-level diff of two settings objects (JSON values), as dotted paths. An explicit stack, not
 * recursion: the depth is bounded by the schema, but a walk never trusts that.
 */
export function settingsDiff(before: unknown, after: unknown, maxChanges = 200): { field: string; from: unknown; to: unknown }[] {
  const out: { field: string; from: unknown; to: unknown }[] = [];
  const stack: { path: string; a: unknown; b: unknown }[] = [{ path: "", a: before, b: after }];
  while (stack.length > 0 && out.length < maxChanges) {
    const { path, a, b } = stack.pop()!;
    const bothObjects = isPlainObject(a) && isPlainObject(b);
    if (bothObjects) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().reverse();
      for (const k of keys) stack.push({ path: path ? `${path}.${k}` : k, a: a[k], b: b[k] });
      continue;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ field: path || "(root)", from: a ?? null, to: b ?? null });
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
