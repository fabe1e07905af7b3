/**
 * The replay store never forgets silently: a Redis that comes back without the data it held (a
 * restart without persistence, FLUSHALL, a failover to an empty replica, a new server) closes the
 * token endpoint (503 replay_store_lost, Retry-After = the window) for as long as any token it
 * forgot could still pass its time checks; /readyz says so; only an audited operator action opens
 * it earlier. Real redis-servers this file starts on free ports and stops by PID; nothing mocked.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { reopenReplayStore, markerKey } from "../../src/replay/epoch.js";
import { baseConfig, exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { FIXTURES_DIR, IDP1_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { plainClient, TestRedis, waitUntil } from "../support/redis-process.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const PREFIX = "fedbridge:test:lost:";
/** harness: idp1..idp-ec maxAssertionAgeSeconds 300 (default), tokens.clockSkewSeconds 60: 300 + 2·60 + 1 s margin. */
const DEFAULT_WINDOW_S = 300 + 120 + 1;

const redises: TestRedis[] = [];
const bridges: TestBridge[] = [];
afterAll(async () => {
  await Promise.allSettled(bridges.map((b) => b.close()));
  await Promise.allSettled(redises.map((r) => r.destroy()));
});

async function redis(o: Parameters<typeof TestRedis.start>[0] = {}): Promise<TestRedis> {
  const r = await TestRedis.start(o);
  redises.push(r);
  return r;
}

/** What an operator does once for a brand-new store (audited): write the epoch marker. */
async function initialise(r: TestRedis, prefix = PREFIX): Promise<void> {
  const c = plainClient(r.url);
  await c.connect();
  await reopenReplayStore(c, prefix, { now: Date.now(), operator: "test", reason: "new store" });
  await c.close();
}

async function bridgeOn(r: TestRedis, patch?: (c: Record<string, any>) => void, timeoutMs = 1_000): Promise<TestBridge> {
  const b = await startBridge({
    patch: (c) => {
      c.replay = { store: "redis", redisUrl: r.url, keyPrefix: PREFIX, timeoutMs };
      patch?.(c);
    },
  });
  bridges.push(b);
  return b;
}

async function ready(b: TestBridge): Promise<void> {
  await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 5_000, "bridge never became ready");
}

/** An initialised store on `r`, a ready bridge on it, and one assertion that got a token. */
async function oneUsed(r: TestRedis, quarantineOnServerChange: boolean): Promise<{ b: TestBridge; used: string }> {
  await initialise(r);
  const b = await bridgeOn(r, (c) => {
    c.replay.quarantineOnServerChange = quarantineOnServerChange;
  });
  await ready(b);
  const used = signedAssertion(b);
  expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(200);
  return { b, used };
}

async function connected(b: TestBridge): Promise<void> {
  await waitUntil(async () => (await b.http.get("/readyz")).body.replay_store !== "down", 8_000, "bridge never connected");
}

function expectLost(res: { status: number; body: any; headers: Record<string, any> }, windowS: number, slackS = 5): void {
  expectError(res, 503, "temporarily_unavailable", "replay_store_lost");
  expect(res.body.access_token).toBeUndefined();
  const retry = Number(res.headers["retry-after"]);
  expect(retry).toBeGreaterThan(windowS - slackS);
  expect(retry).toBeLessThanOrEqual(windowS);
}

