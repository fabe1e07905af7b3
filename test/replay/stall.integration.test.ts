/**
 * replay.timeoutMs holds even when Redis stalls with the command already written: the bridge's own
 * timer answers 503 replay_store_unavailable (Retry-After) within the timeout, and service resumes
 * when Redis does. A mark that lands after the timeout still consumes the assertion (README). Real
 * redis-servers this file starts, stalls (SIGSTOP / DEBUG SLEEP) and stops by PID.
 */
import { afterAll, describe, expect, it } from "vitest";
import { reopenReplayStore } from "../../src/replay/epoch.js";
import { CLIENTS, exchange, expectError, GRANT, SAML2, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";
import { listenBridge, postHead, rawRequest } from "../http/http-client.js";
import { plainClient, TestRedis, waitUntil } from "../support/redis-process.js";

const PREFIX = "fedbridge:test:stall:";
const TIMEOUT_MS = 400;
/** Signature checks and HTTP on a loaded 2-core machine: generous, still far below any stall here. */
const MARGIN_MS = 1_500;

const redises: TestRedis[] = [];
const bridges: TestBridge[] = [];
afterAll(async () => {
  for (const r of redises) r.resume();
  await Promise.allSettled(bridges.map((b) => b.close()));
  await Promise.allSettled(redises.map((r) => r.destroy()));
});

async function setup(debug = false): Promise<{ r: TestRedis; b: TestBridge }> {
  const r = await TestRedis.start({ debug });
  redises.push(r);
  const c = plainClient(r.url);
  await c.connect();
  await reopenReplayStore(c, PREFIX, { now: Date.now(), operator: "test", reason: "new store" });
  await c.close();
  const b = await startBridge({ patch: (cfg) => { cfg.replay = { store: "redis", redisUrl: r.url, keyPrefix: PREFIX, timeoutMs: TIMEOUT_MS }; } });
  bridges.push(b);
  await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 5_000, "bridge never became ready");
  b.clock.now = Date.now();
  expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
  return { r, b };
}

async function timed<T>(p: PromiseLike<T>): Promise<{ ms: number; res: T }> {
  const t0 = performance.now();
  const res = await p;
  return { ms: performance.now() - t0, res };
}

describe("a stalled Redis (SIGSTOP)", () => {
  it("exchanges answer 503 replay_store_unavailable with Retry-After within timeoutMs; service resumes after SIGCONT", async () => {
    const { r, b } = await setup();
    r.pause();
    try {
      const stalled = signedAssertion(b);
      const one = await timed(exchange(b, { xml: stalled, scope: "read" }));
      expectError(one.res, 503, "temporarily_unavailable", "replay_store_unavailable");
      expect(one.res.headers["retry-after"]).toBe("1");
      expect(one.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);

      // A concurrent burst: each answered within the bound, none waits for the one before.
      const burst = await timed(Promise.all(Array.from({ length: 12 }, () => exchange(b, { xml: signedAssertion(b), scope: "read" }))));
      for (const res of burst.res) expectError(res, 503, "temporarily_unavailable", "replay_store_unavailable");
      expect(burst.ms).toBeLessThan(TIMEOUT_MS + 3 * MARGIN_MS);

      // /readyz too is bounded by the timeout, and says down.
      const readyz = await timed(b.http.get("/readyz"));
      expect(readyz.res.status).toBe(503);
      expect(readyz.res.body.replay_store).toBe("down");
      expect(readyz.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);

      // Still stalled a while later: still bounded (the earlier commands are still queued behind the stall).
      await new Promise((res) => setTimeout(res, 1_000));
      const later = await timed(exchange(b, { xml: signedAssertion(b), scope: "read" }));
      expectError(later.res, 503, "temporarily_unavailable", "replay_store_unavailable");
      expect(later.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);

      r.resume();
      // The mark written before the timeout lands once Redis runs again: that assertion is consumed
      // although its exchange failed (fail closed, documented in the README).
      await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 5_000, "no recovery after SIGCONT");
      expectError(await exchange(b, { xml: stalled, scope: "read" }), 400, "invalid_request", "replayed");
      const fresh = signedAssertion(b);
      expect((await exchange(b, { xml: fresh, scope: "read" })).status).toBe(200);
      expectError(await exchange(b, { xml: fresh, scope: "read" }), 400, "invalid_request", "replayed");
    } finally {
      r.resume();
    }
  });
});

describe("a request being answered outlives the HTTP server's silence timeout", () => {
  it("headersTimeout 1 s, replay.timeoutMs 2.5 s, Redis stalled: the client gets its 503 after ~2.5 s, not a reset at 1 s", async () => {
    const r = await TestRedis.start();
    redises.push(r);
    const c = plainClient(r.url);
    await c.connect();
    await reopenReplayStore(c, PREFIX, { now: Date.now(), operator: "test", reason: "new store" });
    await c.close();
    const b = await startBridge({ patch: (cfg) => { cfg.replay = { store: "redis", redisUrl: r.url, keyPrefix: PREFIX, timeoutMs: 2_500 }; } });
    bridges.push(b);
    await waitUntil(async () => (await b.http.get("/readyz")).status === 200, 5_000, "bridge never became ready");
    const l = await listenBridge(b, { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    try {
      b.clock.now = Date.now();
      const body = new URLSearchParams({ grant_type: GRANT, subject_token: toBase64Url(signedAssertion(b)), subject_token_type: SAML2, scope: "read" }).toString();
      r.pause();
      const t = await timed(rawRequest(l.port, postHead("/token", {
        Authorization: `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded", "Content-Length": body.length,
      }), body));
      expect(t.res.status).toBe(503);
      expect(t.res.body).toEqual({ error: "temporarily_unavailable", error_description: "replay_store_unavailable" });
      expect(t.ms).toBeGreaterThan(2_400);
      expect(t.ms).toBeLessThan(2_500 + MARGIN_MS);
    } finally {
      r.resume();
      await l.close();
    }
  });
});

describe("a Redis busy in one long command (DEBUG SLEEP)", () => {
  it("503 within timeoutMs while it sleeps; 200 after", async () => {
    const { r, b } = await setup(true);
    const sleeper = plainClient(r.url);
    await sleeper.connect();
    const sleeping = sleeper.sendCommand(["DEBUG", "SLEEP", "2.5"]);
    await new Promise((res) => setTimeout(res, 100));
    for (let i = 0; i < 2; i++) {
      const t = await timed(exchange(b, { xml: signedAssertion(b), scope: "read" }));
      expectError(t.res, 503, "temporarily_unavailable", "replay_store_unavailable");
      expect(t.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }
    await sleeping;
    await sleeper.close();
    await waitUntil(async () => (await exchange(b, { xml: signedAssertion(b), scope: "read" })).status === 200, 5_000, "no 200 after DEBUG SLEEP");
  });
});
