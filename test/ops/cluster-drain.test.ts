/**
 * The drain in production mode (`dist/src/cluster.js`, two workers on one port): SIGTERM to the
 * supervisor reaches every worker; /readyz is 503 on every worker during server.shutdownDelayMs,
 * then connections are refused, the exchanges in flight on both workers finish with 200, and the
 * supervisor exits 0 once every worker has. A second signal stops every worker at once: exit 3;
 * a worker that cannot even run its own grace timer is killed 5 s past the grace: exit 3.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, TestRedis } from "../support/redis-process.js";
import { events, exchange, killAll, outcome, readyz, request, sleep, startProcess, until, writeConfig, type Running } from "./processes.js";

const redises: TestRedis[] = [];
afterEach(async () => {
  for (const r of redises.splice(0)) await r.destroy();
});
afterAll(() => killAll());

async function cluster(name: string, server: Record<string, number>): Promise<{ r: Running; port: number; store: TestRedis }> {
  const store = await TestRedis.start();
  redises.push(store);
  const port = await freePort();
  const r = startProcess("cluster", writeConfig(name, store.url, (c) => void (c.server = server)), port, ["--workers", "2"]);
  await until("2 workers listening", () => {
    if (r.child.exitCode !== null) throw new Error(`cluster exited ${r.child.exitCode}: ${r.err()}`);
    return events(r, "worker_listening").length >= 2;
  });
  await until("/readyz 200", async () => (await readyz(port)) === 200);
  return { r, port, store };
}

describe("cluster drain", () => {
  it("SIGTERM: every worker 503 on readyz during the delay, then refused; exchanges in flight on both workers 200; exit 0", async () => {
    const DELAY_MS = 3_000;
    const { r, port, store } = await cluster("drain", { shutdownGraceMs: 25_000, shutdownDelayMs: DELAY_MS });
    store.pause();
    let done = 0;
    // Twelve connections: the supervisor hands them round-robin to both workers.
    const inflight = Array.from({ length: 12 }, () => exchange(port).finally(() => done++));
    await sleep(600);
    expect(done).toBe(0);
    const t0 = Date.now();
    r.child.kill("SIGTERM");
    await until("both workers draining", () => events(r, "shutdown_draining").length === 2, 10_000);
    expect(events(r, "shutdown_draining").reduce((n, e) => n + Number(e.in_flight), 0)).toBe(12);
    expect(events(r, "shutdown_draining").every((e) => Number(e.in_flight) > 0), "in flight on both workers").toBe(true);
    // New connections during the delay (whichever worker takes them): not ready, told to close.
    for (let i = 0; i < 4; i++) {
      const x = await request(port, "GET", "/readyz");
      expect(x.status).toBe(503);
      expect(x.headers.connection).toBe("close");
    }
    await until("new connections refused", async () => (await readyz(port)) === "ECONNREFUSED", 20_000);
    const refusedAfter = Date.now() - t0;
    store.resume();
    const results = await Promise.all(inflight);
    expect(results.map((x) => x.status)).toEqual(inflight.map(() => 200));
    const exit = await r.exited;
    expect(exit.code).toBe(0);
    expect(r.err()).toMatch(/SIGTERM: draining 2 worker\(s\)/);
    expect(r.err()).toMatch(/stopped \(exit 0\)/);
    expect(events(r, "worker_stopped").map((e) => e.code)).toEqual([0, 0]);
    expect(refusedAfter).toBeGreaterThanOrEqual(DELAY_MS - 50);
    console.log(`cluster drain: refused from ${refusedAfter} ms, exit 0 at ${exit.at - t0} ms after SIGTERM`);
  }, 120_000);

  it("a second signal to the supervisor stops every worker at once: exchanges still stuck are cut off, exit 3", async () => {
    const { r, port, store } = await cluster("twice", { shutdownGraceMs: 60_000 });
    store.pause();
    const stuck = Array.from({ length: 4 }, () => outcome(exchange(port)));
    await sleep(600);
    r.child.kill("SIGTERM");
    await until("both workers draining", () => events(r, "shutdown_draining").length === 2, 10_000);
    const t0 = Date.now();
    r.child.kill("SIGTERM");
    const exit = await r.exited;
    store.resume();
    expect(exit.code).toBe(3);
    expect(r.err()).toMatch(/SIGTERM again: stopping 2 worker\(s\) now/);
    expect(events(r, "worker_stopped").map((e) => e.code)).toEqual([3, 3]);
    expect(await Promise.all(stuck)).toEqual(["ECONNRESET", "ECONNRESET", "ECONNRESET", "ECONNRESET"]);
    expect(exit.at - t0).toBeLessThan(30_000);
    console.log(`cluster second signal: exit 3 ${exit.at - t0} ms after it`);
  }, 120_000);

  it("a worker too stuck to run its own grace timer (SIGSTOPped) is killed by the supervisor 5 s past the grace: exit 3", async () => {
    const GRACE_MS = 1_000;
    const { r } = await cluster("stuck", { shutdownGraceMs: GRACE_MS });
    const [stuck, other] = events(r, "worker_listening").map((e) => Number(e.pid));
    process.kill(stuck!, "SIGSTOP");
    const t0 = Date.now();
    r.child.kill("SIGTERM");
    const exit = await r.exited;
    expect(exit.code).toBe(3);
    expect(r.err()).toMatch(/workers still running 6000 ms after SIGTERM: killing them/);
    const stopped = events(r, "worker_stopped");
    expect(stopped.find((e) => e.signal === "SIGKILL")).toBeDefined();
    expect(stopped.find((e) => e.code === 0)).toBeDefined();
    expect(() => process.kill(stuck!, 0)).toThrow();
    expect(() => process.kill(other!, 0)).toThrow();
    expect(exit.at - t0).toBeGreaterThanOrEqual(GRACE_MS + 5_000 - 50);
    console.log(`stuck worker: killed, supervisor exit 3 at ${exit.at - t0} ms after SIGTERM (grace ${GRACE_MS} ms + 5 s)`);
  }, 120_000);
});
