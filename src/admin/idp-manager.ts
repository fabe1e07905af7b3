import { adminIdpInput, type AdminConfig, type AdminIdpInput } from "../config/schema.js";
import { validate } from "../config/load.js";
import type { Logger } from "../log/logger.js";
import { trustedIdp, type IdpRegistry, type TrustedIdp } from "../saml/idp-registry.js";
import { parseIdpMetadata, type IdpMetadata } from "../saml/metadata.js";
import type { TrustedKey } from "../xml/signature.js";
import { checkMetadata } from "./metadata-checks.js";
import type { IdpRecord, IdpSettings } from "./records.js";
import type { IdpRecordStore } from "./store.js";
import { AdminError } from "./errors.js";

/**
 * Run-time IdP management: admin-managed records (in a file directory or Redis) beside the
 * config-file IdPs, applied to the live IdP registry.
 *
 * Precedence: config-file IdPs are read-only here; an admin record can neither reuse their id nor
 * their entityID. Every change is validated before it replaces anything, written with
 * compare-and-set on the record version, applied by rebuilding the whole registry off to the side
 * and swapping it in one assignment (an exchange never sees a half-applied record), and audited.
 */

export interface IdpManagerDeps {
  config: AdminConfig;
  configIdps: readonly TrustedIdp[];
  /** Ids taken by other config entries (JWT issuers): clients' `idps` lists must stay unambiguous. */
  reservedIds: readonly string[];
  /** The bridge's own issuer: no IdP may use it as its entityID (it is the clients' namespace). */
  bridgeIssuer: string;
  store: IdpRecordStore;
  registry: IdpRegistry;
  pinned: readonly TrustedKey[];
  /** The token endpoint: the default accepted Recipient (RFC 7522 §3). */
  tokenEndpoint: string;
  log: Logger;
  now: () => number;
  fetch: typeof globalThis.fetch;
}

export interface IdpView {
  id: string;
  entityId: string;
  source: "file" | "upload" | "url";
  editable: boolean;
  version: number | undefined;
  protocols: string[];
  signingCertificates: { fingerprint: string; notBefore: string; notAfter: string; expiresSoon: boolean; expired: boolean }[];
  validUntil: string | undefined;
  metadataUrl: string | undefined;
  lastRefreshAt: string | undefined;
  lastRefreshError: string | undefined;
  updatedAt: string | undefined;
  updatedBy: string | undefined;
}

export class IdpManager {
  readonly #d: IdpManagerDeps;
  #records = new Map<string, IdpRecord>();
  #applied = new Map<string, TrustedIdp>();
  #warned = new Map<string, string>();
  readonly #refreshing = new Set<string>();
  #retired: IdpRecord[] = [];
  #reloadSeq = 0;
  #appliedSeq = 0;

  constructor(deps: IdpManagerDeps) {
    this.#d = deps;
  }

  /** Loads every record, applies them, and follows changes made by other instances. */
  async start(): Promise<void> {
    await this.reload();
    this.#d.store.watch(() => void this.reload().catch((e: unknown) => this.#d.log({ event: "idp_reload_failed", error: (e as Error).name })));
  }

