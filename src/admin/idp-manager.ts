import { adminIdpInput, type AdminConfig, type AdminIdpInput } from "../config/schema.js";
import { validate } from "../config/load.js";
import type { Logger } from "../log/logger.js";
import { trustedIdp, type IdpRegistry, type TrustedIdp } from "../saml/idp-registry.js";
import { parseIdpMetadata, type IdpMetadata } from "../saml/metadata.js";
import type { TrustedKey } from "../xml/signature.js";
import { checkMetadata } from "./metadata-checks.js";
import type { IdpRecord, IdpSettings } from "./records.js";
import type { IdpRecordStore } from "./store.js";
import { AdminError, IdpStoreUnavailable } from "./errors.js";
import { entityChange, keyChange, legacyKeys, type EntityState, type KeyHistoryEntry } from "./key-history.js";
import { settingsDiff, type AuditEntry } from "./audit.js";
import { fetchMetadata } from "./metadata-fetch.js";

/**
 * Run-time IdP management: admin-managed records (in a file directory or Redis) beside the
 * config-file IdPs, applied to the live IdP registry.
 *
 * Precedence: config-file IdPs are read-only here; an admin record can neither reuse their id nor
 * their entityID. Every change (create, replace, rotate, refresh, delete) goes through `#commit`:
 * validated, checked against the entity's key history (admin/key-history.ts: keys change only by
 * overlap or force; an entityID changes only by force), written with its audit entry in one atomic
 * store step, then applied by rebuilding the whole registry off to the side and swapping it in one
 * assignment (an exchange never sees a half-applied record).
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
  /** The subject-namespace rule (src/policy/subject-namespace.ts): a problem message, or undefined. */
  subjectNamespace?: (candidate: { id: string; mapping: IdpSettings["mapping"] }, adminIdps: readonly TrustedIdp[]) => string | undefined;
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
  settings?: IdpSettings;
}

export interface TombstoneView {
  id: string;
  entityId: string | undefined;
  retiredAt: string;
  retiredBy: string;
  fingerprints: string[];
  /** Why it still matters: re-creating the entity needs one of these keys, or force. */
  blocks: string;
}

/** One change, as every path describes it to `#commit`. */
interface Proposal {
  id: string;
  action: "create" | "replace" | "rotate" | "refresh";
  actor: string;
  /** The stored record (live or tombstone) and its version, or undefined. */
  stored: IdpRecord | undefined;
  xml: string;
  settings: IdpSettings;
  source: "upload" | "url";
  metadataUrl: string | undefined;
  force: boolean;
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
      // The store claims entityIDs atomically, so two records naming one entity only come from
      // data written before that: the first by id wins everywhere, the other is left out.
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
    return r && idp ? { view: { ...this.#view(idp, r), settings: r.settings }, record: r } : undefined;
  }

  /** Deleted IdPs, with the keys a re-creation of their entity must overlap. */
  tombstones(): TombstoneView[] {
    return this.#retired.map((r) => {
      const { entityId, keys } = identityOf(r);
      const live = entityId !== undefined && this.list().some((v) => v.entityId === entityId);
      return {
        id: r.id, entityId, retiredAt: r.retiredAt!, retiredBy: r.updatedBy, fingerprints: keys,
        blocks: live ? "its entityID is held by another record now" : "re-creating this entityID (under any id) needs a signing key shared with these, or force",
      };
    }).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The key history of an entity (for the console's rollover view). */
  async entity(entityId: string): Promise<EntityState | undefined> {
    return this.#d.store.entity(entityId);
  }

  /** Create or replace an IdP (PUT /admin/idps/{id}). `ifMatch`: undefined only for a create. */
  async put(id: string, input: AdminIdpInput, ifMatch: number | undefined, admin: string): Promise<{ record: IdpRecord; created: boolean }> {
    this.#notConfigManaged(id);
    const stored = await this.#d.store.get(id);
    const current = stored?.retiredAt === undefined ? stored : undefined;
    this.#precondition(current, ifMatch);
    const { metadata: inline, metadataUrl, force, ...settings } = input;
    if (metadataUrl !== undefined) this.#checkUrl(metadataUrl);
    const namespaceProblem = this.#d.subjectNamespace?.({ id, mapping: settings.mapping }, [...this.#applied.values()]);
    if (namespaceProblem !== undefined) throw new AdminError(409, "subject_namespace_collision", [namespaceProblem]);
    const xml = inline ?? (await this.#fetch(metadataUrl!));
    const record = await this.#commit({
      id, action: current ? "replace" : "create", actor: admin, stored, xml, settings,
      source: metadataUrl ? "url" : "upload", metadataUrl, force,
    });
    return { record, created: current === undefined };
  }

