/**
 * Benchmark of POST /token over real HTTP against the bridge in production mode (dist/src/cluster.js,
 * one worker per core unless --workers says otherwise), driven from a SEPARATE load-generator
 * process (bench/load.ts), with the cryptographic floor of the same work measured in the same run
 * on all cores (bench/floor.ts) and the ratio.
 *
 *   npm run bench -- [--scenario response,idtoken | all] [--workers N] [--idps N] [--size 2k|20k|200k]
 *                    [--concurrency 32] [--duration 10] [--requests N] [--warmup N] [--half]
 *                    [--alg RS256|PS256|ES256|ES384|EdDSA] [--redis-url redis://…] [--profile]
 *
 * Scenarios: response (an enterprise-shaped samlp:Response: one signed assertion, ten attributes,
 * the certificate in KeyInfo, ≈5 KB), assertion (the same assertion bare), saml11 (a SAML 1.1
 * assertion), idtoken (an OIDC ID token, RS256, one-time use through Redis). Every request carries a
 * fresh token, all signed before timing. --half adds a rate-limited run at 50 % of the measured
 * maximum and reports its latency (open loop, measured from when each request was due).
 *
 * Everything is throwaway: keys, certificate, metadata, JWKS and config in a temp dir (removed at
 * the end), and a redis-server of its own on a free port (stopped by PID) unless --redis-url names
 * one (then keys live under a random prefix, deleted at the end). Exit 1 if any exchange failed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "redis";
import { exportJWK } from "jose";
import { selfSignedCertificate } from "../scripts/lib/self-signed-cert.js";
import { allCoreFloor, exchangeCost, formatCost, ofFloor, percentile, perSecond, round } from "./arithmetic.js";
import { measureFloor } from "./floor.js";
import type { LoadJob, LoadResult } from "./load.js";
import { presign } from "./presign.js";
import { breakdown, formatBreakdown, monotonicUs, profileFiles, workerProfiles, type Window } from "./profile.js";
import { BENCH, SCENARIOS, type Scenario, type Signer } from "./tokens.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const CLUSTER = path.join(ROOT, "dist", "src", "cluster.js");
const LOAD = path.join(HERE, "load.js");
const REOPEN = path.join(ROOT, "dist", "scripts", "replay-reopen.js");
const SIGNING_ALGS = ["RS256", "PS256", "ES256", "ES384", "EdDSA"] as const;
type Alg = (typeof SIGNING_ALGS)[number];

interface Options {
  scenarios: Scenario[];
  workers: number;
  idps: number;
  size: number;
  concurrency: number;
  durationS: number;
  requests: number | undefined;
  warmup: number | undefined;
  half: boolean;
  alg: Alg;
  redisUrl: string | undefined;
  profile: boolean;
  floorMs: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "response,idtoken" },
      workers: { type: "string", default: String(os.availableParallelism()) },
      idps: { type: "string", default: "1" },
      size: { type: "string", default: "0" },
      concurrency: { type: "string", default: "32" },
      duration: { type: "string", default: "10" },
      requests: { type: "string" },
      warmup: { type: "string" },
      half: { type: "boolean", default: false },
      alg: { type: "string", default: "RS256" },
      "redis-url": { type: "string" },
      profile: { type: "boolean", default: false },
      "floor-ms": { type: "string", default: "300" },
    },
  });
  const fail = (m: string): never => {
    process.stderr.write(`bench: ${m}\n`);
    process.exit(2);
  };
  const int = (name: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer ${min}-${max}`);
    return n;
  };
  const sizeOf = (v: string): number => {
    const m = /^(\d+)(k|kb)?$/i.exec(v.trim());
    if (!m) return fail("--size: bytes, or e.g. 2k, 20k, 200k");
    return Number(m[1]) * (m[2] ? 1024 : 1);
  };
  const scenarios = values.scenario === "all" ? [...SCENARIOS] : values.scenario.split(",").map((s) => s.trim());
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) fail(`--scenario: one or more of ${SCENARIOS.join(", ")}, or all`);
  if (!(SIGNING_ALGS as readonly string[]).includes(values.alg)) fail(`--alg: one of ${SIGNING_ALGS.join(", ")}`);
  const size = sizeOf(values.size);
  if (size > 400 * 1024) fail("--size: at most 400k (the bridge's token limit is 1 MiB of base64)");
  return {
    scenarios: scenarios as Scenario[],
    workers: int("workers", values.workers, 1, 256),
    idps: int("idps", values.idps, 1, 20_000),
    size,
    concurrency: int("concurrency", values.concurrency, 1, 10_000),
    durationS: int("duration", values.duration, 1, 3600),
    requests: values.requests === undefined ? undefined : int("requests", values.requests, 1),
    warmup: values.warmup === undefined ? undefined : int("warmup", values.warmup, 0),
    half: values.half,
    alg: values.alg as Alg,
    redisUrl: values["redis-url"],
    profile: values.profile,
    floorMs: int("floor-ms", values["floor-ms"], 50, 60_000),
  };
}

// ---------------------------------------------------------------------------------------------------
// material and config

interface Material {
  dir: string;
  signer: Signer;
  bridgeKeyPem: string;
  secrets: { saml: string; oidc: string };
}

function privatePem(k: KeyObject): string {
  return k.export({ type: "pkcs8", format: "pem" }) as string;
}

function metadataXml(entityId: string, certPem: string): string {
  const b64 = certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.bench.invalid/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`;
}

function bridgeKey(alg: Alg): KeyObject {
  switch (alg) {
    case "RS256": case "PS256": return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    case "ES256": return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    case "ES384": return generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey;
    case "EdDSA": return generateKeyPairSync("ed25519").privateKey;
  }
}

async function makeMaterial(o: Options): Promise<Material> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fedbridge-bench-"));
  const idp = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const cert = selfSignedCertificate(idp.privateKey, idp.publicKey, "fedbridge bench IdP (throwaway)", 2);
  writeFileSync(path.join(dir, "idp-metadata.xml"), metadataXml(BENCH.idpEntityId, cert));
  if (o.idps > 1) {
    // Further IdPs the clients do not use: what a bridge serving a federation holds. One throwaway
    // key for all of them (their certificates are never used).
    mkdirSync(path.join(dir, "idps"));
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const otherCert = selfSignedCertificate(other.privateKey, other.publicKey, "fedbridge bench other IdP (throwaway)", 2);
    for (let i = 1; i < o.idps; i++) writeFileSync(path.join(dir, "idps", `idp-${i}.xml`), metadataXml(`https://idp-${i}.bench.invalid/saml`, otherCert));
  }
  const oidc = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(oidc.publicKey)), kid: "bench-oidc-1", alg: "RS256", use: "sig" };
  writeFileSync(path.join(dir, "oidc.jwks.json"), JSON.stringify({ keys: [jwk] }));
  const bridgeKeyPem = privatePem(bridgeKey(o.alg));
  writeFileSync(path.join(dir, "bridge-signing.key"), bridgeKeyPem, { mode: 0o600 });
  return {
    dir,
    signer: { idpKeyPem: privatePem(idp.privateKey), idpCertPem: cert, oidcKeyPem: privatePem(oidc.privateKey), oidcKid: "bench-oidc-1" },
    bridgeKeyPem,
    secrets: { saml: randomBytes(24).toString("base64url"), oidc: randomBytes(24).toString("base64url") },
  };
}

function rawConfig(o: Options, m: Material, redisUrl: string, keyPrefix: string): Record<string, unknown> {
  const secretHash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
  const claimsFrom = (name: string) => ({ from: { name } });
  const fillers = Array.from({ length: o.idps - 1 }, (_, k) => ({
    id: `idp-${k + 1}`, metadataFile: `idps/idp-${k + 1}.xml`, recipients: [BENCH.tokenEndpoint],
    mapping: { subject: { nameId: true }, claims: {}, scopes: [{ grant: ["read"] }] },
  }));
  return {
    issuer: BENCH.issuer,
    tokenEndpoint: BENCH.tokenEndpoint,
    saml: { entityId: BENCH.spEntityId },
    tokens: { ttlSeconds: 300, clockSkewSeconds: 60 },
    signing: { keys: [{ kid: "bench-1", alg: o.alg, privateKeyFile: "bridge-signing.key" }] },
    // Room for --size 200k (base64url in a form) and its elements; defaults otherwise.
    limits: { maxBodyBytes: 4 * 1024 * 1024, maxTokenBytes: 1024 * 1024, maxXmlElements: 20_000 },
    clients: [
      {
        id: "bench-saml", secretHash: secretHash(m.secrets.saml), audiences: [BENCH.apiSaml], defaultAudience: BENCH.apiSaml,
        scopes: ["read", "write"], idps: ["bench-idp"], mode: "delegation",
        subjectTokenTypes: ["urn:ietf:params:oauth:token-type:saml2", "urn:ietf:params:oauth:token-type:saml1"],
      },
      {
        id: "bench-oidc", secretHash: secretHash(m.secrets.oidc), audiences: [BENCH.apiOidc], defaultAudience: BENCH.apiOidc,
        scopes: ["read", "write"], idps: ["bench-oidc"], mode: "delegation", subjectTokenTypes: ["urn:ietf:params:oauth:token-type:id_token"],
      },
    ],
    audiences: [
      { id: BENCH.apiSaml, scopes: ["read", "write"], defaultScopes: ["read"] },
      { id: BENCH.apiOidc, scopes: ["read", "write"], defaultScopes: ["read"] },
    ],
    samlIdps: [
      {
        id: "bench-idp", metadataFile: "idp-metadata.xml", recipients: [BENCH.tokenEndpoint],
        // Long enough that pre-signed tokens stay valid however long signing and the run take.
        maxAssertionAgeSeconds: 3600,
        mapping: {
          subject: { nameId: true },
          claims: {
            email: { ...claimsFrom("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"), required: true, transform: "lowercase" },
            name: claimsFrom("http://schemas.microsoft.com/identity/claims/displayname"),
            given_name: claimsFrom("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"),
            family_name: claimsFrom("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"),
            oid: claimsFrom("http://schemas.microsoft.com/identity/claims/objectidentifier"),
            tid: claimsFrom("http://schemas.microsoft.com/identity/claims/tenantid"),
            groups: { ...claimsFrom("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"), multi: true, default: [] },
          },
          scopes: [
            { when: { name: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups" }, anyOf: ["staff"], grant: ["read"] },
            { when: { name: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups" }, anyOf: ["editors"], grant: ["read", "write"] },
          ],
        },
      },
      ...fillers,
    ],
    jwtIssuers: [
      {
        id: "bench-oidc", issuer: BENCH.oidcIssuer, jwksFile: "oidc.jwks.json", algorithms: ["RS256"], audiences: [BENCH.oidcAudience],
        tokenTypes: ["urn:ietf:params:oauth:token-type:id_token"], maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 7200,
        // Every ID token is used once, through the same Redis replay store as the assertions.
        oneTimeUse: true,
        mapping: {
          subject: { nameId: true },
          claims: { email: { ...claimsFrom("email"), required: true, transform: "lowercase" }, name: claimsFrom("name"), groups: { ...claimsFrom("groups"), multi: true, default: [] } },
          scopes: [{ when: { name: "groups" }, anyOf: ["staff"], grant: ["read"] }],
        },
      },
    ],
    replay: { store: "redis", redisUrl, keyPrefix },
  };
}

// ---------------------------------------------------------------------------------------------------
// processes

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => srv.once("listening", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function status(port: number, p: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpGet({ host: "127.0.0.1", port, path: p, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0));
  });
}

async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const c = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
    c.on("error", () => undefined);
    const ok = await c.connect().then(() => true, () => false);
    if (ok) {
      await c.close();
      return { url, child };
    }
    await sleep(50);
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not start");
}

interface Bridge {
  child: ChildProcess;
  port: number;
  workerPids: number[];
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startBridge(configFile: string, workers: number, profileDir: string | undefined): Promise<Bridge> {
  const port = await freePort();
  const nodeArgs = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, CLUSTER, "--workers", String(workers)], {
    env: { ...process.env, FEDBRIDGE_CONFIG: configFile, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const pids: number[] = [];
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.includes('"worker_listening"')) pids.push((JSON.parse(line) as { pid: number }).pid);
      // Exchange lines are the bridge's business; store and worker events are worth seeing.
      else if (/"event":"(worker_died|redis_|replay_store)/.test(line)) process.stderr.write(`bridge: ${line}\n`);
    }
  });
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const deadline = Date.now() + 120_000;
  try {
    while (pids.length < workers) {
      if (child.exitCode !== null) throw new Error(`bridge exited ${child.exitCode}:\n${err}`);
      if (Date.now() > deadline) throw new Error(`bridge did not start:\n${err}`);
      await sleep(50);
    }
    while ((await status(port, "/readyz")) !== 200) {
      if (Date.now() > deadline) throw new Error(`bridge /readyz never 200:\n${err}`);
      await sleep(100);
    }
  } catch (e) {
    if (child.exitCode === null) child.kill("SIGKILL");
    throw e;
  }
  return { child, port, workerPids: pids, stderr: () => err, exited };
}

/** utime + stime of these processes, µs (Linux /proc; 0 elsewhere). */
function cpuUs(pids: readonly number[]): number {
  const hz = 100; // USER_HZ, fixed at 100 on Linux for /proc
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* gone */ }
  }
  return (ticks * 1e6) / hz;
}

