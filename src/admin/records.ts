import type { AdminIdpInput } from "../config/schema.js";

/**
 * An admin-managed IdP record: the last good metadata and the settings an admin gave, with a
 * version for optimistic concurrency (ETag / If-Match). The same settings schema as a config-file
 * IdP (src/config/schema.ts `adminIdpInput`).
 */
export type IdpSettings = Omit<AdminIdpInput, "metadata" | "metadataUrl" | "force">;

export interface IdpRecord {
  id: string;
  /** Bumped only when what the record says changes (not by a refresh that changed nothing). */
  version: number;
  source: "upload" | "url";
  metadataUrl?: string;
  /** The last metadata that passed every check: what verification uses. */
  metadataXml: string;
  /** The entityID the metadata names (kept so the key history needs no re-parse). */
  entityId?: string;
  /** Fingerprints of the signing keys of `metadataXml`. */
  fingerprints?: string[];
  settings: IdpSettings;
  updatedAt: string;
  updatedBy: string;
  /** Refresh status (kept beside the record by the store, merged in on read; not versioned). */
  lastRefreshAt?: string;
  lastRefreshError?: string;
  /**
   * Set when the IdP was deleted: the record stays as a tombstone; the entity's keys stay in its
   * key history (admin/key-history.ts), so re-creating it needs overlap or force.
   */
  retiredAt?: string;
}

export interface RefreshStatus {
  lastRefreshAt: string;
  lastRefreshError?: string;
}

export const etagOf = (version: number): string => `"${version}"`;

/** The refresh status merged over what the record itself says. */
export function withStatus(r: IdpRecord, s: RefreshStatus | undefined): IdpRecord {
  // A newer write of the record itself (a PUT that fetched the URL) supersedes an older status.
  if (!s || (r.lastRefreshAt !== undefined && r.lastRefreshAt >= s.lastRefreshAt)) return r;
  const out: IdpRecord = { ...r, lastRefreshAt: s.lastRefreshAt };
  if (s.lastRefreshError !== undefined) out.lastRefreshError = s.lastRefreshError;
  else delete out.lastRefreshError;
  return out;
}
