import type { IdpRecord, RefreshStatus } from "./records.js";
import type { EntityState, KeyHistoryEntry } from "./key-history.js";
import type { AuditEntry } from "./audit.js";

/**
 * Where admin-managed IdP records live, with the per-entityID key history (admin/key-history.ts)
 * and the audit trail. Every change is ONE atomic `commit`: compare-and-set on the record version
 * and on the entity's version, claim of the entityID (one holder at a time, across instances),
 * the entity's new keys and history entry, and the audit entry, all or nothing. A commit carries
 * a deadline: one that reaches the store after it (a stalled Redis, resumed) is not applied, so a
 * write the admin was told failed (503) never lands later.
 *
 * Records are never removed: a deleted IdP stays as a tombstone (`retiredAt`).
 */
export interface Change {
  record: IdpRecord;
  /** null = no record (not even a tombstone) may exist under this id; a number = it must be at that version. */
  expectedVersion: number | null;
  /**
   * The entity the record names after the change. `owner` null releases it (delete). The claim is
   * refused (entity_in_use) when another record holds the entity, unless `owner` names that holder
   * (a record that does not hold its entity, left by old data, can still be deleted).
   */
  entity: { entityId: string; expectedVersion: number; owner: string | null; keys: string[]; history: KeyHistoryEntry };
  /** The entity the record named before, when that changes: released, its keys kept. */
  release?: { entityId: string; expectedVersion: number; history: KeyHistoryEntry };
  audit: AuditEntry;
}

/** `expired`: the deadline passed before the store could apply the change; nothing was written. */
export type CommitResult = "ok" | "conflict" | "entity_in_use" | "entity_conflict" | "expired";

export interface IdpRecordStore {
  /** Every record, with its refresh status merged in. */
  list(): Promise<IdpRecord[]>;
  get(id: string): Promise<IdpRecord | undefined>;
  entity(entityId: string): Promise<EntityState | undefined>;
  /** `deadline`: epoch ms (this host's clock) after which the change must not be applied. */
  commit(change: Change, deadline: number): Promise<CommitResult>;
  /** The outcome of a URL refresh: not a change of what the record says, so no version bump. */
  setStatus(id: string, status: RefreshStatus): Promise<void>;
  /**
   * An entry that is not part of a change (a refused request). Entries of actor UNAUTHENTICATED
   * (admin/audit.ts) go to a list of their own with the same retention, so that requests anyone can
   * send never push the entries of admins out of the trail.
   */
  appendAudit(entry: AuditEntry): Promise<void>;
  /** The retained entries of both lists, newest first by seq (at most `limit` of them, when given). */
  auditLog(limit?: number): Promise<AuditEntry[]>;
  /** Calls back (at most about once a second) when any record may have changed, here or elsewhere. */
  watch(onChange: () => void): void;
  close(): Promise<void>;
}

export interface StoreLimits {
  /** Bound of one store call (ms): past it the call fails (503) and a write can no longer land. */
  timeoutMs: number;
  /** Audit entries kept (oldest dropped first). */
  auditMaxEntries: number;
}
