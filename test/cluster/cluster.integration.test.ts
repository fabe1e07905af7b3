/**
 * The production mode (dist/src/cluster.js, as deployed): workers on one port sharing only Redis.
 * Each run starts its own redis-server on a free port (stopped by PID), never the shared 6379.
 * Positive assertions are signed by xmlsec1.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { baseConfig, CLIENTS, GRANT, SAML2 } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const CLUSTER = join(ROOT, "dist", "src", "cluster.js");
const AUTH = `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`;
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), "fedbridge-cluster-"));

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => srv.once("listening", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let redisPort = 0;
let redis: ChildProcess | undefined;

function redisCli(...args: string[]): string {
  return spawnSync("redis-cli", ["-p", String(redisPort), ...args], { encoding: "utf8" }).stdout.trim();
}

function writeConfig(name: string, patch: (c: Record<string, any>) => void = () => undefined): string {
  // The harness config, cut down to one IdP and one client: this file is about processes, not policy.
  const c = baseConfig();
  c.samlIdps = c.samlIdps.filter((i: { id: string }) => i.id === "idp1");
  c.clients = c.clients.filter((x: { id: string }) => x.id === CLIENTS.c1.id);
  c.clients[0].idps = ["idp1"];
  for (const k of c.signing.keys) k.privateKeyFile = join(FIXTURES_DIR, k.privateKeyFile);
  for (const i of c.samlIdps) i.metadataFile = join(FIXTURES_DIR, i.metadataFile);
  // A generous per-command timeout: the drain test holds Redis still for a moment on purpose.
  c.replay = { store: "redis", redisUrl: `redis://127.0.0.1:${redisPort}`, keyPrefix: `fedbridge:test:cluster:${randomBytes(4).toString("hex")}:`, timeoutMs: 8_000 };
  patch(c);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(c));
  return file;
}

/**
 * A brand-new Redis replay store is initialised by the operator's reopen command when the tree has
 * one (the bridge cannot tell a first start from a lost store and keeps a store without its epoch
 * marker closed).
 */
function initialiseStore(config: string): void {
  const reopen = join(ROOT, "dist", "scripts", "replay-reopen.js");
  if (!existsSync(reopen) || !/store: redis/.test(readFileSync(config, "utf8"))) return;
  const r = spawnSync(process.execPath, [reopen, "--operator", "cluster-test", "--reason", "brand-new test store", "--config", config], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`replay-reopen failed: ${r.stderr}`);
}

interface Running {
  child: ChildProcess;
  port: number;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  /** pid of each worker that announced itself listening, in order. */
  pids: () => number[];
}

