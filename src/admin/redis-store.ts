import { createHash } from "node:crypto";
import { createRedisConnection, type RedisConnection } from "../redis/client.js";
import { storeKeyPrefix } from "../redis/hash-tag.js";
import type { RedisConnectionSettings } from "../redis/settings.js";
import type { Change, CommitResult, IdpRecordStore, StoreLimits } from "./store.js";
import { withStatus, type IdpRecord, type RefreshStatus } from "./records.js";
import { HISTORY_MAX, type EntityState, type KeyHistoryEntry } from "./key-history.js";
import { UNAUTHENTICATED, type AuditEntry } from "./audit.js";
import { IdpStoreUnavailable } from "./errors.js";

/**
 * Records in Redis, shared by every instance. A change is one Lua script (scripts run atomically,
 * Redis docs "Scripting with Lua"): check the deadline against the server's clock, compare the
 * record version, claim the entityID (refused while another record holds it), compare the
 * entity's version, write record + entity keys + history + audit entry, bump a change counter and
 * publish. Instances learn of changes from the channel at once, and from polling the counter
 * every second in case a message was missed (pub/sub is fire-and-forget).
 *
 * Every call is bounded (`timeoutMs`): node-redis queues a command on a live socket for as long
 * as Redis does not answer (a paused server), so the bound is ours. A commit that times out can
 * still reach Redis later; its deadline, checked inside the script with Redis' own TIME, makes it
 * a no-op then. The deadline is set a margin before the caller's timeout, on Redis' clock (the
 * offset to this host's clock is measured at every connect).
 *
 * One server, Sentinel or Cluster (redis/client.ts). On a cluster the key prefix carries a hash tag
 * (redis/hash-tag.ts), so every key below, the change channel included, maps to one slot and the
 * commit script may name them all.
 */
const COMMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then return 'expired' end
local cur = redis.call('GET', KEYS[1])
if ARGV[2] == '' then
  if cur then return 'conflict' end
else
  if not cur or tostring(cjson.decode(cur)['version']) ~= ARGV[2] then return 'conflict' end
end
local owner = redis.call('HGET', KEYS[5], 'owner')
if owner and owner ~= '' and owner ~= ARGV[4] and owner ~= ARGV[6] then return 'entity_in_use' end
local ver = redis.call('HGET', KEYS[5], 'ver') or '0'
if ver ~= ARGV[5] then return 'entity_conflict' end
local rver = '0'
if ARGV[10] ~= '' then
  rver = redis.call('HGET', KEYS[7], 'ver') or '0'
  if rver ~= ARGV[10] then return 'entity_conflict' end
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[5], 'owner', ARGV[6], 'ver', tostring(tonumber(ver) + 1), 'keys', ARGV[7], 'entityId', ARGV[8])
redis.call('LPUSH', KEYS[6], ARGV[9])
redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[14]) - 1)
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[7], 'owner', '', 'ver', tostring(tonumber(rver) + 1))
  redis.call('LPUSH', KEYS[8], ARGV[11])
  redis.call('LTRIM', KEYS[8], 0, tonumber(ARGV[14]) - 1)
end
local seq = redis.call('INCR', KEYS[10])
redis.call('LPUSH', KEYS[9], seq .. ' ' .. ARGV[12])
redis.call('LTRIM', KEYS[9], 0, tonumber(ARGV[13]) - 1)
redis.call('DEL', KEYS[11])
redis.call('INCR', KEYS[3])
redis.call('PUBLISH', KEYS[4], ARGV[4])
return 'ok'`;

const AUDIT = `
local seq = redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[1], seq .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return seq`;

const STATUS = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 1`;

/** How long before the caller's timeout a commit stops being applicable (reply transit, clock offset error). */
const DEADLINE_MARGIN_MS = 250;

export class RedisIdpStore implements IdpRecordStore {
  readonly #client: RedisConnection;
  readonly #prefix: string;
  readonly #limits: StoreLimits;
  #timer: NodeJS.Timeout | undefined;
  #lastCounter = "";
  #polling = false;
  /** Redis clock minus this host's clock (ms). */
  #offset = 0;

