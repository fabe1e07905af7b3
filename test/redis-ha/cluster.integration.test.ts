/**
 * The replay store and the admin record store on a Redis Cluster of the test's own (3 masters, one
 * replica each; real redis-server processes on free ports, stopped by PID). Every multi-key script
 * runs on one slot (the key prefix's hash tag). Under a load of real exchanges, the master holding
 * the store's slot is killed (-9): its replica is promoted, exchanges answer 503 meanwhile, the
 * bridge follows the new slot map by itself, and no assertion that got a token gets one again.
 * The measured windows are printed.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisIdpStore } from "../../src/admin/redis-store.js";
import { markerKey } from "../../src/replay/epoch.js";
import { storeKeyPrefix } from "../../src/redis/hash-tag.js";
import { exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { waitUntil } from "../support/redis-process.js";
import { ExchangeLoad, measure, type Outcome } from "./load.js";
import { ClusterSetup } from "./topologies.js";

let cluster: ClusterSetup;
const bridges: TestBridge[] = [];
beforeAll(async () => {
  cluster = await ClusterSetup.start();
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(bridges.map((b) => b.close()));
  await cluster?.destroy();
});

async function bridge(keyPrefix: string, replay: Record<string, unknown>): Promise<TestBridge> {
  const b = await startBridge({
    patch: (c) => {
      c.replay = { store: "redis", redis: { cluster: { rootNodes: cluster.rootUrls } }, keyPrefix, timeoutMs: 2_000,
        // measured without the quarantine that is on by default for Cluster (docs/operations.md)
        quarantineOnServerChange: false, ...replay };
    },
  });
  bridges.push(b);
  await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 30_000, "bridge never became ready");
  return b;
}

async function replayAll(b: TestBridge, outcomes: readonly Outcome[]): Promise<{ accepted: number; again: number }> {
  const accepted = outcomes.filter((o) => o.status === 200);
  let again = 0;
  for (let i = 0; i < accepted.length; i += 8) {
    const replies = await Promise.all(accepted.slice(i, i + 8).map((o) => exchange(b, { xml: o.xml, scope: "read" })));
    for (const r of replies) {
      if (r.status === 200) again++;
      else expectError(r, 400, "invalid_request", "replayed");
    }
  }
  return { accepted: accepted.length, again };
}

describe("Redis Cluster: the master of the store's slot killed under load", () => {
  for (const waitReplicas of [1, 0]) {
    it(`waitReplicas ${waitReplicas}: 503s while the replica is promoted, recovery by itself${waitReplicas ? ", no assertion accepted twice" : ""}`, async () => {
      const prefix = `fedbridge:test:ha:${randomBytes(4).toString("hex")}:`;
      const b = await bridge(prefix, { waitReplicas, waitTimeoutMs: 1_000 });
      const marker = markerKey(storeKeyPrefix(prefix, "cluster"));
      expect(marker.startsWith(`{${prefix}}`)).toBe(true);
      const victim = await cluster.masterOf(marker);
      // The replay keys share the marker's slot: the store lives on this master.
      expect(Number(await victim.cmd("EXISTS", marker))).toBe(1);

      const load = new ExchangeLoad(b);
      load.start(3);
      let faultAt = 0;
      let promotedAfter = 0;
      try {
        await load.until((o) => o.status === 200, 10, 0, 60_000, "no tokens before the failover");
        faultAt = Date.now();
        await victim.kill();
        await waitUntil(async () => (await cluster.masterOf(marker)) !== victim, 30_000, "the replica was never promoted");
        promotedAfter = Date.now() - faultAt;
        // A supervisor restarts the killed node: it rejoins as the new master's replica (with
        // one replica per master, WAIT 1 can only be met again from then on).
        await victim.start();
        await load.until((o) => o.status === 200, 10, Date.now(), 90_000, "the bridge never recovered after the failover");
      } finally {
        await load.stop();
      }
      const w = measure(load.outcomes, faultAt);
      const odd = load.outcomes.filter((o) => !(o.status === 200 || o.status === 503 || (o.status === 400 && o.reason === "replayed")));
      expect(odd.map((o) => `${o.status} ${o.reason}`)).toEqual([]);
      const { accepted, again } = await replayAll(b, load.outcomes);
      process.stdout.write(`redis-ha cluster kill -9 (waitReplicas ${waitReplicas}): ${load.outcomes.length} exchanges, promoted after ${promotedAfter} ms, ${w.failures} failed, unavailable ${w.unavailableMs} ms (failures spanning ${w.failureSpanMs} ms) ${JSON.stringify(w.byReason)}; ${accepted} tokens replayed: ${again} accepted again\n`);
      expect(Number.isFinite(w.unavailableMs)).toBe(true);
      expect(accepted).toBeGreaterThanOrEqual(20);
      // With WAIT every token's mark was on a replica before the token was issued.
      if (waitReplicas > 0) expect(again).toBe(0);
      await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 30_000, "/readyz never 200 again");
      // Back to full strength before the next case.
      await waitUntil(async () => {
        for (const n of cluster.nodes) if (!/cluster_state:ok/.test(String(await n.cmd("CLUSTER", "INFO")))) return false;
        const master = await cluster.masterOf(marker);
        return /connected_slaves:1/.test(String(await master.cmd("INFO", "replication")));
      }, 60_000, "the cluster never got its replica back");
    }, 240_000);
  }
});

describe("the admin record store on a cluster", () => {
  it("audit and status scripts (several keys) run on the prefix's slot; keys carry the hash tag", async () => {
    const prefix = `fedbridge:test:idps:${randomBytes(4).toString("hex")}:`;
    const store = new RedisIdpStore({ redis: { cluster: { rootNodes: cluster.rootUrls } }, keyPrefix: prefix, timeoutMs: 3_000, auditMaxEntries: 100 });
    try {
      await store.connect();
      let changes = 0;
      store.watch(() => changes++);
      await store.appendAudit({ at: new Date().toISOString(), actor: "ops", action: "refresh", idp: "idp-a", outcome: "applied" });
      await store.setStatus("idp-a", { lastRefreshAt: new Date().toISOString() });
      expect((await store.auditLog()).map((e) => [e.actor, e.action, e.seq])).toEqual([["ops", "refresh", 1]]);
      expect(await store.list()).toEqual([]);
      const node = await cluster.masterOf(`{${prefix}}`);
      expect(Number(await node.cmd("EXISTS", `{${prefix}}audit`))).toBe(1);
      expect(Number(await node.cmd("EXISTS", `{${prefix}}status:idp-a`))).toBe(1);
      await waitUntil(async () => changes > 0, 5_000, "no change notification");
    } finally {
      await store.close();
    }
  }, 60_000);
});