function startCluster(config: string, args: string[], port: number, env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [CLUSTER, ...args], {
    env: { ...process.env, FEDBRIDGE_CONFIG: config, PORT: String(port), HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const pids = (): number[] => out.split("\n").filter((l) => l.includes('"worker_listening"')).map((l) => (JSON.parse(l) as { pid: number }).pid);
  return { child, port, out: () => out, err: () => err, exited, pids };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function ready(r: Running, workers: number): Promise<void> {
  await until(`${workers} workers listening`, () => r.pids().length >= workers || r.child.exitCode !== null);
  expect(r.child.exitCode, r.err()).toBeNull();
  await until("/readyz", async () => (await fetch(`http://127.0.0.1:${r.port}/readyz`).catch(() => undefined))?.status === 200);
}

function signed(): string {
  const id = `_cl_${randomBytes(8).toString("hex")}`;
  return signWithXmlsec1(buildAssertion2({ id }), id, { key: KEYS.idp1 });
}

function body(xml: string): string {
  return new URLSearchParams({ grant_type: GRANT, subject_token: toBase64Url(xml), subject_token_type: SAML2 }).toString();
}

/** One exchange; `fresh` opens a new connection for it (a pooled one may belong to a killed worker). */
async function exchange(port: number, form: string, fresh = false): Promise<{ status: number; body: Record<string, string> }> {
  if (fresh) {
    return new Promise((resolvePromise, reject) => {
      const req = httpRequest({
        host: "127.0.0.1", port, method: "POST", path: "/token", agent: false,
        headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(form), authorization: AUTH },
      }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, string> }));
      });
      req.on("error", reject);
      req.end(form);
    });
  }
  const r = await fetch(`http://127.0.0.1:${port}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: AUTH },
    body: form,
  });
  return { status: r.status, body: (await r.json()) as Record<string, string> };
}

beforeAll(async () => {
  redisPort = await freePort();
  redis = spawn("/usr/bin/redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  await until("redis-server", () => redisCli("PING") === "PONG", 10_000);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  redis?.kill("SIGKILL");
});

describe("cluster start-up refuses what cannot be exact across workers", () => {
  const refusals: [string, (c: Record<string, any>) => void, string[], Record<string, string>, RegExp][] = [
    ["memory replay store, --workers 2", (c) => void (c.replay = { store: "memory" }), ["--workers", "2"], {}, /replay\.store is "memory": with 2 workers it must be "redis"/],
    ["memory replay store by default (store omitted), --workers 3", (c) => void delete c.replay, ["--workers", "3"], {}, /replay\.store is "memory": with 3 workers/],
    ["memory replay store, FEDBRIDGE_WORKERS=2", (c) => void (c.replay = { store: "memory" }), [], { FEDBRIDGE_WORKERS: "2" }, /replay\.store is "memory": with 2 workers/],
    [
      "admin file store, --workers 2",
      (c) => void (c.admin = { tokens: [{ id: "ops", tokenHash: `sha256:${"A".repeat(43)}` }], store: { kind: "file", directory: join(dir, "admin") } }),
      ["--workers", "2"], {}, /admin\.store\.kind is "file": with 2 workers it must be "redis"/,
    ],
  ];
  for (const [name, patch, args, env, message] of refusals) {
    it(`refuses ${name} with a clear error and no worker`, async () => {
      const r = startCluster(writeConfig(name.replace(/\W+/g, "-"), patch), args, await freePort(), env);
      expect(await r.exited).toBe(1);
      expect(r.err()).toMatch(message);
      expect(r.pids()).toEqual([]);
    }, 20_000);
  }

  it("refuses a bad worker count (usage error, exit 2)", async () => {
    for (const w of ["0", "-1", "two", "1.5", "1000"]) {
      const r = startCluster(writeConfig("count"), [`--workers=${w}`], await freePort());
      expect(await r.exited, w).toBe(2);
      expect(r.err()).toMatch(/--workers must be an integer 1-256/);
    }
  }, 60_000);

  it("a memory store with --workers 1 is allowed (one process is exact), and SIGINT stops it with exit 0", async () => {
    const r = startCluster(writeConfig("memory-one", (c) => void (c.replay = { store: "memory" })), ["--workers", "1"], await freePort());
    await ready(r, 1);
    expect((await exchange(r.port, body(signed()))).status).toBe(200);
    r.child.kill("SIGINT");
    expect(await r.exited).toBe(0);
    expect(r.err()).toMatch(/SIGINT: draining 1 worker\(s\)/);
    expect(r.out()).toMatch(/"event":"worker_stopped","worker":0,"code":0/);
  }, 30_000);
});

describe("two workers sharing one Redis", () => {
  let r: Running;
  beforeAll(async () => {
    const config = writeConfig("two");
    initialiseStore(config);
    r = startCluster(config, ["--workers", "2"], await freePort());
    await ready(r, 2);
  }, 30_000);
  afterAll(async () => {
    if (r.child.exitCode === null) r.child.kill("SIGKILL");
  });

  it("replay is exact across workers: one assertion sent 24 times at once yields exactly one token", async () => {
    for (let round = 0; round < 3; round++) {
      const form = body(signed());
      const results = await Promise.all(Array.from({ length: 24 }, () => exchange(r.port, form)));
      expect(results.filter((x) => x.status === 200)).toHaveLength(1);
      for (const x of results.filter((y) => y.status !== 200)) expect(x).toEqual({ status: 400, body: { error: "invalid_request", error_description: "replayed" } });
    }
  }, 30_000);

  it("a SIGKILLed worker is restarted, and exchanges keep succeeding meanwhile", async () => {
    const forms = Array.from({ length: 30 }, () => body(signed()));
    const before = r.pids();
    expect(before).toHaveLength(2);
    const victim = before[0]!;
    process.kill(victim, "SIGKILL");
    // Once the supervisor has seen the death (it logs it within milliseconds), sequential exchanges
    // while the slot is down and restarting, each on a new connection (the victim's connections
    // died with it): every one is served by the surviving worker.
    await until("the supervisor to see the death", () => /"event":"worker_died"/.test(r.out()), 5_000);
    expect(r.pids()).toHaveLength(2);
    const statuses: number[] = [];
    for (const f of forms.slice(0, 15)) statuses.push((await exchange(r.port, f, true)).status);
    await until("a replacement worker", () => r.pids().length >= 3);
    const replacement = r.pids()[2]!;
    expect(replacement).not.toBe(victim);
    expect(() => process.kill(replacement, 0)).not.toThrow();
    expect(r.out()).toMatch(new RegExp(`"event":"worker_died","worker":[01],"pid":${victim},"code":null,"signal":"SIGKILL","action":"restart"`));
    for (const f of forms.slice(15)) statuses.push((await exchange(r.port, f, true)).status);
    expect(statuses).toEqual(forms.map(() => 200));
    expect(r.child.exitCode).toBeNull();
  }, 40_000);

  it("SIGTERM drains: exchanges in flight complete with 200, new connections are refused, exit 0", async () => {
    const forms = Array.from({ length: 12 }, () => body(signed()));
    // Hold Redis's commands (CLIENT PAUSE) so the exchanges are certainly in flight, waiting at the
    // replay step, when SIGTERM arrives; the store's timeout (8 s) is longer than the hold.
    expect(redisCli("CLIENT", "PAUSE", "1500", "ALL")).toBe("OK");
    let done = 0;
    const inflight = forms.map((f) => exchange(r.port, f).finally(() => done++));
    await sleep(400);
    expect(done, "exchanges finished before SIGTERM").toBe(0);
    r.child.kill("SIGTERM");
    await sleep(200);
    const late = await fetch(`http://127.0.0.1:${r.port}/healthz`, { headers: { connection: "close" } }).then((x) => x.status, () => "refused");
    const results = await Promise.all(inflight);
    expect(results.map((x) => x.status)).toEqual(forms.map(() => 200));
    expect(await r.exited).toBe(0);
    expect(late).toBe("refused");
    expect(r.err()).toMatch(/SIGTERM: draining 2 worker\(s\)/);
    expect(r.err()).toMatch(/stopped \(exit 0\)/);
  }, 40_000);
});

describe("crash loop", () => {
  it("workers that die at start every time (a key file the primary does not read is missing) make the cluster give up loudly with exit 1", async () => {
    const config = writeConfig("loop", (c) => void (c.signing.keys[0].privateKeyFile = join(dir, "not-mounted.key")));
    const r = startCluster(config, ["--workers", "2"], await freePort());
    expect(await r.exited).toBe(1);
    expect(r.err()).toMatch(/worker [01] crashed 5 times in a row \(last: exit code 1\): crash loop, giving up/);
    expect(r.err()).toMatch(/restarting in 250 ms[\s\S]*restarting in 500 ms[\s\S]*restarting in 1000 ms[\s\S]*restarting in 2000 ms/);
    expect(r.pids()).toEqual([]);
  }, 90_000);
});