describe("a Redis restarted without persistence", () => {
  it("503 replay_store_lost for the computed window (also for the assertion used before), /readyz lost; then open again", async () => {
    const r = await redis();
    await initialise(r);
    const b = await bridgeOn(r);
    await ready(b);
    const used = signedAssertion(b);
    expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(200);
    expectError(await exchange(b, { xml: used, scope: "read" }), 400, "invalid_request", "replayed");

    await r.kill();
    await r.start(); // empty: no AOF, no RDB
    await waitUntil(async () => (await b.http.get("/readyz")).body.replay_store !== "down", 8_000, "bridge never reconnected");

    // The assertion used before the loss would pass every other check: it must not get a token.
    expectLost(await exchange(b, { xml: used, scope: "read" }), DEFAULT_WINDOW_S);
    expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), DEFAULT_WINDOW_S);
    const readyz = await b.http.get("/readyz");
    expect(readyz.status).toBe(503);
    expect(readyz.body.replay_store).toBe("lost");
    const reopensAt = Date.parse(readyz.body.replay_store_reopens_at);
    expect(Math.abs(reopensAt - (b.clock.now + DEFAULT_WINDOW_S * 1000))).toBeLessThan(5_000);
    const lost = b.logs.filter((l) => l.event === "replay_store_lost");
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ cause: "marker_missing", reopens_at: readyz.body.replay_store_reopens_at });

    // One second before the window ends: still closed; at its end: open, and logged.
    b.clock.advance(reopensAt - b.clock.now - 1_000);
    expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), 1, 1);
    b.clock.advance(1_000);
    expect((await b.http.get("/readyz")).status).toBe(200);
    const fresh = signedAssertion(b);
    expect((await exchange(b, { xml: fresh, scope: "read" })).status).toBe(200);
    expectError(await exchange(b, { xml: fresh, scope: "read" }), 400, "invalid_request", "replayed");
    // By then the forgotten assertion can no longer pass its time checks.
    expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(400);
    expect(b.logs.some((l) => l.event === "replay_store_reopened" && l.early === false)).toBe(true);
  });

  it("the window is computed from config: the longest maxAssertionAge / one-time JWT lifetime, plus twice the skew", async () => {
    const cases: { patch: (c: Record<string, any>) => void; windowS: number }[] = [
      { patch: (c) => { c.samlIdps[1].maxAssertionAgeSeconds = 900; }, windowS: 900 + 120 + 1 },
      { patch: (c) => { c.tokens.clockSkewSeconds = 10; }, windowS: 300 + 20 + 1 },
      {
        patch: (c) => {
          c.jwtIssuers = [{
            id: "ci", issuer: "https://ci.example", jwksFile: join(FIXTURES_DIR, "jwks/ci.jwks.json"), audiences: ["fedbridge"],
            oneTimeUse: true, maxLifetimeSeconds: 3_600,
          }];
        },
        windowS: 3_600 + 120 + 1,
      },
      // Tokens that are not one-time never touch the store: they do not lengthen the window.
      {
        patch: (c) => {
          c.jwtIssuers = [{ id: "ci", issuer: "https://ci.example", jwksFile: join(FIXTURES_DIR, "jwks/ci.jwks.json"), audiences: ["fedbridge"], maxLifetimeSeconds: 3_600 }];
        },
        windowS: DEFAULT_WINDOW_S,
      },
    ];
    for (const c of cases) {
      const r = await redis();
      // No marker, and initializeEmptyStore off: a store the bridge has never seen counts as lost.
      const b = await bridgeOn(r, (cfg) => {
        c.patch(cfg);
        cfg.replay.initializeEmptyStore = false;
      });
      await connected(b);
      expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), c.windowS);
      await b.close();
      bridges.splice(bridges.indexOf(b), 1);
    }
  });
});

describe("the window covers IdPs an admin added at run time", () => {
  it("an admin-managed IdP with maxAssertionAgeSeconds 1800 lengthens the window to 1800 + 2·skew + 1 s", async () => {
    const r = await redis();
    await initialise(r);
    const token = "admin-token-for-tests-only-0123456789";
    const b = await bridgeOn(r, (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: `sha256:${createHash("sha256").update(token).digest("base64url")}` }], store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-admin-")) } };
    });
    await ready(b);
    const put = await b.http.put("/admin/idps/dyn").set({ Authorization: `Bearer ${token}` })
      .send({ metadata: metadataFor("https://dyn.test/idp", [IDP1_CERT]), maxAssertionAgeSeconds: 1_800, mapping: { scopes: [{ grant: ["read"] }] } });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    await r.cmd("FLUSHALL");
    expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), 1_800 + 120 + 1);
  });
});

