/**
 * Review: refused admin requests are audited, an unauthenticated 401 included, and the trail keeps
 * the newest `admin.auditMaxEntries`. Anyone on the network can cause a 401, so a flood of them
 * used to push every admin change and refusal (the trace of a blocked key swap) out of
 * GET /admin/audit. Unauthenticated refusals now have a list of their own with the same retention:
 * still recorded, never evicting the rest. Over HTTP with the file store, and on a real
 * redis-server (started by the test on a free port) for the Redis store.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { RedisIdpStore } from "../../src/admin/redis-store.js";
import { FileIdpStore } from "../../src/admin/file-store.js";
import type { IdpRecordStore } from "../../src/admin/store.js";
import type { AuditEntry } from "../../src/admin/audit.js";
import { TestRedis } from "../support/redis-process.js";

const ALICE = "admin-token-alice-for-review-flood-0123456789";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const READ = { scopes: [{ grant: ["read"] }] };
const MAX = 100;

describe("review: a flood of unauthenticated 401s does not evict the admins' audit (HTTP, file store)", () => {
  let b: TestBridge;
  beforeAll(async () => {
    b = await startBridge({
      adminTickMs: 0,
      patch: (c) => {
        c.admin = {
          tokens: [{ id: "alice", tokenHash: hash(ALICE) }],
          store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-review-flood-")) }, auditMaxEntries: MAX,
        };
      },
    });
  });
  afterAll(async () => {
    await b?.close();
  });

  it("the applied change and an admin's refusal survive 3 × auditMaxEntries bogus-token requests; the 401s are still recorded", async () => {
    const put = await b.http.put("/admin/idps/kept").set({ Authorization: `Bearer ${ALICE}` }).send({ metadata: metadataFor("https://kept.test/idp", [IDP1_CERT]), mapping: READ });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    expect((await b.http.delete("/admin/idps/kept").set({ Authorization: `Bearer ${ALICE}` })).status).toBe(428);
    for (let i = 0; i < 3 * MAX; i++) {
      const shapes = [{ Authorization: "Bearer forged-token-0123456789" }, {}, { Authorization: "Basic eDp5" }];
      const res = await b.http.put(`/admin/idps/victim-${i}`).set(shapes[i % 3]!).send({});
      expect(res.status).toBe(401);
    }
    const get = async (q: string): Promise<Record<string, any>[]> => {
      const res = await b.http.get(`/admin/audit${q}`).set({ Authorization: `Bearer ${ALICE}` });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.entries as Record<string, any>[];
    };
    expect((await get("?actor=alice")).map((e) => `${e.action}:${e.outcome}`)).toEqual(["delete:refused", "create:applied"]);
    const entries = await get("?limit=200");
    const anonymous = await get("?actor=unauthenticated&limit=200");
    expect(anonymous.length).toBeGreaterThanOrEqual(MAX);
    expect(anonymous.length).toBeLessThanOrEqual(MAX * 1.1);
    // Newest first across both lists.
    expect(entries.map((e) => e.seq)).toEqual([...entries.map((e) => e.seq)].sort((x, y) => y - x));
    expect(anonymous[0]!.path).toBe(`/admin/idps/victim-${3 * MAX - 1}`);
  });
});

const admin = (i: number): AuditEntry => ({ at: new Date(i).toISOString(), actor: "alice", action: "delete", idp: `idp-${i}`, outcome: "refused", status: 409, error: "entity_id_in_use" });
const anon = (i: number): AuditEntry => ({ at: new Date(i).toISOString(), actor: "unauthenticated", action: "put", outcome: "refused", status: 401, error: "unauthorized", path: `/admin/idps/x${i}` });

async function flood(store: IdpRecordStore): Promise<void> {
  for (let i = 0; i < 3; i++) await store.appendAudit(admin(i));
  for (let i = 0; i < 3 * MAX; i++) await store.appendAudit(anon(i));
  await store.appendAudit(admin(3));
  const log = await store.auditLog();
  expect(log.filter((e) => e.actor === "alice").map((e) => e.idp)).toEqual(["idp-3", "idp-2", "idp-1", "idp-0"]);
  expect(log.filter((e) => e.actor === "unauthenticated").length).toBeLessThanOrEqual(MAX * 1.1);
  expect(log.map((e) => e.seq)).toEqual([...log.map((e) => e.seq)].sort((x, y) => y! - x!));
  expect(log[0]!.idp).toBe("idp-3");
  // A limit applies across both lists, newest first.
  expect((await store.auditLog(2)).map((e) => e.actor)).toEqual(["alice", "unauthenticated"]);
}

describe("review: the same separation in each store", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis?.destroy();
  });

  it("Redis store (own redis-server)", async () => {
    const store = new RedisIdpStore({ url: redis.url, keyPrefix: `review-flood-${Date.now()}:`, timeoutMs: 2_000, auditMaxEntries: MAX });
    await store.connect();
    try {
      await flood(store);
    } finally {
      await store.close();
    }
  });

  it("file store", async () => {
    await flood(new FileIdpStore(mkdtempSync(join(tmpdir(), "fedbridge-review-flood-store-")), { timeoutMs: 1_000, auditMaxEntries: MAX }));
  });
});
