/**
 * Review: the file store's audit append must not re-read the whole audit log. Every refused admin
 * request is audited, an unauthenticated 401 included, so an append that reads and parses the
 * whole log (up to 1.1 × auditMaxEntries lines) synchronously makes every anonymous request to
 * /admin cost a multi-megabyte parse on the event loop. Appends are O(1); the file is read again
 * only to trim it, and retention still holds.
 */
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { FileIdpStore } from "../../src/admin/file-store.js";
import type { AuditEntry } from "../../src/admin/audit.js";

const entry = (i: number): AuditEntry => ({
  at: new Date(0).toISOString(), actor: "alice", action: "put", idp: `idp-${i}`, outcome: "refused",
  status: 401, error: "unauthorized", method: "PUT", path: `/admin/idps/idp-${i}`, remote: "203.0.113.7",
} as AuditEntry);

function storeWith(lines: number, auditMaxEntries: number): { store: FileIdpStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "fedbridge-review-audit-"));
  if (lines > 0) writeFileSync(join(dir, "audit.log"), Array.from({ length: lines }, (_, i) => `${JSON.stringify({ ...entry(i), seq: i + 1 })}\n`).join(""));
  return { store: new FileIdpStore(dir, { timeoutMs: 1_000, auditMaxEntries }), dir };
}

async function appendMs(store: FileIdpStore, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await store.appendAudit(entry(i));
  return performance.now() - t0;
}

describe("review: file-store audit appends are O(1)", () => {
  it("an append after the first does not read the log again (a line it cannot parse is not touched)", async () => {
    const { store, dir } = storeWith(10, 1_000);
    await store.appendAudit(entry(0));
    appendFileSync(join(dir, "audit.log"), "not json: written by something else\n");
    await expect(store.appendAudit(entry(1))).resolves.toBeUndefined();
    await expect(store.appendAudit(entry(2))).resolves.toBeUndefined();
  });

  it("appending to a log of 10,000 entries costs about what appending to one of 10 costs (same run, ratio)", async () => {
    const big = storeWith(10_000, 10_000).store;
    const small = storeWith(10, 10_000).store;
    await big.appendAudit(entry(0)); // the one read that counts the lines
    await small.appendAudit(entry(0));
    let best = Infinity;
    for (let attempt = 0; attempt < 3 && best > 4; attempt++) {
      const b = await appendMs(big, 200);
      const s = await appendMs(small, 200);
      best = Math.min(best, b / Math.max(s, 0.5));
    }
    // Re-reading the log on every append made this ratio about 50-100.
    expect(best).toBeLessThan(4);
  });

  it("retention still holds: at most 1.1 × auditMaxEntries lines, the newest kept, seq continuing", async () => {
    const { store } = storeWith(95, 100);
    for (let i = 0; i < 250; i++) await store.appendAudit(entry(i));
    const log = await store.auditLog();
    expect(log.length).toBeLessThanOrEqual(110);
    expect(log.length).toBeGreaterThanOrEqual(100);
    expect(log[0]!.seq).toBe(95 + 250);
    expect(log.map((e) => e.seq)).toEqual([...log.map((e) => e.seq)].sort((a, b) => b! - a!));
  });
});
