/**
 * The admin trust invariants over HTTP, two bridge instances sharing a PRIVATE redis-server (started
 * here on a free port, stopped by PID):
 *  - an entityID's keys change only by overlap or force, whichever path: the multi-tenant walk-around
 *    (move record A from entity X to Y with a shared key, then create B for X with a new key) is
 *    refused at its first step, and at its second even when the first was forced;
 *  - changing a record's entityID is a forced, audited operation (replace and metadata upload alike);
 *  - two instances creating one entityID under two ids at the same instant: one 201, one 409;
 *  - the key history per entityID is kept on every change;
 *  - a write that times out (Redis paused with SIGSTOP) answers 503 within the bound, and after
 *    SIGCONT it is NOT applied and NOT audited.
 */
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "redis";
import { startBridge, type TestBridge } from "../support/harness.js";
import { ATTACKER_CERT, IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { TestRedis } from "../support/redis-process.js";
import { RedisIdpStore } from "../../src/admin/redis-store.js";
import { FileIdpStore } from "../../src/admin/file-store.js";
import { IdpStoreUnavailable } from "../../src/admin/errors.js";
import type { Change } from "../../src/admin/store.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TOKEN = "admin-token-for-invariant-tests-0123456789";
const auth = { Authorization: `Bearer ${TOKEN}` };
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const X = "https://tenant-x.test/idp";
const Y = "https://tenant-y.test/idp";
const READ = { scopes: [{ grant: ["read"] }] };

let redis: TestRedis;
const bridges: TestBridge[] = [];
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterEach(async () => {
  while (bridges.length) await bridges.pop()!.close();
});
afterAll(async () => {
  await redis?.destroy();
});

let n = 0;
async function pair(storeTimeoutMs = 2_000): Promise<[TestBridge, TestBridge, string]> {
  const prefix = `inv:${++n}:`;
  const make = async () => {
    const b = await startBridge({
      adminTickMs: 0,
      patch: (c) => {
        c.admin = { tokens: [{ id: "mallory", tokenHash: hash(TOKEN) }], store: { kind: "redis", redisUrl: redis.url, keyPrefix: prefix }, storeTimeoutMs };
      },
    });
    bridges.push(b);
    return b;
  };
  return [await make(), await make(), prefix];
}

const create = (b: TestBridge, id: string, xml: string, extra: Record<string, unknown> = {}) =>
  b.http.put(`/admin/idps/${id}`).set(auth).send({ metadata: xml, mapping: READ, ...extra });
const replace = (b: TestBridge, id: string, etag: string, xml: string, extra: Record<string, unknown> = {}) =>
  b.http.put(`/admin/idps/${id}`).set({ ...auth, "If-Match": etag }).send({ metadata: xml, mapping: READ, ...extra });
const upload = (b: TestBridge, id: string, etag: string, xml: string, force = false) =>
  b.http.put(`/admin/idps/${id}/metadata${force ? "?force=true" : ""}`).set({ ...auth, "If-Match": etag, "Content-Type": "application/samlmetadata+xml" }).send(xml);
const audit = async (b: TestBridge, q = "") => (await b.http.get(`/admin/audit?limit=200${q}`).set(auth)).body.entries as Record<string, any>[];

describe("an entityID's keys change only by overlap or force", () => {
  it("the multi-tenant walk-around: moving a record to another entityID needs force, by replace and by upload", async () => {
    const [one, two] = await pair();
    // Tenants X and Y are signed with one key (multi-tenant IdPs do this).
    expect((await create(one, "a", metadataFor(X, [IDP1_CERT]))).status).toBe(201);
    for (const attempt of [
      () => replace(two, "a", '"1"', metadataFor(Y, [IDP1_CERT])),
      () => upload(two, "a", '"1"', metadataFor(Y, [IDP1_CERT])),
      () => upload(one, "a", '"1"', metadataFor(Y, [IDP1_CERT, IDP2_CERT])),
    ]) {
      const res = await attempt();
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body).toEqual({ error: "entity_id_changed", reasons: ["entity_id_change_requires_force"] });
    }
    expect((await one.http.get("/admin/idps/a").set(auth)).body).toMatchObject({ entityId: X, version: 1 });
    // Forced: applied and audited as forced, with both entityIDs.
    const moved = await replace(two, "a", '"1"', metadataFor(Y, [IDP1_CERT]), { force: true });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const entry = (await audit(one, "&idp=a&action=replace"))[0]!;
    expect(entry).toMatchObject({ outcome: "applied", forced: true, entityId: Y, previousEntityId: X, actor: "mallory" });
    // Second step: B for X with a brand-new key. X's keys stayed in its history: refused on both
    // instances, under any id; only overlap (or force) onboards X again.
    for (const [b, id] of [[one, "b"], [two, "c"], [one, "a2"]] as const) {
      const res = await create(b, id, metadataFor(X, [ATTACKER_CERT]));
      expect(res.status, `${id}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body).toEqual({ error: "invalid_metadata", reasons: ["rollover_no_shared_key"] });
    }
    expect((await create(two, "b", metadataFor(X, [IDP1_CERT, ATTACKER_CERT]))).status).toBe(201);
    // Every refusal above is audited too (who, what, why).
    const refused = await audit(one, "&action=put");
    expect(refused.filter((e) => e.outcome === "refused" && e.reasons?.includes("rollover_no_shared_key"))).toHaveLength(3);
    expect(refused.filter((e) => e.outcome === "refused" && e.error === "entity_id_changed")).toHaveLength(1);
  }, 30_000);

  it("delete then re-create, and a new id for the same entity, need overlap with the entity's last keys", async () => {
    const [one, two] = await pair();
    expect((await create(one, "a", metadataFor(X, [IDP1_CERT]))).status).toBe(201);
    expect((await upload(two, "a", '"1"', metadataFor(X, [IDP1_CERT, IDP1_NEXT_CERT]))).status).toBe(200);
    expect((await upload(one, "a", '"2"', metadataFor(X, [IDP1_NEXT_CERT]))).status).toBe(200);
    expect((await one.http.delete("/admin/idps/a").set({ ...auth, "If-Match": '"3"' })).status).toBe(204);
    // The entity's last keys are IDP1_NEXT (not the first record's IDP1): IDP1 alone is no overlap.
    for (const [b, id, cert] of [[two, "a", IDP1_CERT], [one, "z", IDP1_CERT], [two, "z", IDP2_CERT]] as const) {
      expect((await create(b, id, metadataFor(X, [cert]))).body, id).toEqual({ error: "invalid_metadata", reasons: ["rollover_no_shared_key"] });
    }
    expect((await create(two, "z", metadataFor(X, [IDP1_NEXT_CERT]))).status).toBe(201);
    // The delete entry names the entity, the keys removed, and whether it was forced.
    const del = (await audit(one, "&action=delete"))[0]!;
    expect(del).toMatchObject({ idp: "a", entityId: X, forced: false, outcome: "applied" });
    expect(del.removedFingerprints).toHaveLength(1);
    // The key history of X holds every change, newest first.
    const keys = (await one.http.get("/admin/idps/z/keys").set(auth)).body;
    expect(keys.history.map((h: { action: string; idp: string }) => `${h.action}:${h.idp}`)).toEqual(["create:z", "delete:a", "rotate:a", "rotate:a", "create:a"]);
    expect(keys.owner).toBe("z");
  }, 30_000);

  it("two instances creating one entityID under two ids at the same instant: one 201, one 409 (20 rounds)", async () => {
    const [one, two] = await pair();
    for (let round = 0; round < 20; round++) {
      const entity = `https://race-${round}.test/idp`;
      const [a, b] = await Promise.all([create(one, `r${round}a`, metadataFor(entity, [IDP1_CERT])), create(two, `r${round}b`, metadataFor(entity, [IDP1_CERT]))]);
      expect([a.status, b.status].sort(), `round ${round}: ${JSON.stringify([a.body, b.body])}`).toEqual([201, 409]);
      expect([a, b].find((r) => r.status === 409)!.body.error).toBe("entity_id_in_use");
    }
    // Every winner is served and readable by id on both instances; no reload conflict.
    await new Promise((r) => setTimeout(r, 1_200));
    for (const b of [one, two]) {
      const ids = (await b.http.get("/admin/idps").set(auth)).body.idps.filter((i: { source: string }) => i.source === "upload");
      expect(ids).toHaveLength(20);
      expect(b.logs.filter((l) => l.event === "idp_record_conflict")).toEqual([]);
    }
  }, 60_000);
});

describe("a write that fails for the admin is never applied later", () => {
  it("Redis paused (SIGSTOP): 503 within the bound; after SIGCONT the write is not applied, not audited", async () => {
    const [one, , prefix] = await pair(1_000);
    expect((await create(one, "a", metadataFor(X, [IDP1_CERT]))).status).toBe(201);
    const writes = [
      () => create(one, "p", metadataFor(Y, [IDP2_CERT])),
      () => upload(one, "a", '"1"', metadataFor(X, [IDP1_CERT, IDP1_NEXT_CERT])),
      () => one.http.delete("/admin/idps/a").set({ ...auth, "If-Match": '"1"' }),
    ];
    const took: number[] = [];
    for (const write of writes) {
      redis.pause();
      const t0 = Date.now();
      let res;
      try {
        res = await write();
      } finally {
        // Resume only after the admin has been told: that is when a stalled write would land.
        await new Promise((r) => setTimeout(r, 300));
        redis.resume();
      }
      took.push(Date.now() - t0 - 300);
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(res.body).toEqual({ error: "admin_store_unavailable" });
      expect(res.headers["retry-after"]).toBe("1");
    }
    // The bound is 1 s per store call, and the first call stalls: about 1 s each (generous for a loaded box).
    console.log(`admin writes against a paused Redis answered 503 after ${took.join(", ")} ms (bound 1000 ms per store call)`);
    for (const t of took) expect(t).toBeLessThan(2_500);
    // Give the queued commands time to reach Redis and run.
    await new Promise((r) => setTimeout(r, 1_000));
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      expect(await raw.get(`${prefix}record:p`)).toBeNull();
      expect(JSON.parse((await raw.get(`${prefix}record:a`))!)).toMatchObject({ version: 1, fingerprints: [expect.any(String)] });
      expect(JSON.parse((await raw.get(`${prefix}record:a`))!).retiredAt).toBeUndefined();
      const entries = (await raw.lRange(`${prefix}audit`, 0, -1)).map((l) => JSON.parse(l.slice(l.indexOf(" ") + 1)));
      expect(entries.filter((e) => e.outcome === "applied").map((e) => `${e.action}:${e.idp}`)).toEqual(["create:a"]);
    } finally {
      await raw.close();
    }
    expect((await one.http.get("/admin/idps/a").set(auth)).headers.etag).toBe('"1"');
  }, 60_000);

  it("a commit already sent to a paused Redis is not applied when it resumes (the script's deadline)", async () => {
    const prefix = `inv:deadline:${++n}:`;
    const store = new RedisIdpStore({ url: redis.url, keyPrefix: prefix, timeoutMs: 500, auditMaxEntries: 1000 });
    await store.connect();
    const change = (id: string): Change => ({
      record: { id, version: 1, source: "upload", metadataXml: metadataFor(X, [IDP1_CERT]), entityId: X, fingerprints: ["k"], settings: {} as never, updatedAt: "2026-01-01T00:00:00Z", updatedBy: "mallory" },
      expectedVersion: null,
      entity: { entityId: X, expectedVersion: 0, owner: id, keys: ["k"], history: { at: "2026-01-01T00:00:00Z", idp: id, action: "create", by: "mallory", keys: ["k"], forced: false } },
      audit: { at: "2026-01-01T00:00:00Z", actor: "mallory", action: "create", idp: id, outcome: "applied" },
    });
    try {
      redis.pause();
      const t0 = Date.now();
      let err: unknown;
      try {
        // The script is on the wire (the connection is up): Redis runs it when it resumes.
        await store.commit(change("late"), Date.now() + 10_000);
      } catch (e) {
        err = e;
      } finally {
        await new Promise((r) => setTimeout(r, 700));
        redis.resume();
      }
      expect(err).toBeInstanceOf(IdpStoreUnavailable);
      expect(Date.now() - t0).toBeLessThan(3_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(await store.get("late")).toBeUndefined();
      expect(await store.entity(X)).toBeUndefined();
      expect(await store.auditLog()).toEqual([]);
      // The same commit in time is applied (the check above can fail).
      expect(await store.commit(change("ontime"), Date.now() + 10_000)).toBe("ok");
      expect((await store.auditLog()).map((e) => e.idp)).toEqual(["ontime"]);
    } finally {
      await store.close();
    }
    // The file store applies the same rule to a commit that waited past its deadline.
    const files = new FileIdpStore(mkdtempSync(join(tmpdir(), "fedbridge-deadline-")), { timeoutMs: 500, auditMaxEntries: 1000 });
    expect(await files.commit(change("late"), Date.now() - 1)).toBe("expired");
    expect(await files.get("late")).toBeUndefined();
    expect(await files.auditLog()).toEqual([]);
  }, 30_000);
});
