/**
 * Property-based tests (fast-check) of the admin trust invariants: random sequences of admin
 * operations (create, replace, metadata upload, rotation, create/replace by URL, refresh with
 * changed keys, scheduler ticks, delete, re-create, new ids for an entity, entityID changes, with
 * and without force, stale and missing If-Match, two operations at once) against
 *  - two bridge instances sharing one REAL Redis (a private redis-server on a free port), and
 *  - one bridge on the file store,
 * checking after EVERY step, from the store itself:
 *  1. no two live records share an entityID;
 *  2. every change has exactly one audit entry (applied entries = the sum of version bumps), and a
 *     request answered 2xx made exactly its change, a refused one none;
 *  3. replaying the applied entries in order, no entityID ever gained a key without overlap with
 *     its last trusted keys (across deletes, id changes and entityID moves) or force, and an entry
 *     is `forced` only when the request asked for force;
 *  4. every live record's keys are its entity's last trusted keys (the store is explained by the
 *     audit), and no answer is a 5xx other than 502 for a failed refresh.
 * Bounded in CI; FEDBRIDGE_PROPERTY_RUNS=<n> (sequences per store) and FEDBRIDGE_PROPERTY_STEPS
 * for a long run. The counts run are printed.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { ATTACKER_CERT, IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { parseIdpMetadata } from "../../src/saml/metadata.js";
import { RedisIdpStore } from "../../src/admin/redis-store.js";
import { FileIdpStore } from "../../src/admin/file-store.js";
import type { IdpRecordStore } from "../../src/admin/store.js";
import type { AuditEntry } from "../../src/admin/audit.js";
import { TestRedis } from "../support/redis-process.js";

const RUNS = Number(process.env.FEDBRIDGE_PROPERTY_RUNS ?? 40);
const STEPS = Number(process.env.FEDBRIDGE_PROPERTY_STEPS ?? 20);
const TOKEN = "admin-token-for-property-tests-0123456789";
const auth = { Authorization: `Bearer ${TOKEN}` };
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const CERTS = [IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT, ATTACKER_CERT];
const READ = { scopes: [{ grant: ["read"] }] };

// ---- the operations ----
type Keys = number[];
type Simple =
  | { kind: "put"; inst: number; id: number; entity: number; keys: Keys; force: boolean; etag: "current" | "none" | "stale"; url: boolean }
  | { kind: "upload"; inst: number; id: number; entity: number; keys: Keys; force: boolean; etag: "current" | "stale" }
  | { kind: "delete"; inst: number; id: number; force: boolean; etag: "current" | "none" }
  | { kind: "refresh"; inst: number; id: number; entity: number; keys: Keys }
  | { kind: "tick"; inst: number; id: number; entity: number; keys: Keys };
type Op = Simple | { kind: "parallel"; a: Simple; b: Simple };

const opArb = (instances: number): fc.Arbitrary<Op> => {
  const inst = fc.nat(instances - 1);
  const id = fc.oneof({ weight: 3, arbitrary: fc.nat(1) }, { weight: 1, arbitrary: fc.nat(2) });
  const entity = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(2) });
  const keys = fc.subarray([0, 1, 2, 3], { minLength: 1, maxLength: 2 });
  const force = fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
  const simple: fc.Arbitrary<Simple> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant("put" as const), inst, id, entity, keys, force, etag: fc.constantFrom("current" as const, "current" as const, "current" as const, "current" as const, "none" as const, "stale" as const), url: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("upload" as const), inst, id, entity, keys, force, etag: fc.constantFrom("current" as const, "current" as const, "current" as const, "stale" as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), inst, id, force, etag: fc.constantFrom("current" as const, "current" as const, "none" as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("refresh" as const), inst, id, entity, keys }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("tick" as const), inst, id, entity, keys }) },
  );
  return fc.oneof({ weight: 4, arbitrary: simple }, { weight: 1, arbitrary: fc.record({ kind: fc.constant("parallel" as const), a: simple, b: simple }) });
};

// ---- the harness: bridges, a metadata server, the store read directly ----
interface World {
  bridges: TestBridge[];
  store: IdpRecordStore;
  docs: Map<string, string>;
  docUrl: (id: string) => string;
}

let mdServer: Server;
const docs = new Map<string, string>();
let mdBase = "";
beforeAll(async () => {
  mdServer = createServer((req, res) => {
    const body = docs.get(req.url ?? "");
    res.writeHead(body ? 200 : 404, { "Content-Type": "application/samlmetadata+xml" });
    res.end(body ?? "");
  }).listen(0, "127.0.0.1");
  await new Promise((r) => mdServer.once("listening", r));
  mdBase = `http://127.0.0.1:${(mdServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  mdServer.closeAllConnections();
  await new Promise((r) => mdServer.close(r));
});

let run = 0;
const stats = { sequences: 0, steps: 0, operations: 0, applied: 0, refused: 0, forced: 0, byStatus: {} as Record<number, number> };

const entityName = (r: number, e: number) => `https://r${r}-e${e}.test/idp`;
const idName = (r: number, i: number) => `r${r}i${i}`;

async function currentVersion(w: World, id: string): Promise<number | undefined> {
  const r = await w.store.get(id);
  return r && r.retiredAt === undefined ? r.version : undefined;
}

/** Runs one operation; returns what the checks need. */
async function perform(w: World, r: number, op: Simple): Promise<{ op: Simple; id: string; status: number; body: any }> {
  const b = w.bridges[op.inst % w.bridges.length]!;
  const id = idName(r, op.id);
  const version = await currentVersion(w, id);
  const etagOf = (mode: string): Record<string, string> => {
    if (mode === "none") return {};
    if (mode === "stale") return { "If-Match": `"${(version ?? 0) + 7}"` };
    return version === undefined ? {} : { "If-Match": `"${version}"` };
  };
  let res;
  if (op.kind === "put") {
    const xml = metadataFor(entityName(r, op.entity), op.keys.map((k) => CERTS[k]!));
    const source = op.url ? (w.docs.set(`/md/${id}`, xml), { metadataUrl: w.docUrl(id) }) : { metadata: xml };
    res = await b.http.put(`/admin/idps/${id}`).set({ ...auth, ...etagOf(op.etag) }).send({ ...source, mapping: READ, ...(op.force ? { force: true } : {}) });
  } else if (op.kind === "upload") {
    const xml = metadataFor(entityName(r, op.entity), op.keys.map((k) => CERTS[k]!));
    res = await b.http.put(`/admin/idps/${id}/metadata${op.force ? "?force=true" : ""}`).set({ ...auth, ...etagOf(op.etag), "Content-Type": "application/samlmetadata+xml" }).send(xml);
  } else if (op.kind === "delete") {
    res = await b.http.delete(`/admin/idps/${id}${op.force ? "?force=true" : ""}`).set({ ...auth, ...etagOf(op.etag) });
  } else {
    // The URL now serves other keys (or another entity): a refresh by the admin, or by the scheduler.
    w.docs.set(`/md/${id}`, metadataFor(entityName(r, op.entity), op.keys.map((k) => CERTS[k]!)));
    if (op.kind === "refresh") res = await b.http.post(`/admin/idps/${id}/refresh`).set(auth);
    else {
      b.clock.advance(2 * 3_600_000);
      await b.admin!.tick();
      return { op, id, status: 200, body: {} };
    }
  }
  return { op, id, status: res.status, body: res.body };
}

