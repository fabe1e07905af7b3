/**
 * The Redis replay store against a REAL Redis (FEDBRIDGE_TEST_REDIS_URL, default 127.0.0.1:6379, plus a redis-server this file
 * starts and kills itself). Nothing is mocked. If Redis is not there, this file FAILS: the replay
 * guarantee across instances is exactly what it exists to prove, so a silent skip is not allowed.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { replayKey } from "../../src/replay/store.js";
import { reopenReplayStore } from "../../src/replay/epoch.js";
import { IDP1 } from "../support/constants.js";
import { TEST_REDIS_URL } from "../support/redis-url.js";
import { plainClient, TestRedis, waitUntil, type PlainClient as RedisClient } from "../support/redis-process.js";
import { exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2, randomSamlId, type Assertion2Options } from "../support/saml-builder.js";

const REDIS_URL = TEST_REDIS_URL;
/** Unique per test run, so runs never see each other's keys; everything under it is deleted in afterAll. */
const KEY_PREFIX = `fedbridge:test:${randomUUID()}:`;
const SKEW_MS = 60_000; // harness baseConfig: tokens.clockSkewSeconds 60
const MAX_AGE_MS = 300_000; // samlIdps[idp1].maxAssertionAgeSeconds default 300

const bridges: TestBridge[] = [];
let redis: RedisClient;

async function redisBridge(url: string, keyPrefix = KEY_PREFIX, timeoutMs = 1_000): Promise<TestBridge> {
  const bridge = await startBridge({
    patch: (c) => {
      c.replay = { store: "redis", redisUrl: url, keyPrefix, timeoutMs };
    },
  });
  bridges.push(bridge);
  await waitUntil(async () => (await bridge.http.get("/readyz")).status === 200, 5_000, "bridge never became ready");
  return bridge;
}

/** A freshly signed idp1 assertion valid at the bridge's clock (xmlsec1, not our code). */
function signedAssertion(bridge: TestBridge, o: Assertion2Options = {}): { xml: string; id: string } {
  const id = o.id ?? randomSamlId("_r");
  const xml = buildAssertion2({ now: new Date(bridge.clock.now), ...o, id });
  return { xml: signWithXmlsec1(xml, id, { key: KEYS.idp1 }), id };
}

let connecting: Promise<RedisClient> | undefined;
/**
 * The shared Redis, connected once. Every test that needs it awaits this first, so an absent Redis
 * FAILS each of them with a clear message (a failing beforeAll would only mark them skipped).
 */
function sharedRedis(): Promise<RedisClient> {
  connecting ??= (async () => {
    const client = plainClient(REDIS_URL, 2_000);
    try {
      await client.connect();
      if ((await client.ping()) !== "PONG") throw new Error("PING did not answer PONG");
    } catch (e) {
      throw new Error(`Redis is required at ${REDIS_URL} for the replay integration tests (not skipped): ${(e as Error).message}`);
    }
    // The epoch marker written up front (as `npm run replay-reopen` would), so the store state does
    // not depend on which instance connects first (lost-store.integration.test.ts covers that).
    await reopenReplayStore(client, KEY_PREFIX, { now: Date.now(), operator: "test", reason: "new store" });
    redis = client;
    return client;
  })();
  return connecting;
}

