import { createClient, createCluster, createSentinel } from "redis";
import { topologyOf, type RedisConnectionSettings, type RedisTopology } from "./settings.js";

/**
 * One connection to Redis, whatever the topology, through node-redis' own clients: createClient
 * (one server), createSentinel (asks the sentinels for the master and follows each failover),
 * createCluster (learns the slot map, follows MOVED and refreshes it when a node goes away).
 *
 * Every command names the key it is about (`routingKey`): a cluster sends it to the master of that
 * key's slot; the other topologies ignore it. No client queues commands while disconnected
 * (disableOfflineQueue): a caller fails at once instead of waiting behind a dead server, and
 * bounds every call with its own timer besides (a command written to a stalled server is not
 * bounded by the client library).
 */
export interface RedisConnection {
  readonly topology: RedisTopology;
  /**
   * The node-redis client itself (a client, a sentinel or a cluster), for libraries that take one
   * (rate-limiter-flexible's `useRedisPackage`). Do not close it directly: call close().
   */
  readonly raw: RawRedis;
  /** Whether commands can be sent now. */
  readonly isReady: boolean;
  /** Connects in the background, retrying until it succeeds or close() is called; never throws. */
  start(): void;
  /** Connects now: rejects when Redis cannot be reached (for start-ups that need their data). */
  connect(): Promise<void>;
  /** Errors of any connection (never secrets; messages of node-redis). Attach before start(). */
  onError(listener: (error: unknown) => void): void;
  /**
   * A connection became ready: a first connection, a reconnection, a Sentinel master switch, a
   * cluster node (re)connected. The server behind it may be another one now.
   */
  onReady(listener: () => void): void;
  /** One command, sent to the node serving `routingKey`. */
  command(routingKey: string, args: readonly string[]): Promise<unknown>;
  /** EVAL of a script on the node serving keys[0]; every key must share one hash tag on a cluster. */
  eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * Commands sent in order on ONE connection (a pipeline, not a transaction), to the node serving
   * `routingKey`. Used for a write followed by WAIT: WAIT counts the replicas that acknowledged the
   * writes of its own connection, so both must share one. When a client retries after a failover
   * (Sentinel's READONLY / reconnect, a cluster's MOVED), it retries the whole pipeline on the new
   * master, never the WAIT alone (a WAIT on a fresh connection acknowledges nothing it wrote).
   */
  pipeline(routingKey: string, commands: readonly (readonly string[])[]): Promise<unknown[]>;
  /** Classic pub/sub: `listener` receives each message published on `channel`. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  close(): Promise<void>;
}

export interface RedisConnectionOptions {
  /** Bound of one connection attempt (ms). */
  connectTimeoutMs: number;
  /** Longest pause between two reconnection attempts (ms). */
  maxReconnectDelayMs?: number;
}

type SingleClient = ReturnType<typeof createClient>;
type SentinelClient = ReturnType<typeof createSentinel>;
type ClusterClient = ReturnType<typeof createCluster>;
export type RawRedis = SingleClient | SentinelClient | ClusterClient;

export function createRedisConnection(settings: RedisConnectionSettings, options: RedisConnectionOptions): RedisConnection {
  switch (topologyOf(settings)) {
    case "sentinel":
      return new SentinelConnection(settings as Extract<RedisConnectionSettings, { sentinel: unknown }>, options);
    case "cluster":
      return new ClusterConnection(settings as Extract<RedisConnectionSettings, { cluster: unknown }>, options);
    default:
      return new SingleConnection((settings as Extract<RedisConnectionSettings, { url: string }>).url, options);
  }
}

function socketOptions(o: RedisConnectionOptions, tls: boolean) {
  const max = o.maxReconnectDelayMs ?? 2_000;
  return {
    connectTimeout: o.connectTimeoutMs,
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), max),
    ...(tls ? { tls: true as const } : {}),
  };
}

const asArgs = (args: readonly string[]): string[] => [...args];
const evalArgs = (script: string, keys: readonly string[], args: readonly string[]): string[] =>
  ["EVAL", script, String(keys.length), ...keys, ...args];

