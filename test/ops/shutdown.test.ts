/**
 * Rolling deploys: SIGTERM/SIGINT to the deployed `node dist/src/main.js`. /readyz turns 503 first
 * (healthz stays 200), new connections are accepted for server.shutdownDelayMs and told
 * `Connection: close`, then refused; the exchanges in flight finish with 200; Redis closes; exit
 * 0. Past server.shutdownGraceMs, or on a second signal, the drain is cut: exit 3.
 * Exchanges are held in flight by a redis-server of the test's own, stopped with SIGSTOP.
 */
import { connect } from "node:net";
import { once } from "node:events";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, TestRedis } from "../support/redis-process.js";
import { events, exchange, killAll, outcome, readyz, ready, request, sleep, startProcess, until, writeConfig } from "./processes.js";

const redises: TestRedis[] = [];
async function redis(): Promise<TestRedis> {
  const r = await TestRedis.start();
  redises.push(r);
  return r;
}
afterEach(async () => {
  for (const r of redises.splice(0)) await r.destroy();
});
afterAll(() => killAll());

describe("SIGTERM drains main.js", () => {
  it("readyz 503 at once, healthz 200, connections during the delay say Connection: close, then refused; in-flight exchanges 200; Redis closed; exit 0", async () => {
    const store = await redis();
    const DELAY_MS = 3_000;
    const config = writeConfig("drain", store.url, (c) => void (c.server = { shutdownGraceMs: 25_000, shutdownDelayMs: DELAY_MS }));
    const port = await freePort();
    const r = startProcess("main", config, port);
    await ready(r, port);
    expect((await exchange(port)).status).toBe(200);

    // Redis held still: each exchange waits at its replay step, certainly in flight at SIGTERM.
    store.pause();
    let done = 0;
    const inflight = Array.from({ length: 6 }, () => exchange(port).finally(() => done++));
    await sleep(500);
    expect(done, "exchanges finished before SIGTERM").toBe(0);
    const t0 = Date.now();
    r.child.kill("SIGTERM");
    await until("the drain to start", () => /SIGTERM: draining/.test(r.err()), 10_000);

    // During the delay: still accepting, but not ready; liveness unaffected; every response closes its connection.
    const notReady = await request(port, "GET", "/readyz");
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toEqual({ status: "draining" });
    expect(notReady.headers.connection).toBe("close");
    const live = await request(port, "GET", "/healthz");
    expect(live.status).toBe(200);
    expect(live.headers.connection).toBe("close");
    const duringDelay = Date.now() - t0;

    // After the delay the listener is closed: new connections are refused.
    await until("new connections refused", async () => (await readyz(port)) === "ECONNREFUSED", 20_000);
    const refusedAfter = Date.now() - t0;
    expect(r.child.exitCode, "still running: exchanges are in flight").toBeNull();
    expect(done).toBe(0);

    store.resume();
    const results = await Promise.all(inflight);
    expect(results.map((x) => x.status)).toEqual(inflight.map(() => 200));
    // Their connections were told to close (RFC 9112 §9.6): a keep-alive client reconnects elsewhere.
    for (const x of results) expect(x.headers.connection).toBe("close");
    const exit = await r.exited;
    expect(exit.code).toBe(0);
    expect(r.err()).toMatch(/fedbridge: stopped/);
    const [complete] = events(r, "shutdown_complete");
    expect(complete).toMatchObject({ outcome: "drained", redis_closed: true });
    expect(events(r, "shutdown_draining")[0]).toMatchObject({ in_flight: 6, delay_ms: DELAY_MS, grace_ms: 25_000 });
    // Measured, not asserted against a speed: the refusal comes after the delay, the exit within the grace.
    expect(refusedAfter).toBeGreaterThanOrEqual(DELAY_MS - 50);
    expect(exit.at - t0).toBeLessThan(25_000);
    console.log(`drain: 503 seen ${duringDelay} ms after SIGTERM, refused from ${refusedAfter} ms, exit 0 at ${exit.at - t0} ms`);
  }, 90_000);

  it("SIGINT does the same; an idle keep-alive connection is closed at once, and with nothing in flight the exit is prompt", async () => {
    const store = await redis();
    const config = writeConfig("idle", store.url, (c) => void (c.server = { shutdownGraceMs: 20_000, keepAliveTimeoutMs: 60_000 }));
    const port = await freePort();
    const r = startProcess("main", config, port);
    await ready(r, port);
    // A keep-alive connection, idle after one answered request (keep-alive 60 s: only the drain closes it).
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString()));
    await until("the healthz answer", () => text.includes('{"status":"ok"}'), 10_000);
    expect(text).toMatch(/keep-alive/i);
    const closed = once(socket, "close").then(() => Date.now());
    const t0 = Date.now();
    r.child.kill("SIGINT");
    const exit = await r.exited;
    expect(exit.code).toBe(0);
    expect(await closed).toBeLessThanOrEqual(exit.at + 1_000);
    expect(r.err()).toMatch(/SIGINT: draining/);
    expect(events(r, "shutdown_complete")[0]).toMatchObject({ outcome: "drained", redis_closed: true });
    console.log(`idle drain: exit 0 ${exit.at - t0} ms after SIGINT (keep-alive timeout 60 s)`);
    expect(exit.at - t0).toBeLessThan(20_000);
  }, 60_000);

  it("grace expiry cuts the drain: an exchange still stuck when server.shutdownGraceMs is over is cut off, exit 3", async () => {
    const store = await redis();
    const GRACE_MS = 2_000;
    const config = writeConfig("grace", store.url, (c) => void (c.server = { shutdownGraceMs: GRACE_MS }));
    const port = await freePort();
    const r = startProcess("main", config, port);
    await ready(r, port);
    store.pause();
    const stuck = outcome(exchange(port));
    await sleep(500);
    const t0 = Date.now();
    r.child.kill("SIGTERM");
    const exit = await r.exited;
    store.resume();
    expect(exit.code).toBe(3);
    expect(await stuck).toBe("ECONNRESET");
    expect(r.err()).toMatch(/shutdown cut short \(exit 3\)/);
    expect(events(r, "shutdown_grace_expired")[0]).toMatchObject({ in_flight: 1 });
    expect(events(r, "shutdown_complete")[0]).toMatchObject({ outcome: "expired" });
    expect(exit.at - t0).toBeGreaterThanOrEqual(GRACE_MS - 50);
    console.log(`grace ${GRACE_MS} ms: exit 3 at ${exit.at - t0} ms after SIGTERM`);
  }, 60_000);

  it("a second signal stops at once: exit 3, well before the grace", async () => {
    const store = await redis();
    const config = writeConfig("twice", store.url, (c) => void (c.server = { shutdownGraceMs: 60_000 }));
    const port = await freePort();
    const r = startProcess("main", config, port);
    await ready(r, port);
    store.pause();
    const stuck = outcome(exchange(port));
    await sleep(500);
    r.child.kill("SIGTERM");
    await until("the drain to start", () => /SIGTERM: draining/.test(r.err()), 10_000);
    await sleep(300);
    expect(r.child.exitCode).toBeNull();
    const t0 = Date.now();
    r.child.kill("SIGINT");
    const exit = await r.exited;
    store.resume();
    expect(exit.code).toBe(3);
    expect(r.err()).toMatch(/SIGINT again: stopping now/);
    expect(await stuck).toBe("ECONNRESET");
    expect(exit.at - t0).toBeLessThan(30_000);
    console.log(`second signal: exit 3 ${exit.at - t0} ms after it`);
  }, 60_000);

  it("a stalled Redis does not hold the exit: with nothing in flight, SIGTERM while Redis is stopped is exit 0 within the grace", async () => {
    const store = await redis();
    const GRACE_MS = 15_000;
    const config = writeConfig("stalled-close", store.url, (c) => void (c.server = { shutdownGraceMs: GRACE_MS }));
    const port = await freePort();
    const r = startProcess("main", config, port);
    await ready(r, port);
    store.pause();
    const t0 = Date.now();
    r.child.kill("SIGTERM");
    const exit = await r.exited;
    store.resume();
    expect(events(r, "shutdown_complete")[0]).toMatchObject({ outcome: "drained", redis_closed: true });
    expect(exit.code).toBe(0);
    expect(exit.at - t0).toBeLessThan(GRACE_MS);
    console.log(`stalled Redis at shutdown: exit 0 at ${exit.at - t0} ms`);
  }, 60_000);
});

