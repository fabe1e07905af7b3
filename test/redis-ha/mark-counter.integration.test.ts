/**
 * The mark counter (the epoch marker's `seq`): a Redis that still has the marker but fewer marks
 * than an instance saw (what a promoted replica that missed the last writes looks like) is closed
 * like a lost store, for every instance, and the forgotten assertion never gets a token. Simulated
 * deterministically on a redis-server of the test's own (free port, stopped by PID): the marker's
 * seq is set back and the last marks deleted, as a failover to a lagging replica would leave them.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { markerKey } from "../../src/replay/epoch.js";
import { exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { TestRedis, waitUntil } from "../support/redis-process.js";

const redises: TestRedis[] = [];
const bridges: TestBridge[] = [];
afterAll(async () => {
  await Promise.allSettled(bridges.map((b) => b.close()));
  await Promise.allSettled(redises.map((r) => r.destroy()));
});

async function bridgeOn(r: TestRedis, keyPrefix: string): Promise<TestBridge> {
  const b = await startBridge({ patch: (c) => { c.replay = { store: "redis", redis: { url: r.url }, keyPrefix }; } });
  bridges.push(b);
  await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 10_000, "bridge never became ready");
  return b;
}

describe("the mark counter", () => {
  it("counts marks in the marker; a store with fewer marks than an instance saw is closed (marks_missing) for every instance", async () => {
    const r = await TestRedis.start();
    redises.push(r);
    const prefix = `fedbridge:test:seq:${randomBytes(4).toString("hex")}:`;
    const a = await bridgeOn(r, prefix);
    const used = [signedAssertion(a), signedAssertion(a), signedAssertion(a)];
    for (const xml of used) expect((await exchange(a, { xml, scope: "read" })).status).toBe(200);
    // A replay is no mark: the counter counts marks only.
    expectError(await exchange(a, { xml: used[0]!, scope: "read" }), 400, "invalid_request", "replayed");
    expect(Number(await r.cmd("HGET", markerKey(prefix), "seq"))).toBe(3);

    // What a failover to a replica that missed the last two marks leaves: the marker (same epoch),
    // seq 1, the last two replay keys gone.
    const keys = ((await r.cmd("KEYS", `${prefix}*`)) as string[]).filter((k) => k !== markerKey(prefix));
    expect(keys).toHaveLength(3);
    await r.cmd("HSET", markerKey(prefix), "seq", "1");
    // Which keys are the last two does not matter here: delete all but one.
    await r.cmd("DEL", ...keys.slice(1));

    // A second instance that never saw the higher count would not notice by itself...
    const b = await bridgeOn(r, prefix);
    // ...but the first one does at its next exchange, and closes the store for everyone.
    expectError(await exchange(a, { xml: used[2]!, scope: "read" }), 503, "temporarily_unavailable", "replay_store_lost");
    expect(a.logs.some((l) => l.event === "replay_store_lost" && l.cause === "marks_missing")).toBe(true);
    for (const xml of [...used, signedAssertion(b)]) {
      expectError(await exchange(b, { xml, scope: "read" }), 503, "temporarily_unavailable", "replay_store_lost");
    }
    const readyz = await a.http.get("/readyz");
    expect(readyz.status).toBe(503);
    expect(readyz.body.replay_store).toBe("lost");
    // Declared once: the marker's count is raised to what the instance saw, with the cause.
    expect(await r.cmd("HMGET", markerKey(prefix), "seq", "cause")).toEqual(["3", "marks_missing"]);
  }, 60_000);

  it("noticed on reconnection too, before any exchange (/readyz)", async () => {
    const r = await TestRedis.start();
    redises.push(r);
    const prefix = `fedbridge:test:seq:${randomBytes(4).toString("hex")}:`;
    const a = await bridgeOn(r, prefix);
    for (let i = 0; i < 2; i++) expect((await exchange(a, { xml: signedAssertion(a), scope: "read" })).status).toBe(200);
    await r.cmd("HDEL", markerKey(prefix), "seq");
    await waitUntil(async () => (await a.http.get("/readyz")).body.replay_store === "lost", 10_000, "/readyz never said lost");
    expect(a.logs.some((l) => l.event === "replay_store_lost" && l.cause === "marks_missing")).toBe(true);
  }, 60_000);
});
