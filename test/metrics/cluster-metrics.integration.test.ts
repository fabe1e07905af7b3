/**
 * Metrics under the production cluster mode (dist/src/cluster.js, 2 workers sharing a Redis replay
 * store started here on a free port and stopped by PID): the primary serves the workers' metrics,
 * aggregated, on metrics.port; no worker serves /metrics on the shared main port (it would answer
 * for whichever worker took the connection). Exchanges served by any worker all count.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { baseConfig, CLIENTS, GRANT, SAML2 } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";
import { TestRedis, freePort } from "../support/redis-process.js";
import { find, parseExposition, value } from "./scrape.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const CLUSTER = join(ROOT, "dist", "src", "cluster.js");
const AUTH = `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`;

let redis: TestRedis;
let child: ChildProcess;
let out = "";
let err = "";
let port = 0;
let metricsPort = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${err}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  if (!existsSync(CLUSTER)) throw new Error("dist/src/cluster.js is missing: run npm run build first (npm test does)");
  redis = await TestRedis.start();
  port = await freePort();
  metricsPort = await freePort();
  const c = baseConfig();
  c.samlIdps = c.samlIdps.filter((i: { id: string }) => i.id === "idp1");
  c.clients = c.clients.filter((x: { id: string }) => x.id === CLIENTS.c1.id);
  c.clients[0].idps = ["idp1"];
  for (const k of c.signing.keys) k.privateKeyFile = join(FIXTURES_DIR, k.privateKeyFile);
  for (const i of c.samlIdps) i.metadataFile = join(FIXTURES_DIR, i.metadataFile);
  c.replay = { store: "redis", redisUrl: redis.url, keyPrefix: `fedbridge:test:metrics:${randomBytes(4).toString("hex")}:`, timeoutMs: 5_000 };
  c.metrics = { enabled: true, port: metricsPort };
  const file = join(mkdtempSync(join(tmpdir(), "fedbridge-cluster-metrics-")), "config.yaml");
  writeFileSync(file, stringify(c));
  child = spawn(process.execPath, [CLUSTER, "--workers", "2"], {
    env: { ...process.env, FEDBRIDGE_CONFIG: file, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  await until("2 workers listening", () => out.split("\n").filter((l) => l.includes('"worker_listening"')).length >= 2 || child.exitCode !== null);
  expect(child.exitCode, err).toBeNull();
  await until("/readyz", async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200);
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  await redis?.destroy();
}, 30_000);

async function exchangeOnce(): Promise<number> {
  const id = `_clm_${randomBytes(8).toString("hex")}`;
  const xml = signWithXmlsec1(buildAssertion2({ id }), id, { key: KEYS.idp1 });
  // A new connection each time, so the shared socket spreads them over the workers.
  const r = await fetch(`http://127.0.0.1:${port}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: AUTH, connection: "close" },
    body: new URLSearchParams({ grant_type: GRANT, subject_token: toBase64Url(xml), subject_token_type: SAML2 }).toString(),
  });
  await r.arrayBuffer();
  return r.status;
}

describe("cluster metrics", () => {
  it("the primary serves the sum of every worker's series on metrics.port", async () => {
    for (let i = 0; i < 6; i++) expect(await exchangeOnce()).toBe(200);
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const samples = parseExposition(await res.text());
    expect(value(samples, "fedbridge_exchanges_total", { outcome: "issued", client: "c1", source: "idp1" })).toBe(6);
    expect(value(samples, "fedbridge_exchange_duration_seconds_count", { outcome: "issued" })).toBe(6);
    // Per state, how many workers are in it.
    expect(value(samples, "fedbridge_replay_store_state", { state: "up" })).toBe(2);
    expect(value(samples, "fedbridge_replay_store_state", { state: "down" })).toBe(0);
    // The certificate gauge is not summed over workers.
    const days = find(samples, "fedbridge_certificate_expiry_days", { idp: "idp1" });
    expect(days.length).toBeGreaterThanOrEqual(1);
    for (const d of days) expect(d.value).toBeLessThan(40_000);
  });

  it("refuses to start with metrics on but no metrics.port (nothing would serve them)", async () => {
    const c = baseConfig();
    for (const k of c.signing.keys) k.privateKeyFile = join(FIXTURES_DIR, k.privateKeyFile);
    for (const i of c.samlIdps) i.metadataFile = join(FIXTURES_DIR, i.metadataFile);
    c.metrics = { enabled: true };
    const file = join(mkdtempSync(join(tmpdir(), "fedbridge-cluster-metrics-")), "config.yaml");
    writeFileSync(file, stringify(c));
    const p = spawn(process.execPath, [CLUSTER, "--workers", "1"], {
      env: { ...process.env, FEDBRIDGE_CONFIG: file, PORT: String(await freePort()), HOST: "127.0.0.1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    p.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => p.once("exit", r));
    expect(code).toBe(1);
    expect(stderr).toContain("metrics.enabled needs metrics.port");
  }, 30_000);

  it("no worker answers /metrics on the shared main port", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: "close" } });
      expect(r.status).toBe(404);
    }
  });
});