describe("lost without a reconnect", () => {
  it("FLUSHALL and FLUSHDB: the next exchange (same connection) is 503 replay_store_lost, on every instance", async () => {
    for (const flush of [["FLUSHALL"], ["FLUSHDB"], ["FLUSHALL", "ASYNC"]]) {
      const r = await redis();
      await initialise(r);
      const a = await bridgeOn(r);
      const b = await bridgeOn(r);
      await ready(a);
      await ready(b);
      b.clock.now = a.clock.now;
      const used = signedAssertion(a);
      expect((await exchange(a, { xml: used, scope: "read" })).status).toBe(200);
      await r.cmd(...flush);
      expectLost(await exchange(b, { xml: used, scope: "read" }), DEFAULT_WINDOW_S);
      // The other instance reads the same marker: closed too, until the same instant.
      expectLost(await exchange(a, { xml: signedAssertion(a), scope: "read" }), DEFAULT_WINDOW_S);
      expect((await a.http.get("/readyz")).body.replay_store_reopens_at).toBe((await b.http.get("/readyz")).body.replay_store_reopens_at);
    }
  });

  it("only the marker deleted (e.g. evicted): the same", async () => {
    const r = await redis();
    await initialise(r);
    const b = await bridgeOn(r);
    await ready(b);
    await r.cmd("DEL", markerKey(PREFIX));
    expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), DEFAULT_WINDOW_S);
  });

  it("a failover onto an empty copy: the server becomes a replica of an empty primary, then is promoted", async () => {
    const empty = await redis();
    const r = await redis();
    await initialise(r);
    const b = await bridgeOn(r);
    await ready(b);
    const used = signedAssertion(b);
    expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(200);
    await r.cmd("REPLICAOF", "127.0.0.1", String(empty.port));
    await waitUntil(async () => /master_link_status:up/.test(String(await r.cmd("INFO", "replication"))), 8_000, "replica never synced");
    // While a replica it refuses writes: unavailable, never a token.
    const during = await exchange(b, { xml: signedAssertion(b), scope: "read" });
    expect(during.status).toBe(503);
    await r.cmd("REPLICAOF", "NO", "ONE");
    await waitUntil(async () => (await exchange(b, { xml: used, scope: "read" })).body.error_description === "replay_store_lost", 5_000, "no replay_store_lost after promotion");
    expectLost(await exchange(b, { xml: used, scope: "read" }), DEFAULT_WINDOW_S);
  });
});

describe("a new Redis server with its data (restart with AOF, or a failover to a full replica)", () => {
  async function restartPersistent(quarantineOnServerChange: boolean): Promise<{ b: TestBridge; used: string }> {
    const r = await redis({ persistent: true });
    const { b, used } = await oneUsed(r, quarantineOnServerChange);
    await r.kill();
    await r.start({ persistent: true });
    await connected(b);
    return { b, used };
  }

  it("by default: the marks survived, so service goes on and the used assertion is still replayed", async () => {
    const { b, used } = await restartPersistent(false);
    expectError(await exchange(b, { xml: used, scope: "read" }), 400, "invalid_request", "replayed");
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
    expect(b.logs.some((l) => l.event === "replay_store_server_changed" && l.quarantine === false)).toBe(true);
    expect(b.logs.some((l) => l.event === "replay_store_lost")).toBe(false);
  });

  it("replay.quarantineOnServerChange: the new run_id closes the store like a loss", async () => {
    const { b, used } = await restartPersistent(true);
    expectLost(await exchange(b, { xml: used, scope: "read" }), DEFAULT_WINDOW_S);
    expect(b.logs.some((l) => l.event === "replay_store_lost" && l.cause === "server_changed")).toBe(true);
  });
});