  /** `redis` (any topology) or the older `url` (one server). */
  constructor(options: { url?: string | undefined; redis?: RedisConnectionSettings | undefined; keyPrefix: string } & StoreLimits) {
    const settings = options.redis ?? (options.url ? { url: options.url } : undefined);
    if (!settings) throw new Error("RedisIdpStore: no Redis connection (redis or url)");
    this.#limits = { timeoutMs: options.timeoutMs, auditMaxEntries: options.auditMaxEntries };
    // No offline queue (redis/client.ts): while Redis is away, admin calls fail at once (503) instead of hanging.
    this.#client = createRedisConnection(settings, { connectTimeoutMs: 2_000 });
    this.#prefix = storeKeyPrefix(options.keyPrefix, this.#client.topology);
    this.#client.onError(() => undefined);
    this.#client.onReady(() => void this.#measureOffset().catch(() => undefined));
  }

  async connect(): Promise<void> {
    await this.#client.connect();
    await this.#measureOffset();
  }

  /** One command on the node holding this store's slot (all its keys share it). */
  #cmd(...args: string[]): Promise<unknown> {
    return this.#client.command(this.#ids, args);
  }

  async #measureOffset(): Promise<void> {
    const before = Date.now();
    const reply = await this.#cmd("TIME");
    const after = Date.now();
    const [s, us] = Array.isArray(reply) ? (reply as unknown[]) : [];
    const server = s !== undefined ? Number(s) * 1000 + Math.floor(Number(us) / 1000) : 0;
    if (server > 0) this.#offset = server - Math.round((before + after) / 2);
  }

  #key(id: string): string {
    return `${this.#prefix}record:${id}`;
  }
  #status(id: string): string {
    return `${this.#prefix}status:${id}`;
  }
  #entityKey(entityId: string): string {
    return `${this.#prefix}entity:${createHash("sha256").update(entityId).digest("hex")}`;
  }
  #historyKey(entityId: string): string {
    return `${this.#prefix}keyhist:${createHash("sha256").update(entityId).digest("hex")}`;
  }
  get #ids(): string {
    return `${this.#prefix}ids`;
  }
  get #counter(): string {
    return `${this.#prefix}version`;
  }
  get #channel(): string {
    return `${this.#prefix}changes`;
  }
  get #audit(): string {
    return `${this.#prefix}audit`;
  }
  /** Refusals of callers without a valid admin token: their own list, so they cannot evict the rest. */
  get #auditUnauthenticated(): string {
    return `${this.#prefix}audit:unauthenticated`;
  }
  get #auditSeq(): string {
    return `${this.#prefix}audit:seq`;
  }

  /** Any Redis failure, or no answer within the bound, is the store being unavailable (503). */
  async #call<T>(op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("redis call timed out")), this.#limits.timeoutMs);
    });
    try {
      return await Promise.race([op(), timeout]);
    } catch (e) {
      throw new IdpStoreUnavailable("idp record store unavailable", { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  async list(): Promise<IdpRecord[]> {
    return this.#call(async () => {
      const ids = (await this.#cmd("SMEMBERS", this.#ids)) as string[];
      if (ids.length === 0) return [];
      const values = (await this.#cmd("MGET", ...ids.map((id) => this.#key(id)))) as unknown[];
      const statuses = (await this.#cmd("MGET", ...ids.map((id) => this.#status(id)))) as unknown[];
      const out: IdpRecord[] = [];
      values.forEach((v, i) => {
        if (typeof v === "string") out.push(withStatus(JSON.parse(v) as IdpRecord, parseStatus(statuses[i])));
      });
      return out;
    });
  }

  async get(id: string): Promise<IdpRecord | undefined> {
    const [v, s] = (await this.#call(() => this.#cmd("MGET", this.#key(id), this.#status(id)))) as unknown[];
    return typeof v === "string" ? withStatus(JSON.parse(v) as IdpRecord, parseStatus(s)) : undefined;
  }

  async entity(entityId: string): Promise<EntityState | undefined> {
    const [h, hist] = (await this.#call(() => Promise.all([
      this.#cmd("HMGET", this.#entityKey(entityId), "owner", "ver", "keys"),
      this.#cmd("LRANGE", this.#historyKey(entityId), "0", String(HISTORY_MAX - 1)),
    ]))) as [(string | null)[], string[]];
    const [owner, ver, keys] = h;
    if (ver === null || ver === undefined) return undefined;
    return {
      entityId,
      owner: owner ? owner : null,
      version: Number(ver),
      keys: JSON.parse(keys ?? "[]") as string[],
      history: hist.map((x) => JSON.parse(x) as KeyHistoryEntry),
    };
  }

  async commit(change: Change, deadline: number): Promise<CommitResult> {
    // The script's deadline is on Redis' clock, a margin before our own timeout fires.
    const own = Math.min(deadline, Date.now() + this.#limits.timeoutMs) - DEADLINE_MARGIN_MS;
    const { record, entity, release } = change;
    const r = await this.#call(() => this.#client.eval(COMMIT,
      [
        this.#key(record.id), this.#ids, this.#counter, this.#channel,
        this.#entityKey(entity.entityId), this.#historyKey(entity.entityId),
        this.#entityKey(release?.entityId ?? entity.entityId), this.#historyKey(release?.entityId ?? entity.entityId),
        this.#audit, this.#auditSeq, this.#status(record.id),
      ],
      [
        String(own + this.#offset),
        change.expectedVersion === null ? "" : String(change.expectedVersion),
        JSON.stringify(record), record.id,
        String(entity.expectedVersion), entity.owner ?? "", JSON.stringify(entity.keys), entity.entityId, JSON.stringify(entity.history),
        release ? String(release.expectedVersion) : "", release ? JSON.stringify(release.history) : "",
        JSON.stringify(change.audit), String(this.#limits.auditMaxEntries), String(HISTORY_MAX),
      ],
    ));
    return r as CommitResult;
  }

  async setStatus(id: string, status: RefreshStatus): Promise<void> {
    await this.#call(() => this.#client.eval(STATUS, [this.#status(id), this.#counter, this.#channel], [JSON.stringify(status), id]));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.#call(() => this.#client.eval(
      AUDIT,
      [entry.actor === UNAUTHENTICATED ? this.#auditUnauthenticated : this.#audit, this.#auditSeq],
      [JSON.stringify(entry), String(this.#limits.auditMaxEntries)],
    ));
  }

  async auditLog(limit?: number): Promise<AuditEntry[]> {
    const stop = limit === undefined ? -1 : limit - 1;
    const [main, unauthenticated] = (await this.#call(() => Promise.all([
      this.#cmd("LRANGE", this.#audit, "0", String(stop)),
      this.#cmd("LRANGE", this.#auditUnauthenticated, "0", String(stop)),
    ]))) as [string[], string[]];
    const entries = [...main, ...unauthenticated].map((line) => {
      const space = line.indexOf(" ");
      return { ...(JSON.parse(line.slice(space + 1)) as AuditEntry), seq: Number(line.slice(0, space)) };
    });
    // One seq counter for both lists: newest first across them.
    entries.sort((a, b) => b.seq - a.seq);
    return limit === undefined ? entries : entries.slice(0, limit);
  }

  watch(onChange: () => void): void {
    void this.#client.subscribe(this.#channel, () => onChange()).catch(() => undefined);
    this.#timer = setInterval(() => {
      // One poll at a time: a stalled Redis must not pile up a poll per second.
      if (this.#polling) return;
      this.#polling = true;
      this.#cmd("GET", this.#counter).then((v) => {
        const counter = String(v ?? "");
        if (counter !== this.#lastCounter) {
          this.#lastCounter = counter;
          onChange();
        }
      }, () => undefined).finally(() => {
        this.#polling = false;
      });
    }, 1000);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#client.close();
  }
}

function parseStatus(v: unknown): RefreshStatus | undefined {
  return typeof v === "string" ? (JSON.parse(v) as RefreshStatus) : undefined;
}
