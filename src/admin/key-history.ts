/**
 * The admin trust invariant, in one place: **an entityID's trusted signing keys change only by
 * overlap or by a forced, audited action**, whichever path changes them (create, replace, metadata
 * upload, URL refresh, delete and re-create, a new id for the same entity, an entityID change) and
 * whichever instance does it.
 *
 * Keys are tracked per entityID, not per record: the store keeps, for every entityID ever trusted,
 * the last key set and a history of every change (`EntityState`), written in the same atomic step
 * as the record (admin/store.ts `commit`). A record that moves to another entityID, is deleted, or
 * is re-created under another id therefore leaves the entity's keys behind, and whoever claims the
 * entity next must overlap them (or force). This is what SAML Metadata §2.3 rollover relies on: a
 * relying party keeps trusting an entity across a key change because old and new keys are
 * published side by side for a while.
 *
 * Pure functions only; the manager (admin/idp-manager.ts) calls them on every path.
 */

/** One change of an entity's keys (or of who holds the entity), kept on every change. */
export interface KeyHistoryEntry {
  at: string;
  /** The admin record involved. */
  idp: string;
  action: string;
  by: string;
  /** The entity's trusted keys after the change (SHA-256 fingerprints of the certificates). */
  keys: string[];
  forced: boolean;
}

/** What the shared store knows about one entityID. */
export interface EntityState {
  entityId: string;
  /** The admin record that holds the entity now, or null (deleted, or moved to another entityID). */
  owner: string | null;
  /** Bumped on every change: writes are compare-and-set on it, so two instances cannot interleave. */
  version: number;
  /** The last trusted key set: what the next holder must overlap. */
  keys: string[];
  /** Newest first, bounded (the store keeps the last HISTORY_MAX). */
  history: KeyHistoryEntry[];
}

export const HISTORY_MAX = 100;

export type KeyChange =
  | { ok: true; forced: boolean; kept: string[]; added: string[]; removed: string[] }
  | { ok: false; reasons: string[] };

/**
 * May an entity whose last trusted keys are `previous` now trust `next`? Yes when it has no
 * history (first onboarding), when a key that is valid now in the new set was trusted before
 * (overlap), or when forced. `forced` in the answer is true only when force was needed.
 */
export function keyChange(input: {
  previous: readonly string[] | undefined;
  next: readonly string[];
  /** Fingerprints of the new set's certificates valid now: an expired shared key is no overlap. */
  validNow: readonly string[];
  force: boolean;
}): KeyChange {
  const previous = new Set(input.previous ?? []);
  const next = new Set(input.next);
  const diff = {
    kept: [...next].filter((k) => previous.has(k)),
    added: [...next].filter((k) => !previous.has(k)),
    removed: [...previous].filter((k) => !next.has(k)),
  };
  if (previous.size === 0 || diff.added.length === 0) return { ok: true, forced: false, ...diff };
  if (input.validNow.some((k) => previous.has(k))) return { ok: true, forced: false, ...diff };
  if (input.force) return { ok: true, forced: true, ...diff };
  return { ok: false, reasons: ["rollover_no_shared_key"] };
}

/**
 * A record may name another entityID only when forced: the old entity's users are locked out at
 * once (its keys stay in its history), and two entities often share a key (multi-tenant IdPs sign
 * every tenant with one), so overlap says nothing about whether the move is meant.
 */
export function entityChange(input: { from: string | undefined; to: string; force: boolean }): { ok: true; moved: boolean; forced: boolean } | { ok: false; reasons: string[] } {
  if (input.from === undefined || input.from === input.to) return { ok: true, moved: false, forced: false };
  if (!input.force) return { ok: false, reasons: ["entity_id_change_requires_force"] };
  return { ok: true, moved: true, forced: true };
}

/**
 * The keys an entity was last trusted with, for stores written before entity states existed: the
 * newest record (live or tombstone) naming the entity.
 */
export function legacyKeys(records: readonly { entityId: string | undefined; keys: string[]; updatedAt: string }[], entityId: string): string[] | undefined {
  let best: { keys: string[]; updatedAt: string } | undefined;
  for (const r of records) if (r.entityId === entityId && (!best || r.updatedAt > best.updatedAt)) best = r;
  return best?.keys;
}
