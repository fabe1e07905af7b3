/**
 * Metadata by URL: a failed fetch names its cause in `reasons` (timeout, TLS trust, redirect,
 * refused connection, oversize by header and by stream, HTTP status), on onboarding and on the
 * preview alike; and a scheduled refresh that changes nothing, or fails, leaves the record's
 * version (ETag) alone, so an admin's If-Match taken a minute earlier still applies. Only a
 * refresh that changes the metadata bumps it, audited as a change by `scheduler`.
 */
import { createHash } from "node:crypto";
import { readFileSync, mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP1_KEY, IDP1_NEXT_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { freePort } from "../support/redis-process.js";

const TOKEN = "admin-token-for-fetch-tests-0123456789";
const auth = { Authorization: `Bearer ${TOKEN}` };
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const ENTITY = "https://dyn.test/idp";
const MIN = 60_000;

let body = metadataFor(ENTITY, [IDP1_CERT], { cacheDuration: "PT5M" });
let status = 200;
const routes: Record<string, (res: import("node:http").ServerResponse) => void> = {
  "/ok": (res) => {
    res.writeHead(status, { "Content-Type": "application/samlmetadata+xml" });
    res.end(body);
  },
  "/hang": () => undefined,
  "/redirect": (res) => {
    res.writeHead(302, { Location: "/ok" });
    res.end();
  },
  "/big-header": (res) => {
    res.writeHead(200, { "Content-Length": String(5_000_000) });
    res.write("<x>");
  },
  "/big-stream": (res) => {
    res.writeHead(200, { "Content-Type": "application/xml" });
    const chunk = "x".repeat(64 * 1024);
    let sent = 0;
    const more = (): void => {
      while (sent < 40 && res.write(chunk)) sent++;
      if (sent < 40) res.once("drain", more);
      else res.end();
    };
    more();
  },
  "/missing": (res) => {
    res.writeHead(404);
    res.end();
  },
};
const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => (routes[req.url ?? ""] ?? routes["/missing"]!)(res);

let http: Server;
let https: Server;
let base = "";
let tlsBase = "";
let b: TestBridge;
beforeAll(async () => {
  http = createServer(handler).listen(0, "127.0.0.1");
  // A certificate no CA vouches for (the IdP fixture's self-signed one).
  https = createHttpsServer({ key: readFileSync(IDP1_KEY), cert: readFileSync(IDP1_CERT) }, handler).listen(0, "127.0.0.1");
  await Promise.all([new Promise((r) => http.once("listening", r)), new Promise((r) => https.once("listening", r))]);
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  tlsBase = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  b = await startBridge({
    adminTickMs: 0,
    patch: (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(TOKEN) }], store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-fetch-")) }, fetchTimeoutMs: 500 };
    },
  });
});
afterAll(async () => {
  await b?.close();
  http?.closeAllConnections();
  https?.closeAllConnections();
  http?.close();
  https?.close();
});

describe("a failed metadata fetch names its cause", () => {
  it("timeout, TLS trust, redirect, refused, oversize (header and stream), HTTP status: on onboarding and on preview", async () => {
    const closed = `http://127.0.0.1:${await freePort()}/md`;
    const cases: [string, string][] = [
      [`${base}/hang`, "fetch_timeout"],
      [`${tlsBase}/ok`, "fetch_tls_untrusted"],
      [`${base}/redirect`, "fetch_redirect_refused"],
      [closed, "fetch_connection_refused"],
      [`${base}/big-header`, "fetch_too_large"],
      [`${base}/big-stream`, "fetch_too_large"],
      [`${base}/missing`, "http_404"],
    ];
    for (const [url, reason] of cases) {
      const put = await b.http.put("/admin/idps/dyn").set(auth).send({ metadataUrl: url });
      expect(put.status, url).toBe(502);
      expect(put.body, url).toEqual({ error: "metadata_fetch_failed", reasons: [reason] });
      const preview = await b.http.post("/admin/preview").set(auth).send({ metadataUrl: url });
      expect(preview.body, `preview ${url}`).toEqual({ error: "metadata_fetch_failed", reasons: [reason] });
    }
    expect((await b.http.get("/admin/idps/dyn").set(auth)).status).toBe(404);
  }, 30_000);
});

describe("a scheduled refresh bumps the version only when the metadata changed", () => {
  it("unchanged or failed: same ETag, an earlier If-Match still applies; changed: one bump, audited by scheduler", async () => {
    status = 200;
    body = metadataFor(ENTITY, [IDP1_CERT], { cacheDuration: "PT5M" });
    const created = await b.http.put("/admin/idps/url").set(auth).send({ metadataUrl: `${base}/ok`, mapping: { scopes: [{ grant: ["read"] }] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const etag = created.headers.etag as string;
    for (let i = 0; i < 3; i++) {
      b.clock.advance(6 * MIN);
      await b.admin!.tick();
    }
    status = 500;
    b.clock.advance(6 * MIN);
    await b.admin!.tick();
    const failed = await b.http.get("/admin/idps/url").set(auth);
    expect(failed.headers.etag).toBe(etag);
    expect(failed.body.lastRefreshError).toBe("metadata_fetch_failed: http_500");
    expect(failed.body.lastRefreshAt).toBe(new Date(b.clock.now).toISOString());
    // The admin's If-Match from before the four refreshes still applies.
    const edit = await b.http.put("/admin/idps/url").set({ ...auth, "If-Match": etag }).send({ metadataUrl: `${base}/missing` });
    expect(edit.status).toBe(502); // (the fetch fails: but not with 412)
    status = 200;
    const edited = await b.http.put("/admin/idps/url").set({ ...auth, "If-Match": etag }).send({ metadataUrl: `${base}/ok`, allowSha1: false, maxAssertionAgeSeconds: 120, mapping: { scopes: [{ grant: ["read"] }] } });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    const v2 = edited.headers.etag as string;
    expect(v2).toBe('"2"');
    // A changed document: one bump, audited as a change by the scheduler with its keys.
    body = metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT], { cacheDuration: "PT5M" });
    b.clock.advance(6 * MIN);
    await b.admin!.tick();
    expect((await b.http.get("/admin/idps/url").set(auth)).headers.etag).toBe('"3"');
    const entries = (await b.http.get("/admin/audit?idp=url").set(auth)).body.entries as Record<string, any>[];
    expect(entries.filter((e) => e.outcome === "applied").map((e) => `${e.action}:${e.actor}:${e.version}`)).toEqual(["refresh:scheduler:3", "replace:alice:2", "create:alice:1"]);
    expect(entries[0]!.newFingerprints).toHaveLength(2);
    // The replace names the setting that changed, field by field.
    const replace = entries.find((e) => e.action === "replace")!;
    expect(replace.changes).toEqual([{ field: "maxAssertionAgeSeconds", from: 300, to: 120 }]);
    // The failed refresh is audited once as refused by the scheduler.
    expect(entries.filter((e) => e.outcome === "refused" && e.actor === "scheduler")).toHaveLength(1);
  }, 30_000);
});
