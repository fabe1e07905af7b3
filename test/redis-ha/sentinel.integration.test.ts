/**
 * The replay store on Redis Sentinel (master + 2 replicas + 3 sentinels of the test's own, real
 * processes on free ports, stopped by PID): under a load of real exchanges through the token
 * endpoint, the master is failed over (SENTINEL FAILOVER, then kill -9). During the switch
 * exchanges answer 503 and none gets a token unchecked; the bridge follows the new master by
 * itself; no assertion that got a token (before, during or after) gets one again. WAIT
 * (replay.waitReplicas) fails closed; quarantineOnServerChange and the epoch marker cover the
 * failovers WAIT cannot (a replica that lacks the data). The measured windows are printed.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisIdpStore } from "../../src/admin/redis-store.js";
import { exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { type RedisProcess, waitUntil } from "../support/redis-process.js";
import { ExchangeLoad, measure, type Outcome } from "./load.js";
import { MASTER_NAME, SentinelSetup } from "./topologies.js";

let setup: SentinelSetup;
const bridges: TestBridge[] = [];
beforeAll(async () => {
  setup = await SentinelSetup.start();
}, 90_000);
afterAll(async () => {
  await Promise.allSettled(bridges.map((b) => b.close()));
  await setup?.destroy();
});

async function bridge(replay: Record<string, unknown>): Promise<TestBridge> {
  const b = await startBridge({
    patch: (c) => {
      c.replay = {
        store: "redis",
        redis: { sentinel: { name: MASTER_NAME, sentinels: setup.sentinelNodes } },
        keyPrefix: `fedbridge:test:ha:${randomBytes(4).toString("hex")}:`,
        timeoutMs: 2_000,
        // The tests of WAIT and the mark counter measure a failover without the quarantine that is
        // on by default for Sentinel; `quarantineOnServerChange: undefined` keeps that default.
        quarantineOnServerChange: false,
        ...replay,
      };
    },
  });
  bridges.push(b);
  await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 20_000, "bridge never became ready");
  return b;
}

/** The current master has `n` replicas online (a failed-over old master rejoins some seconds later). */
async function replicated(n = 2): Promise<void> {
  await waitUntil(async () => {
    const master = setup.byPort(await setup.masterPort());
    return (String(await master.cmd("INFO", "replication")).match(/state=online/g) ?? []).length >= n;
  }, 60_000, `the master never had ${n} replicas online`);
}

async function replicasOfMaster(): Promise<RedisProcess[]> {
  const master = await setup.masterPort();
  return setup.servers.filter((p) => p.port !== master && p.alive);
}

type How = "command" | "paused" | "kill";
const HOW: Record<How, string> = {
  command: "SENTINEL FAILOVER",
  paused: "CLIENT PAUSE WRITE on the master, then SENTINEL FAILOVER (planned switchover)",
  kill: "kill -9 of the master",
};

async function failover(how: How): Promise<number> {
  const before = await setup.masterPort();
  const at = Date.now();
  if (how === "kill") {
    await setup.byPort(before).kill();
    await waitUntil(async () => (await setup.masterPort()) !== before, 30_000, "sentinels never promoted the replica");
    return at;
  }
  // A planned switchover: writes to the old master wait (and time out: 503) instead of landing
  // there after the replica was promoted, so no mark is lost in the switch.
  if (how === "paused") await setup.byPort(before).cmd("CLIENT", "PAUSE", "5000", "WRITE");
  // SENTINEL FAILOVER may be refused or abandoned on a loaded machine (a failover just done, a
  // replica not yet seen as suitable): asked again until the master changes.
  for (let attempt = 0; ; attempt++) {
    await setup.sentinels[attempt % 3]!.cmd("SENTINEL", "FAILOVER", MASTER_NAME).catch(() => undefined);
    try {
      await waitUntil(async () => (await setup.masterPort()) !== before, 10_000, "sentinels never promoted the replica");
      return at;
    } catch (e) {
      if (attempt >= 4) throw e;
    }
  }
}

/**
 * Waits until `probe` sees the store closed; on a timeout the error says what the bridge saw last
 * (its replay_store state, the Redis events it logged, who the sentinels name as master), so a
 * failure on a loaded CI machine can be read from its output.
 */
async function closedAfterFailover(b: TestBridge, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const from = b.logs.length;
  try {
    await waitUntil(probe, timeoutMs, "the store never closed after the failover");
  } catch (e) {
    const readyz = await b.http.get("/readyz").then((r) => JSON.stringify(r.body)).catch((x: unknown) => String(x));
    const events = b.logs.slice(from).filter((l) => /redis|replay/.test(String(l.event))).map((l) => `${String(l.event)}${l.detail ? ` (${String(l.detail).slice(0, 120)})` : ""}`);
    const master = await setup.masterPort().catch(() => "none");
    throw new Error(`${(e as Error).message}; readyz ${readyz}; master ${master}; bridge events since: ${events.slice(-12).join(" | ") || "none"}`);
  }
}

