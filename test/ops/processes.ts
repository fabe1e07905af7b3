/**
 * The deployed processes for the shutdown tests: `node dist/src/main.js` and `dist/src/cluster.js`
 * (built by `npm test`) with a config of the test's own, each test with a redis-server of its own on
 * a free port (support/redis-process.ts: stalled with SIGSTOP, never the shared one), and exchanges
 * sent on connections of their own so the test knows which are in flight.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { baseConfig, CLIENTS, GRANT, SAML2 } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";

export const ROOT = resolve(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "fedbridge-ops-"));
const AUTH = `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`;
const children: ChildProcess[] = [];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A config file: the harness config cut to one IdP and one client, keys from test/fixtures, Redis at `redisUrl`. */
export function writeConfig(name: string, redisUrl: string, patch: (c: Record<string, any>) => void = () => undefined): string {
  const c = baseConfig();
  c.samlIdps = c.samlIdps.filter((i: { id: string }) => i.id === "idp1");
  c.clients = c.clients.filter((x: { id: string }) => x.id === CLIENTS.c1.id);
  c.clients[0].idps = ["idp1"];
  for (const k of c.signing.keys) k.privateKeyFile = join(FIXTURES_DIR, k.privateKeyFile);
  for (const i of c.samlIdps) i.metadataFile = join(FIXTURES_DIR, i.metadataFile);
  // The longest per-command timeout: the tests hold Redis still (SIGSTOP) to keep exchanges in flight.
  c.replay = { store: "redis", redisUrl, keyPrefix: `fedbridge:test:ops:${randomBytes(4).toString("hex")}:`, timeoutMs: 10_000 };
  patch(c);
  const file = join(dir, `${name}-${randomBytes(3).toString("hex")}.yaml`);
  writeFileSync(file, stringify(c));
  return file;
}

export interface Running {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Exit code (null when ended by a signal) and the time it came. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

export function startProcess(entry: "main" | "cluster", config: string, port: number, args: string[] = []): Running {
  const child = spawn(process.execPath, [join(ROOT, "dist", "src", `${entry}.js`), ...args], {
    env: { ...process.env, FEDBRIDGE_CONFIG: config, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => child.once("exit", (code, signal) => r({ code, signal, at: Date.now() })));
  return { child, out: () => out, err: () => err, exited };
}

/** SIGKILLs every process these helpers started that is still running (afterAll). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request on a new connection of its own (no pooling: a test must know which connection is
 * in flight). Rejects with the socket error (ECONNREFUSED once the listener is closed).
 */
export function request(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({
      host: "127.0.0.1", port, method, path, agent: false,
      headers: body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) },
    }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** What a request came to: its status, or the socket error's code ("ECONNREFUSED", "ECONNRESET"). */
export async function outcome(p: Promise<Reply>): Promise<number | string> {
  return p.then((r) => r.status, (e: NodeJS.ErrnoException) => e.code ?? e.message);
}

/** A token exchange of a fresh assertion from idp1 (signed by xmlsec1). */
export function exchange(port: number): Promise<Reply> {
  const id = `_ops_${randomBytes(8).toString("hex")}`;
  const xml = signWithXmlsec1(buildAssertion2({ id }), id, { key: KEYS.idp1 });
  const form = new URLSearchParams({ grant_type: GRANT, subject_token: toBase64Url(xml), subject_token_type: SAML2 }).toString();
  return request(port, "POST", "/token", form, { "content-type": "application/x-www-form-urlencoded", authorization: AUTH });
}

export async function readyz(port: number): Promise<number | string> {
  return outcome(request(port, "GET", "/readyz"));
}

/** Waits until the process serves /readyz 200. */
export async function ready(r: Running, port: number): Promise<void> {
  await until("/readyz 200", async () => {
    if (r.child.exitCode !== null) throw new Error(`exited ${r.child.exitCode}: ${r.err()}`);
    return (await readyz(port)) === 200;
  });
}

/** The JSON log lines of one event. */
export function events(r: Running, event: string): Record<string, unknown>[] {
  return r.out().split("\n").filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
}
