import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Config } from "../config/schema.js";
import type { Logger, LogValue } from "../log/logger.js";
import { OAuthError } from "../oauth/errors.js";
import type { LimitKind } from "./keys.js";
import type { RedisConnection } from "../redis/client.js";

/**
 * The bridge's rate limiters (rate-limiter-flexible): one fixed-window counter per limit kind, in
 * this process (RateLimiterMemory) or shared by every instance through Redis (RateLimiterRedis, one
 * atomic Lua script per count). Over a limit: 429 `temporarily_unavailable` / `rate_limited` with
 * Retry-After (oauth/errors.ts says why that code), never a token.
 *
 * The store being down is a documented choice: limits FAIL OPEN. A limit protects capacity and
 * slows guessing; refusing every exchange because the counter store is away would turn a Redis
 * outage into a full outage of the bridge. The replay check, which protects the one-time use of
 * assertions, fails closed regardless (503): a request limits let through still gets no token
 * without its replay mark. Each limiter call is bounded by `timeoutMs` (a stalled Redis holds no
 * exchange longer) and by a backlog bound; the first failure and the recovery are logged once.
 *
 * Logged once per window per key, with no memory of its own: a counter is logged by the one count
 * that crosses its limit (count = max + 1 for request limits, = max for failed authentications,
 * which block from then on). Exactly one instance sees that count, so the line is once per window
 * across instances too. Keys are hashes (limits/keys.ts): log lines carry the hash, and a label
 * only where the caller knows it is safe (a configured client id, a configured source id).
 */
export type RateLimitsConfig = Config["rateLimits"];
export type LimitRule = RateLimitsConfig["perClient"];
/** A limit of one key that differs from its kind's (config clients[].rateLimit). */
export type LimitOverride = { max: number; windowSeconds: number };

const RULES: Readonly<Record<LimitKind, keyof RateLimitsConfig>> = {
  client: "perClient",
  source: "perSource",
  subject: "perSubject",
  failed_auth_client: "failedAuthPerClientId",
  failed_auth_address: "failedAuthPerAddress",
};

/** Limiter calls in flight past which new ones fail open at once (a stalled Redis builds no queue). */
const MAX_PENDING = 1_024;

class StoreTimeout extends Error {
  override name = "StoreTimeout";
}

export class RateLimits {
  readonly #limiters = new Map<LimitKind, { rule: LimitRule; limiter: RateLimiterAbstract }>();
  /** Limiters of overrides, one per kind and (max, window): a few, from the config. */
  readonly #overrides = new Map<string, { rule: LimitRule; limiter: RateLimiterAbstract }>();
  readonly #config: RateLimitsConfig;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #redis: RedisConnection | undefined;
  #pending = 0;
  #storeDown = false;