/** Closes a node-redis client within a second, else drops its sockets. */
async function closeBounded(c: { isOpen: boolean; close(): Promise<unknown>; destroy(): unknown }): Promise<void> {
  try {
    if (c.isOpen) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        c.close(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("close timed out")), 1_000);
        }),
      ]).finally(() => clearTimeout(timer));
    } else {
      await c.destroy();
    }
  } catch {
    try {
      await c.destroy();
    } catch {
      // already gone
    }
  }
}

abstract class BaseConnection {
  readonly #errorListeners: ((e: unknown) => void)[] = [];
  readonly #readyListeners: (() => void)[] = [];
  #closed = false;
  #starting: Promise<void> | undefined;
  protected readonly options: RedisConnectionOptions;

  constructor(options: RedisConnectionOptions) {
    this.options = options;
  }

  protected get closed(): boolean {
    return this.#closed;
  }

  onError(listener: (error: unknown) => void): void {
    this.#errorListeners.push(listener);
  }

  onReady(listener: () => void): void {
    this.#readyListeners.push(listener);
  }

  protected emitError = (e: unknown): void => {
    for (const l of this.#errorListeners) l(e);
  };

  protected emitReady = (): void => {
    for (const l of this.#readyListeners) l();
  };

  protected abstract open(): Promise<void>;
  protected abstract shut(): Promise<void>;

  connect(): Promise<void> {
    this.#starting ??= this.open().catch((e: unknown) => {
      this.#starting = undefined;
      throw e;
    });
    return this.#starting;
  }

