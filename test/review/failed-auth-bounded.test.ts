/**
 * Review finding: rateLimits.failedAuthPerClientId kept one counter per client_id as sent, so a
 * flood of random unknown ids (cheap with sha256 secrets) grew the memory store, or Redis (which
 * also holds the replay marks, under noeviction), without bound. The id is now counted in one of
 * CLIENT_ID_BUCKETS buckets: the number of counters is bounded whatever is sent.
 */
import { afterEach, describe, expect, it } from "vitest";
import { expectError, type TestBridge } from "../support/harness.js";
import { expectLimited, limitedBridge, wrongSecret } from "../limits/helpers.js";
import { CLIENT_ID_BUCKETS, clientIdBucket, limitKey } from "../../src/limits/keys.js";

const bridges: TestBridge[] = [];
afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.close()));
});

/** Two different ids counted in one bucket (found by search: 16 bits). */
function sameBucketPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `random-client-${i}`;
    const b = clientIdBucket(id);
    const other = seen.get(b);
    if (other !== undefined) return [other, id];
    seen.set(b, id);
  }
}

describe("failed authentications per client id: bounded counters", () => {
  it("every id, of any length or content, lands in one of CLIENT_ID_BUCKETS buckets", () => {
    const ids = ["", "c1", "x".repeat(10_000), "\u0000\u202e", ...Array.from({ length: 5_000 }, (_, i) => `flood-${i}-${Math.random()}`)];
    const keys = new Set<string>();
    for (const id of ids) {
      const b = clientIdBucket(id);
      expect(Number.isInteger(b) && b >= 0 && b < CLIENT_ID_BUCKETS).toBe(true);
      keys.add(limitKey("failed_auth_client", String(b)));
    }
    expect(keys.size).toBeLessThanOrEqual(CLIENT_ID_BUCKETS);
    // Spread: 5,004 ids in 65,536 buckets are nearly all distinct (not one shared counter). The
    // expected number of distinct buckets is m(1 - (1 - 1/m)^n) ≈ 4,813 with a standard deviation
    // of ≈ 14 (n²/2m collisions); 4,700 is 8 deviations below it (4,800 failed about one run in six).
    expect(keys.size).toBeGreaterThan(4_700);
  });

  it("the counter is the bucket's: two ids of one bucket share it over the real endpoint; other buckets do not", async () => {
    const [a, b] = sameBucketPair();
    expect(a).not.toBe(b);
    const bridge = await limitedBridge({ failedAuthPerClientId: { enabled: true, max: 3, windowSeconds: 60 } });
    bridges.push(bridge);
    for (let i = 0; i < 3; i++) expectError(await wrongSecret(bridge, a), 401, "invalid_client", "client_auth_failed");
    expectLimited(await wrongSecret(bridge, b), 60);
    // An id of another bucket is still only failed, not blocked.
    let c = "another-bucket";
    while (clientIdBucket(c) === clientIdBucket(a)) c += "!";
    expectError(await wrongSecret(bridge, c), 401, "invalid_client", "client_auth_failed");
  });
});
