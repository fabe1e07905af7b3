/**
 * Benchmark of POST /token (SAML 2.0 assertion → JWT) over real HTTP, with the crypto and XML
 * floors measured in the same run so the figures can be compared on this machine.
 *
 *   npm run bench -- [--requests 2000] [--concurrency 16] [--warmup 200] [--memory]
 *                    [--redis-url redis://127.0.0.1:6379]
 *
 * Everything is throwaway: a fresh IdP key + certificate + metadata and a fresh token signing key
 * in a temp dir (removed at the end), Redis keys under `fedbridge:bench:<random>:` (deleted at the
 * end). The bridge (createBridge) runs in a worker thread listening on an ephemeral 127.0.0.1 port,
 * so the load generator (node:http, keep-alive) does not share its event loop. All assertions are
 * signed with xml-crypto BEFORE timing starts. Exchange logging is off (silent logger).
 * Exits 1 if any exchange was not a 200 with an access token. No target is enforced.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { Agent, request } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { DOMParser } from "@xmldom/xmldom";
import { SignJWT } from "jose";
import { createClient } from "redis";
import { createBridge } from "../src/bootstrap.js";
import { parseConfig } from "../src/config/load.js";
import { silentLogger } from "../src/log/logger.js";
import { selfSignedCertificate } from "../scripts/lib/self-signed-cert.js";
import { buildExampleAssertion, signAssertion } from "../scripts/lib/example-idp.js";

const IDP_ENTITY_ID = "https://idp.bench.invalid/saml";
const SP_ENTITY_ID = "https://bridge.bench.invalid/saml";
const ISSUER = "https://bridge.bench.invalid";
const TOKEN_ENDPOINT = `${ISSUER}/token`;
const API = "https://api.bench.invalid";
const CLIENT_ID = "bench-client";
const SAML2 = "urn:ietf:params:oauth:token-type:saml2";
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

// ---------------------------------------------------------------------------------------------------
// worker thread: the bridge under test

interface WorkerInput {
  raw: unknown;
  baseDir: string;
}
type ToWorker = { type: "elu" } | { type: "close" };
type FromWorker =
  | { type: "listening"; port: number }
  | { type: "elu"; elu: EventLoopUtilization }
  | { type: "closed" }
  | { type: "log"; line: string };

async function workerMain(): Promise<void> {
  const { raw, baseDir } = workerData as WorkerInput;
  const port = parentPort!;
  const post = (m: FromWorker): void => port.postMessage(m);
  const bridge = await createBridge(
    { config: parseConfig(raw), baseDir },
    {
      now: () => Date.now(),
      // Exchange lines are dropped; store events (Redis errors) are passed on.
      log: (e) => (e.event === "token_exchange" ? silentLogger(e) : post({ type: "log", line: JSON.stringify(e) })),
    },
  );
  const server = bridge.app.listen(0, "127.0.0.1", () => {
    post({ type: "listening", port: (server.address() as { port: number }).port });
  });
  server.keepAliveTimeout = 30_000;
  port.on("message", (m: ToWorker) => {
    if (m.type === "elu") post({ type: "elu", elu: performance.eventLoopUtilization() });
    if (m.type === "close") {
      server.closeAllConnections();
      server.close(() => {
        void bridge.close().finally(() => {
          post({ type: "closed" });
          port.close();
        });
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// main thread

interface Options {
  requests: number;
  concurrency: number;
  warmup: number;
  memory: boolean;
  redisUrl: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "16" },
      warmup: { type: "string", default: "200" },
      memory: { type: "boolean", default: false },
      "redis-url": { type: "string", default: "redis://127.0.0.1:6379" },
    },
  });
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`bench: --${name} must be an integer >= ${min}\n`);
      process.exit(2);
    }
    return n;
  };
  return {
    requests: int("requests", values.requests, 1),
    concurrency: int("concurrency", values.concurrency, 1),
    warmup: int("warmup", values.warmup, 0),
    memory: values.memory,
    redisUrl: values["redis-url"],
  };
}

interface Material {
  dir: string;
  idpKey: KeyObject;
  bridgeKey: KeyObject;
  secret: string;
}

/** Throwaway keys, certificate and metadata in a fresh temp dir. */
function makeMaterial(): Material {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fedbridge-bench-"));
  const idp = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const cert = selfSignedCertificate(idp.privateKey, idp.publicKey, "fedbridge bench IdP (throwaway)", 1);
  const b64 = cert.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  writeFileSync(
    path.join(dir, "idp-metadata.xml"),
    `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${IDP_ENTITY_ID}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.bench.invalid/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`,
  );
  writeFileSync(path.join(dir, "idp.crt"), cert);
  const bridge = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(path.join(dir, "bridge-signing.key"), bridge.privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
  return { dir, idpKey: idp.privateKey, bridgeKey: bridge.privateKey, secret: randomBytes(32).toString("base64url") };
}

function rawConfig(o: Options, m: Material, keyPrefix: string, total: number): Record<string, unknown> {
  return {
    issuer: ISSUER,
    tokenEndpoint: TOKEN_ENDPOINT,
    saml: { entityId: SP_ENTITY_ID },
    tokens: { ttlSeconds: 300, clockSkewSeconds: 60 },
    signing: { keys: [{ kid: "bench-rs", alg: "RS256", privateKeyFile: "bridge-signing.key" }] },
    clients: [
      {
        id: CLIENT_ID,
        secretHash: `sha256:${createHash("sha256").update(m.secret).digest("base64url")}`,
        audiences: [API], defaultAudience: API, scopes: ["read", "write"], idps: ["bench-idp"], mode: "delegation",
      },
    ],
    audiences: [{ id: API, scopes: ["read", "write"], defaultScopes: ["read"] }],
    samlIdps: [
      {
        id: "bench-idp", metadataFile: "idp-metadata.xml", recipients: [TOKEN_ENDPOINT],
        // Long enough that pre-signed assertions stay valid however long signing + the run take.
        maxAssertionAgeSeconds: 3600,
        mapping: {
          subject: { nameId: true },
          claims: {
            email: { from: { friendlyName: "mail" }, required: true, transform: "lowercase" },
            groups: { from: { name: "groups" }, multi: true, default: [] },
          },
          scopes: [
            { when: { name: "groups" }, anyOf: ["staff"], grant: ["read"] },
            { when: { name: "groups" }, anyOf: ["editors"], grant: ["read", "write"] },
          ],
        },
      },
    ],
    replay: o.memory
      ? { store: "memory", memoryMaxEntries: Math.max(100_000, 2 * total) }
      : { store: "redis", redisUrl: o.redisUrl, keyPrefix },
  };
}


/** One distinct, signed SAML 2.0 assertion (xml-crypto, signature after the Issuer, exc-c14n, rsa-sha256). */
function signedAssertion(idpKey: string, i: number, now: number): string {
  const xml = buildExampleAssertion({
    issuer: IDP_ENTITY_ID, audience: SP_ENTITY_ID, recipient: TOKEN_ENDPOINT,
    nameId: `user${i}@bench.invalid`, groups: ["staff", "editors"], lifetime: 3600, now,
  });
  return signAssertion(xml, idpKey);
}

function formBody(signedXml: string): string {
  const form = new URLSearchParams();
  form.append("grant_type", GRANT);
  form.append("subject_token", Buffer.from(signedXml, "utf8").toString("base64url"));
  form.append("subject_token_type", SAML2);
  form.append("scope", "read");
  return form.toString();
}

interface Reply {
  status: number;
  body: string;
}

function post(agent: Agent, port: number, auth: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent, host: "127.0.0.1", port, method: "POST", path: "/token",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "content-length": Buffer.byteLength(body),
          authorization: auth,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function get(agent: Agent, port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: "127.0.0.1", port, method: "GET", path: p }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

interface RunResult {
  wallMs: number;
  latenciesMs: number[];
  ok: number;
  failures: Map<string, number>;
}

/** Sends every body once, `concurrency` at a time; a result is OK only if 200 with an access_token. */
async function drive(agent: Agent, port: number, auth: string, bodies: readonly string[], concurrency: number): Promise<RunResult> {
  const latenciesMs: number[] = new Array(bodies.length);
  const failures = new Map<string, number>();
  let ok = 0;
  let next = 0;
  const start = performance.now();
  const lane = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) {
      const t0 = performance.now();
      let outcome: string;
      try {
        const res = await post(agent, port, auth, bodies[i]!);
        if (res.status === 200 && typeof (JSON.parse(res.body) as { access_token?: unknown }).access_token === "string") {
          outcome = "ok";
        } else {
          const b = JSON.parse(res.body) as { error?: string; error_description?: string };
          outcome = `${res.status} ${b.error ?? "?"}/${b.error_description ?? "?"}`;
        }
      } catch (e) {
        outcome = `transport ${(e as Error).message}`;
      }
      latenciesMs[i] = performance.now() - t0;
      if (outcome === "ok") ok++;
      else failures.set(outcome, (failures.get(outcome) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, bodies.length) }, lane));
  return { wallMs: performance.now() - start, latenciesMs, ok, failures };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** µs per op of `fn`, one at a time on this thread: a short warm-up, then at least `minMs` and `minOps`. */
async function microsPerOp(fn: () => unknown, minMs = 1_000, minOps = 300): Promise<{ usPerOp: number; ops: number }> {
  for (let i = 0; i < 50; i++) await fn();
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs || ops < minOps) {
    await fn();
    ops++;
    elapsed = performance.now() - start;
  }
  return { usPerOp: (elapsed * 1000) / ops, ops };
}

