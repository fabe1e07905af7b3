/**
 * A proof's jti is checked in the replay store or not at all: with the Redis store gone, a DPoP
 * request is refused (503 replay_store_unavailable, at check_dpop), never answered with a bound
 * token whose proof could have been a replay. A redis-server this file starts and kills itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { TestRedis, waitUntil } from "../support/redis-process.js";
import { makeProof, proofKey, tokenRequest, type ProofKey } from "./support.js";

let redis: TestRedis;
let bridge: TestBridge;
let key: ProofKey;

beforeAll(async () => {
  redis = await TestRedis.start();
  bridge = await startBridge({
    patch: (c) => {
      c.replay = { store: "redis", redisUrl: redis.url, keyPrefix: "fedbridge:test:dpop-down:", timeoutMs: 300 };
    },
  });
  await waitUntil(async () => (await bridge.http.get("/readyz")).status === 200, 5_000, "bridge never became ready");
  key = await proofKey("ES256");
});
afterAll(async () => {
  await bridge?.close();
  await redis?.destroy();
});

describe("replay store unavailable", () => {
  it("binds while the store answers, and refuses with 503 at check_dpop once it is gone", async () => {
    expect((await tokenRequest({ bridge, dpop: [await makeProof(key, bridge.clock.now)] })).body.token_type).toBe("DPoP");
    await redis.kill();
    const r = await tokenRequest({ bridge, dpop: [await makeProof(key, bridge.clock.now)] });
    expect({ status: r.status, error: r.body.error, reason: r.body.error_description }).toEqual({ status: 503, error: "temporarily_unavailable", reason: "replay_store_unavailable" });
    expect(r.headers["retry-after"]).toMatch(/^\d+$/);
    expect(bridge.logs.filter((l) => l.event === "token_exchange").at(-1)).toMatchObject({ outcome: "refused", step: "check_dpop" });
  });
});
