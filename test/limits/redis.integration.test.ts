/**
 * Rate limits shared through a REAL Redis: a redis-server this file starts on a free port (never the
 * shared one on 6379), two bridge instances counting into it, and the store stalled (SIGSTOP) and
 * killed mid-run: limits then FAIL OPEN (the request goes on, logged once) while the replay check
 * still FAILS CLOSED (503), and the limits count again once Redis is back. Nothing is mocked.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENTS, exchange, expectError, signedAssertion, type TestBridge } from "../support/harness.js";
import { TestRedis, waitUntil } from "../support/redis-process.js";
import { expectLimited, hop, incomplete, limitedBridge, ownToken, rightSecret, wrongSecret } from "./helpers.js";

let redis: TestRedis;
const bridges: TestBridge[] = [];
const REPLAY_PREFIX = `fedbridge:test:${randomUUID()}:`;

beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await Promise.all(bridges.map((b) => b.close()));
  await redis.destroy();
});

async function redisBridge(rateLimits: Record<string, unknown>, keyPrefix: string): Promise<TestBridge> {
  const b = await limitedBridge({ store: "redis", keyPrefix, timeoutMs: 250, ...rateLimits }, (c) => {
    c.replay = { store: "redis", redisUrl: redis.url, keyPrefix: REPLAY_PREFIX, timeoutMs: 1_000 };
  });
  bridges.push(b);
  await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 10_000, "bridge never became ready");
  return b;
}

describe("shared across instances through Redis", () => {
  it("two bridges share each counter: per client, per subject and failed authentications", { timeout: 90_000 }, async () => {
    const prefix = `rl-test:${randomUUID()}`;
    const limits = {
      perClient: { enabled: true, max: 4, windowSeconds: 60 },
      perSubject: { enabled: true, max: 2, windowSeconds: 60 },
      failedAuthPerClientId: { enabled: true, max: 3, windowSeconds: 60 },
    };
    const a = await redisBridge(limits, prefix);
    const b = await redisBridge(limits, prefix);
    // per client: 2 on each instance, the 5th on either is over.
    for (const x of [a, b, a, b]) expectError(await incomplete(x, CLIENTS.imp), 400, "invalid_request", "parameter_missing");
    expectLimited(await incomplete(a, CLIENTS.imp), 60);
    expectLimited(await incomplete(b, CLIENTS.imp), 60);
    // The first refusal was logged once, by one instance.
    expect([...a.logs, ...b.logs].filter((l) => l.event === "rate_limited" && l.limit === "client")).toHaveLength(1);
    // per subject: erin once on each instance, then over on both.
    expect((await exchange(a, { xml: signedAssertion(a, { nameId: "erin@example.com" }), scope: "read" })).status).toBe(200);
    expect((await exchange(b, { xml: signedAssertion(b, { nameId: "erin@example.com" }), scope: "read" })).status).toBe(200);
    expectLimited(await exchange(a, { xml: signedAssertion(a, { nameId: "erin@example.com" }), scope: "read" }), 60);
    // failed authentications: 2 on a and 1 on b block the id on both.
    await wrongSecret(a, "c2");
    await wrongSecret(a, "c2");
    expectError(await wrongSecret(b, "c2"), 401, "invalid_client", "client_auth_failed");
    expectLimited(await rightSecret(a, CLIENTS.c2), 60);
    expectLimited(await rightSecret(b, CLIENTS.c2), 60);
  });

  it("writes only hashed, hash-tagged keys with a TTL: no client id, subject or address in Redis", async () => {
    const prefix = `rl-test:${randomUUID()}`;
    const a = await redisBridge({
      perClient: { enabled: true, max: 100, windowSeconds: 60 },
      perSubject: { enabled: true, max: 100, windowSeconds: 60 },
      failedAuthPerAddress: { enabled: true, max: 100, windowSeconds: 60 },
      failedAuthPerClientId: { enabled: true, max: 100, windowSeconds: 60 },
    }, prefix);
    await exchange(a, { xml: signedAssertion(a, { nameId: "frank@example.com" }), scope: "read" });
    await wrongSecret(a, "secret-looking-unknown-id");
    const keys = (await redis.cmd("KEYS", `${prefix}:*`)) as string[];
    expect(keys.length).toBeGreaterThanOrEqual(4);
    for (const k of keys) {
      expect(k).toMatch(new RegExp(`^${prefix}:[a-z_]+:\\{[a-z_]+:[A-Za-z0-9_-]{22}\\}$`));
      // The shape above leaves no room for a raw identifier (kind, then a 22-character hash); the
      // identifiers themselves must not appear after the random prefix (a short one such as the
      // client id "c1" could occur in a random hash by chance, so only the long ones are searched).
      expect(k.slice(prefix.length)).not.toMatch(/frank@example|secret-looking|127\.0\.0\.1/);
      const ttl = Number(await redis.cmd("PTTL", k));
      expect(ttl > 0 && ttl <= 60_000, `TTL of ${k}: ${ttl}`).toBe(true);
    }
  });
});

describe("Redis stopped mid-run: limits fail open, replay fails closed", () => {
  it("SIGSTOP then SIGKILL: over-limit requests go through (no 429) but no SAML token is issued without the replay mark", { timeout: 90_000 }, async () => {
    const prefix = `rl-test:${randomUUID()}`;
    const a = await redisBridge({
      perClient: { enabled: true, max: 2, windowSeconds: 60 },
      failedAuthPerClientId: { enabled: true, max: 1, windowSeconds: 60 },
    }, prefix);
    // Before: HOP has used its budget, c1 too, and c2 is blocked.
    const own = await ownToken(a);
    await ownToken(a);
    expectLimited(await exchange(a, { xml: signedAssertion(a), scope: "read" }), 60);
    expect((await hop(a, own)).status).toBe(200);
    expect((await hop(a, own)).status).toBe(200);
    expectLimited(await hop(a, own), 60);
    await wrongSecret(a, "c2");
    expectLimited(await rightSecret(a, CLIENTS.c2), 60);

    for (const outage of ["stalled", "killed"] as const) {
      if (outage === "stalled") redis.pause();
      else await redis.kill();
      // Fail open: HOP, over its limit, gets a token (its re-exchange needs no replay mark).
      const started = Date.now();
      const res = await hop(a, own);
      const hopMs = Date.now() - started;
      expect(res.status, `${outage}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(typeof res.body.access_token).toBe("string");
      // The blocked id is not blocked while the counters are away.
      expectError(await rightSecret(a, CLIENTS.c2), 400, "invalid_request", "parameter_missing");
      // Fail closed: c1, over its limit too, passes the limit but gets no token without the replay check.
      expectError(await exchange(a, { xml: signedAssertion(a), scope: "read" }), 503, "temporarily_unavailable", "replay_store_unavailable");
      // Measured, not asserted tightly: a stalled store holds a request about timeoutMs (250 ms) per limiter call.
      console.log(`limits over a ${outage} Redis: fail-open re-exchange ${hopMs} ms; with the authentication and the refused SAML exchange ${Date.now() - started} ms`);
      expect(hopMs).toBeLessThan(10_000);
      if (outage === "stalled") {
        redis.resume();
        // Back: the counters in Redis are still there (HOP over its limit again).
        await waitUntil(async () => (await hop(a, own)).status === 429, 10_000, "limits did not count again after SIGCONT");
      }
    }
    const events = a.logs.map((l) => l.event);
    // The fail-open is logged once per outage, not per request.
    expect(events.filter((e) => e === "rate_limit_store_unavailable")).toHaveLength(2);
    expect(events).toContain("rate_limit_store_recovered");
    expect(a.logs.filter((l) => l.event === "rate_limit_store_unavailable").every((l) => l.outcome === "fail_open")).toBe(true);

    // Restarted empty: limits count from zero again, replay reopens per its own rules (not tested here).
    await redis.start();
    // A fail-open request answers like a counted one (400 here), so wait for the recovery itself:
    // the limiter logs it on its first counted call after the store is back.
    const recovered = () => a.logs.filter((l) => l.event === "rate_limit_store_recovered").length;
    await waitUntil(async () => {
      expect((await incomplete(a, CLIENTS.imp)).status).toBe(400);
      return recovered() >= 2;
    }, 15_000, "limits did not reconnect");
  });
});
