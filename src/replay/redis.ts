import { createClient } from "redis";
import { ReplayStoreUnavailable, type ReplayStore } from "./store.js";

/** Several keys, all or nothing: a Lua script runs atomically in Redis. */
const MARK_ALL = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[i])
end
return 1`;

export interface RedisReplayOptions {
  url: string;
  keyPrefix: string;
  timeoutMs: number;
  /** Called on connection state changes; never receives secrets. */
  onEvent?: (event: "redis_error" | "redis_ready", detail?: string) => void;
}

/**
 * Shared replay store: one key is `SET key 1 NX PX ttl`, one atomic command; several keys (subject
 * and actor) are one Lua script, all or nothing. Every bridge instance sharing the Redis sees a
 * token used once. The offline queue is disabled and every command has a timeout:
 * while Redis is away, marks fail at once (the exchange answers 503, fail closed) instead of
 * queueing; the client reconnects with backoff on its own, so service resumes without a restart.
 */
export class RedisReplayStore implements ReplayStore {
  readonly #client;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  #lastError = "";

  constructor(options: RedisReplayOptions) {
    this.#prefix = options.keyPrefix;
    this.#timeoutMs = options.timeoutMs;
    this.#client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.timeoutMs,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2_000),
      },
    });
    this.#client.on("error", (e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      // Log each distinct failure once, not on every reconnect attempt.
      if (message !== this.#lastError) options.onEvent?.("redis_error", message);
      this.#lastError = message;
    });
    this.#client.on("ready", () => {
      this.#lastError = "";
      options.onEvent?.("redis_ready");
    });
  }

  /** Starts connecting; never throws: an absent Redis makes exchanges 503 until it appears. */
  start(): void {
    this.#client.connect().catch(() => undefined);
  }

  async markUsed(key: string, ttlMs: number): Promise<boolean> {
    if (!this.#client.isReady) throw new ReplayStoreUnavailable("redis not connected");
    let reply: string | null;
    try {
      reply = await this.#client
        .withCommandOptions({ timeout: this.#timeoutMs })
        .set(this.#prefix + key, "1", { condition: "NX", expiration: { type: "PX", value: Math.max(1, Math.ceil(ttlMs)) } });
    } catch (e) {
      throw new ReplayStoreUnavailable("redis command failed", { cause: e });
    }
    return reply === "OK";
  }

  async markAllUsed(entries: readonly { key: string; ttlMs: number }[]): Promise<boolean> {
    if (entries.length === 1) return this.markUsed(entries[0]!.key, entries[0]!.ttlMs);
    if (!this.#client.isReady) throw new ReplayStoreUnavailable("redis not connected");
    let reply: unknown;
    try {
      reply = await this.#client.withCommandOptions({ timeout: this.#timeoutMs }).eval(MARK_ALL, {
        keys: entries.map((e) => this.#prefix + e.key),
        arguments: entries.map((e) => String(Math.max(1, Math.ceil(e.ttlMs)))),
      });
    } catch (e) {
      throw new ReplayStoreUnavailable("redis command failed", { cause: e });
    }
    return reply === 1;
  }

  async anyUsed(keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    if (!this.#client.isReady) throw new ReplayStoreUnavailable("redis not connected");
    try {
      return (await this.#client.withCommandOptions({ timeout: this.#timeoutMs }).exists(keys.map((k) => this.#prefix + k))) > 0;
    } catch (e) {
      throw new ReplayStoreUnavailable("redis command failed", { cause: e });
    }
  }

  async ready(): Promise<boolean> {
    if (!this.#client.isReady) return false;
    try {
      return (await this.#client.withCommandOptions({ timeout: this.#timeoutMs }).ping()) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    try {
      if (this.#client.isOpen) await this.#client.close();
      else this.#client.destroy();
    } catch {
      this.#client.destroy();
    }
  }
}