/** Every answer is a token, a 503 (never a 500), or - for a mark retried on the new master - replayed. */
function expectOnlyTokensAnd503(outcomes: readonly Outcome[]): void {
  const odd = outcomes.filter((o) => !(o.status === 200 || o.status === 503 || (o.status === 400 && o.reason === "replayed")));
  expect(odd.map((o) => `${o.status} ${o.reason}`)).toEqual([]);
}

describe("Redis Sentinel: failover under load (replay.waitReplicas 1)", () => {
  for (const how of ["command", "paused", "kill"] as const) {
    it(`${HOW[how]}: 503s during the switch, then tokens again by itself (or, when marks were lost, closed); no assertion accepted twice`, async () => {
      await replicated();
      const b = await bridge({ waitReplicas: 1, waitTimeoutMs: 1_000 });
      const load = new ExchangeLoad(b);
      load.start(3);
      let faultAt = 0;
      let lost = false;
      try {
        await load.until((o) => o.status === 200, 10, 0, 60_000, "no tokens before the failover");
        faultAt = await failover(how);
        const since = Date.now();
        // Either the bridge follows the new master by itself (tokens again), or it noticed that the
        // promoted replica lacks marks it saw (seq went back) and closed the store.
        await waitUntil(async () => {
          lost = load.outcomes.some((o) => o.at >= faultAt && o.reason === "replay_store_lost");
          return lost || load.outcomes.filter((o) => o.at >= since && o.status === 200).length >= 10;
        }, 60_000, "neither recovered nor closed after the failover");
      } finally {
        await load.stop();
      }
      const w = measure(load.outcomes, faultAt);
      expectOnlyTokensAnd503(load.outcomes);
      // Replayed while closed: 503 replay_store_lost; while open: 400 replayed. Never a token.
      const accepted = load.outcomes.filter((o) => o.status === 200);
      expect(accepted.length).toBeGreaterThanOrEqual(10);
      for (let i = 0; i < accepted.length; i += 8) {
        const replies = await Promise.all(accepted.slice(i, i + 8).map((o) => exchange(b, { xml: o.xml, scope: "read" })));
        for (const r of replies) {
          expect(r.status).not.toBe(200);
          expect(r.body.error_description).toBe(lost ? "replay_store_lost" : "replayed");
        }
      }
      // A switch without a gap (a dead master; a paused one) loses no mark: the bridge goes on by itself.
      if (how !== "command") expect(lost).toBe(false);
      if (lost) {
        expect(b.logs.some((l) => l.event === "replay_store_lost" && l.cause === "marks_missing")).toBe(true);
        // Past the lost-store window every token it forgot has expired: open again by itself.
        b.clock.advance(422_000);
        await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 20_000, "the store never reopened");
      }
      const fresh = signedAssertion(b);
      await waitUntil(async () => (await exchange(b, { xml: fresh, scope: "read" })).status === 200, 20_000, "no token after recovery");
      expect((await exchange(b, { xml: fresh, scope: "read" })).body.error_description).toBe("replayed");
      process.stdout.write(`redis-ha sentinel ${how}: ${load.outcomes.length} exchanges (${accepted.length} tokens), ${w.failures} failed after the fault, ${lost ? "marks lost in the switch: closed (marks_missing)" : `unavailable ${w.unavailableMs} ms`} (failures spanning ${w.failureSpanMs} ms) ${JSON.stringify(w.byReason)}\n`);
      if (how === "kill") {
        // The old master comes back empty: Sentinel turns it into a replica of the new master.
        await setup.servers.find((p) => !p.alive)!.start();
      }
    }, 180_000);
  }
});

describe("replay.waitReplicas: a mark no replica acknowledged fails closed", () => {
  it("503 while the replica is stalled (the token stays used), then tokens again", async () => {
    await replicated();
    const b = await bridge({ waitReplicas: 1, waitTimeoutMs: 300 });
    const replicas = await replicasOfMaster();
    for (const r of replicas) r.pause();
    let stalled: string;
    try {
      stalled = signedAssertion(b);
      expectError(await exchange(b, { xml: stalled, scope: "read" }), 503, "temporarily_unavailable", "replay_store_unavailable");
      expect(b.logs.some((l) => l.event === "replay_store_replication_unacknowledged")).toBe(true);
    } finally {
      for (const r of replicas) r.resume();
    }
    await replicated();
    // Marked on the master although its exchange failed: it never gets a token later.
    expectError(await exchange(b, { xml: stalled, scope: "read" }), 400, "invalid_request", "replayed");
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
  }, 60_000);

  it("more replicas required than exist: every exchange 503, none gets a token", async () => {
    await replicated();
    const b = await bridge({ waitReplicas: 3, waitTimeoutMs: 200 });
    for (let i = 0; i < 3; i++) {
      expectError(await exchange(b, { xml: signedAssertion(b), scope: "read" }), 503, "temporarily_unavailable", "replay_store_unavailable");
    }
  }, 60_000);
});