  /** Re-reads the store and swaps in a registry built from config IdPs + every valid record. */
  async reload(): Promise<void> {
    // Reloads overlap (a change message, the poll, our own write): the store answers them in
    // order, so one that read earlier must never overwrite what a later one already applied.
    const seq = ++this.#reloadSeq;
    const all = await this.#d.store.list();
    if (seq < this.#appliedSeq) return;
    const records = all.filter((r) => r.retiredAt === undefined);
    this.#appliedSeq = seq;
    const applied = new Map<string, TrustedIdp>();
    const taken = new Set(this.#d.configIdps.map((i) => i.metadata.entityId));
    for (const r of [...records].sort((a, b) => a.id.localeCompare(b.id))) {
      let idp: TrustedIdp;
      try {
        // Re-validated on every load with the schema the API applies: a record written to the
        // store by any other path must not slip in a reserved claim or a bad setting.
        validate(adminIdpInput, { ...r.settings, metadata: r.metadataXml });
        idp = this.#trusted(r, parseIdpMetadata(r.metadataXml, r.settings.entityId));
      } catch {
        // A record that no longer validates (it passed when written) is logged and left out.
        this.#d.log({ event: "idp_record_unusable", idp: r.id });
        continue;
      }
      // Two instances may each accept a different id for one entityID at the same moment (each
      // checked before seeing the other's record): the first by id wins everywhere, the other is
      // left out rather than making every reload (and so every later change) fail.
      if (taken.has(idp.metadata.entityId)) {
        this.#d.log({ event: "idp_record_conflict", idp: r.id, entity_id: idp.metadata.entityId });
        continue;
      }
      taken.add(idp.metadata.entityId);
      applied.set(r.id, idp);
    }
    this.#records = new Map(records.map((r) => [r.id, r]));
    this.#retired = all.filter((r) => r.retiredAt !== undefined);
    this.#applied = applied;
    this.#d.registry.replaceAll([...this.#d.configIdps, ...applied.values()]);
  }

  list(): IdpView[] {
    const views = this.#d.configIdps.map((idp) => this.#view(idp, undefined));
    for (const r of this.#records.values()) {
      const idp = this.#applied.get(r.id);
      if (idp) views.push(this.#view(idp, r));
    }
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): { view: IdpView; record: IdpRecord | undefined } | undefined {
    const fromConfig = this.#d.configIdps.find((i) => i.id === id);
    if (fromConfig) return { view: this.#view(fromConfig, undefined), record: undefined };
    const r = this.#records.get(id);
    const idp = this.#applied.get(id);
    return r && idp ? { view: this.#view(idp, r), record: r } : undefined;
  }

  /** Create or replace an IdP (PUT /admin/idps/{id}). `ifMatch`: undefined only for a create. */
  async put(id: string, input: AdminIdpInput, ifMatch: number | undefined, admin: string): Promise<{ record: IdpRecord; created: boolean }> {
    this.#notConfigManaged(id);
    const stored = await this.#d.store.get(id);
    const current = stored?.retiredAt === undefined ? stored : undefined;
    this.#precondition(current, ifMatch);
    const { metadata: inline, metadataUrl, force, ...settings } = input;
    if (metadataUrl !== undefined) this.#checkUrl(metadataUrl);
    const xml = inline ?? (await this.#fetchMetadata(metadataUrl!));
    // Deleting and re-creating is no way around the rollover guard: a re-created IdP (same id, or
    // same entityID) must share a key with the last metadata it had, unless forced.
    const checked = this.#check(xml, settings.entityId, current ?? stored ?? this.#retiredFor(xml, settings.entityId), force);
    this.#noCollision(id, checked.entityId);
    const record: IdpRecord = {
      id,
      version: (stored?.version ?? 0) + 1,
      source: metadataUrl ? "url" : "upload",
      ...(metadataUrl ? { metadataUrl, lastRefreshAt: new Date(this.#d.now()).toISOString() } : {}),
      metadataXml: xml,
      settings,
      updatedAt: new Date(this.#d.now()).toISOString(),
      updatedBy: admin,
    };
    await this.#write(record, stored?.version ?? null, () => this.#audit(admin, current ? "replace" : "create", record, current ?? stored, checked, force));
    return { record, created: current === undefined };
  }

  /** Replace only the metadata (PUT /admin/idps/{id}/metadata): the rotation path. */
  async putMetadata(id: string, xml: string, ifMatch: number | undefined, force: boolean, admin: string): Promise<IdpRecord> {
    this.#notConfigManaged(id);
    const current = await this.#d.store.get(id);
    if (!current || current.retiredAt !== undefined) throw new AdminError(404, "not_found");
    this.#precondition(current, ifMatch);
    const checked = this.#check(xml, current.settings.entityId, current, force);
    this.#noCollision(id, checked.entityId);
    const record: IdpRecord = {
      ...current, version: current.version + 1, source: "upload", metadataXml: xml,
      updatedAt: new Date(this.#d.now()).toISOString(), updatedBy: admin,
    };
    delete record.metadataUrl;
    await this.#write(record, current.version, () => this.#audit(admin, "rotate", record, current, checked, force));
    return record;
  }

  async remove(id: string, ifMatch: number | undefined, admin: string): Promise<void> {
    this.#notConfigManaged(id);
    const current = await this.#d.store.get(id);
    if (!current || current.retiredAt !== undefined) throw new AdminError(404, "not_found");
    this.#precondition(current, ifMatch);
    const tombstone: IdpRecord = { ...current, version: current.version + 1, retiredAt: new Date(this.#d.now()).toISOString(), updatedBy: admin };
    if ((await this.#d.store.put(tombstone, current.version)) === "conflict") throw new AdminError(412, "precondition_failed");
    this.#d.log({ event: "admin_audit", admin, action: "delete", idp: id, version: current.version, old_fingerprints: this.#fingerprints(current) });
    await this.reload();
  }

  /**
   * Fetch URL metadata again. A failure (network, validation, rollover guard) keeps the last good
   * metadata, is logged, and shows in the listing and in /readyz detail.
   */
  async refresh(id: string, actor = "scheduler"): Promise<IdpRecord> {
    const current = await this.#d.store.get(id);
    if (!current || current.retiredAt !== undefined) throw new AdminError(404, "not_found");
    if (current.source !== "url" || !current.metadataUrl) throw new AdminError(409, "not_url_metadata");
    const at = new Date(this.#d.now()).toISOString();
    let record: IdpRecord;
    try {
      const xml = await this.#fetchMetadata(current.metadataUrl);
      const checked = this.#check(xml, current.settings.entityId, current, false);
      // The URL speaks for one entity: a document naming another is refused (an admin re-creates).
      const was = this.#applied.get(id)?.metadata.entityId;
      if (was !== undefined && checked.entityId !== was) throw new AdminError(409, "entity_id_changed");
      this.#noCollision(id, checked.entityId);
      record = { ...current, version: current.version + 1, metadataXml: xml, lastRefreshAt: at };
      delete record.lastRefreshError;
      const before = this.#fingerprints(current);
      const after = checked.signingKeys.map((k) => k.fingerprint);
      // A refresh that changes keys is a key change like any other: audited with both sets.
      if (actor !== "scheduler" || before.join() !== after.join()) {
        this.#d.log({ event: "admin_audit", admin: actor, action: "refresh", idp: id, version: record.version, old_fingerprints: before, new_fingerprints: after, forced: false });
      }
      this.#d.log({ event: "idp_refreshed", idp: id, by: actor });
    } catch (e) {
      const reason = e instanceof AdminError ? [e.code, ...e.reasons].join(": ") : `refresh_failed: ${(e as Error | undefined)?.name ?? "unknown"}`;
      record = { ...current, version: current.version + 1, lastRefreshAt: at, lastRefreshError: reason };
      this.#d.log({ event: "idp_refresh_failed", idp: id, reason, by: actor });
    }
    // Another instance may have refreshed first: then its result stands.
    if ((await this.#d.store.put(record, current.version)) === "ok") await this.reload();
    return record;
  }

  /** Refresh every URL record that is due; log expiring certificates once a day. */
  async tick(): Promise<void> {
    const now = this.#d.now();
    for (const r of this.#records.values()) {
      if (r.source !== "url" || now < this.#nextRefresh(r) || this.#refreshing.has(r.id)) continue;
      // A slow source must not pile up fetches of the same record, tick after tick.
      this.#refreshing.add(r.id);
      await this.refresh(r.id)
        .catch((e: unknown) => this.#d.log({ event: "idp_refresh_error", idp: r.id, error: (e as Error | undefined)?.name ?? "unknown" }))
        .finally(() => this.#refreshing.delete(r.id));
    }
    const day = new Date(now).toISOString().slice(0, 10);
    for (const v of this.list()) {
      for (const c of v.signingCertificates) {
        if ((c.expiresSoon || c.expired) && this.#warned.get(`${v.id}:${c.fingerprint}`) !== day) {
          this.#warned.set(`${v.id}:${c.fingerprint}`, day);
          this.#d.log({ event: "idp_certificate_expiring", idp: v.id, fingerprint: c.fingerprint, not_after: c.notAfter });
        }
      }
    }
  }

  /** IdPs whose last refresh failed (for /readyz detail). */
  refreshFailures(): string[] {
    return [...this.#records.values()].filter((r) => r.lastRefreshError).map((r) => r.id);
  }

  #nextRefresh(r: IdpRecord): number {
    const last = r.lastRefreshAt ? Date.parse(r.lastRefreshAt) : 0;
    const idp = this.#applied.get(r.id);
    let interval = this.#d.config.refreshIntervalSeconds * 1000;
    // SAML Metadata §2.3 / metadata-iop: honour cacheDuration, and refresh well before validUntil.
    if (idp?.metadata.cacheDurationMs !== undefined) interval = Math.min(interval, idp.metadata.cacheDurationMs);
    if (idp?.metadata.validUntil !== undefined) interval = Math.min(interval, (idp.metadata.validUntil - last) / 2);
    return last + Math.max(interval, this.#d.config.minRefreshSeconds * 1000);
  }

  #check(xml: string, entityId: string | undefined, current: IdpRecord | undefined, force: boolean): IdpMetadata {
    let currentMetadata: IdpMetadata | undefined;
    if (current) {
      try {
        currentMetadata = parseIdpMetadata(current.metadataXml, current.settings.entityId);
      } catch {
        // No readable current keys to compare with: the rollover guard cannot vouch for the new
        // ones, so the change must be forced (and is audited as such).
        if (!force) throw new AdminError(400, "invalid_metadata", ["current_metadata_unreadable: force required"]);
      }
    }
    const result = checkMetadata({
      xml, entityId, now: this.#d.now(), maxBytes: this.#d.config.maxMetadataBytes,
      pinned: this.#d.pinned, current: currentMetadata, force,
    });
    if (!result.ok) throw new AdminError(400, "invalid_metadata", result.reasons);
    return result.metadata;
  }

  async #fetchMetadata(url: string): Promise<string> {
    const max = this.#d.config.maxMetadataBytes;
    const signal = AbortSignal.timeout(this.#d.config.fetchTimeoutMs);
    let res: Response;
    try {
      res = await this.#d.fetch(url, { signal, redirect: "error" });
    } catch {
      throw new AdminError(502, "metadata_fetch_failed");
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new AdminError(502, "metadata_fetch_failed", [`http_${res.status}`]);
    }
    if (Number(res.headers.get("content-length") ?? 0) > max) {
      await res.body.cancel().catch(() => undefined);
      throw new AdminError(400, "invalid_metadata", ["metadata_too_large"]);
    }
    // Count bytes as they arrive: a chunked body has no length to check up front.
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > max) {
          await reader.cancel().catch(() => undefined);
          throw new AdminError(400, "invalid_metadata", ["metadata_too_large"]);
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof AdminError) throw e;
      throw new AdminError(502, "metadata_fetch_failed");
    }
    return Buffer.concat(chunks).toString("utf8");
  }


  /** Compare-and-set, then the audit line (before anything else can fail), then apply. */
  async #write(record: IdpRecord, expected: number | null, audit: () => void): Promise<void> {
    if ((await this.#d.store.put(record, expected)) === "conflict") throw new AdminError(412, "precondition_failed");
    audit();
    await this.reload();
  }

  /**
   * Metadata fetched over plain HTTP could be swapped in transit, and a refresh that keeps one old
   * key may add new ones: so https, unless the metadata must carry a pinned signature anyway or the
   * source is on this host.
   */
  #checkUrl(url: string): void {
    const u = new URL(url);
    const loopback = u.hostname === "localhost" || u.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
    if (u.protocol !== "https:" && !loopback && this.#d.pinned.length === 0) {
      throw new AdminError(400, "invalid_request", ["metadataUrl: https required (or pinned metadata-signing certificates)"]);
    }
  }

  #precondition(current: IdpRecord | undefined, ifMatch: number | undefined): void {
    if (current && ifMatch === undefined) throw new AdminError(428, "precondition_required");
    if (ifMatch !== undefined && current?.version !== ifMatch) throw new AdminError(412, "precondition_failed");
  }

  /** The tombstone of a deleted IdP with the entityID this metadata names, if any. */
  #retiredFor(xml: string, entityId: string | undefined): IdpRecord | undefined {
    let named: string;
    try {
      named = parseIdpMetadata(xml, entityId).entityId;
    } catch {
      return undefined; // #check reports why the metadata is unusable
    }
    return this.#retired.find((r) => {
      try {
        return parseIdpMetadata(r.metadataXml, r.settings.entityId).entityId === named;
      } catch {
        return false;
      }
    });
  }

  #notConfigManaged(id: string): void {
    if (this.#d.configIdps.some((i) => i.id === id) || this.#d.reservedIds.includes(id)) throw new AdminError(409, "config_managed");
  }

  #noCollision(id: string, entityId: string): void {
    if (entityId === this.#d.bridgeIssuer) throw new AdminError(409, "entity_id_in_use");
    const clash = [...this.#d.configIdps, ...this.#applied.values()].find((i) => i.id !== id && i.metadata.entityId === entityId);
    if (clash) throw new AdminError(409, "entity_id_in_use");
  }

  #trusted(r: IdpRecord, metadata: IdpMetadata): TrustedIdp {
    const s: IdpSettings = r.settings;
    return trustedIdp(r.id, metadata, s, this.#d.tokenEndpoint);
  }

  #fingerprints(r: IdpRecord): string[] {
    try {
      return parseIdpMetadata(r.metadataXml, r.settings.entityId).signingKeys.map((k) => k.fingerprint);
    } catch {
      return [];
    }
  }

  #audit(admin: string, action: string, record: IdpRecord, old: IdpRecord | undefined, metadata: IdpMetadata, forced: boolean): void {
    this.#d.log({
      event: "admin_audit", admin, action, idp: record.id, version: record.version, entity_id: metadata.entityId,
      old_fingerprints: old ? this.#fingerprints(old) : [], new_fingerprints: metadata.signingKeys.map((k) => k.fingerprint), forced,
    });
  }

  #view(idp: TrustedIdp, r: IdpRecord | undefined): IdpView {
    const now = this.#d.now();
    const window = this.#d.config.certExpiryWarningDays * 86_400_000;
    return {
      id: idp.id,
      entityId: idp.metadata.entityId,
      source: r ? r.source : "file",
      editable: r !== undefined,
      version: r?.version,
      protocols: idp.metadata.protocols,
      signingCertificates: idp.metadata.certificates.map((c) => ({
        ...c,
        expired: Date.parse(c.notAfter) <= now,
        expiresSoon: Date.parse(c.notAfter) > now && Date.parse(c.notAfter) - now <= window,
      })),
      validUntil: idp.metadata.validUntil === undefined ? undefined : new Date(idp.metadata.validUntil).toISOString(),
      metadataUrl: r?.metadataUrl,
      lastRefreshAt: r?.lastRefreshAt,
      lastRefreshError: r?.lastRefreshError,
      updatedAt: r?.updatedAt,
      updatedBy: r?.updatedBy,
    };
  }
}
