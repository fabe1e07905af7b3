import { createClient } from "redis";
import type { Logger } from "../log/logger.js";
import {
  ANY_USED_SCRIPT, CHECK_SCRIPT, DECLARE_LOST_SCRIPT, INITIALIZE_SCRIPT, MARK_SCRIPT, MARKER_MISSING, STORE_CLOSED, markerKey, newEpoch,
} from "./epoch.js";
import { ReplayStoreUnavailable, type ReplayStore, type ReplayStoreStatus } from "./store.js";

export interface RedisReplayOptions {
  url: string;
  keyPrefix: string;
  /** Bound of every command, enforced by the bridge's own timer (see #run). */
  timeoutMs: number;
  now: () => number;
  /** How long a lost store stays closed, computed when the loss is noticed (replay/window.ts). */
  lostWindowMs: () => number;
  /** A new Redis server (another run_id) counts as a loss (config replay.quarantineOnServerChange). */
  quarantineOnServerChange?: boolean;
  /**
   * An instance that has never seen this store's marker and finds none (a first start on a new
   * Redis or key prefix) creates it open (config replay.initializeEmptyStore, default on); off: it
   * treats the missing marker as a loss like any other.
   */
  initializeEmptyStore?: boolean;
  /** Connection and store-state events; never receives secrets or keys. */
  log?: Logger;
}

/**
 * Commands written but not answered (timed out ones included): past this, new marks fail at once
 * instead of growing the client's queue behind a stalled server.
 */
const MAX_PENDING = 1_024;

/**
 * Shared replay store. Each mark is one Lua script, atomic in Redis: it checks the epoch marker
 * (replay/epoch.ts), then marks every key or none. Every bridge instance sharing the Redis sees a
 * token used once.
 *
 * Never forgets silently: a missing marker (on a mark, on every (re)connection, on /readyz) means the
 * store lost its data; the bridge then declares it lost in the marker itself and every instance
 * refuses exchanges (503 replay_store_lost) until the lost-store window has passed, or an operator
 * reopens it (audited, scripts/replay-reopen.ts).
 *
 * Never waits longer than `timeoutMs`: the offline queue is disabled (while Redis is away a mark
 * fails at once) and each command races the bridge's own timer, because a command already written
 * to a stalled server is not bounded by the client library. A mark that times out may still land
 * later: the token is then consumed although its exchange failed (fail closed).
 */
export class RedisReplayStore implements ReplayStore {
  readonly #client;
  readonly #o: RedisReplayOptions;
  readonly #marker: string;
  #lastError = "";
  #pending = 0;
  /** The server's run_id on this connection ("" until read). */
  #runId = "";
  /** Whether the marker was checked on this connection (a new connection checks before any mark). */
  #checking: Promise<void> | undefined;
  #checked = false;
  /**
   * The epoch of the store this instance has used ("" until it has seen one). A marker of another
   * epoch is another store's life: this instance's marks may be gone, so it counts as a loss.
   */
  #epoch = "";
  /** The lost-store state last seen (the marker in Redis is authoritative; this mirrors it). */
  #closed: { until: number; cause: string } | undefined;