  constructor(config: RateLimitsConfig, deps: { log: Logger; redis?: RedisConnection | undefined }) {
    this.#config = config;
    this.#timeoutMs = config.timeoutMs;
    this.#log = deps.log;
    this.#redis = config.store === "redis" ? deps.redis : undefined;
    if (config.store === "redis" && !this.#redis) throw new Error("rateLimits.store redis needs a Redis client");
    for (const [kind, name] of Object.entries(RULES) as [LimitKind, keyof RateLimitsConfig][]) {
      const rule = config[name] as LimitRule;
      if (rule.enabled) this.#limiters.set(kind, { rule, limiter: this.#limiter(kind, rule) });
    }
  }

  #limiter(kind: LimitKind, rule: LimitOverride): RateLimiterAbstract {
    const common = { points: rule.max, duration: rule.windowSeconds, keyPrefix: `${this.#config.keyPrefix}:${kind}` };
    return this.#redis
      // rejectIfRedisNotReady: while disconnected a call fails at once (and fails open) instead of waiting.
      ? new RateLimiterRedis({ ...common, storeClient: this.#redis.raw, useRedisPackage: true, rejectIfRedisNotReady: true })
      : new RateLimiterMemory(common);
  }

  /** The limiter of `kind`, or of its override for this key (enabled even when the kind is off). */
  #for(kind: LimitKind, override: LimitOverride | undefined): { rule: LimitRule; limiter: RateLimiterAbstract } | undefined {
    if (!override) return this.#limiters.get(kind);
    const id = `${kind}/${override.max}/${override.windowSeconds}`;
    let l = this.#overrides.get(id);
    if (!l) {
      l = { rule: { enabled: true, ...override }, limiter: this.#limiter(kind, override) };
      this.#overrides.set(id, l);
    }
    return l;
  }

  enabled(kind: LimitKind): boolean {
    return this.#limiters.has(kind);
  }

  /** Starts connecting to Redis (when the store is Redis); never throws: limits fail open meanwhile. */
  start(): void {
    this.#redis?.start();
  }

  async close(): Promise<void> {
    await this.#redis?.close();
  }

  /**
   * Counts one request against `key`'s limit of this kind; over the limit, throws 429 rate_limited.
   * `label`: safe identifiers for the log line (never a subject, secret or caller-chosen text);
   * `override`: this key's own limit (from the config), instead of the kind's.
   */
  async take(kind: LimitKind, key: string, label: Record<string, LogValue> = {}, override?: LimitOverride): Promise<void> {
    const l = this.#for(kind, override);
    if (!l) return;
    const res = await this.#call(() => l.limiter.consume(key));
    if (!res || res.consumedPoints <= l.rule.max) return;
    if (res.consumedPoints === l.rule.max + 1) this.#logLimited(kind, key, l.rule, res, label);
    throw limited(res);
  }

  /** Throws 429 rate_limited while `key` has used up this kind's limit (nothing is counted). */
  async check(kind: LimitKind, key: string): Promise<void> {
    const l = this.#limiters.get(kind);
    if (!l) return;
    const res = await this.#call(() => l.limiter.get(key));
    if (res && res.consumedPoints >= l.rule.max) throw limited(res);
  }

  /** Counts one failure against `key`; the failure that reaches the limit is logged (the key is now blocked). */
  async count(kind: LimitKind, key: string, label: Record<string, LogValue> = {}): Promise<void> {
    const l = this.#limiters.get(kind);
    if (!l) return;
    const res = await this.#call(() => l.limiter.consume(key));
    if (res?.consumedPoints === l.rule.max) this.#logLimited(kind, key, l.rule, res, label);
  }

  #logLimited(kind: LimitKind, key: string, rule: LimitRule, res: RateLimiterRes, label: Record<string, LogValue>): void {
    this.#log({
      event: "rate_limited", limit: kind, key, ...label,
      max: rule.max, window_seconds: rule.windowSeconds, retry_after_seconds: retryAfterSeconds(res),
    });
  }

  /**
   * One limiter call: its result, a RateLimiterRes also when over the limit (rate-limiter-flexible
   * rejects with it), or undefined when the store failed or took longer than timeoutMs (fail open).
   */
  async #call(op: () => Promise<RateLimiterRes | null>): Promise<RateLimiterRes | null | undefined> {
    if (this.#pending >= MAX_PENDING) return this.#failed(new StoreTimeout("rate limit backlog full"));
    this.#pending++;
    const work = op().then(
      (r) => r,
      (e: unknown) => {
        if (e instanceof RateLimiterRes) return e;
        throw e;
      },
    ).finally(() => {
      this.#pending--;
    });
    work.catch(() => undefined); // a late failure after the timeout is nobody's to handle
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreTimeout("rate limit store timed out")), this.#timeoutMs);
    });
    try {
      const res = await Promise.race([work, timeout]);
      if (this.#storeDown) {
        this.#storeDown = false;
        this.#log({ event: "rate_limit_store_recovered" });
      }
      return res;
    } catch (e) {
      return this.#failed(e);
    } finally {
      clearTimeout(timer);
    }
  }

  #failed(e: unknown): undefined {
    if (!this.#storeDown) {
      this.#storeDown = true;
      // The error class and a bounded message only: rate-limiter-flexible's messages name no key.
      this.#log({
        event: "rate_limit_store_unavailable", outcome: "fail_open",
        error: e instanceof Error ? e.name : "unknown", detail: e instanceof Error ? e.message.slice(0, 200) : undefined,
      });
    }
    return undefined;
  }
}

function retryAfterSeconds(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/** RFC 6585 §4: 429 with Retry-After (RFC 9110 §10.2.3), in whole seconds until the window ends. */
function limited(res: RateLimiterRes): OAuthError {
  return new OAuthError("rate_limited", { retryAfterSeconds: retryAfterSeconds(res) });
}
