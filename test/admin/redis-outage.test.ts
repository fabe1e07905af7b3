/**
 * The admin store's Redis going away: start-up stops with the config path instead of hanging, and
 * a running bridge answers admin calls with 503 (nothing changed) instead of 500 or a hang. Token
 * exchanges are unaffected by the admin store (they use the registry already applied).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/load.js";
import { exchange, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { freePort } from "../support/redis-process.js";

const TOKEN = "admin-outage-test-token-0123456789";
const hash = `sha256:${createHash("sha256").update(TOKEN).digest("base64url")}`;
const procs: ChildProcess[] = [];
const bridges: TestBridge[] = [];
afterAll(async () => {
  for (const b of bridges) await b.close();
  for (const p of procs) p.kill("SIGKILL");
});

const withAdminRedis = (port: number) => (c: Record<string, any>) => {
  c.admin = { tokens: [{ id: "ops", tokenHash: hash }], store: { kind: "redis", redisUrl: `redis://127.0.0.1:${port}`, keyPrefix: "fedbridge:test:outage:" } };
};

describe("admin store outage", () => {
  it("start-up without the admin Redis stops with the config path, not a hang", async () => {
    const port = await freePort();
    const err = await startBridge({ patch: withAdminRedis(port) }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]!.path).toBe("admin.store.redisUrl");
  }, 15_000);

  it("a running bridge answers admin calls with 503 while Redis is away; exchanges go on", async () => {
    const port = await freePort();
    const redis = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    procs.push(redis);
    let b: TestBridge | undefined;
    for (let i = 0; i < 50 && !b; i++) {
      b = await startBridge({ patch: withAdminRedis(port), adminTickMs: 0 }).catch(() => undefined);
      if (!b) await new Promise((r) => setTimeout(r, 100));
    }
    expect(b, "bridge with the admin Redis").toBeDefined();
    bridges.push(b!);
    expect((await b!.http.get("/admin/idps").set({ Authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    redis.kill("SIGKILL");
    await new Promise((r) => redis.once("exit", r));
    const res = await b!.http.put("/admin/idps/x").set({ Authorization: `Bearer ${TOKEN}` }).send({ metadata: "<x/>" });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: "admin_store_unavailable" });
    expect((await exchange(b!, { xml: signedAssertion(b!) })).status).toBe(200);
  }, 20_000);
});