  /** Sentinel and cluster clients do not retry a failed first connection by themselves: we do. */
  start(): void {
    const attempt = async (n: number): Promise<void> => {
      if (this.#closed) return;
      try {
        await this.connect();
      } catch (e) {
        this.emitError(e);
        if (this.#closed) return;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(n, 5), this.options.maxReconnectDelayMs ?? 2_000)).unref());
        await attempt(n + 1);
      }
    };
    void attempt(0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.shut();
  }
}

class SingleConnection extends BaseConnection implements RedisConnection {
  readonly topology = "single" as const;
  readonly raw: SingleClient;
  #subscriber: SingleClient | undefined;

  constructor(url: string, options: RedisConnectionOptions) {
    super(options);
    this.raw = createClient({ url, disableOfflineQueue: true, socket: socketOptions(options, false) });
    this.raw.on("error", this.emitError);
    this.raw.on("ready", this.emitReady);
  }

  get isReady(): boolean {
    return this.raw.isReady;
  }

  protected async open(): Promise<void> {
    if (!this.raw.isOpen) await this.raw.connect();
  }

  command(_routingKey: string, args: readonly string[]): Promise<unknown> {
    return this.raw.sendCommand(asArgs(args));
  }

  eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.raw.sendCommand(evalArgs(script, keys, args));
  }

  pipeline(_routingKey: string, commands: readonly (readonly string[])[]): Promise<unknown[]> {
    const m = this.raw.multi();
    for (const c of commands) m.addCommand(asArgs(c));
    return m.execAsPipeline() as Promise<unknown[]>;
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    if (!this.#subscriber) {
      const s = this.raw.duplicate();
      s.on("error", () => undefined); // the main client reports the same outage
      this.#subscriber = s;
      await s.connect();
    }
    await this.#subscriber.subscribe(channel, (message) => listener(String(message)));
  }

  protected async shut(): Promise<void> {
    if (this.#subscriber) await closeBounded(this.#subscriber);
    await closeBounded(this.raw);
  }
}

class SentinelConnection extends BaseConnection implements RedisConnection {
  readonly topology = "sentinel" as const;
  readonly raw: SentinelClient;

  constructor(settings: Extract<RedisConnectionSettings, { sentinel: unknown }>, options: RedisConnectionOptions) {
    super(options);
    const s = settings.sentinel;
    this.raw = createSentinel({
      name: s.name,
      sentinelRootNodes: s.sentinels.map((n) => ({ host: n.host, port: n.port })),
      masterPoolSize: s.masterPoolSize,
      // Commands that meet a demoted master (READONLY) or a dropped connection ask the sentinels
      // again and are retried on the new master (node-redis sentinel `execute`), a few times.
      maxCommandRediscovers: 8,
      passthroughClientErrorEvents: true,
      nodeClientOptions: {
        ...(s.username ? { username: s.username } : {}),
        ...(s.password ? { password: s.password } : {}),
        disableOfflineQueue: true,
        socket: socketOptions(options, s.tls),
      },
      sentinelClientOptions: {
        ...(s.sentinelUsername ? { username: s.sentinelUsername } : {}),
        ...(s.sentinelPassword ? { password: s.sentinelPassword } : {}),
        socket: socketOptions(options, s.tls),
      },
    });
    this.raw.on("error", this.emitError);
    this.raw.on("ready", this.emitReady);
    // A master switch the sentinels announced: the next command goes to the new master.
    this.raw.on("topology-change", (event: { type?: string }) => {
      if (event?.type === "MASTER_CHANGE") this.emitReady();
    });
  }

  get isReady(): boolean {
    return this.raw.isReady;
  }

  protected async open(): Promise<void> {
    if (!this.raw.isOpen) await this.raw.connect();
  }

  command(_routingKey: string, args: readonly string[]): Promise<unknown> {
    return this.raw.sendCommand(false, asArgs(args));
  }

  eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.raw.sendCommand(false, evalArgs(script, keys, args));
  }

  pipeline(_routingKey: string, commands: readonly (readonly string[])[]): Promise<unknown[]> {
    const m = this.raw.multi();
    for (const c of commands) m.addCommand(false, asArgs(c));
    return m.execAsPipeline() as Promise<unknown[]>;
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    await this.raw.subscribe(channel, (message) => listener(String(message)));
  }

  protected async shut(): Promise<void> {
    await closeBounded(this.raw);
  }
}

class ClusterConnection extends BaseConnection implements RedisConnection {
  readonly topology = "cluster" as const;
  readonly raw: ClusterClient;

  constructor(settings: Extract<RedisConnectionSettings, { cluster: unknown }>, options: RedisConnectionOptions) {
    super(options);
    const first = new URL(settings.cluster.rootNodes[0]!);
    this.raw = createCluster({
      rootNodes: settings.cluster.rootNodes.map((url) => ({ url })),
      // Connections to discovered nodes take these, not the root URLs' (node-redis cluster docs).
      defaults: {
        ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
        ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
        disableOfflineQueue: true,
        socket: socketOptions(options, first.protocol === "rediss:"),
      },
      useReplicas: false,
      // A master that stops answering: after this long reconnecting, ask the other nodes for the
      // slot map again (a replica may have been promoted), instead of the 5 s default.
      topologyRefreshOnReconnectionAttemptStrategy: 500,
    });
    this.raw.on("error", this.emitError);
    this.raw.on("node-error", this.emitError);
    this.raw.on("node-ready", this.emitReady);
  }

  get isReady(): boolean {
    return this.raw.isReady;
  }

  protected async open(): Promise<void> {
    if (!this.raw.isOpen) await this.raw.connect();
  }

  command(routingKey: string, args: readonly string[]): Promise<unknown> {
    return this.raw.sendCommand(routingKey, false, asArgs(args));
  }

  eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.raw.sendCommand(keys[0], false, evalArgs(script, keys, args));
  }

  pipeline(routingKey: string, commands: readonly (readonly string[])[]): Promise<unknown[]> {
    const m = this.raw.multi(routingKey);
    for (const c of commands) m.addCommand(routingKey, false, asArgs(c));
    return m.execAsPipeline() as Promise<unknown[]>;
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    await this.raw.subscribe(channel, (message) => listener(String(message)));
  }

  protected async shut(): Promise<void> {
    await closeBounded(this.raw);
  }
}
