import type { AdminIdpInput } from "../config/schema.js";

/**
 * An admin-managed IdP record: the last good metadata and the settings an admin gave, with a
 * version for optimistic concurrency (ETag / If-Match). The same settings schema as a config-file
 * IdP (src/config/schema.ts `adminIdpInput`).
 */
export type IdpSettings = Omit<AdminIdpInput, "metadata" | "metadataUrl" | "force">;

export interface IdpRecord {
  id: string;
  version: number;
  source: "upload" | "url";
  metadataUrl?: string;
  /** The last metadata that passed every check: what verification uses. */
  metadataXml: string;
  settings: IdpSettings;
  updatedAt: string;
  updatedBy: string;
  lastRefreshAt?: string;
  lastRefreshError?: string;
  /**
   * Set when the IdP was deleted: the record stays as a tombstone so that re-creating the IdP (under
   * this id or its entityID) still passes the rollover guard against its last keys.
   */
  retiredAt?: string;
}

export const etagOf = (version: number): string => `"${version}"`;
