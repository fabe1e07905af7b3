import type { Logger } from "../log/logger.js";
import { createRedisConnection, type RedisConnection } from "../redis/client.js";
import { storeKeyPrefix } from "../redis/hash-tag.js";
import type { RedisConnectionSettings } from "../redis/settings.js";
import {
  ANY_USED_SCRIPT, CHECK_SCRIPT, DECLARE_LOST_SCRIPT, INITIALIZE_SCRIPT, MARK_SCRIPT, MARKER_MISSING, MARKS_MISSING, SERVER_CHANGED, STORE_CLOSED, markerKey, newEpoch,
} from "./epoch.js";
import { ReplayStoreUnavailable, type ReplayStore, type ReplayStoreStatus } from "./store.js";

export interface RedisReplayOptions {
  /** How to reach Redis (one server, Sentinel, Cluster: src/redis/settings.ts); `url` is the older form. */
  redis?: RedisConnectionSettings;
  url?: string;
  /** On a cluster, wrapped in a hash tag unless it has one (redis/hash-tag.ts storeKeyPrefix). */
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
  /**
   * WAIT: a mark counts only once this many replicas acknowledged it (within waitTimeoutMs); fewer
   * fail the exchange (503, fail closed: the token stays marked on the master). 0: no WAIT.
   */
  waitReplicas?: number;
  waitTimeoutMs?: number;
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
  readonly #client: RedisConnection;
  readonly #o: RedisReplayOptions;
  /** The key prefix in use (the configured one, hash-tagged on a cluster). */
  readonly #prefix: string;
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
  /**
   * The highest mark count (the marker's seq) this instance saw in #epoch: a store that answers
   * with a lower one lost marks (a failover to a replica that lacks them) and counts as lost.
   */
  #seq = 0;
  /** The lost-store state last seen (the marker in Redis is authoritative; this mirrors it). */
  #closed: { until: number; cause: string } | undefined;
  /** Whether the last WAIT fell short (logged once per change, not per exchange). */
  #unacknowledged = false;

