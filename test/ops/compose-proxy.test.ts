/**
 * The compose proxy (deploy/compose/haproxy.cfg) without a container engine: `haproxy -c` on the
 * shipped file, then the shipped file run for real by Debian's haproxy in front of two bridge
 * replicas (`dist/src/main.js` on loopback ports, one redis-server of the test's own, the compose
 * config's drain settings): only the service discovery differs (Docker's DNS `bridge:8080` becomes
 * the two loopback addresses). A rolling restart of both replicas under a steady stream of token
 * exchanges through the proxy loses none: the stopping replica's /readyz turns 503, the proxy's
 * checks take it out, its in-flight exchanges finish, it exits 0, comes back and is put back.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { freePort, TestRedis } from "../support/redis-process.js";
import { events, exchange, killAll, readyz, ROOT, sleep, startProcess, until, writeConfig, type Running } from "./processes.js";

const HAPROXY = "/usr/sbin/haproxy";
const CFG = join(ROOT, "deploy", "compose", "haproxy.cfg");
const shipped = readFileSync(CFG, "utf8");
const compose = parse(readFileSync(join(ROOT, "config", "fedbridge.compose.yaml"), "utf8")) as { server: { shutdownDelayMs: number; shutdownGraceMs: number } };

let haproxy: ChildProcess | undefined;
let store: TestRedis;
beforeAll(async () => {
  store = await TestRedis.start();
});
afterAll(async () => {
  haproxy?.kill("SIGKILL");
  killAll();
  await store.destroy();
});

describe("deploy/compose/haproxy.cfg", () => {
  it("is valid for haproxy (-c), and discovers the replicas by DNS with /readyz checks", () => {
    const r = spawnSync(HAPROXY, ["-c", "-f", CFG], { encoding: "utf8" });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(shipped).toMatch(/^\s+server-template bridge \d+ bridge:8080 resolvers docker init-addr none$/m);
    expect(shipped).toMatch(/^\s+http-check send meth GET uri \/readyz$/m);
    expect(shipped).toMatch(/^\s+retry-on conn-failure$/m);
    // The proxy's checks take a replica out before its listener closes: fall x inter <= shutdownDelayMs.
    const inter = Number(/inter (\d+)s/.exec(shipped)![1]) * 1000;
    const fall = Number(/fall (\d+)/.exec(shipped)![1]);
    expect(fall * inter).toBeLessThan(compose.server.shutdownDelayMs);
  });

  it("a rolling restart of two replicas behind it loses no exchange", async () => {
    const ports = [await freePort(), await freePort()];
    const proxyPort = await freePort();
    const config = writeConfig("proxy", store.url, (c) => void (c.server = { ...compose.server }));
    const replicas: Running[] = [];
    const start = async (i: number): Promise<void> => {
      replicas[i] = startProcess("main", config, ports[i]!);
      await until(`replica ${i} ready`, async () => {
        if (replicas[i]!.child.exitCode !== null) throw new Error(replicas[i]!.err());
        return (await readyz(ports[i]!)) === 200;
      });
    };
    await start(0);
    await start(1);

    // The shipped file; only discovery and the listen address differ.
    const local = shipped
      .replace(/^resolvers docker\n(?:[ \t]+.*\n)+/m, "")
      .replace(/^\s+bind :8080$/m, `    bind 127.0.0.1:${proxyPort}`)
      .replace(/^\s+server-template .*$/m, ports.map((p, i) => `    server bridge${i + 1} 127.0.0.1:${p}`).join("\n"));
    expect(local).not.toBe(shipped);
    expect(local).not.toMatch(/resolvers|server-template/);
    const file = join(mkdtempSync(join(tmpdir(), "fedbridge-haproxy-")), "haproxy.cfg");
    writeFileSync(file, local);
    let proxyLog = "";
    haproxy = spawn(HAPROXY, ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
    haproxy.stdout!.on("data", (d: Buffer) => (proxyLog += d.toString()));
    haproxy.stderr!.on("data", (d: Buffer) => (proxyLog += d.toString()));
    await until("the proxy", async () => (await readyz(proxyPort)) === 200, 20_000);

    // A steady stream of exchanges through the proxy, each on a new connection, until told to stop.
    const statuses: (number | string)[] = [];
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        statuses.push(await exchange(proxyPort).then((r) => r.status, (e: NodeJS.ErrnoException) => e.code ?? "error"));
        await sleep(50);
      }
    })();

    const t0 = Date.now();
    const timeline: string[] = [];
    for (const i of [0, 1]) {
      const before = events(replicas[i]!, "token_exchange").length;
      await until(`replica ${i} serving through the proxy`, () => events(replicas[i]!, "token_exchange").length > before + 3, 30_000);
      const r = replicas[i]!;
      r.child.kill("SIGTERM");
      const exit = await r.exited;
      expect(exit.code, r.err()).toBe(0);
      timeline.push(`replica ${i} drained and exited 0 at ${exit.at - t0} ms`);
      await start(i);
      // Put back after `rise` successful checks.
      const back = events(replicas[i]!, "token_exchange").length;
      await until(`replica ${i} back in rotation`, () => events(replicas[i]!, "token_exchange").length > back, 30_000);
      timeline.push(`replica ${i} back in rotation at ${Date.now() - t0} ms`);
    }
    streaming = false;
    await stream;
    const failed = statuses.filter((s) => s !== 200);
    console.log(`rolling restart through haproxy: ${statuses.length} exchanges, ${failed.length} not 200; ${timeline.join("; ")}`);
    expect(failed).toEqual([]);
    expect(statuses.length).toBeGreaterThan(20);
    // The proxy saw each replica go down (its /readyz 503) and come back.
    expect(proxyLog).toMatch(/bridge1 is DOWN/);
    expect(proxyLog).toMatch(/bridge2 is DOWN/);
  }, 180_000);
});
