/**
 * A redis-server of the test's own, on a free port, started and stopped by PID (never the shared
 * one on 6379): restarted with or without persistence, stalled with SIGSTOP, flushed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";

const REDIS_SERVER = "/usr/bin/redis-server";

export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
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

export interface RedisOptions {
  /** AOF with appendfsync always in a private directory kept across restarts. */
  persistent?: boolean;
  /** Allow DEBUG SLEEP. */
  debug?: boolean;
  /** Start as a replica of this port. */
  replicaOf?: number;
}

export class TestRedis {
  readonly port: number;
  readonly url: string;
  readonly #dir = mkdtempSync(join(tmpdir(), "fedbridge-redis-"));
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(o: RedisOptions = {}): Promise<TestRedis> {
    const r = new TestRedis(await freePort());
    await r.start(o);
    return r;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(o: RedisOptions = {}): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--dir", this.#dir];
    args.push(...(o.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]));
    if (o.debug) args.push("--enable-debug-command", "yes");
    if (o.replicaOf !== undefined) args.push("--replicaof", "127.0.0.1", String(o.replicaOf));
    const child = spawn(REDIS_SERVER, args, { stdio: "ignore" });
    this.#child = child;
    let spawnError: Error | undefined;
    child.on("error", (e) => {
      spawnError = e;
    });
    const probe = plainClient(this.url, 500);
    try {
      await waitUntil(async () => {
        if (spawnError) throw new Error(`cannot run ${REDIS_SERVER}: ${spawnError.message}`);
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        if (!probe.isOpen) await probe.connect();
        return (await probe.ping()) === "PONG";
      }, 5_000, `redis-server on port ${this.port} did not start`);
    } finally {
      if (probe.isOpen) await probe.close();
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

  stop(): void {
    this.#child?.kill("SIGSTOP");
  }

  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** A one-off command on a fresh connection. */
  async command(...args: string[]): Promise<unknown> {
    const c = plainClient(this.url);
    await c.connect();
    try {
      return await c.sendCommand(args);
    } finally {
      await c.close();
    }
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