  constructor(options: RedisReplayOptions) {
    this.#o = options;
    const settings = options.redis ?? (options.url ? { url: options.url } : undefined);
    if (!settings) throw new Error("RedisReplayStore: no Redis connection (redis or url)");
    this.#client = createRedisConnection(settings, { connectTimeoutMs: options.timeoutMs });
    this.#prefix = storeKeyPrefix(options.keyPrefix, this.#client.topology);
    this.#marker = markerKey(this.#prefix);
    this.#client.onError((e: unknown) => {
      this.#checked = false;
      const message = e instanceof Error ? e.message : String(e);
      // Log each distinct failure once, not on every reconnect attempt.
      if (message !== this.#lastError) options.log?.({ event: "redis_error", detail: message.slice(0, 200) });
      this.#lastError = message;
    });
    this.#client.onReady(() => {
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
    this.#client.start();
  }

  async markUsed(key: string, ttlMs: number): Promise<boolean> {
    return this.markAllUsed([{ key, ttlMs }]);
  }

  // One timeout bounds the whole operation: a connection's first check and the mark together.
  async markAllUsed(entries: readonly { key: string; ttlMs: number }[]): Promise<boolean> {
    return this.#within("mark", () => this.#gated(async (now, serverId) => {
      const keys = [this.#marker, ...entries.map((e) => this.#prefix + e.key)];
      const args = [String(now), this.#epoch, serverId, String(this.#seq), ...entries.map((e) => String(Math.max(1, Math.ceil(e.ttlMs))))];
      const waitFor = this.#o.waitReplicas ?? 0;
      if (waitFor <= 0) return this.#run("mark", () => this.#client.eval(MARK_SCRIPT, keys, args));
      // The mark and its WAIT on one connection, in order (redis/client.ts pipeline): WAIT blocks
      // until `waitFor` replicas acknowledged every write of that connection, the mark included.
      const [reply, acked] = await this.#run("mark", () => this.#client.pipeline(this.#marker, [
        ["EVAL", MARK_SCRIPT, String(keys.length), ...keys, ...args],
        // Never 0 (WAIT 0 blocks the connection until enough replicas answer, however long).
        ["WAIT", String(waitFor), String(Math.max(1, this.#o.waitTimeoutMs ?? Math.floor(this.#o.timeoutMs / 2)))],
      ]));
      for (const r of [reply, acked]) if (r instanceof Error) throw new ReplayStoreUnavailable("redis mark failed", { cause: r });
      if ((reply as unknown[])[0] === 1) this.#acknowledged(Number(acked), waitFor);
      return reply;
    }));
  }

  async anyUsed(keys: readonly string[]): Promise<boolean> {
    return this.#within("read", () => this.#gated((now, serverId) => this.#run("read", () => this.#client.eval(
      ANY_USED_SCRIPT,
      [this.#marker, ...keys.map((k) => this.#prefix + k)],
      [String(now), this.#epoch, serverId, String(this.#seq)],
    ))));
  }

  /**
   * Runs a gated script (STORE_GATE) after this connection's check. With quarantineOnServerChange,
   * the script compares the server's run_id with the one checked; another server ({-3}: a failover
   * or restart since) is checked now, which records the change and closes the store, and the
   * script runs once more (then normally answering "closed").
   */
  async #gated(script: (now: number, serverId: string) => Promise<unknown>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      await this.#ensureChecked();
      const now = this.#o.now();
      const reply = await script(now, this.#o.quarantineOnServerChange ? this.#runId : "");
      if ((reply as unknown[])[0] !== SERVER_CHANGED) return this.#verdict(reply, now);
      this.#checked = false;
      this.#runId = "";
      if (attempt >= 1) throw new ReplayStoreUnavailable("redis server changed again");
    }
  }

  /** WAIT's verdict on a new mark: fewer replicas than required fail the exchange (fail closed). */
  #acknowledged(acked: number, required: number): void {
    if (acked >= required) {
      if (this.#unacknowledged) this.#o.log?.({ event: "replay_store_replication_acknowledged", replicas: acked });
      this.#unacknowledged = false;
      return;
    }
    if (!this.#unacknowledged) {
      this.#o.log?.({
        event: "replay_store_replication_unacknowledged", level: "warn", replicas: acked, required,
        detail: "marks are not acknowledged by replay.waitReplicas replicas within replay.waitTimeoutMs: exchanges fail (503) until they are",
      });
    }
    this.#unacknowledged = true;
    throw new ReplayStoreUnavailable("redis replication not acknowledged");
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
    await this.#client.close();
  }

  #closedNow(): boolean {
    return this.#closed !== undefined && this.#closed.until > this.#o.now();
  }

  /** A mark's or read's reply: 1/0 answers; a missing marker or marks, or a closed store, is a 503. */
  async #verdict(reply: unknown, now: number): Promise<boolean> {
    // The second element: the closed-until instant (STORE_CLOSED) or the marker's seq (0, 1).
    const [code, second] = reply as [number, string | number | undefined];
    if (code === MARKER_MISSING) await this.#declareLost(now, "marker_missing");
    if (code === MARKS_MISSING) await this.#declareLost(now, "marks_missing");
    if (code === STORE_CLOSED) {
      this.#noteClosed(Number(second), this.#closed?.cause ?? "lost", now);
      throw this.#lostError(now);
    }
    this.#sawSeq(second);
    this.#noteOpen(now);
    return code === 1;
  }

  #sawSeq(seq: unknown): void {
    const n = Number(seq);
    if (Number.isSafeInteger(n) && n > this.#seq) this.#seq = n;
  }

  /** A new epoch starts its own mark count. */
  #setEpoch(epoch: string): void {
    if (epoch === this.#epoch) return;
    this.#epoch = epoch;
    this.#seq = 0;
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
    const now = this.#o.now();
    const quarantineUntil = this.#o.quarantineOnServerChange ? now + this.#o.lostWindowMs() : 0;
    const reply = (await this.#run("check", () => this.#client.eval(
      CHECK_SCRIPT, [this.#marker], [String(now), String(quarantineUntil), this.#epoch, String(this.#seq)],
    ))) as [number, ...unknown[]];
    const [runId, policy] = (reply[0] === 1 ? reply.slice(6, 8) : reply.slice(1, 3)).map((x) => String(x ?? ""));
    if (runId !== this.#runId) {
      // Any eviction policy but noeviction may drop replay keys (they all have a TTL) under memory pressure.
      if (policy && policy !== "noeviction") this.#o.log?.({ event: "replay_store_eviction_policy", policy, detail: "set maxmemory-policy noeviction: evicted replay keys are forgotten silently" });
      this.#runId = runId!;
    }
    if (reply[0] === MARKER_MISSING && this.#epoch === "" && this.#o.initializeEmptyStore !== false) {
      await this.#initialize(now);
    } else if (reply[0] === MARKER_MISSING || reply[0] === MARKS_MISSING) {
      await this.#declareLost(now, reply[0] === MARKER_MISSING ? "marker_missing" : "marks_missing").catch((e: unknown) => {
        if (!(e instanceof ReplayStoreUnavailable && e.lost)) throw e;
      });
    } else {
      const [, until, cause, changed, previous, epoch, , , seq] = reply as [number, string, string, number, string, string, string, string, number];
      if (epoch) this.#setEpoch(epoch);
      this.#sawSeq(seq);
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
    const [epoch, until, cause, created] = (await this.#run("initialize", () => this.#client.eval(
      INITIALIZE_SCRIPT, [this.#marker], [String(now), newEpoch()],
    ))) as [string, string, string, number];
    this.#setEpoch(epoch);
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
    const reply = (await this.#run("declare", () => this.#client.eval(
      DECLARE_LOST_SCRIPT, [this.#marker], [String(now), String(now + windowMs), newEpoch(), cause, this.#epoch, String(this.#seq)],
    ))) as [string, string, string];
    if (reply[2]) this.#setEpoch(reply[2]);
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
        : cause === "marks_missing"
        ? "the replay store has fewer marks than this instance saw (a failover to a replica that lacks the last ones): tokens marked since may be accepted again; only `npm run replay-reopen` (audited) opens it earlier"
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
    return this.#within(what, () => op().catch((e: unknown) => {
      // A failed command (a dropped connection, READONLY after a failover, MOVED past the
      // redirections): the server may be another one by the next command, so check it again.
      this.#checked = false;
      throw e;
    }).finally(() => {
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