function runLoad(job: LoadJob, dir: string, name: string): Promise<LoadResult> {
  const file = path.join(dir, `${name}.job.json`);
  writeFileSync(file, JSON.stringify(job));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, file], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      resolve(JSON.parse(out) as LoadResult);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// one scenario

const DESCRIPTION: Record<Scenario, string> = {
  response: "SAML 2.0 samlp:Response, one signed assertion, 10 attributes",
  assertion: "bare SAML 2.0 assertion, 10 attributes",
  saml11: "SAML 1.1 assertion, 10 attributes",
  idtoken: "OIDC ID token, RS256, one-time use",
};

interface ScenarioResult {
  text: string[];
  json: Record<string, unknown>;
  failed: boolean;
  exchanges: number;
  /** The warm-up and the closed-loop run (what the CPU per exchange is measured over), for --profile. */
  window: Window;
}

async function runScenario(o: Options, m: Material, bridge: Bridge, scenario: Scenario, basePerSec: number): Promise<ScenarioResult> {
  const natural = scenario === "idtoken" ? 1 : 5 * 1024;
  const requests = o.requests ?? Math.max(300, Math.round((basePerSec * o.durationS * natural) / Math.max(natural, o.size || natural)));
  const warmup = o.warmup ?? Math.max(100, Math.round(requests / 10));
  const halfCount = o.half ? Math.ceil(requests / 2) : 0;
  const total = warmup + requests + halfCount;
  process.stderr.write(`bench: ${scenario}: signing ${total} tokens on ${os.availableParallelism()} threads...\n`);
  const { bodies, sample } = await presign(total, { scenario, size: scenario === "idtoken" ? 0 : o.size, now: Date.now(), lifetime: 3600 }, m.signer);
  const bodiesFile = path.join(m.dir, `${scenario}.bodies`);
  writeFileSync(bodiesFile, bodies.slice(0, warmup + requests).join("\n"));
  const auth = `Basic ${Buffer.from(scenario === "idtoken" ? `bench-oidc:${m.secrets.oidc}` : `bench-saml:${m.secrets.saml}`).toString("base64")}`;

  process.stderr.write(`bench: ${scenario}: warm-up ${warmup}, then up to ${requests} exchanges for at most ${o.durationS} s at concurrency ${o.concurrency}...\n`);
  const base: Omit<LoadJob, "bodiesFile" | "mode" | "warmup"> = { port: bridge.port, authorization: auth, concurrency: o.concurrency, maxMs: o.durationS * 1000 };
  const cpu0 = cpuUs(bridge.workerPids);
  const fromUs = monotonicUs();
  const max = await runLoad({ ...base, bodiesFile, mode: "closed", warmup }, m.dir, `${scenario}-max`);
  const window = { fromUs, toUs: monotonicUs() };
  // The warm-up's CPU is not separable from the run's here: the cost is over both.
  const bridgeCpuPerExchange = (cpuUs(bridge.workerPids) - cpu0) / Math.max(1, warmup + max.sent);
  const throughput = perSecond(max.ok, max.wallMs);

  let half: LoadResult | undefined;
  let halfRate = 0;
  if (o.half) {
    halfRate = Math.max(1, Math.floor(throughput / 2));
    const halfFile = path.join(m.dir, `${scenario}-half.bodies`);
    writeFileSync(halfFile, bodies.slice(warmup + requests).join("\n"));
    process.stderr.write(`bench: ${scenario}: rate-limited run at ${halfRate}/s (half the maximum)...\n`);
    half = await runLoad({ ...base, bodiesFile: halfFile, mode: "rate", rate: halfRate, warmup: 0, concurrency: Math.max(o.concurrency, 256) }, m.dir, `${scenario}-half`);
  }

  process.stderr.write(`bench: ${scenario}: measuring the floor on ${os.availableParallelism()} threads...\n`);
  const measured = await measureFloor({
    kind: scenario === "idtoken" ? "idtoken" : "saml", token: sample,
    idpKeyPem: scenario === "idtoken" ? m.signer.oidcKeyPem : m.signer.idpKeyPem,
    bridgeKeyPem: m.bridgeKeyPem, bridgeAlg: o.alg, msPerOp: o.floorMs,
  });
  // The floor from CPU cost (what the hardware allows, however busy the machine is now) ...
  const cost = exchangeCost(measured.cpuUs);
  const floor = allCoreFloor(Array.from({ length: measured.threads }, () => cost.totalUs));
  // ... and from wall time per thread, as the machine ran it during this run.
  const wallFloor = allCoreFloor(measured.wallUs.map((t) => exchangeCost(t).totalUs));
  const threads = measured.wallUs;

  const lat = max.latenciesMs;
  const failedCount = max.sent - max.ok;
  const r = (x: number, d = 1): number => round(x, d);
  const json = {
    scenario, description: DESCRIPTION[scenario], token_bytes: Buffer.byteLength(sample), workers: o.workers, idps: o.idps, alg: o.alg,
    concurrency: o.concurrency, warmup, sent: max.sent, ok: max.ok, failed: failedCount, failures: max.failures,
    warmup_failed: warmup - max.warmupOk, wall_ms: r(max.wallMs, 0), throughput_per_s: r(throughput),
    latency_ms: { p50: r(percentile(lat, 50), 2), p95: r(percentile(lat, 95), 2), p99: r(percentile(lat, 99), 2), max: r(lat.at(-1) ?? NaN, 2) },
    bridge_cpu_us_per_exchange: r(bridgeCpuPerExchange),
    floor: { cpu_us: Object.fromEntries(cost.terms), exchange_cpu_us: cost.totalUs, per_core_per_s: r(cost.perCorePerS), threads: threads.length, all_cores_per_s: r(floor), all_cores_wall_now_per_s: r(wallFloor) },
    throughput_of_floor: r(ofFloor(throughput, floor), 3),
    bridge_cpu_vs_floor_cost: r(bridgeCpuPerExchange / cost.totalUs, 2),
    ...(half ? {
      half: {
        rate_per_s: halfRate, sent: half.sent, ok: half.ok, failed: half.sent - half.ok, failures: half.failures, late_starts: half.lateStarts,
        latency_ms: { p50: r(percentile(half.latenciesMs, 50), 2), p95: r(percentile(half.latenciesMs, 95), 2), p99: r(percentile(half.latenciesMs, 99), 2), max: r(half.latenciesMs.at(-1) ?? NaN, 2) },
      },
    } : {}),
  };
  const rows: [string, string][] = [
    ["token", `${DESCRIPTION[scenario]}, ${json.token_bytes} B`],
    ["result", `${max.ok} ok, ${failedCount} failed${failedCount ? ` ${JSON.stringify(max.failures)}` : ""} (+${max.warmupOk}/${warmup} warm-up ok)`],
    ["throughput", `${json.throughput_per_s} exchanges/s (${json.wall_ms} ms)`],
    ["latency ms", `p50 ${json.latency_ms.p50}  p95 ${json.latency_ms.p95}  p99 ${json.latency_ms.p99}  max ${json.latency_ms.max}`],
    ["bridge CPU", `${json.bridge_cpu_us_per_exchange} µs/exchange (all workers, user+system)`],
    ["floor (CPU)", formatCost(cost)],
    ["", `× ${threads.length} cores = ${json.floor.all_cores_per_s} exchanges/s (measured on ${threads.length} threads at once; by wall time just now: ${json.floor.all_cores_wall_now_per_s}/s)`],
    ["of floor", `throughput ${(100 * json.throughput_of_floor).toFixed(1)} % of the all-core floor; bridge CPU ${json.bridge_cpu_vs_floor_cost}× the floor's cost per exchange`],
  ];
  if (half && json.half) {
    rows.push(["at half load", `${halfRate}/s for ${r(half.wallMs / 1000)} s: ${half.ok} ok, ${half.sent - half.ok} failed; p50 ${json.half.latency_ms.p50}  p95 ${json.half.latency_ms.p95}  p99 ${json.half.latency_ms.p99}  max ${json.half.latency_ms.max} ms${half.lateStarts ? ` (${half.lateStarts} late starts)` : ""}`]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return {
    text: [`${scenario}`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)],
    json,
    failed: failedCount > 0 || max.warmupOk !== warmup || (half !== undefined && half.ok !== half.sent),
    exchanges: warmup + max.sent + (half?.sent ?? 0),
    window,
  };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = options();
  if (!existsSync(CLUSTER)) throw new Error(`${CLUSTER} is missing: run npm run build`);
  const m = await makeMaterial(o);
  const keyPrefix = `fedbridge:bench:${randomBytes(6).toString("hex")}:`;
  let redis: { url: string; child: ChildProcess | undefined } | undefined;
  let bridge: Bridge | undefined;
  try {
    redis = o.redisUrl ? { url: o.redisUrl, child: undefined } : await startRedis();
    const configFile = path.join(m.dir, "fedbridge.bench.json");
    writeFileSync(configFile, JSON.stringify(rawConfig(o, m, redis.url, keyPrefix), null, 1));
    // A brand-new replay store is opened by the operator's command where the tree has one (the
    // bridge cannot tell a first start from a lost store).
    if (existsSync(REOPEN)) {
      const r = spawnSync(process.execPath, [REOPEN, "--operator", "bench", "--reason", "brand-new benchmark store", "--config", configFile], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`replay-reopen failed: ${r.stderr}`);
    }
    // Kept after the run (path printed) for `npm run bench:profile -- <dir>` or Chrome DevTools.
    const profileDir = o.profile ? mkdtempSync(path.join(os.tmpdir(), "fedbridge-bench-profile-")) : undefined;
    process.stderr.write(`bench: starting the bridge: ${o.workers} worker(s), ${o.idps} IdP(s), ${o.alg} access tokens, Redis ${o.redisUrl ? o.redisUrl : "(own redis-server)"}...\n`);
    bridge = await startBridge(configFile, o.workers, profileDir);

    const results: ScenarioResult[] = [];
    for (const s of o.scenarios) results.push(await runScenario(o, m, bridge, s, s === "idtoken" ? 3000 : 1500));

    bridge.child.kill("SIGTERM");
    const code = await bridge.exited;
    bridge = undefined;
    if (code !== 0) process.stderr.write(`bench: the bridge exited ${code} on SIGTERM\n`);

    const head = `fedbridge POST /token benchmark: ${o.workers} worker(s) on ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, `
      + `${o.idps} IdP(s), ${o.alg} access tokens, Redis replay store, concurrency ${o.concurrency}, load generator in its own process`;
    process.stdout.write(`\n${head}\n\n${results.map((x) => x.text.join("\n")).join("\n\n")}\n`);
    if (profileDir) {
      // Each scenario's own samples (its warm-up and closed-loop run, by the monotonic clock the
      // profiles share with this process): no start-up, no other scenario, no half-load run.
      const profiles = workerProfiles(profileFiles([profileDir]));
      for (const x of results) {
        const b = breakdown(profiles, x.window);
        const cpu = x.json.bridge_cpu_us_per_exchange as number;
        x.json.profile_us_per_exchange = Object.fromEntries(Object.entries(b.busyUs).filter(([, us]) => us > 0).map(([k, us]) => [k, round((us / b.totalBusyUs) * cpu, 1)]));
        process.stdout.write(`\nprofile of the workers' main threads during ${x.json.scenario} (warm-up and run, ${x.json.warmup as number + (x.json.sent as number)} exchanges), share of busy time by step, and that share of the bridge CPU per exchange:\n${formatBreakdown(b, cpu).join("\n")}\n`);
      }
      process.stdout.write(`(profiles kept in ${profileDir})\n`);
    }
    process.stdout.write("\n");
    for (const x of results) process.stdout.write(`${JSON.stringify({ bench: "fedbridge-exchange", node: process.version, cpus: os.availableParallelism(), ...x.json })}\n`);
    return results.some((x) => x.failed) ? 1 : 0;
  } finally {
    if (bridge) {
      bridge.child.kill("SIGKILL");
    }
    if (redis?.child) redis.child.kill("SIGKILL");
    else if (redis) await cleanRedis(redis.url, keyPrefix).catch(() => undefined);
    rmSync(m.dir, { recursive: true, force: true });
  }
}

/** Deletes this run's keys from a Redis the benchmark did not start. */
async function cleanRedis(url: string, keyPrefix: string): Promise<void> {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on("error", () => undefined);
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
  } finally {
    await client.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