class BridgeWorker {
  readonly #worker: Worker;
  readonly #waiting = new Map<string, (m: FromWorker) => void>();
  #failed: Error | undefined;

  constructor(input: WorkerInput) {
    this.#worker = new Worker(new URL(import.meta.url), { workerData: input });
    this.#worker.on("message", (m: FromWorker) => {
      if (m.type === "log") {
        process.stderr.write(`bridge: ${m.line}\n`);
        return;
      }
      const w = this.#waiting.get(m.type);
      this.#waiting.delete(m.type);
      w?.(m);
    });
    const fail = (e: Error): void => {
      this.#failed ??= e;
      for (const w of this.#waiting.values()) w({ type: "closed" });
      this.#waiting.clear();
    };
    this.#worker.on("error", fail);
    this.#worker.on("exit", (code) => fail(new Error(`bridge worker exited (code ${code})`)));
  }

  #await<T extends FromWorker["type"]>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`bridge worker: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      this.#waiting.set(type, (m) => {
        clearTimeout(t);
        if (this.#failed && type !== "closed") reject(this.#failed);
        else resolve(m as Extract<FromWorker, { type: T }>);
      });
    });
  }

  listening(): Promise<number> {
    return this.#await("listening", 15_000).then((m) => m.port);
  }

  elu(): Promise<EventLoopUtilization> {
    const p = this.#await("elu", 5_000).then((m) => m.elu);
    this.#worker.postMessage({ type: "elu" } satisfies ToWorker);
    return p;
  }

  async close(): Promise<void> {
    const p = this.#await("closed", 5_000).catch(() => undefined);
    this.#worker.postMessage({ type: "close" } satisfies ToWorker);
    await p;
    await this.#worker.terminate();
  }
}

