/**
 * Redis processes of the test's own, for tests that kill, stall or restart Redis: redis-server or
 * redis-sentinel on a free port (never the shared one on 6379, support/redis-url.ts), started and
 * stopped by PID. RedisProcess is one process; TestRedis is one redis-server restarted with or
 * without persistence, stalled with SIGSTOP, flushed; redis-ha/topologies.ts builds Sentinel and
 * Cluster set-ups from RedisProcess.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";

export const REDIS_SERVER = "/usr/bin/redis-server";

/** A port nothing listens on now (the OS's pick for port 0). */
export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

/** Whether `port` can be listened on now. */
async function portFree(port: number): Promise<boolean> {
  const s = createServer();
  s.listen(port, "127.0.0.1");
  try {
    await Promise.race([once(s, "listening"), once(s, "error").then(([e]) => Promise.reject(e))]);
    return true;
  } catch {
    return false;
  } finally {
    if (s.listening) await new Promise((r) => s.close(r));
  }
}

/** `n` distinct free ports; `withBus`: each one's +10000 (the cluster bus port) free too. */
export async function freePorts(n: number, withBus = false): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (out.includes(p)) continue;
    if (withBus && (p + 10_000 > 65_535 || !(await portFree(p + 10_000)))) continue;
    out.push(p);
  }
  return out;
}

export const plainClient = (url: string, connectTimeout = 1_000) => {
  const client = createClient({ url, socket: { connectTimeout, reconnectStrategy: false } });
  client.on("error", () => undefined);
  return client;
};
export type PlainClient = ReturnType<typeof plainClient>;

export async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await cond().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One redis-server or redis-sentinel process, by PID; `kill` is SIGKILL (a crash). */
export class RedisProcess {
  readonly port: number;
  readonly url: string;
  protected argv: string[];
  readonly #bin: string;
  #child: ChildProcess | undefined;

  constructor(bin: string, port: number, argv: string[]) {
    this.#bin = bin;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.argv = argv;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Spawns the process and waits until it answers PING; one that cannot run or exits fails at once. */
  async start(): Promise<void> {
    const child = spawn(this.#bin, this.argv, { stdio: "ignore" });
    this.#child = child;
    let spawnError: Error | undefined;
    child.on("error", (e) => {
      spawnError = e;
    });
    const probe = plainClient(this.url, 500);
    try {
      await waitUntil(async () => {
        if (spawnError) throw new Error(`cannot run ${this.#bin}: ${spawnError.message}`);
        if (child.exitCode !== null) throw new Error(`${this.#bin} exited with ${child.exitCode}`);
        if (!probe.isOpen) await probe.connect();
        return (await probe.ping()) === "PONG";
      }, 10_000, `${this.#bin} on port ${this.port} did not start`);
    } finally {
      if (probe.isOpen) probe.destroy();
    }
  }

  /** SIGKILL: no shutdown save (what a crash or an OOM kill does). */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGCONT");
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  /** SIGSTOP: a stall (connections stay open, nothing is answered). */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** A one-off command on a fresh connection (bounded: a paused process fails it after 3 s). */
  async cmd(...args: string[]): Promise<unknown> {
    const c = plainClient(this.url, 1_000);
    await c.connect();
    try {
      return await Promise.race([
        c.sendCommand(args),
        new Promise((_, reject) => setTimeout(() => reject(new Error("command timed out")), 3_000).unref()),
      ]);
    } finally {
      c.destroy();
    }
  }
}

export interface RedisOptions {
  /** AOF with appendfsync always in a private directory kept across restarts. */
  persistent?: boolean;
  /** Allow DEBUG SLEEP. */
  debug?: boolean;
  /** Start as a replica of this port. */
  replicaOf?: number;
}

/** One redis-server with a private directory, restartable with other options (`start(o)`). */
export class TestRedis extends RedisProcess {
  readonly #dir = mkdtempSync(join(tmpdir(), "fedbridge-redis-"));

  private constructor(port: number) {
    super(REDIS_SERVER, port, []);
  }

  static async start(o: RedisOptions = {}): Promise<TestRedis> {
    const r = new TestRedis(await freePort());
    await r.start(o);
    return r;
  }

  override async start(o: RedisOptions = {}): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--dir", this.#dir];
    args.push(...(o.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]));
    if (o.debug) args.push("--enable-debug-command", "yes");
    if (o.replicaOf !== undefined) args.push("--replicaof", "127.0.0.1", String(o.replicaOf));
    this.argv = args;
    await super.start();
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