  constructor(options: RedisReplayOptions) {
    this.#o = options;
    this.#marker = markerKey(options.keyPrefix);
    this.#client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.timeoutMs,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2_000),
      },
    });
    this.#client.on("error", (e: unknown) => {
      this.#checked = false;
      const message = e instanceof Error ? e.message : String(e);
      // Log each distinct failure once, not on every reconnect attempt.
      if (message !== this.#lastError) options.log?.({ event: "redis_error", detail: message.slice(0, 200) });
      this.#lastError = message;
    });
    this.#client.on("ready", () => {
      this.#lastError = "";
      this.#checked = false;
      this.#runId = "";
      options.log?.({ event: "redis_ready" });
      // Check the marker at once, so a lost store is noticed (and logged) before the next exchange.
      this.#ensureChecked().catch(() => undefined);
    });
  }

  /** Starts connecting; never throws: an absent Redis makes exchanges 503 until it appears. */
  start(): void {
    this.#client.connect().catch(() => undefined);
  }

  async markUsed(key: string, ttlMs: number): Promise<boolean> {
    return this.markAllUsed([{ key, ttlMs }]);
  }

  // One timeout bounds the whole operation: a connection's first check and the mark together.
  async markAllUsed(entries: readonly { key: string; ttlMs: number }[]): Promise<boolean> {
    return this.#within("mark", async () => {
      await this.#ensureChecked();
      const now = this.#o.now();
      const reply = await this.#run("mark", () => this.#client.eval(MARK_SCRIPT, {
        keys: [this.#marker, ...entries.map((e) => this.#o.keyPrefix + e.key)],
        arguments: [String(now), this.#epoch, ...entries.map((e) => String(Math.max(1, Math.ceil(e.ttlMs))))],
      }));
      return this.#verdict(reply, now);
    });
  }

  async anyUsed(keys: readonly string[]): Promise<boolean> {
    return this.#within("read", async () => {
      await this.#ensureChecked();
      const now = this.#o.now();
      const reply = await this.#run("read", () => this.#client.eval(ANY_USED_SCRIPT, {
        keys: [this.#marker, ...keys.map((k) => this.#o.keyPrefix + k)],
        arguments: [String(now), this.#epoch],
      }));
      return this.#verdict(reply, now);
    });
  }

  async ready(): Promise<boolean> {
    return (await this.status()).state === "up";
  }

  /** For /readyz: checks the marker again (a flush is noticed even when no exchange comes). */
  async status(): Promise<ReplayStoreStatus> {
    try {
      await this.#within("check", () => this.#check());
    } catch {
      return this.#closedNow() ? { state: "lost", reopensAt: this.#closed!.until } : { state: "down" };
    }
    return this.#closedNow() ? { state: "lost", reopensAt: this.#closed!.until } : { state: "up" };
  }

  async close(): Promise<void> {
    try {
      if (this.#client.isOpen) await this.#client.close();
      else this.#client.destroy();
    } catch {
      this.#client.destroy();
    }
  }

  #closedNow(): boolean {
    return this.#closed !== undefined && this.#closed.until > this.#o.now();
  }

  /** A mark's or read's reply: 1/0 answers; a missing marker or a closed store is a 503. */
  async #verdict(reply: unknown, now: number): Promise<boolean> {
    const [code, until] = reply as [number, string | undefined];
    if (code === MARKER_MISSING) await this.#declareLost(now, "marker_missing");
    if (code === STORE_CLOSED) {
      this.#noteClosed(Number(until), this.#closed?.cause ?? "lost", now);
      throw this.#lostError(now);
    }
    this.#noteOpen(now);
    return code === 1;
  }

  async #ensureChecked(): Promise<void> {
    if (this.#checked) return;
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    await this.#checking;
  }

  /** Reads the marker (declaring the store lost when it is missing) and the server's run_id. */
  async #check(): Promise<void> {
    if (this.#runId === "") {
      const info = await this.#run("info", () => this.#client.info("server"));
      this.#runId = /^run_id:([0-9a-f]+)/m.exec(String(info))?.[1] ?? "";
      const memory = String(await this.#run("info", () => this.#client.info("memory")));
      const policy = /^maxmemory_policy:(\S+)/m.exec(memory)?.[1];
      // Any eviction policy but noeviction may drop replay keys (they all have a TTL) under memory pressure.
      if (policy !== undefined && policy !== "noeviction") this.#o.log?.({ event: "replay_store_eviction_policy", policy, detail: "set maxmemory-policy noeviction: evicted replay keys are forgotten silently" });
    }
    const now = this.#o.now();
    const quarantineUntil = this.#o.quarantineOnServerChange ? now + this.#o.lostWindowMs() : 0;
    const reply = (await this.#run("check", () => this.#client.eval(CHECK_SCRIPT, {
      keys: [this.#marker], arguments: [String(now), this.#runId, String(quarantineUntil), this.#epoch],
    }))) as [number, string?, string?, number?, string?, string?];
    if (reply[0] === MARKER_MISSING && this.#epoch === "" && this.#o.initializeEmptyStore !== false) {
      await this.#initialize(now);
    } else if (reply[0] === MARKER_MISSING) {
      await this.#declareLost(now, "marker_missing").catch((e: unknown) => {
        if (!(e instanceof ReplayStoreUnavailable && e.lost)) throw e;
      });
    } else {
      const [, until, cause, changed, previous, epoch] = reply;
      if (epoch) this.#epoch = epoch;
      if (changed === 1) {
        this.#o.log?.({
          event: "replay_store_server_changed", previous_run_id: previous, run_id: this.#runId,
          quarantine: this.#o.quarantineOnServerChange === true,
        });
      }
      if (Number(until) > now) this.#noteClosed(Number(until), cause ?? "lost", now);
      else this.#noteOpen(now);
    }
    this.#checked = true;
  }

  /**
   * No marker, and this instance never saw one: a first start on a new store (or one that lost its
   * data while no instance was running, which nothing can tell apart; the README says so). The
   * marker is created open, logged; from now on its loss or replacement is noticed.
   */
  async #initialize(now: number): Promise<void> {
    const [epoch, until, cause, created] = (await this.#run("initialize", () => this.#client.eval(INITIALIZE_SCRIPT, {
      keys: [this.#marker], arguments: [String(now), newEpoch()],
    }))) as [string, string, string, number];
    this.#epoch = epoch;
    if (created === 1) {
      this.#o.log?.({ event: "replay_store_initialized", detail: "no epoch marker on first start: a new store is assumed and opened (replay.initializeEmptyStore)" });
    }
    if (Number(until) > now) this.#noteClosed(Number(until), cause, now);
    else this.#noteOpen(now);
  }

  /** The marker is gone: close the store in Redis (every instance sees it) and here. Always throws. */
  async #declareLost(now: number, cause: string): Promise<never> {
    const windowMs = this.#o.lostWindowMs();
    // Remembered here first: should Redis vanish again before the marker is written, this instance
    // still refuses, and the next connection finds the marker missing and declares again.
    this.#noteClosed(now + windowMs, cause, now);
    const reply = (await this.#run("declare", () => this.#client.eval(DECLARE_LOST_SCRIPT, {
      keys: [this.#marker], arguments: [String(now), String(now + windowMs), newEpoch(), cause, this.#epoch],
    }))) as [string, string, string];
    if (reply[2]) this.#epoch = reply[2];
    const until = Number(reply[0]);
    if (until > now) this.#noteClosed(until, reply[1], now);
    else this.#noteOpen(now); // an operator reopened in between: that decision stands
    throw this.#lostError(now);
  }

  #noteClosed(until: number, cause: string, now: number): void {
    if (this.#closed?.until === until) return;
    this.#closed = { until, cause };
    this.#o.log?.({
      event: "replay_store_lost", cause,
      detail: cause === "server_changed"
        ? "Redis is another server now (restart or failover) and replay.quarantineOnServerChange is on"
        : "the replay store's epoch marker is gone: its data was lost (restart without persistence, failover to an empty replica, flush) or this is a new store; only `npm run replay-reopen` (audited) opens it earlier",
      reopens_at: new Date(until).toISOString(), window_seconds: Math.ceil((until - now) / 1000),
    });
  }

  #noteOpen(now: number): void {
    if (this.#closed === undefined) return;
    const early = this.#closed.until > now;
    this.#o.log?.({ event: "replay_store_reopened", early, ...(early ? { by: "operator (npm run replay-reopen)" } : {}) });
    this.#closed = undefined;
  }

  #lostError(now: number): ReplayStoreUnavailable {
    return new ReplayStoreUnavailable("replay store lost", { lost: true, retryAfterMs: Math.max(0, (this.#closed?.until ?? now) - now) });
  }

  /**
   * One command, bounded by the bridge's own timer: node-redis's per-command timeout does not
   * apply once the command has been written, so a stalled server would hold every exchange.
   */
  async #run<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (!this.#client.isReady) throw new ReplayStoreUnavailable("redis not connected");
    if (this.#pending >= MAX_PENDING) throw new ReplayStoreUnavailable("redis backlog full");
    this.#pending++;
    return this.#within(what, () => op().finally(() => {
      this.#pending--;
    }));
  }

  /** `work` or a ReplayStoreUnavailable after timeoutMs, whichever comes first. */
  async #within<T>(what: string, work: () => Promise<T>): Promise<T> {
    const result = work();
    result.catch(() => undefined); // a late failure after the timeout is nobody's to handle
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ReplayStoreUnavailable(`redis ${what} timed out`)), this.#o.timeoutMs);
    });
    try {
      return await Promise.race([result, timeout]);
    } catch (e) {
      if (e instanceof ReplayStoreUnavailable) throw e;
      throw new ReplayStoreUnavailable(`redis ${what} failed`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }
}