describe("readiness: ready only when config, keys, metadata and the replay store are", () => {
  it("with the replay store unreachable the process is live (healthz 200) but not ready (readyz 503 replay_store down); ready once Redis answers", async () => {
    const port = await freePort();
    const redisPort = await freePort();
    const config = writeConfig("not-ready", `redis://127.0.0.1:${redisPort}`);
    const r = startProcess("main", config, port);
    await until("listening", () => /listening on/.test(r.err()), 20_000);
    expect((await request(port, "GET", "/healthz")).status).toBe(200);
    const first = await request(port, "GET", "/readyz");
    expect(first.status).toBe(503);
    expect(JSON.parse(first.body)).toMatchObject({ status: "unavailable", replay_store: "down" });
    // The store comes up on the configured port: the bridge (re)connects and becomes ready.
    const late = await startRedisOn(redisPort);
    await until("ready once Redis answers", async () => (await readyz(port)) === 200, 30_000);
    await late.destroy();
    r.child.kill("SIGTERM");
    expect((await r.exited).code).not.toBeNull();
  }, 60_000);

  it("config, keys and metadata gate the port itself: a missing metadata file or key is exit 1 and the port never opens", async () => {
    const store = await redis();
    for (const [name, patch] of [
      ["no-metadata", (c: Record<string, any>) => void (c.samlIdps[0].metadataFile = "/nonexistent/idp1.xml")],
      ["no-key", (c: Record<string, any>) => void (c.signing.keys[0].privateKeyFile = "/nonexistent/signing.pem")],
      ["bad-drain", (c: Record<string, any>) => void (c.server = { shutdownGraceMs: 1_000, shutdownDelayMs: 1_000 })],
    ] as const) {
      const port = await freePort();
      const r = startProcess("main", writeConfig(name, store.url, patch), port);
      const exit = await r.exited;
      expect(exit.code, name).toBe(1);
      expect(await readyz(port), name).toBe("ECONNREFUSED");
      if (name === "bad-drain") expect(r.err()).toMatch(/server\.shutdownDelayMs: must be below server\.shutdownGraceMs/);
    }
  }, 60_000);
});

/** A redis-server on a given (free) port: TestRedis picks its own, so this one is started by hand. */
async function startRedisOn(port: number): Promise<{ destroy(): Promise<void> }> {
  const { spawn } = await import("node:child_process");
  const child = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  return {
    destroy: async () => {
      if (child.exitCode !== null) return;
      const gone = once(child, "exit");
      child.kill("SIGKILL");
      await gone;
    },
  };
}