  /** Replace only the metadata (PUT /admin/idps/{id}/metadata): the rotation path. */
  async putMetadata(id: string, xml: string, ifMatch: number | undefined, force: boolean, admin: string): Promise<IdpRecord> {
    this.#notConfigManaged(id);
    const current = await this.#d.store.get(id);
    if (!current || current.retiredAt !== undefined) throw new AdminError(404, "not_found");
    this.#precondition(current, ifMatch);
    return this.#commit({
      id, action: "rotate", actor: admin, stored: current, xml, settings: current.settings,
      source: "upload", metadataUrl: undefined, force,
    });
  }

  /** Delete: the record becomes a tombstone; the entity is released, its keys kept in its history. */
  async remove(id: string, ifMatch: number | undefined, admin: string, force = false): Promise<void> {
    this.#notConfigManaged(id);
    const current = await this.#d.store.get(id);
    if (!current || current.retiredAt !== undefined) throw new AdminError(404, "not_found");
    this.#precondition(current, ifMatch);
    const { entityId, keys } = identityOf(current);
    const at = new Date(this.#d.now()).toISOString();
    const tombstone: IdpRecord = { ...current, version: current.version + 1, retiredAt: at, updatedAt: at, updatedBy: admin };
    delete tombstone.lastRefreshError;
    if (entityId === undefined) throw new AdminError(409, "record_unreadable", ["current_metadata_unreadable"]);
    const state = await this.#d.store.entity(entityId);
    const history: KeyHistoryEntry = { at, idp: id, action: "delete", by: admin, keys: state?.keys ?? keys, forced: force };
    const audit: AuditEntry = {
      at, actor: admin, action: "delete", idp: id, outcome: "applied", version: tombstone.version, entityId,
      oldFingerprints: keys, removedFingerprints: keys, forced: force,
    };
    await this.#write({
      record: tombstone, expectedVersion: current.version, audit,
      // The entity is released only by its holder (old data may hold a record that does not).
      entity: { entityId, expectedVersion: state?.version ?? 0, owner: state?.owner && state.owner !== id ? state.owner : null, keys: state?.keys ?? keys, history },
    });
  }

  /**
   * Fetch URL metadata again. Unchanged metadata, or a failure (network, validation, rollover
   * guard), only updates the refresh status: the version (ETag) moves only when what the record
   * says changes. A failure keeps the last good metadata and shows in the listing and /readyz.
   */
  async refresh(id: string, actor = "scheduler"): Promise<IdpRecord> {
    const current = await this.#d.store.get(id);
    if (!current || current.retiredAt !== undefined) throw new AdminError(404, "not_found");
    if (current.source !== "url" || !current.metadataUrl) throw new AdminError(409, "not_url_metadata");
    const at = new Date(this.#d.now()).toISOString();
    try {
      const xml = await this.#fetch(current.metadataUrl);
      if (xml === current.metadataXml) {
        await this.#d.store.setStatus(id, { lastRefreshAt: at });
        this.#d.log({ event: "idp_refreshed", idp: id, by: actor, changed: false });
        await this.#reloadQuietly();
        const fresh: IdpRecord = { ...current, lastRefreshAt: at };
        delete fresh.lastRefreshError;
        return fresh;
      }
      const record = await this.#commit({
        id, action: "refresh", actor, stored: current, xml, settings: current.settings,
        source: "url", metadataUrl: current.metadataUrl, force: false,
      });
      this.#d.log({ event: "idp_refreshed", idp: id, by: actor, changed: true });
      return record;
    } catch (e) {
      if (e instanceof IdpStoreUnavailable) throw e;
      const reason = e instanceof AdminError ? [e.code, ...e.reasons].join(": ") : `refresh_failed: ${(e as Error | undefined)?.name ?? "unknown"}`;
      this.#d.log({ event: "idp_refresh_failed", idp: id, reason, by: actor });
      if (current.lastRefreshError !== reason) {
        // A refused refresh is audited once per distinct reason, not at every tick.
        await this.#d.store.appendAudit({ at, actor, action: "refresh", idp: id, outcome: "refused", error: "refresh_failed", reasons: [reason] }).catch(() => undefined);
      }
      await this.#d.store.setStatus(id, { lastRefreshAt: at, lastRefreshError: reason });
      await this.#reloadQuietly();
      return { ...current, lastRefreshAt: at, lastRefreshError: reason };
    }
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

  /** Records a refused admin request (the route's error handler). Never throws. */
  async auditRefused(entry: Omit<AuditEntry, "at" | "outcome">): Promise<void> {
    const full: AuditEntry = { ...entry, at: new Date(this.#d.now()).toISOString(), outcome: "refused" };
    this.#d.log({ event: "admin_refused", admin: full.actor, action: full.action, idp: full.idp, status: full.status, error: full.error, reasons: full.reasons });
    await this.#d.store.appendAudit(full).catch(() => this.#d.log({ event: "admin_audit_write_failed", action: full.action }));
  }

  async auditLog(): Promise<AuditEntry[]> {
    return this.#d.store.auditLog();
  }

  /** Metadata by URL, for the console's preview (same bounds and checks as a real onboarding). */
  async fetchForPreview(url: string): Promise<string> {
    this.#checkUrl(url);
    return this.#fetch(url);
  }

  /** What saving this metadata as `id` would do: every check, without writing anything. */
  async dryRun(id: string | undefined, xml: string, entityId: string | undefined, force: boolean): Promise<{ checks: { name: string; ok: boolean; reasons: string[] }[]; keys?: { kept: string[]; added: string[]; removed: string[] } }> {
    const checks: { name: string; ok: boolean; reasons: string[] }[] = [];
    const result = checkMetadata({ xml, entityId, now: this.#d.now(), maxBytes: this.#d.config.maxMetadataBytes, pinned: this.#d.pinned });
    checks.push({ name: "metadata", ok: result.ok, reasons: result.ok ? [] : result.reasons });
    if (!result.ok) return { checks };
    const stored = id === undefined ? undefined : await this.#d.store.get(id);
    const current = stored?.retiredAt === undefined ? stored : undefined;
    const from = current ? identityOf(current).entityId : undefined;
    const moved = entityChange({ from, to: result.metadata.entityId, force });
    checks.push({ name: "entity_id", ok: moved.ok, reasons: moved.ok ? [] : moved.reasons });
    const inUse = this.#collision(id ?? "", result.metadata.entityId);
    checks.push({ name: "entity_id_free", ok: !inUse, reasons: inUse ? ["entity_id_in_use"] : [] });
    const state = await this.#d.store.entity(result.metadata.entityId);
    const decision = keyChange({ previous: this.#previousKeys(state, result.metadata.entityId), next: fingerprints(result.metadata), validNow: validNow(result.metadata, this.#d.now()), force });
    checks.push({ name: "rollover", ok: decision.ok, reasons: decision.ok ? (decision.forced ? ["forced"] : []) : decision.reasons });
    return { checks, ...(decision.ok ? { keys: { kept: decision.kept, added: decision.added, removed: decision.removed } } : {}) };
  }

  /**
   * The one path of every change that writes metadata: checks (metadata rules, entityID move,
   * entity uniqueness, key history), then one atomic commit with its audit entry.
   */
  async #commit(p: Proposal): Promise<IdpRecord> {
    const now = this.#d.now();
    const at = new Date(now).toISOString();
    const checked = checkMetadata({
      xml: p.xml, entityId: p.settings.entityId, now, maxBytes: this.#d.config.maxMetadataBytes,
      pinned: this.#d.pinned,
    });
    const reasons = checked.ok ? [] : checked.reasons;
    // Metadata that parses but breaks a rule is still compared with the key history, so the
    // admin learns every reason at once.
    const metadata = checked.ok ? checked.metadata : parsedOrUndefined(p.xml, p.settings.entityId);
    if (!metadata) throw new AdminError(400, "invalid_metadata", reasons);
    const current = p.stored?.retiredAt === undefined ? p.stored : undefined;
    const from = current ? identityOf(current).entityId : undefined;
    const to = metadata.entityId;
    // No readable current metadata: nothing to compare with, so the change must be forced.
    if (current && from === undefined && !p.force) reasons.push("current_metadata_unreadable: force required");
    // The URL speaks for one entity: a refresh naming another is refused (an admin re-creates).
    if (p.action === "refresh" && from !== undefined && from !== to) throw new AdminError(409, "entity_id_changed");
    const moved = entityChange({ from, to, force: p.force });
    if (!moved.ok) throw new AdminError(409, "entity_id_changed", moved.reasons);
    this.#noCollision(p.id, to);
    const state = await this.#d.store.entity(to);
    if (state?.owner && state.owner !== p.id) throw new AdminError(409, "entity_id_in_use");
    const next = fingerprints(metadata);
    const decision = keyChange({ previous: this.#previousKeys(state, to), next, validNow: validNow(metadata, now), force: p.force });
    if (!decision.ok) reasons.push(...decision.reasons);
    if (reasons.length > 0 || !decision.ok) throw new AdminError(400, "invalid_metadata", reasons);
    const forced = decision.forced || moved.forced;
    const record: IdpRecord = {
      id: p.id,
      version: (p.stored?.version ?? 0) + 1,
      source: p.source,
      ...(p.metadataUrl ? { metadataUrl: p.metadataUrl, lastRefreshAt: at } : {}),
      metadataXml: p.xml,
      entityId: to,
      fingerprints: next,
      settings: p.settings,
      updatedAt: at,
      updatedBy: p.actor,
    };
    const old = current ? identityOf(current) : undefined;
    const changes = settingsDiff(current?.settings ?? {}, p.settings);
    if (current && current.source !== p.source) changes.push({ field: "source", from: current.source, to: p.source });
    if (current && current.metadataUrl !== p.metadataUrl) changes.push({ field: "metadataUrl", from: current.metadataUrl ?? null, to: p.metadataUrl ?? null });
    const audit: AuditEntry = {
      at, actor: p.actor, action: p.action, idp: p.id, outcome: "applied", version: record.version, entityId: to,
      ...(moved.moved && from !== undefined ? { previousEntityId: from } : {}),
      oldFingerprints: old?.keys ?? [], newFingerprints: next, removedFingerprints: decision.removed, forced, changes,
    };
    const history = (action: string): KeyHistoryEntry => ({ at, idp: p.id, action, by: p.actor, keys: next, forced });
    let release: { entityId: string; expectedVersion: number; history: KeyHistoryEntry } | undefined;
    if (moved.moved && from !== undefined) {
      const fromState = await this.#d.store.entity(from);
      release = { entityId: from, expectedVersion: fromState?.version ?? 0, history: { at, idp: p.id, action: "entity_id_moved_away", by: p.actor, keys: fromState?.keys ?? old?.keys ?? [], forced: true } };
    }
    await this.#write({
      record, expectedVersion: p.stored?.version ?? null, audit,
      entity: { entityId: to, expectedVersion: state?.version ?? 0, owner: p.id, keys: next, history: history(p.action) },
      ...(release ? { release } : {}),
    });
    return record;
  }

  /** Atomic commit, the log line, then apply. A lost race or an expired deadline changes nothing. */
  async #write(change: Parameters<IdpRecordStore["commit"]>[0]): Promise<void> {
    const result = await this.#d.store.commit(change, Date.now() + this.#d.config.storeTimeoutMs);
    if (result === "conflict") throw new AdminError(412, "precondition_failed");
    if (result === "entity_in_use") throw new AdminError(409, "entity_id_in_use");
    if (result === "entity_conflict") throw new AdminError(409, "concurrent_change");
    if (result === "expired") throw new IdpStoreUnavailable("the change reached the store after its deadline and was not applied");
    const a = change.audit;
    this.#d.log({
      event: "admin_audit", admin: a.actor, action: a.action, idp: a.idp, version: a.version, entity_id: a.entityId,
      old_fingerprints: a.oldFingerprints ?? [], new_fingerprints: a.newFingerprints ?? [], forced: a.forced ?? false,
      ...(a.changes?.length ? { changed_fields: a.changes.map((c) => c.field) } : {}),
    });
    await this.#reloadQuietly();
  }

  /** After a committed change: applied here now, or within a second by the watch. */
  async #reloadQuietly(): Promise<void> {
    await this.reload().catch((e: unknown) => this.#d.log({ event: "idp_reload_failed", error: (e as Error | undefined)?.name ?? "unknown" }));
  }

  /** The entity's last trusted keys: its history, or (data from before histories) its newest record. */
  #previousKeys(state: EntityState | undefined, entityId: string): string[] | undefined {
    if (state) return state.keys;
    return legacyKeys([...this.#records.values(), ...this.#retired].map((r) => ({ ...identityOf(r), updatedAt: r.updatedAt })), entityId);
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

  #fetch(url: string): Promise<string> {
    return fetchMetadata(url, { fetch: this.#d.fetch, timeoutMs: this.#d.config.fetchTimeoutMs, maxBytes: this.#d.config.maxMetadataBytes });
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

  #notConfigManaged(id: string): void {
    if (this.#d.configIdps.some((i) => i.id === id) || this.#d.reservedIds.includes(id)) throw new AdminError(409, "config_managed");
  }

  #collision(id: string, entityId: string): boolean {
    if (entityId === this.#d.bridgeIssuer) return true;
    return [...this.#d.configIdps, ...this.#applied.values()].some((i) => i.id !== id && i.metadata.entityId === entityId);
  }

  #noCollision(id: string, entityId: string): void {
    if (this.#collision(id, entityId)) throw new AdminError(409, "entity_id_in_use");
  }

  #trusted(r: IdpRecord, metadata: IdpMetadata): TrustedIdp {
    const s: IdpSettings = r.settings;
    return trustedIdp(r.id, metadata, s, this.#d.tokenEndpoint);
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

const fingerprints = (m: IdpMetadata): string[] => m.signingKeys.map((k) => k.fingerprint);

const validNow = (m: IdpMetadata, now: number): string[] =>
  m.certificates.filter((c) => Date.parse(c.notBefore) <= now && now < Date.parse(c.notAfter)).map((c) => c.fingerprint);

function parsedOrUndefined(xml: string, entityId: string | undefined): IdpMetadata | undefined {
  try {
    return parseIdpMetadata(xml, entityId);
  } catch {
    return undefined;
  }
}

/** The entityID and keys a record names (stored since key histories exist; parsed for older records). */
function identityOf(r: IdpRecord): { entityId: string | undefined; keys: string[] } {
  if (r.entityId !== undefined && r.fingerprints !== undefined) return { entityId: r.entityId, keys: r.fingerprints };
  try {
    const m = parseIdpMetadata(r.metadataXml, r.settings.entityId);
    return { entityId: m.entityId, keys: fingerprints(m) };
  } catch {
    return { entityId: r.entityId, keys: [] };
  }
}