interface Model {
  /** entityID -> its last trusted keys, from replaying the applied audit entries. */
  trusted: Map<string, Set<string>>;
  /** The newest audit entry already replayed (entries are read newest first, a bounded window). */
  lastSeq: number;
  versions: Map<string, number>;
}

/** One step makes at most two changes and a few refusals: the newest entries cover it. */
const AUDIT_WINDOW = 64;

async function check(w: World, r: number, model: Model, results: { op: Simple; id: string; status: number; body: any }[]): Promise<void> {
  const mine = (id: string | undefined) => id !== undefined && id.startsWith(`r${r}i`);
  // The run's own ids only (reading every record of every run would make long runs quadratic).
  const records = (await Promise.all([0, 1, 2].map((i) => w.store.get(idName(r, i))))).filter((x) => x !== undefined);
  const window = await w.store.auditLog(AUDIT_WINDOW);
  // The window must reach back past the last entry replayed, or entries could be missed.
  expect(window.length < AUDIT_WINDOW || (window.at(-1)!.seq ?? 0) <= model.lastSeq, "audit window too small").toBe(true);
  const fresh: AuditEntry[] = window.filter((e) => (e.seq ?? 0) > model.lastSeq && e.outcome === "applied" && mine(e.idp)).reverse();
  const what = JSON.stringify(results.map((x) => ({ ...x.op, status: x.status, error: x.body?.error, reasons: x.body?.reasons })));

  // No 5xx but a failed refresh's 502.
  for (const x of results) {
    stats.byStatus[x.status] = (stats.byStatus[x.status] ?? 0) + 1;
    expect(x.status < 500 || (x.status === 502 && (x.op.kind === "refresh" || x.op.kind === "put")), what).toBe(true);
  }
  // 1. One live record per entityID.
  const live = records.filter((x) => x.retiredAt === undefined);
  const entities = live.map((x) => parseIdpMetadata(x.metadataXml, x.settings.entityId).entityId);
  expect(new Set(entities).size, `duplicate entityID after ${what}`).toBe(entities.length);

  // 2. Exactly one entry per change: entries = version bumps; 2xx <=> an entry for that request.
  let bumps = 0;
  for (const x of records) {
    bumps += x.version - (model.versions.get(x.id) ?? 0);
    model.versions.set(x.id, x.version);
  }
  expect(fresh.length, `audit entries vs version bumps after ${what}`).toBe(bumps);
  for (const x of results.filter((y) => y.op.kind === "put" || y.op.kind === "upload" || y.op.kind === "delete")) {
    const ok = x.status >= 200 && x.status < 300;
    const entries = fresh.filter((e) => e.idp === x.id && e.actor === "alice" && e.action !== "refresh").length;
    const sameId = results.filter((y) => y.id === x.id && y.op.kind !== "refresh" && y.op.kind !== "tick" && y.status >= 200 && y.status < 300).length;
    if (ok) expect(entries, `2xx without its entry: ${what}`).toBe(sameId);
    else if (sameId === 0) expect(entries, `refused but applied: ${what}`).toBe(0);
  }
  // 3. Replay: keys change only by overlap or force; forced only when asked.
  for (const e of fresh) {
    stats.applied++;
    if (e.forced) stats.forced++;
    if (e.forced) {
      const asked = results.some((x) => x.id === e.idp && "force" in x.op && x.op.force);
      expect(asked, `forced entry without force: ${JSON.stringify(e)} after ${what}`).toBe(true);
    }
    if (e.action === "delete") continue;
    const next = new Set(e.newFingerprints ?? []);
    const last = model.trusted.get(e.entityId!);
    if (last && last.size > 0) {
      const gained = [...next].some((k) => !last.has(k));
      const overlap = [...next].some((k) => last.has(k));
      expect(!gained || overlap || e.forced === true, `entity ${e.entityId} gained a key without overlap or force: ${JSON.stringify(e)} after ${what}`).toBe(true);
    }
    // The entry names the keys the record really has now (checked against the store below).
    model.trusted.set(e.entityId!, next);
  }
  model.lastSeq = Math.max(model.lastSeq, ...window.map((e) => e.seq ?? 0));
  // 4. The store is explained by the audit: each live record has its entity's last trusted keys.
  for (const x of live) {
    const m = parseIdpMetadata(x.metadataXml, x.settings.entityId);
    expect([...(model.trusted.get(m.entityId) ?? [])].sort(), `record ${x.id} vs audit after ${what}`).toEqual(m.signingKeys.map((k) => k.fingerprint).sort());
  }
  for (const x of results) if (x.status >= 400) stats.refused++;
}

