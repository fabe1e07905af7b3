/**
 * GET /admin/audit: the audit trail from the shared store, newest first, paged by sequence number,
 * filtered by IdP, actor, action and time; bad query parameters are a 400 with reasons; retention
 * keeps the newest `admin.auditMaxEntries`; changes carry a field-level diff, deletes carry the
 * entityID, the fingerprints removed and `forced`; and the admin's own token never appears.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";

const ALICE = "admin-token-alice-for-audit-tests-0123456789";
const BOB = "admin-token-bob-for-audit-tests-0123456789";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const as = (t: string) => ({ Authorization: `Bearer ${t}` });
const READ = { scopes: [{ grant: ["read"] }] };

let b: TestBridge;
beforeAll(async () => {
  b = await startBridge({
    adminTickMs: 0,
    patch: (c) => {
      c.admin = {
        tokens: [{ id: "alice", tokenHash: hash(ALICE) }, { id: "bob", tokenHash: hash(BOB) }],
        store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-audit-")) }, auditMaxEntries: 100,
      };
    },
  });
});
afterAll(async () => {
  await b?.close();
});

const audit = async (q: string) => {
  const res = await b.http.get(`/admin/audit${q}`).set(as(ALICE));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { entries: Record<string, any>[]; next: number | null; retention: { maxEntries: number } };
};

describe("GET /admin/audit", () => {
  it("filters by IdP, actor, action and time, pages newest first, and refuses bad parameters", async () => {
    expect((await b.http.put("/admin/idps/one").set(as(ALICE)).send({ metadata: metadataFor("https://one.test/idp", [IDP1_CERT]), mapping: READ })).status).toBe(201);
    const t1 = new Date(b.clock.now).toISOString();
    b.clock.advance(60_000);
    expect((await b.http.put("/admin/idps/two").set(as(BOB)).send({ metadata: metadataFor("https://two.test/idp", [IDP2_CERT]), mapping: READ })).status).toBe(201);
    expect((await b.http.put("/admin/idps/two").set({ ...as(BOB), "If-Match": '"1"' }).send({ metadata: metadataFor("https://two.test/idp", [IDP2_CERT]), mapping: READ, allowSha1: true, recipients: ["https://bridge.test/token"] })).status).toBe(200);
    expect((await b.http.delete("/admin/idps/one").set({ ...as(BOB), "If-Match": '"1"' }).query({ force: "true" })).status).toBe(204);
    expect((await b.http.delete("/admin/idps/two").set(as(BOB))).status).toBe(428);

    expect((await audit("?idp=two")).entries.map((e) => `${e.action}:${e.outcome}`)).toEqual(["delete:refused", "replace:applied", "create:applied"]);
    expect((await audit("?actor=alice")).entries.map((e) => e.action)).toEqual(["create"]);
    expect((await audit("?action=delete")).entries.map((e) => `${e.idp}:${e.outcome}`)).toEqual(["two:refused", "one:applied"]);
    expect((await audit(`?until=${t1}`)).entries.map((e) => e.idp)).toEqual(["one"]);
    expect((await audit(`?since=${new Date(b.clock.now).toISOString()}&idp=one`)).entries.map((e) => e.action)).toEqual(["delete"]);
    // The field-level diff of a replace, and a delete's entity, keys and force.
    const replace = (await audit("?idp=two&action=replace")).entries[0]!;
    expect(replace.changes).toEqual([
      { field: "allowSha1", from: false, to: true },
      { field: "recipients", from: null, to: ["https://bridge.test/token"] },
    ]);
    const del = (await audit("?idp=one&action=delete")).entries[0]!;
    expect(del).toMatchObject({ actor: "bob", entityId: "https://one.test/idp", forced: true, outcome: "applied", removedFingerprints: [expect.stringMatching(/^[0-9a-f]{64}$/)] });
    const refused = (await audit("?idp=two&action=delete")).entries[0]!;
    expect(refused).toMatchObject({ actor: "bob", status: 428, error: "precondition_required", method: "DELETE", path: "/admin/idps/two" });

    // Paging: newest first, `next` is the cursor, pages do not overlap.
    const first = await audit("?limit=2");
    expect(first.entries).toHaveLength(2);
    expect(first.next).toBe(first.entries[1]!.seq);
    const second = await audit(`?limit=2&before=${first.next}`);
    expect(second.entries[0]!.seq).toBeLessThan(first.entries[1]!.seq);
    expect(first.retention).toEqual({ maxEntries: 100 });

    for (const q of ["?limit=0", "?limit=201", "?limit=x", "?since=yesterday", "?before=-1", "?idp=a&idp=b", `?actor=${"x".repeat(300)}`]) {
      const res = await b.http.get(`/admin/audit${q}`).set(as(ALICE));
      expect(res.status, q).toBe(400);
      expect(res.body.error, q).toBe("invalid_request");
      expect(res.body.reasons.length, q).toBeGreaterThan(0);
    }
    expect((await b.http.get("/admin/audit")).status).toBe(401);
  });

  it("keeps the newest auditMaxEntries entries, and never records a token", async () => {
    for (let i = 0; i < 130; i++) await b.http.put(`/admin/idps/x${i}`).set(as(`wrong-token-${i}-0123456789abcdef`)).send({});
    const all: Record<string, any>[] = [];
    let next: number | null = null;
    do {
      const page = await audit(`?limit=200${next === null ? "" : `&before=${next}`}`);
      all.push(...page.entries);
      next = page.next;
    } while (next !== null);
    // Unauthenticated refusals have a retention of their own (review-audit-flood.test.ts), beside the rest.
    const anonymous = all.filter((e) => e.actor === "unauthenticated");
    expect(anonymous.length).toBeGreaterThanOrEqual(100);
    expect(anonymous.length).toBeLessThanOrEqual(110);
    expect(all.length - anonymous.length).toBeLessThanOrEqual(110);
    expect(all[0]).toMatchObject({ actor: "unauthenticated", idp: "x129", status: 401 });
    expect(JSON.stringify(all)).not.toMatch(/wrong-token|admin-token/);
  });
});