describe("a server that became a replica keeps its address, its data and its run_id", () => {
  // A demoted master (a Sentinel failover; REPLICAOF by hand) still holds the marker, and the
  // marker still names that server's run_id: a check that only reads would find "the same server,
  // open" and report ready while every mark fails. The check refuses to answer from a replica.
  async function demoted(quarantineOnServerChange: boolean): Promise<{ b: TestBridge; r: TestRedis; used: string }> {
    const r = await redis();
    const next = await redis();
    const { b, used } = await oneUsed(r, quarantineOnServerChange);
    // `next` takes a full copy and becomes the master; `r` becomes its replica (the same data back).
    await next.cmd("REPLICAOF", "127.0.0.1", String(r.port));
    await waitUntil(async () => /master_link_status:up/.test(String(await next.cmd("INFO", "replication"))), 8_000, "the copy never synced");
    await next.cmd("REPLICAOF", "NO", "ONE");
    await r.cmd("REPLICAOF", "127.0.0.1", String(next.port));
    await waitUntil(async () => /master_link_status:up/.test(String(await r.cmd("INFO", "replication"))), 8_000, "the demoted master never synced");
    expect(String(await r.cmd("HGET", markerKey(PREFIX), "run_id"))).toBe(/run_id:(\w+)/.exec(String(await r.cmd("INFO", "server")))![1]);
    return { b, r, used };
  }

  for (const quarantine of [false, true]) {
    it(`/readyz is not ready and nothing is marked there (quarantineOnServerChange ${quarantine})`, async () => {
      const { b, used } = await demoted(quarantine);
      for (let i = 0; i < 3; i++) {
        const readyz = await b.http.get("/readyz");
        expect({ status: readyz.status, store: readyz.body.replay_store }).toEqual({ status: 503, store: "down" });
      }
      expectError(await exchange(b, { xml: signedAssertion(b), scope: "read" }), 503, "temporarily_unavailable", "replay_store_unavailable");
      expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(503);
    });
  }

  it("promoted again, the same server with all its marks: ready, the used assertion still replayed", async () => {
    const { b, r, used } = await demoted(false);
    expect((await b.http.get("/readyz")).status).toBe(503);
    await r.cmd("REPLICAOF", "NO", "ONE");
    await ready(b);
    expectError(await exchange(b, { xml: used, scope: "read" }), 400, "invalid_request", "replayed");
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
  });
});

describe("only an explicit, audited action opens a lost store early", () => {
  it("npm run replay-reopen: refuses without operator and reason; with them, writes an audit line and every instance opens", async () => {
    const r = await redis();
    const b = await bridgeOn(r, (c) => {
      c.replay.initializeEmptyStore = false;
    });
    await connected(b);
    expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), DEFAULT_WINDOW_S);
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-reopen-"));
    const file = join(dir, "config.yaml");
    const c = baseConfig();
    for (const k of c.signing.keys) k.privateKeyFile = join(FIXTURES_DIR, k.privateKeyFile);
    for (const i of c.samlIdps) i.metadataFile = join(FIXTURES_DIR, i.metadataFile);
    c.replay = { store: "redis", redisUrl: r.url, keyPrefix: PREFIX };
    writeFileSync(file, stringify(c));
    const run = (args: string[]) => promisify(execFile)(process.execPath, [join(ROOT, "dist", "scripts", "replay-reopen.js"), "--config", file, ...args])
      .then((o) => ({ code: 0, ...o }), (e: { code: number; stdout: string; stderr: string }) => e);

    for (const bad of [[], ["--operator", "alice"], ["--reason", "restored from backup"], ["--operator", "bad name", "--reason", "x y z"], ["--operator", "alice", "--reason", "a\nb"]]) {
      const res = await run(bad);
      expect(res.code, bad.join(" ")).toBe(2);
      expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), DEFAULT_WINDOW_S);
    }
    const ok = await run(["--operator", "alice", "--reason", "restored from backup"]);
    expect(ok.code, ok.stderr).toBe(0);
    const audit = JSON.parse(ok.stdout.trim());
    expect(audit).toMatchObject({ event: "admin_audit", admin: "alice", action: "replay_reopen", reason: "restored from backup", previous_state: "lost" });
    expect(Date.parse(audit.cut_short_until)).toBeGreaterThan(Date.now());
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
    expect(b.logs.some((l) => l.event === "replay_store_reopened" && l.early === true)).toBe(true);
    const marker = await r.cmd("HGETALL", markerKey(PREFIX));
    expect(marker).toMatchObject({ reopened_by: "alice", reopened_reason: "restored from backup", until: "0" });
  });
});