async function main(): Promise<number> {
  const o = options();
  const keyPrefix = `fedbridge:bench:${randomBytes(8).toString("hex")}:`;
  const total = o.warmup + o.requests;
  const m = makeMaterial();
  let worker: BridgeWorker | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  try {
    const raw = rawConfig(o, m, keyPrefix, total);
    parseConfig(raw); // fail here, not in the worker, on a bad config

    // ---- pre-sign every assertion before any timing ----
    process.stderr.write(`bench: signing ${total} assertions with xml-crypto...\n`);
    const idpPem = m.idpKey.export({ type: "pkcs8", format: "pem" }) as string;
    const now = Date.now();
    const t0 = performance.now();
    const signed = Array.from({ length: total }, (_, i) => signedAssertion(idpPem, i, now));
    const signMs = performance.now() - t0;
    const bodies = signed.map(formBody);
    const auth = `Basic ${Buffer.from(`${CLIENT_ID}:${m.secret}`).toString("base64")}`;

    // ---- the bridge ----
    worker = new BridgeWorker({ raw, baseDir: m.dir });
    const port = await worker.listening();
    const readyStart = performance.now();
    while ((await get(agent, port, "/readyz")) !== 200) {
      if (performance.now() - readyStart > 5_000) {
        throw new Error(o.memory ? "bridge /readyz never 200" : `bridge /readyz never 200: is Redis up at ${o.redisUrl}?`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }

    // ---- warm-up, then the timed run ----
    process.stderr.write(`bench: warm-up ${o.warmup}, then ${o.requests} exchanges at concurrency ${o.concurrency} (${o.memory ? "memory" : "redis"} replay store)...\n`);
    const warm = await drive(agent, port, auth, bodies.slice(0, o.warmup), o.concurrency);
    const elu0 = await worker.elu();
    const cpu0 = process.cpuUsage();
    const run = await drive(agent, port, auth, bodies.slice(o.warmup), o.concurrency);
    const cpu = process.cpuUsage(cpu0);
    const elu1 = await worker.elu();
    await worker.close();
    worker = undefined;
    agent.destroy();

    let redisKeys: number | undefined;
    if (!o.memory) redisKeys = await cleanRedis(o.redisUrl, keyPrefix);

    // ---- floors, single-threaded, one op at a time ----
    process.stderr.write("bench: measuring the crypto and XML floors...\n");
    const sample = signed[0]!;
    const signedInfo = /<(?:[\w.-]+:)?SignedInfo[\s>][\s\S]*?<\/(?:[\w.-]+:)?SignedInfo>/.exec(sample)?.[0];
    if (!signedInfo) throw new Error("no ds:SignedInfo in the sample assertion");
    const message = Buffer.from(signedInfo, "utf8");
    const idpPublic = createPublicKey(m.idpKey);
    const rsaSig = cryptoSign("sha256", message, m.idpKey);
    const verifyOnce = (): void => {
      if (!cryptoVerify("sha256", message, idpPublic, rsaSig)) throw new Error("verify failed");
    };
    const jwtOnce = (): Promise<string> =>
      new SignJWT({ client_id: CLIENT_ID, idp: IDP_ENTITY_ID, scope: "read write", email: "user0@bench.invalid", groups: ["staff", "editors"], act: { sub: CLIENT_ID } })
        .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: "bench-rs" })
        .setIssuer(ISSUER)
        .setSubject("user0@bench.invalid")
        .setAudience(API)
        .setIssuedAt()
        .setExpirationTime("5m")
        .setJti(randomBytes(16).toString("hex"))
        .sign(m.bridgeKey);
    const parser = new DOMParser({ locator: {}, errorHandler: { warning: () => undefined, error: () => undefined, fatalError: () => undefined } });
    const parseOnce = (): void => {
      if (!parser.parseFromString(sample, "text/xml").documentElement) throw new Error("parse failed");
    };
    const verify = await microsPerOp(verifyOnce);
    const jwt = await microsPerOp(jwtOnce);
    const crypto = await microsPerOp(async () => {
      verifyOnce();
      await jwtOnce();
    });
    const parse = await microsPerOp(parseOnce);

    // ---- figures ----
    const n = o.requests;
    const sorted = [...run.latenciesMs].sort((a, b) => a - b);
    const throughput = (n / run.wallMs) * 1000;
    const wallUs = 1e6 / throughput;
    const eluActiveMs = elu1.active - elu0.active;
    const eluIdleMs = elu1.idle - elu0.idle;
    const bridgeLoopUs = (eluActiveMs * 1000) / n;
    const processCpuUs = (cpu.user + cpu.system) / n;
    const floorCrypto = crypto.usPerOp;
    const floorCryptoParse = crypto.usPerOp + parse.usPerOp;
    const r = (x: number, d = 1): number => Number(x.toFixed(d));
    const figures = {
      bench: "fedbridge-exchange",
      store: o.memory ? "memory" : "redis",
      requests: n,
      concurrency: o.concurrency,
      warmup: o.warmup,
      cpus: os.availableParallelism(),
      node: process.version,
      ok: run.ok,
      failed: n - run.ok,
      warmup_failed: o.warmup - warm.ok,
      failures: Object.fromEntries(run.failures),
      presign_ms: r(signMs, 0),
      wall_ms: r(run.wallMs, 0),
      throughput_per_s: r(throughput),
      latency_ms: { p50: r(percentile(sorted, 50), 2), p95: r(percentile(sorted, 95), 2), p99: r(percentile(sorted, 99), 2), max: r(sorted.at(-1) ?? NaN, 2) },
      per_exchange_us: {
        wall: r(wallUs),
        bridge_event_loop: r(bridgeLoopUs),
        bridge_event_loop_utilization: r(eluActiveMs / (eluActiveMs + eluIdleMs), 3),
        process_cpu: r(processCpuUs),
      },
      floor_us: {
        rsa2048_verify: r(verify.usPerOp, 2),
        jwt_rs256_sign: r(jwt.usPerOp, 2),
        crypto: r(floorCrypto, 2),
        xml_parse: r(parse.usPerOp, 2),
        crypto_plus_parse: r(floorCryptoParse, 2),
      },
      floor_ops_per_s: { crypto: r(1e6 / floorCrypto), crypto_plus_parse: r(1e6 / floorCryptoParse), xml_parse: r(1e6 / parse.usPerOp) },
      ratio: {
        wall_vs_crypto: r(wallUs / floorCrypto, 2),
        wall_vs_crypto_plus_parse: r(wallUs / floorCryptoParse, 2),
        process_cpu_vs_crypto: r(processCpuUs / floorCrypto, 2),
        process_cpu_vs_crypto_plus_parse: r(processCpuUs / floorCryptoParse, 2),
      },
      ...(redisKeys === undefined ? {} : { redis_keys_written: redisKeys }),
      assertion_bytes: Buffer.byteLength(sample),
      signed_info_bytes: message.length,
    };

    const rows: [string, string][] = [
      ["replay store", `${figures.store}${redisKeys === undefined ? "" : ` (${redisKeys} keys written, expected ${total})`}`],
      ["exchanges", `${n} at concurrency ${o.concurrency} (+${o.warmup} warm-up), ${figures.cpus} CPUs, node ${process.version}`],
      ["result", `${run.ok} ok, ${n - run.ok} failed${run.failures.size ? ` ${JSON.stringify(figures.failures)}` : ""}`],
      ["throughput", `${figures.throughput_per_s} exchanges/s (${figures.wall_ms} ms wall)`],
      ["latency ms", `p50 ${figures.latency_ms.p50}  p95 ${figures.latency_ms.p95}  p99 ${figures.latency_ms.p99}  max ${figures.latency_ms.max}`],
      ["per exchange µs", `wall ${figures.per_exchange_us.wall}  bridge loop busy ${figures.per_exchange_us.bridge_event_loop} (ELU ${figures.per_exchange_us.bridge_event_loop_utilization})  process CPU ${figures.per_exchange_us.process_cpu}`],
      ["floor µs/op", `RSA-2048 verify ${figures.floor_us.rsa2048_verify} + JWT RS256 sign ${figures.floor_us.jwt_rs256_sign} = crypto ${figures.floor_us.crypto} (${figures.floor_ops_per_s.crypto}/s)`],
      ["", `xmldom parse ${figures.floor_us.xml_parse} (${figures.assertion_bytes} B)  crypto+parse ${figures.floor_us.crypto_plus_parse} (${figures.floor_ops_per_s.crypto_plus_parse}/s)`],
      ["wall / floor", `${figures.ratio.wall_vs_crypto}x crypto, ${figures.ratio.wall_vs_crypto_plus_parse}x crypto+parse`],
      ["CPU / floor", `${figures.ratio.process_cpu_vs_crypto}x crypto, ${figures.ratio.process_cpu_vs_crypto_plus_parse}x crypto+parse (process CPU incl. load generator)`],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`\nfedbridge POST /token benchmark\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join("\n")}\n\n`);
    process.stdout.write(`${JSON.stringify(figures)}\n`);

    if (warm.ok !== o.warmup) process.stderr.write(`bench: ${o.warmup - warm.ok} warm-up exchanges failed: ${JSON.stringify(Object.fromEntries(warm.failures))}\n`);
    if (redisKeys !== undefined && redisKeys !== total) process.stderr.write(`bench: expected ${total} replay keys in Redis, found ${redisKeys}\n`);
    const failed = run.ok !== n || warm.ok !== o.warmup || (redisKeys !== undefined && redisKeys !== total);
    return failed ? 1 : 0;
  } finally {
    agent.destroy();
    await worker?.close().catch(() => undefined);
    rmSync(m.dir, { recursive: true, force: true });
  }
}

/** Counts, then deletes, this run's replay keys. */
async function cleanRedis(url: string, keyPrefix: string): Promise<number> {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on("error", () => undefined);
  await client.connect();
  try {
    let count = 0;
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
      count += keys.length;
      if (keys.length > 0) await client.del(keys);
    }
    return count;
  } finally {
    await client.close();
  }
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`bench: failed: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
} else {
  workerMain().catch((e: unknown) => {
    process.stderr.write(`bench worker: failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}