afterAll(async () => {
  await Promise.allSettled(bridges.map((b) => b.close()));
  if (redis?.isOpen) {
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${KEY_PREFIX}*`, COUNT: 1000 })) keys.push(...batch);
    if (keys.length > 0) await redis.del(keys);
    await redis.close();
  }
});

describe(`Redis replay store over HTTP (shared Redis at ${REDIS_URL})`, () => {
  let started: Promise<TestBridge> | undefined;
  async function bridge(): Promise<TestBridge> {
    await sharedRedis();
    started ??= redisBridge(REDIS_URL);
    return started;
  }

  it(`Redis is reachable at ${REDIS_URL} (this file fails without it)`, async () => {
    expect(await (await sharedRedis()).ping()).toBe("PONG");
  });

  it("first exchange 200, the same assertion again 400 replayed", async () => {
    const b = await bridge();
    const { xml } = signedAssertion(b);
    const first = await exchange(b, { xml, scope: "read" });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(typeof first.body.access_token).toBe("string");
    const second = await exchange(b, { xml, scope: "read" });
    expectError(second, 400, "invalid_request", "replayed");
    expect(second.body.access_token).toBeUndefined();
  });

  it("the key is keyPrefix + replayKey(issuer, ID), stored in Redis", async () => {
    const b = await bridge();
    const { xml, id } = signedAssertion(b);
    const key = KEY_PREFIX + replayKey(IDP1, id);
    expect(await redis.exists(key)).toBe(0);
    expect((await exchange(b, { xml, scope: "read" })).status).toBe(200);
    expect(await redis.exists(key)).toBe(1);
  });

  // The entry must live as long as the assertion could still pass the time checks:
  // min(SubjectConfirmationData/Conditions NotOnOrAfter, IssueInstant + maxAge) + skew; and not much longer.
  const cases: { name: string; times: (now: number) => Assertion2Options; acceptableUntil: (now: number) => number }[] = [
    {
      name: "Conditions NotOnOrAfter binds",
      times: (now) => ({ notOnOrAfter: new Date(now + 120_000), scdNotOnOrAfter: new Date(now + 200_000) }),
      acceptableUntil: (now) => now + 120_000 + SKEW_MS,
    },
    {
      name: "SubjectConfirmationData NotOnOrAfter binds",
      times: (now) => ({ notOnOrAfter: new Date(now + 240_000), scdNotOnOrAfter: new Date(now + 90_000) }),
      acceptableUntil: (now) => now + 90_000 + SKEW_MS,
    },
    {
      name: "IssueInstant + maxAssertionAge binds",
      times: (now) => ({
        issueInstant: new Date(now - 200_000),
        notOnOrAfter: new Date(now + 600_000),
        scdNotOnOrAfter: new Date(now + 600_000),
      }),
      acceptableUntil: (now) => now - 200_000 + MAX_AGE_MS + SKEW_MS,
    },
  ];
  for (const c of cases) {
    it(`PTTL covers remaining validity + skew and not far more (${c.name})`, async () => {
      const b = await bridge();
      b.clock.now = Date.now(); // bridge clock = wall clock, so the Redis countdown is comparable
      const now = b.clock.now;
      const { xml, id } = signedAssertion(b, c.times(now));
      const res = await exchange(b, { xml, scope: "read" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const pttl = await redis.pTTL(KEY_PREFIX + replayKey(IDP1, id));
      const expiresAt = Date.now() + pttl; // wall-clock instant Redis will drop the key (±1 ms)
      const acceptableUntil = c.acceptableUntil(now);
      expect(pttl, "key has a TTL").toBeGreaterThan(0);
      // covers: the key outlives the last instant the bridge would accept the assertion
      expect(expiresAt).toBeGreaterThanOrEqual(acceptableUntil);
      // not far more: at most a few seconds of margin
      expect(expiresAt - acceptableUntil).toBeLessThanOrEqual(5_000);
    });
  }
});

describe("one assertion, two bridge instances sharing Redis", () => {
  it("20 concurrent requests split across both: exactly one 200, the rest 400 replayed", async () => {
    await sharedRedis();
    const a = await redisBridge(REDIS_URL);
    const b = await redisBridge(REDIS_URL);
    b.clock.now = a.clock.now;
    const { xml } = signedAssertion(a);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => exchange(i % 2 === 0 ? a : b, { xml, scope: "read" }).then((res) => ({ i, res }))),
    );
    const ok = results.filter((r) => r.res.status === 200);
    expect(ok, JSON.stringify(results.map((r) => [r.i, r.res.status, r.res.body?.error_description]))).toHaveLength(1);
    expect(typeof ok[0]!.res.body.access_token).toBe("string");
    for (const r of results) if (r.res.status !== 200) expectError(r.res, 400, "invalid_request", "replayed");
  });

  it("an assertion used on one instance is replayed on the other", async () => {
    await sharedRedis();
    const a = await redisBridge(REDIS_URL);
    const b = await redisBridge(REDIS_URL);
    b.clock.now = a.clock.now;
    const { xml } = signedAssertion(a);
    expect((await exchange(a, { xml, scope: "read" })).status).toBe(200);
    expectError(await exchange(b, { xml, scope: "read" }), 400, "invalid_request", "replayed");
  });
});

describe("Redis outage: fail closed with 503, recover without a restart", () => {
  let server: TestRedis | undefined;
  let outageBridge: TestBridge | undefined;

  afterAll(async () => {
    // Close the client while its Redis is still up, then stop that Redis.
    if (outageBridge) {
      bridges.splice(bridges.indexOf(outageBridge), 1);
      await outageBridge.close().catch(() => undefined);
    }
    await server?.destroy();
  });

  it("503 temporarily_unavailable (never a token) and /readyz 503 while Redis is down; 200 again after it returns", async () => {
    // Persistent (AOF, fsync on every write): a restart keeps the marks, so the store is not lost
    // (a restart without persistence is lost-store.integration.test.ts).
    const r = await TestRedis.start({ persistent: true });
    server = r;
    const init = plainClient(r.url, 1_000);
    await init.connect();
    await reopenReplayStore(init, "fedbridge:test:outage:", { now: Date.now(), operator: "test", reason: "new store" });
    await init.close();
    // A dedicated prefix: this Redis is ours alone and dies with the test.
    const bridge = await redisBridge(r.url, "fedbridge:test:outage:", 300);
    outageBridge = bridge;

    const before = signedAssertion(bridge);
    const ok = await exchange(bridge, { xml: before.xml, scope: "read" });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);

    await r.kill();

    // Fresh assertions, the already used one, and a concurrent burst: all 503, never a token.
    const fresh = [signedAssertion(bridge), signedAssertion(bridge), signedAssertion(bridge)];
    const during = [
      await exchange(bridge, { xml: fresh[0]!.xml, scope: "read" }),
      await exchange(bridge, { xml: before.xml, scope: "read" }),
      ...(await Promise.all(fresh.map((f) => exchange(bridge, { xml: f.xml, scope: "read" })))),
    ];
    for (const res of during) {
      expectError(res, 503, "temporarily_unavailable", "replay_store_unavailable");
      expect(res.body.access_token).toBeUndefined();
      expect(res.headers["retry-after"]).toBe("1");
    }
    const notReady = await bridge.http.get("/readyz");
    expect(notReady.status).toBe(503);
    expect(notReady.body).toEqual({ status: "unavailable", replay_store: "down" });
    expect(bridge.logs.some((l) => l.event === "redis_error")).toBe(true);

    // Redis comes back on the same port; the same bridge (no restart) must recover on its own.
    await r.start({ persistent: true });
    await waitUntil(async () => (await bridge.http.get("/readyz")).status === 200, 8_000, "/readyz did not return to 200 after Redis came back");
    const readyAgain = await bridge.http.get("/readyz");
    expect(readyAgain.body).toEqual({ status: "ready", replay_store: "up" });

    bridge.clock.now = Date.now();
    const after = signedAssertion(bridge);
    const res = await exchange(bridge, { xml: after.xml, scope: "read" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(typeof res.body.access_token).toBe("string");
    // and replay protection is back too
    expectError(await exchange(bridge, { xml: after.xml, scope: "read" }), 400, "invalid_request", "replayed");
  });
});

describe("RedisReplayStore.markAllUsed (real Redis)", () => {
  it("marks all or nothing, atomically", async () => {
    const { RedisReplayStore } = await import("../../src/replay/redis.js");
    await sharedRedis();
    const store = new RedisReplayStore({ url: REDIS_URL, keyPrefix: KEY_PREFIX, timeoutMs: 1000, now: Date.now, lostWindowMs: () => 421_000 });
    store.start();
    const deadline = Date.now() + 5000;
    while (!(await store.ready()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await store.ready(), `Redis must answer at ${REDIS_URL}`).toBe(true);
    expect(await store.markAllUsed([{ key: "batch:s", ttlMs: 10_000 }, { key: "batch:a", ttlMs: 10_000 }])).toBe(true);
    expect(await store.markAllUsed([{ key: "batch:fresh", ttlMs: 10_000 }, { key: "batch:a", ttlMs: 10_000 }])).toBe(false);
    expect(await store.markUsed("batch:fresh", 10_000)).toBe(true);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.markAllUsed([{ key: "batch:x", ttlMs: 10_000 }, { key: "batch:y", ttlMs: 10_000 }])));
    expect(results.filter(Boolean)).toHaveLength(1);
    // anyUsed reads without marking.
    expect(await store.anyUsed(["batch:unused"])).toBe(false);
    expect(await store.markUsed("batch:unused", 10_000)).toBe(true);
    expect(await store.anyUsed(["batch:nothing", "batch:unused"])).toBe(true);
    await store.close();
  });
});