async function sequence(w: World, ops: Op[]): Promise<void> {
  const r = ++run;
  const model: Model = { trusted: new Map(), lastSeq: (await w.store.auditLog(1))[0]?.seq ?? 0, versions: new Map() };
  stats.sequences++;
  for (const op of ops) {
    stats.steps++;
    const simple = op.kind === "parallel" ? [op.a, op.b] : [op];
    stats.operations += simple.length;
    const results = await Promise.all(simple.map((s) => perform(w, r, s)));
    await check(w, r, model, results);
  }
}

describe("admin trust invariants under random operation sequences", () => {
  let redis: TestRedis;
  const opened: TestBridge[] = [];
  const stores: IdpRecordStore[] = [];
  afterAll(async () => {
    for (const b of opened) await b.close();
    for (const s of stores) await s.close();
    await redis?.destroy();
    console.log(`admin property tests: ${JSON.stringify(stats)}`);
  });

  let worlds = 0;
  const world = async (kind: "redis" | "file"): Promise<World> => {
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-prop-"));
    const prefix = `prop:${kind}:${++worlds}:`;
    const storeConfig = kind === "redis" ? { kind: "redis", redisUrl: redis.url, keyPrefix: prefix } : { kind: "file", directory: dir };
    const make = async () => {
      const b = await startBridge({
        adminTickMs: 0,
        patch: (c) => {
          c.admin = { tokens: [{ id: "alice", tokenHash: hash(TOKEN) }], store: storeConfig, auditMaxEntries: 1_000_000, storeTimeoutMs: 10_000 };
        },
      });
      opened.push(b);
      return b;
    };
    const bridges = kind === "redis" ? [await make(), await make()] : [await make()];
    let store: IdpRecordStore;
    if (kind === "redis") {
      const s = new RedisIdpStore({ url: redis.url, keyPrefix: prefix, timeoutMs: 10_000, auditMaxEntries: 1_000_000 });
      await s.connect();
      store = s;
    } else {
      store = new FileIdpStore(dir, { timeoutMs: 10_000, auditMaxEntries: 1_000_000 });
    }
    stores.push(store);
    return { bridges, store, docs, docUrl: (id) => `${mdBase}/md/${id}` };
  };

  /**
   * A fresh world (store prefix or directory, and bridges) every WORLD_RUNS sequences: every change
   * makes each instance reload every record, so one world for a long run would grow quadratic.
   */
  const WORLD_RUNS = 15;
  const recycling = (kind: "redis" | "file") => {
    let current: World | undefined;
    let used = 0;
    return async (): Promise<World> => {
      if (!current || used++ >= WORLD_RUNS) {
        if (current) {
          for (const b of current.bridges) await b.close();
          opened.splice(0, opened.length, ...opened.filter((b) => !current!.bridges.includes(b)));
        }
        current = await world(kind);
        used = 1;
      }
      return current;
    };
  };

  it(`two instances on one real Redis: ${RUNS} sequences of up to ${STEPS} steps`, async () => {
    redis = await TestRedis.start();
    const next = recycling("redis");
    await fc.assert(fc.asyncProperty(fc.array(opArb(2), { minLength: Math.min(4, STEPS), maxLength: STEPS, size: "max" }), async (ops) => sequence(await next(), ops)), { numRuns: RUNS, endOnFailure: true });
  }, 3_600_000);

  it(`the file store: ${RUNS} sequences of up to ${STEPS} steps`, async () => {
    const next = recycling("file");
    await fc.assert(fc.asyncProperty(fc.array(opArb(1), { minLength: Math.min(4, STEPS), maxLength: STEPS, size: "max" }), async (ops) => sequence(await next(), ops)), { numRuns: RUNS, endOnFailure: true });
  }, 3_600_000);
});