describe("a first start on an empty store (replay.initializeEmptyStore)", () => {
  it("by default: the marker is created, logged, and exchanges start at once; a replay is still refused", async () => {
    const r = await redis();
    const b = await bridgeOn(r);
    await ready(b);
    expect(b.logs.filter((l) => l.event === "replay_store_initialized")).toHaveLength(1);
    expect(b.logs.some((l) => l.event === "replay_store_lost")).toBe(false);
    const used = signedAssertion(b);
    expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(200);
    expectError(await exchange(b, { xml: used, scope: "read" }), 400, "invalid_request", "replayed");
    expect(await r.cmd("HGET", markerKey(PREFIX), "cause")).toBe("initialized");
  });

  it("the new marker names its server: a restart before any other check still counts as another server (quarantineOnServerChange)", async () => {
    const r = await redis({ persistent: true });
    const b = await bridgeOn(r, (c) => {
      c.replay.quarantineOnServerChange = true;
    });
    // No /readyz (its check would record the run_id): only the connection's own first check ran.
    await waitUntil(async () => b.logs.some((l) => l.event === "replay_store_initialized"), 8_000, "the store was never initialized");
    const runId = /run_id:(\w+)/.exec(String(await r.cmd("INFO", "server")))![1];
    expect(await r.cmd("HGET", markerKey(PREFIX), "run_id")).toBe(runId);
    await r.kill();
    await r.start({ persistent: true });
    await waitUntil(async () => b.logs.filter((l) => l.event === "redis_ready").length >= 2, 8_000, "the bridge never reconnected");
    expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), DEFAULT_WINDOW_S);
    expect(b.logs.some((l) => l.event === "replay_store_lost" && l.cause === "server_changed")).toBe(true);
  });

  it("off: a store without a marker is closed like a lost one", async () => {
    const r = await redis();
    const b = await bridgeOn(r, (c) => {
      c.replay.initializeEmptyStore = false;
    });
    await connected(b);
    expectLost(await exchange(b, { xml: signedAssertion(b), scope: "read" }), DEFAULT_WINDOW_S);
    expect(b.logs.some((l) => l.event === "replay_store_initialized")).toBe(false);
  });

  it("an instance that saw the store is not fooled when a fresh instance re-initializes it after a loss", async () => {
    const r = await redis();
    const a = await bridgeOn(r);
    await ready(a);
    const used = signedAssertion(a);
    expect((await exchange(a, { xml: used, scope: "read" })).status).toBe(200);
    // Redis loses everything, and a new instance starts against it before `a` notices.
    await r.cmd("FLUSHALL");
    const b = await bridgeOn(r);
    await ready(b);
    b.clock.now = a.clock.now;
    expect(await r.cmd("HGET", markerKey(PREFIX), "cause")).toBe("initialized");
    // `a` sees another epoch: its marks may be gone, so the store is closed for every instance.
    expectLost(await exchange(a, { xml: used, scope: "read" }), DEFAULT_WINDOW_S);
    expectLost(await exchange(b, { xml: used, scope: "read" }), DEFAULT_WINDOW_S);
    expect(await r.cmd("HGET", markerKey(PREFIX), "cause")).toBe("epoch_changed");
  });

  it("two instances starting together on one empty store agree on one epoch and both serve", async () => {
    const r = await redis();
    const [a, b] = await Promise.all([bridgeOn(r), bridgeOn(r)]);
    await Promise.all([ready(a), ready(b)]);
    b.clock.now = a.clock.now;
    const used = signedAssertion(a);
    expect((await exchange(a, { xml: used, scope: "read" })).status).toBe(200);
    expectError(await exchange(b, { xml: used, scope: "read" }), 400, "invalid_request", "replayed");
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
  });
});

describe("the memory store is unaffected", () => {
  it("no marker, no lost state: ready and exchanging at once", async () => {
    const b = await startBridge();
    bridges.push(b);
    expect((await b.http.get("/readyz")).body).toMatchObject({ status: "ready", replay_store: "up" });
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
    expect(b.logs.some((l) => String(l.event).startsWith("replay_store"))).toBe(false);
  });
});
