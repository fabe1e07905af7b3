import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Change, CommitResult, IdpRecordStore, StoreLimits } from "./store.js";
import { withStatus, type IdpRecord, type RefreshStatus } from "./records.js";
import { HISTORY_MAX, type EntityState } from "./key-history.js";
import { UNAUTHENTICATED, type AuditEntry } from "./audit.js";

/** The audit files: admins' changes and refusals, and (apart, store.ts appendAudit) unauthenticated refusals. */
const AUDIT_FILE = "audit.log";
const UNAUTHENTICATED_AUDIT_FILE = "audit-unauthenticated.log";
type AuditFile = typeof AUDIT_FILE | typeof UNAUTHENTICATED_AUDIT_FILE;

/**
 * Records as JSON files in one directory, for a single instance (the embedded default). Each write
 * goes to a temporary file that is fsynced and then renamed (rename is atomic within a
 * directory), so a crash never leaves a half-written file. This process owns the directory:
 * commits are serialised here (one at a time, in arrival order), which gives them the same
 * all-or-nothing checks as the Redis script. Beside the records (`<id>.json`): `entities.state`
 * (key history per entityID), `status.state` (refresh status) and `audit.log` (JSON lines).
 */
export class FileIdpStore implements IdpRecordStore {
  readonly #dir: string;
  readonly #limits: StoreLimits;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(directory: string, limits: StoreLimits) {
    this.#dir = directory;
    this.#limits = limits;
    mkdirSync(directory, { recursive: true });
  }

  #path(id: string): string {
    return join(this.#dir, `${id}.json`);
  }

  /** One operation at a time, in order: the read-check-write of a commit is never interleaved. */
  #serial<T>(op: () => T): Promise<T> {
    const next = this.#queue.then(op);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async list(): Promise<IdpRecord[]> {
    return this.#serial(() => {
      const status = this.#statuses();
      return readdirSync(this.#dir)
        .filter((f) => f.endsWith(".json") && !f.startsWith("."))
        .map((f) => JSON.parse(readFileSync(join(this.#dir, f), "utf8")) as IdpRecord)
        .map((r) => withStatus(r, status[r.id]));
    });
  }

  async get(id: string): Promise<IdpRecord | undefined> {
    return this.#serial(() => this.#get(id));
  }

  #get(id: string): IdpRecord | undefined {
    const r = this.#readJson<IdpRecord>(this.#path(id));
    return r && withStatus(r, this.#statuses()[id]);
  }

  async entity(entityId: string): Promise<EntityState | undefined> {
    return this.#serial(() => this.#entities()[entityId]);
  }

  async commit(change: Change, deadline: number): Promise<CommitResult> {
    return this.#serial(() => {
      // Checked when the commit's turn comes: a commit queued past its deadline is not applied.
      if (Date.now() > deadline) return "expired";
      const current = this.#readJson<IdpRecord>(this.#path(change.record.id));
      if ((current?.version ?? null) !== change.expectedVersion) return "conflict";
      const entities = this.#entities();
      const { entity, release } = change;
      const held = entities[entity.entityId];
      if (held?.owner && held.owner !== change.record.id && held.owner !== entity.owner) return "entity_in_use";
      if ((held?.version ?? 0) !== entity.expectedVersion) return "entity_conflict";
      if (release && (entities[release.entityId]?.version ?? 0) !== release.expectedVersion) return "entity_conflict";
      entities[entity.entityId] = {
        entityId: entity.entityId, owner: entity.owner, version: entity.expectedVersion + 1, keys: entity.keys,
        history: [entity.history, ...(held?.history ?? [])].slice(0, HISTORY_MAX),
      };
      if (release) {
        const old = entities[release.entityId];
        entities[release.entityId] = {
          entityId: release.entityId, owner: null, version: release.expectedVersion + 1, keys: old?.keys ?? [],
          history: [release.history, ...(old?.history ?? [])].slice(0, HISTORY_MAX),
        };
      }
      // Order: the audit line and the entity claims first, then the record: a crash in between
      // leaves an entry or a claim without the record, never a record without its trail.
      const seq = this.#nextSeq();
      this.#appendAuditLine({ ...change.audit, seq });
      this.#writeAtomic(join(this.#dir, "entities.state"), JSON.stringify(entities));
      this.#writeAtomic(this.#path(change.record.id), JSON.stringify(change.record, null, 2));
      const status = this.#statuses();
      if (status[change.record.id]) {
        delete status[change.record.id];
        this.#writeAtomic(join(this.#dir, "status.state"), JSON.stringify(status));
      }
      return "ok";
    });
  }

  async setStatus(id: string, s: RefreshStatus): Promise<void> {
    await this.#serial(() => {
      const status = this.#statuses();
      status[id] = s;
      this.#writeAtomic(join(this.#dir, "status.state"), JSON.stringify(status));
    });
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    const file = entry.actor === UNAUTHENTICATED ? UNAUTHENTICATED_AUDIT_FILE : AUDIT_FILE;
    await this.#serial(() => this.#appendAuditLine({ ...entry, seq: this.#nextSeq() }, file));
  }

  async auditLog(limit?: number): Promise<AuditEntry[]> {
    return this.#serial(() => {
      // One seq counter for both files: newest first across them.
      const lines = [...this.#auditLines(AUDIT_FILE), ...this.#auditLines(UNAUTHENTICATED_AUDIT_FILE)].sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0));
      return limit === undefined ? lines : lines.slice(0, limit);
    });
  }

  watch(): void {
    // One instance owns the directory: its own changes are applied directly.
  }

  async close(): Promise<void> {
    await this.#queue;
  }

  #readJson<T>(path: string): T | undefined {
    try {
      return JSON.parse(readFileSync(path, "utf8")) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  #entities(): Record<string, EntityState> {
    return Object.assign(Object.create(null) as Record<string, EntityState>, this.#readJson<Record<string, EntityState>>(join(this.#dir, "entities.state")) ?? {});
  }

  #statuses(): Record<string, RefreshStatus> {
    return Object.assign(Object.create(null) as Record<string, RefreshStatus>, this.#readJson<Record<string, RefreshStatus>>(join(this.#dir, "status.state")) ?? {});
  }

  #auditLines(file: AuditFile = AUDIT_FILE): AuditEntry[] {
    let text: string;
    try {
      text = readFileSync(join(this.#dir, file), "utf8");
    } catch {
      return [];
    }
    return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as AuditEntry);
  }

  #seq: number | undefined;
  /** Lines in each audit file, counted once (with #seq) and then kept here. */
  readonly #auditCount: Record<AuditFile, number> = { [AUDIT_FILE]: 0, [UNAUTHENTICATED_AUDIT_FILE]: 0 };
  #nextSeq(): number {
    if (this.#seq === undefined) {
      let seq = 0;
      for (const file of [AUDIT_FILE, UNAUTHENTICATED_AUDIT_FILE] as const) {
        const lines = this.#auditLines(file);
        seq = Math.max(seq, lines[lines.length - 1]?.seq ?? 0);
        this.#auditCount[file] = lines.length;
      }
      this.#seq = seq;
    }
    return ++this.#seq;
  }

  /**
   * One append, O(1): the file is read again only to trim it, once per auditMaxEntries / 10 appends.
   * Reading and parsing the whole log on every append made each refused request (an
   * unauthenticated 401 included, which is audited) cost a synchronous parse of up to 1.1 ×
   * auditMaxEntries lines on the event loop.
   */
  #appendAuditLine(entry: AuditEntry, file: AuditFile = AUDIT_FILE): void {
    const path = join(this.#dir, file);
    appendFileSync(path, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    // Retention: past the bound by a tenth, rewrite keeping the newest entries.
    if (++this.#auditCount[file] > this.#limits.auditMaxEntries * 1.1) {
      const kept = this.#auditLines(file).slice(-this.#limits.auditMaxEntries);
      this.#writeAtomic(path, kept.map((l) => `${JSON.stringify(l)}\n`).join(""));
      this.#auditCount[file] = kept.length;
    }
  }

  #writeAtomic(path: string, content: string): void {
    const tmp = join(this.#dir, `.${randomBytes(6).toString("hex")}.tmp`);
    writeFileSync(tmp, content, { mode: 0o600 });
    const fd = openSync(tmp, "r");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  }
}
