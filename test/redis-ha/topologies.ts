/**
 * Real Redis topologies of the test's own, on free ports (never the shared 6379), started from the
 * redis-server / redis-sentinel binaries and stopped by PID: a master + replica + 3 sentinels with
 * a fast failover (down-after-milliseconds 500), and a 3-master cluster with one replica each
 * (cluster-node-timeout 1000).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePorts, REDIS_SERVER, RedisProcess, waitUntil } from "../support/redis-process.js";

const REDIS_SENTINEL = "/usr/bin/redis-sentinel";
const REDIS_CLI = "/usr/bin/redis-cli";
const run = promisify(execFile);

function serverArgs(port: number, dir: string, extra: string[] = []): string[] {
  return ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extra];
}

export const MASTER_NAME = "fbmaster";

export class SentinelSetup {
  readonly dir = mkdtempSync(join(tmpdir(), "fedbridge-sentinel-"));
  master!: RedisProcess;
  replicas: RedisProcess[] = [];
  sentinels: RedisProcess[] = [];

  /**
   * Master + two replicas + three sentinels (quorum 2), failing over after 500 ms down. Two
   * replicas, so that WAIT 1 can still be met once one server is gone (the old master rejoins as a
   * replica only some seconds after a failover: Sentinel waits before reconfiguring it).
   */
  static async start(): Promise<SentinelSetup> {
    const s = new SentinelSetup();
    try {
      await s.#start();
    } catch (e) {
      await s.destroy();
      throw e;
    }
    return s;
  }

  async #start(): Promise<void> {
    const [m, r1, r2, ...sp] = await freePorts(6);
    mkdirs(this.dir, ["m", "r1", "r2", "s0", "s1", "s2"]);
    this.master = new RedisProcess(REDIS_SERVER, m!, serverArgs(m!, join(this.dir, "m")));
    this.replicas = [r1!, r2!].map((r, i) => new RedisProcess(REDIS_SERVER, r, serverArgs(r, join(this.dir, `r${i + 1}`), ["--replicaof", "127.0.0.1", String(m)])));
    await this.master.start();
    for (const r of this.replicas) {
      await r.start();
      await waitUntil(async () => /master_link_status:up/.test(String(await r.cmd("INFO", "replication"))), 10_000, "replica never synced");
    }
    this.sentinels = sp.map((p, i) => {
      const conf = join(this.dir, `s${i}`, "sentinel.conf");
      writeFileSync(conf, [
        `port ${p}`, "bind 127.0.0.1", `dir ${join(this.dir, `s${i}`)}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${m} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 500`,
        `sentinel failover-timeout ${MASTER_NAME} 3000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        "",
      ].join("\n"));
      return new RedisProcess(REDIS_SENTINEL, p, [conf]);
    });
    for (const s of this.sentinels) await s.start();
    // Sentinels find each other and the replica through hello messages (every 2 s).
    await waitUntil(async () => {
      for (const s of this.sentinels) {
        const replicas = (await s.cmd("SENTINEL", "REPLICAS", MASTER_NAME)) as unknown[];
        const others = (await s.cmd("SENTINEL", "SENTINELS", MASTER_NAME)) as unknown[];
        if (replicas.length < 2 || others.length < 2) return false;
      }
      return true;
    }, 30_000, "sentinels never discovered the replica and each other");
  }

  get sentinelNodes(): { host: string; port: number }[] {
    return this.sentinels.map((s) => ({ host: "127.0.0.1", port: s.port }));
  }

  /** The port the sentinels name as master now. */
  async masterPort(): Promise<number> {
    for (const s of this.sentinels) {
      try {
        const [, port] = (await s.cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)) as [string, string];
        return Number(port);
      } catch {
        // try the next sentinel
      }
    }
    throw new Error("no sentinel answered");
  }

  get servers(): RedisProcess[] {
    return [this.master, ...this.replicas];
  }

  /** A sentinel command through redis-cli (plain text, whatever the reply's shape). */
  async sentinelCli(...args: string[]): Promise<string> {
    const { stdout } = await run(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(this.sentinels[0]!.port), ...args], { timeout: 5_000 });
    return stdout;
  }

  byPort(port: number): RedisProcess {
    const p = this.servers.find((x) => x.port === port);
    if (!p) throw new Error(`no server on ${port}`);
    return p;
  }

  async destroy(): Promise<void> {
    await Promise.allSettled([...this.sentinels, ...this.servers].filter(Boolean).map((p) => p.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function mkdirs(root: string, names: string[]): void {
  for (const n of names) mkdirSync(join(root, n), { recursive: true });
}

export class ClusterSetup {
  readonly dir = mkdtempSync(join(tmpdir(), "fedbridge-cluster-"));
  nodes: RedisProcess[] = [];

  /** Three masters with one replica each, `cluster-node-timeout` 1000 ms. */
  static async start(): Promise<ClusterSetup> {
    const c = new ClusterSetup();
    try {
      await c.#start();
    } catch (e) {
      await c.destroy();
      throw e;
    }
    return c;
  }

  async #start(): Promise<void> {
    const ports = await freePorts(6, true);
    this.nodes = ports.map((p) => new RedisProcess(REDIS_SERVER, p, serverArgs(p, this.dir, [
      "--cluster-enabled", "yes", "--cluster-config-file", join(this.dir, `nodes-${p}.conf`), "--cluster-node-timeout", "1000",
      // A replica promoted however long its link was down: the test kills masters on purpose.
      "--cluster-replica-validity-factor", "0",
    ])));
    for (const n of this.nodes) await n.start();
    await run(REDIS_CLI, ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"], { timeout: 60_000 });
    await waitUntil(async () => {
      for (const n of this.nodes) if (!/cluster_state:ok/.test(String(await n.cmd("CLUSTER", "INFO")))) return false;
      return true;
    }, 30_000, "cluster never reached state ok");
  }

  get rootUrls(): string[] {
    return this.nodes.slice(0, 3).map((n) => n.url);
  }

  /** The node serving `key`'s slot as master now, asked of a live node. */
  async masterOf(key: string): Promise<RedisProcess> {
    for (const n of this.nodes.filter((x) => x.alive)) {
      try {
        const slot = Number(await n.cmd("CLUSTER", "KEYSLOT", key));
        const slots = (await n.cmd("CLUSTER", "SLOTS")) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        if (!range) continue;
        const port = Number(range[2][1]);
        const p = this.nodes.find((x) => x.port === port);
        if (p) return p;
      } catch {
        // ask another node
      }
    }
    throw new Error(`no master found for ${key}`);
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.nodes.map((p) => p.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
