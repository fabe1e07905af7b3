/**
 * One assertion, many concurrent requests, spread over two bridge PROCESSES (the built
 * `dist/src/main.js`, as deployed) sharing the real Redis (FEDBRIDGE_TEST_REDIS_URL, default
 * 127.0.0.1:6379): exactly one token.
 * Fails, never skips, when Redis is absent.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "redis";
import { stringify } from "yaml";
import { reopenReplayStore } from "../../src/replay/epoch.js";
import { baseConfig, CLIENTS, GRANT, SAML2 } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { TEST_REDIS_URL } from "../support/redis-url.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const procs: ChildProcess[] = [];
const urls: string[] = [];
const keyPrefix = `fedbridge:test:mp:${randomBytes(6).toString("hex")}:`;

function startProcess(configFile: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "dist", "src", "main.js")], {
      env: { ...process.env, FEDBRIDGE_CONFIG: configFile, PORT: "0", HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    procs.push(child);
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (m) resolvePromise(m[1]!);
    });
    child.stdout!.resume();
    child.on("exit", (code) => reject(new Error(`bridge exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`bridge did not start: ${err}`)), 15_000).unref();
  });
}

beforeAll(async () => {
  const c = baseConfig();
  for (const k of c.signing.keys) k.privateKeyFile = join(FIXTURES_DIR, k.privateKeyFile);
  for (const i of c.samlIdps) i.metadataFile = join(FIXTURES_DIR, i.metadataFile);
  c.replay = { store: "redis", redisUrl: TEST_REDIS_URL, keyPrefix };
  const dir = mkdtempSync(join(tmpdir(), "fedbridge-mp-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, stringify(c));
  // The epoch marker written up front (as `npm run replay-reopen` would): both processes share it.
  const init = createClient({ url: TEST_REDIS_URL });
  await init.connect();
  await reopenReplayStore(init, keyPrefix, { now: Date.now(), operator: "test", reason: "new store" });
  await init.close();
  urls.push(...(await Promise.all([startProcess(file), startProcess(file)])));
  // Both processes must see Redis before the race starts.
  for (const url of urls) {
    for (let i = 0; i < 50; i++) {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }
});

afterAll(async () => {
  for (const p of procs) p.kill("SIGTERM");
  const redis = createClient({ url: TEST_REDIS_URL });
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*` })) if (keys.length) await redis.del(keys);
  await redis.close();
});

describe("replay across processes", () => {
  it("24 concurrent uses of one assertion over two processes yield exactly one token", async () => {
    const id = `_mp_${randomBytes(8).toString("hex")}`;
    const xml = signWithXmlsec1(buildAssertion2({ id }), id, { key: KEYS.idp1 });
    const body = new URLSearchParams({ grant_type: GRANT, subject_token: toBase64Url(xml), subject_token_type: SAML2 }).toString();
    const auth = `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`;
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        fetch(`${urls[i % 2]}/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", authorization: auth },
          body,
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> })),
      ),
    );
    const issued = results.filter((r) => r.status === 200);
    expect(issued).toHaveLength(1);
    expect(issued[0]!.body.access_token).toBeTypeOf("string");
    const refused = results.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(23);
    for (const r of refused) expect(r).toEqual({ status: 400, body: { error: "invalid_request", error_description: "replayed" } });
  });
});
