import type { IdpRecord } from "./records.js";

/**
 * Where admin-managed IdP records live. `put` is compare-and-set on the record's version, so two
 * admins (or two instances) can never silently overwrite each other. Records are never removed: a
 * deleted IdP stays as a tombstone (`retiredAt`) for the rollover guard.
 */
export interface IdpRecordStore {
  list(): Promise<IdpRecord[]>;
  get(id: string): Promise<IdpRecord | undefined>;
  /** expectedVersion: null = the record must not exist yet; a number = it must be at that version. */
  put(record: IdpRecord, expectedVersion: number | null): Promise<"ok" | "conflict">;
  /** Calls back (at most about once a second) when any record may have changed, here or elsewhere. */
  watch(onChange: () => void): void;
  close(): Promise<void>;
}
