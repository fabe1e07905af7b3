import { createClient } from "redis";
import type { IdpRecordStore } from "./store.js";
import type { IdpRecord } from "./records.js";
import { IdpStoreUnavailable } from "./errors.js";

/**
 * Records in Redis, shared by every instance. Writes are one Lua script each: compare the stored
 * version, write, bump a global change counter and publish on a channel, atomically. Instances
 * learn of changes from the channel at once, and from polling the counter every second in case a
 * message was missed (pub/sub is fire-and-forget), so every instance converges within a second.
 */
const PUT = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then return 0 end
else
  if not cur or tostring(cjson.decode(cur)['version']) ~= ARGV[1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('INCR', KEYS[3])
redis.call('PUBLISH', KEYS[4], ARGV[3])
return 1`;

export class RedisIdpStore implements IdpRecordStore {
  readonly #client;
  readonly #subscriber;
  readonly #prefix: string;
  #timer: NodeJS.Timeout | undefined;
  #lastCounter = "";

  constructor(options: { url: string; keyPrefix: string }) {
    this.#prefix = options.keyPrefix;
    // No offline queue: while Redis is away, admin calls fail at once (503) instead of hanging.
    this.#client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2_000, reconnectStrategy: (n: number) => Math.min(100 * 2 ** n, 2000) },
    });
    this.#subscriber = this.#client.duplicate();
    this.#client.on("error", () => undefined);
    this.#subscriber.on("error", () => undefined);
  }

  async connect(): Promise<void> {
    await this.#client.connect();
    await this.#subscriber.connect();
  }

  #key(id: string): string {
    return `${this.#prefix}record:${id}`;
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

  /** Any Redis failure is the store being unavailable: one error class for the API to answer 503. */
  async #call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new IdpStoreUnavailable("idp record store unavailable", { cause: e });
    }
  }

  async list(): Promise<IdpRecord[]> {
    return this.#call(() => this.#list());
  }

  async #list(): Promise<IdpRecord[]> {
    const ids = await this.#client.sMembers(this.#ids);
    if (ids.length === 0) return [];
    const values = await this.#client.mGet(ids.map((id) => this.#key(id)));
    return values.filter((v): v is string => typeof v === "string").map((v) => JSON.parse(v) as IdpRecord);
  }

  async get(id: string): Promise<IdpRecord | undefined> {
    const v = await this.#call(() => this.#client.get(this.#key(id)));
    return typeof v === "string" ? (JSON.parse(v) as IdpRecord) : undefined;
  }

  async put(record: IdpRecord, expectedVersion: number | null): Promise<"ok" | "conflict"> {
    const ok = await this.#call(() => this.#client.eval(PUT, {
      keys: [this.#key(record.id), this.#ids, this.#counter, this.#channel],
      arguments: [expectedVersion === null ? "" : String(expectedVersion), JSON.stringify(record), record.id],
    }));
    return ok === 1 ? "ok" : "conflict";
  }

  watch(onChange: () => void): void {
    void this.#subscriber.subscribe(this.#channel, () => onChange()).catch(() => undefined);
    this.#timer = setInterval(() => {
      this.#client.get(this.#counter).then((v) => {
        const counter = String(v ?? "");
        if (counter !== this.#lastCounter) {
          this.#lastCounter = counter;
          onChange();
        }
      }, () => undefined);
    }, 1000);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    for (const c of [this.#subscriber, this.#client]) {
      try {
        if (c.isOpen) await c.close();
      } catch {
        c.destroy();
      }
    }
  }
}