describe("failovers WAIT cannot cover", () => {
  it.each([
    ["quarantineOnServerChange: true", { quarantineOnServerChange: true }],
    ["by default (no setting) on Sentinel", { quarantineOnServerChange: undefined }],
  ])("%s: the promoted replica (another run_id) closes the store for the lost-store window", async (_name, setting) => {
    await replicated();
    const b = await bridge(setting);
    const used = signedAssertion(b);
    expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(200);
    await failover("command");
    // No exchange meanwhile (one on the old master would also close it, as marks_missing): the
    // check on the new connection notices the new run_id.
    await closedAfterFailover(b, async () => (await b.http.get("/readyz")).body.replay_store === "lost", 30_000);
    expectError(await exchange(b, { xml: used, scope: "read" }), 503, "temporarily_unavailable", "replay_store_lost");
    expect(b.logs.some((l) => l.event === "replay_store_server_changed" && l.quarantine === true)).toBe(true);
    expect(b.logs.some((l) => l.event === "replay_store_lost" && l.cause === "server_changed")).toBe(true);
    // Past the window (harness: 300 s assertion age + 2 x 60 s skew + 1 s): open again, and the
    // assertion used before the failover has expired by then.
    b.clock.advance(422_000);
    await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 10_000, "the store never reopened");
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
    expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(400);
  }, 150_000);

  it("a promoted replica without the data (no epoch marker): 503 replay_store_lost, the used assertion refused", async () => {
    await replicated();
    const b = await bridge({});
    const used = signedAssertion(b);
    expect((await exchange(b, { xml: used, scope: "read" })).status).toBe(200);
    // A replica that lost everything (here: flushed by hand) and is promoted anyway; the other
    // replica is stalled until the sentinels see it down, so that the empty one is chosen.
    const [empty, other] = await replicasOfMaster();
    await empty!.cmd("CONFIG", "SET", "replica-read-only", "no");
    await empty!.cmd("FLUSHALL");
    other!.pause();
    try {
      // The stalled one is the only replica that can be down.
      await waitUntil(async () => (await setup.sentinelCli("SENTINEL", "REPLICAS", MASTER_NAME)).includes("s_down"), 20_000, "the sentinels never saw the stalled replica down");
      await failover("command");
    } finally {
      other!.resume();
    }
    expect(await setup.masterPort()).toBe(empty!.port);
    // On a loaded machine the flushed replica may have lost its link and taken a full copy again
    // before it was promoted: then it is not empty, and the bridge rightly goes on. The case under
    // test is the empty one, so the promoted server is emptied again (what a failover to a replica
    // that restarted without persistence leaves).
    if (Number(await empty!.cmd("DBSIZE")) > 0) await empty!.cmd("FLUSHALL");
    await closedAfterFailover(b, async () => (await exchange(b, { xml: signedAssertion(b), scope: "read" })).body?.error_description === "replay_store_lost", 30_000);
    expectError(await exchange(b, { xml: used, scope: "read" }), 503, "temporarily_unavailable", "replay_store_lost");
    expect(b.logs.some((l) => l.event === "replay_store_lost" && l.cause === "marker_missing")).toBe(true);
    await empty!.cmd("CONFIG", "SET", "replica-read-only", "yes");
  }, 150_000);
});

describe("the admin record store on Sentinel", () => {
  it("reaches the master through the sentinels: audit and status scripts, change notifications", async () => {
    const prefix = `fedbridge:test:idps:${randomBytes(4).toString("hex")}:`;
    const store = new RedisIdpStore({ redis: { sentinel: { name: MASTER_NAME, sentinels: setup.sentinelNodes, tls: false, masterPoolSize: 2 } }, keyPrefix: prefix, timeoutMs: 3_000, auditMaxEntries: 100 });
    try {
      await store.connect();
      let changes = 0;
      store.watch(() => changes++);
      await store.appendAudit({ at: new Date().toISOString(), actor: "ops", action: "refresh", idp: "idp-a", outcome: "applied" });
      await store.setStatus("idp-a", { lastRefreshAt: new Date().toISOString() });
      expect((await store.auditLog()).map((e) => [e.actor, e.action])).toEqual([["ops", "refresh"]]);
      const master = setup.byPort(await setup.masterPort());
      // No hash tag on Sentinel: the configured prefix, unchanged.
      expect(Number(await master.cmd("EXISTS", `${prefix}audit`))).toBe(1);
      await waitUntil(async () => changes > 0, 5_000, "no change notification");
    } finally {
      await store.close();
    }
  }, 60_000);
});
