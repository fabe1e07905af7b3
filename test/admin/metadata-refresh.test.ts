/**
 * URL metadata over HTTP: an IdP created with `metadataUrl` is fetched from a local node:http
 * server, then refreshed on a schedule that honours cacheDuration and validUntil (SAML Metadata
 * §2.3), driven by the bridge's injected clock and `bridge.admin.tick()` (no timer: adminTickMs 0).
 * A failed refresh (HTTP 500, server down, invalid metadata, rollover without overlap) keeps the
 * last good metadata, is logged, shows in GET /admin/idps and in /readyz, and clears on the next
 * good refresh. POST /admin/idps/{id}/refresh refreshes on demand.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { exchange, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, type KeyPair } from "../support/independent-signers.js";

const ADMIN_TOKEN = "admin-token-for-refresh-tests-0123456789";
const ENTITY = "https://dyn.test/idp";
const MIN = 60_000;
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/** A metadata server whose answer the test changes at will; counts the requests it gets. */
class MetadataServer {
  status = 200;
  body = "";
  hits = 0;
  #server: Server = this.#create();
  port = 0;

  #create(): Server {
    return createServer((_req, res) => {
      this.hits++;
      res.writeHead(this.status, { "Content-Type": "application/samlmetadata+xml" });
      res.end(this.body);
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/idp/metadata.xml`;
  }

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.#server.address() as AddressInfo).port;
  }

  /** Stops listening and drops kept-alive connections: a fetch now gets "connection refused". */
  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    this.#server = this.#create();
    await this.start(this.port);
  }
}

const servers: MetadataServer[] = [];
const bridges: TestBridge[] = [];
afterEach(async () => {
  while (bridges.length) await bridges.pop()!.close();
  while (servers.length) await servers.pop()!.stop();
});

async function metadataServer(body: string): Promise<MetadataServer> {
  const s = new MetadataServer();
  s.body = body;
  await s.start();
  servers.push(s);
  return s;
}

async function adminBridge(admin: Record<string, unknown> = {}): Promise<TestBridge> {
  const dir = mkdtempSync(join(tmpdir(), "fedbridge-refresh-"));
  const b = await startBridge({
    adminTickMs: 0,
    patch: (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "file", directory: dir }, ...admin };
      c.clients[0].idps.push("dyn");
    },
  });
  bridges.push(b);
  return b;
}

function assertionFrom(b: TestBridge, key: KeyPair = KEYS.idp1): string {
  const id = `_url${Date.now()}${Math.random().toString(16).slice(2)}`;
  return signWithXmlsec1(buildAssertion2({ id, issuer: ENTITY, now: new Date(b.clock.now) }), id, { key });
}

async function createFromUrl(b: TestBridge, server: MetadataServer): Promise<void> {
  const res = await b.http.put("/admin/idps/dyn").set(auth).send({ metadataUrl: server.url, mapping: { scopes: [{ grant: ["read"] }] } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body).toMatchObject({ id: "dyn", source: "url", metadataUrl: server.url, entityId: ENTITY });
}

async function view(b: TestBridge): Promise<Record<string, any>> {
  const list = await b.http.get("/admin/idps").set(auth);
  expect(list.status).toBe(200);
  return list.body.idps.find((i: { id: string }) => i.id === "dyn");
}

/** Advance the bridge clock and run one scheduler tick. */
async function after(b: TestBridge, ms: number): Promise<void> {
  b.clock.advance(ms);
  await b.admin!.tick();
}

describe("URL metadata refresh", () => {
  it("honours cacheDuration: no fetch before it lapses, a fetch (and the new keys) after", async () => {
    const b = await adminBridge();
    const server = await metadataServer(metadataFor(ENTITY, [IDP1_CERT], { cacheDuration: "PT10M" }));
    await createFromUrl(b, server);
    expect(server.hits).toBe(1);
    const created = await view(b);
    expect(created.lastRefreshAt).toBe(new Date(b.clock.now).toISOString());
    expect((await exchange(b, { xml: assertionFrom(b) })).status).toBe(200);

    // The IdP publishes its next key.
    server.body = metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT], { cacheDuration: "PT10M" });
    await after(b, 9 * MIN);
    expect(server.hits).toBe(1);
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).body.error_description).toBe("signature_invalid");

    await after(b, 61_000);
    expect(server.hits).toBe(2);
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);
    const refreshed = await view(b);
    expect(refreshed.lastRefreshAt).toBe(new Date(b.clock.now).toISOString());
    expect(refreshed.lastRefreshError).toBeUndefined();
    expect(refreshed.signingCertificates).toHaveLength(2);
    expect(b.logs.filter((l) => l.event === "idp_refreshed")).toEqual([expect.objectContaining({ idp: "dyn", by: "scheduler" })]);

    // The next one is due 10 minutes after that refresh, not after the first.
    await after(b, 9 * MIN);
    expect(server.hits).toBe(2);
    await after(b, 1 * MIN);
    expect(server.hits).toBe(3);
  });

  it("without cacheDuration or validUntil, refreshes every refreshIntervalSeconds", async () => {
    const b = await adminBridge({ refreshIntervalSeconds: 1800 });
    const server = await metadataServer(metadataFor(ENTITY, [IDP1_CERT]));
    await createFromUrl(b, server);
    await after(b, 29 * MIN);
    expect(server.hits).toBe(1);
    await after(b, 1 * MIN);
    expect(server.hits).toBe(2);
  });

  it("never refreshes more often than minRefreshSeconds, however short cacheDuration is", async () => {
    const b = await adminBridge({ minRefreshSeconds: 120 });
    const server = await metadataServer(metadataFor(ENTITY, [IDP1_CERT], { cacheDuration: "PT1S" }));
    await createFromUrl(b, server);
    await after(b, 60_000);
    await after(b, 59_000);
    expect(server.hits).toBe(1);
    await after(b, 1_000);
    expect(server.hits).toBe(2);
  });

  it("validUntil shortens the interval: refreshed half-way to it, well before it lapses", async () => {
    const b = await adminBridge();
    const validUntil = (): Date => new Date(b.clock.now + 40 * MIN);
    const server = await metadataServer(metadataFor(ENTITY, [IDP1_CERT], { validUntil: validUntil() }));
    await createFromUrl(b, server);
    expect((await view(b)).validUntil).toBe(validUntil().toISOString());

    // Default refreshIntervalSeconds is an hour; validUntil 40 min away brings it down to 20 min.
    await after(b, 19 * MIN);
    expect(server.hits).toBe(1);
    server.body = metadataFor(ENTITY, [IDP1_CERT], { validUntil: new Date(b.clock.now + 2 * MIN + 40 * MIN) });
    await after(b, 1 * MIN);
    expect(server.hits).toBe(2);
    const v = await view(b);
    expect(v.lastRefreshError).toBeUndefined();
    expect(Date.parse(v.validUntil)).toBe(b.clock.now + 41 * MIN);
    // The bridge outlives the first validUntil with the refreshed metadata.
    await after(b, 25 * MIN);
    expect((await exchange(b, { xml: assertionFrom(b) })).status).toBe(200);
  });

  it("a failed refresh keeps the last good metadata, is logged, listed, in /readyz, and clears on the next good one", async () => {
    const b = await adminBridge();
    const good = metadataFor(ENTITY, [IDP1_CERT], { cacheDuration: "PT5M" });
    const server = await metadataServer(good);
    await createFromUrl(b, server);
    expect((await b.http.get("/readyz")).body.idp_refresh_failures).toEqual([]);

    const failures: [string, () => Promise<void> | void, string][] = [
      ["HTTP 500", () => void (server.status = 500), "metadata_fetch_failed: http_500"],
      ["server down", () => server.stop(), "metadata_fetch_failed: fetch_connection_(refused|reset)"],
      ["not metadata", async () => {
        await server.restart();
        server.status = 200;
        server.body = "<html><body>maintenance</body></html>";
      }, "invalid_metadata: metadata_invalid"],
      ["expired metadata", () => void (server.body = metadataFor(ENTITY, [IDP1_CERT], { validUntil: new Date(b.clock.now - MIN) })), "invalid_metadata: metadata_expired"],
      ["rollover without overlap", () => void (server.body = metadataFor(ENTITY, [IDP2_CERT], { cacheDuration: "PT5M" })), "invalid_metadata: rollover_no_shared_key"],
      ["too large", () => void (server.body = `${good}<!--${"x".repeat(1_100_000)}-->`), "metadata_fetch_failed: fetch_too_large"],
    ];
    for (const [what, breakIt, reason] of failures) {
      await breakIt();
      const before = server.hits;
      await after(b, 6 * MIN);
      if (what !== "server down") expect(server.hits, what).toBe(before + 1);
      const v = await view(b);
      expect(v.lastRefreshError, what).toMatch(new RegExp(`^${reason}`));
      expect(v.lastRefreshAt, what).toBe(new Date(b.clock.now).toISOString());
      expect(v.signingCertificates, what).toHaveLength(1);
      const ready = await b.http.get("/readyz");
      expect(ready.status, what).toBe(200);
      expect(ready.body.idp_refresh_failures, what).toEqual(["dyn"]);
      expect(b.logs.at(-1), what).toMatchObject({ event: "idp_refresh_failed", idp: "dyn", by: "scheduler", reason: v.lastRefreshError });
      // The last good metadata still verifies; the rejected document's key does not.
      expect((await exchange(b, { xml: assertionFrom(b) })).status, what).toBe(200);
      expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp2) })).body.error_description, what).toBe("signature_invalid");
    }
    expect(b.logs.filter((l) => l.event === "idp_refresh_failed")).toHaveLength(failures.length);

    // Recovery: the next good document is taken, and the error clears everywhere.
    server.body = metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT], { cacheDuration: "PT5M" });
    await after(b, 6 * MIN);
    const v = await view(b);
    expect(v.lastRefreshError).toBeUndefined();
    expect(v.signingCertificates).toHaveLength(2);
    expect((await b.http.get("/readyz")).body.idp_refresh_failures).toEqual([]);
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);
  });

  it("POST /admin/idps/{id}/refresh refreshes at once; a failure answers 502 and keeps the metadata", async () => {
    const b = await adminBridge();
    const server = await metadataServer(metadataFor(ENTITY, [IDP1_CERT], { cacheDuration: "PT1H" }));
    await createFromUrl(b, server);
    server.body = metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT]);

    const ok = await b.http.post("/admin/idps/dyn/refresh").set(auth);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.headers.etag).toBe(`"${ok.body.version}"`);
    expect(ok.body.signingCertificates).toHaveLength(2);
    expect(server.hits).toBe(2);
    expect(b.logs).toContainEqual(expect.objectContaining({ event: "idp_refreshed", idp: "dyn", by: "alice" }));
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);

    server.status = 503;
    const bad = await b.http.post("/admin/idps/dyn/refresh").set(auth);
    expect(bad.status).toBe(502);
    expect(bad.body).toMatchObject({ id: "dyn", lastRefreshError: "metadata_fetch_failed: http_503" });
    expect(bad.body.signingCertificates).toHaveLength(2);
    expect(b.logs.at(-1)).toMatchObject({ event: "idp_refresh_failed", idp: "dyn", by: "alice" });
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);

    // Uploaded and config-file IdPs have no URL to refresh from; refreshing needs admin credentials.
    const up = await b.http.put("/admin/idps/up").set(auth).send({ metadata: metadataFor("https://up.test/idp", [IDP2_CERT]) });
    expect(up.status).toBe(201);
    expect((await b.http.post("/admin/idps/up/refresh").set(auth)).body).toEqual({ error: "not_url_metadata" });
    expect((await b.http.post("/admin/idps/idp1/refresh").set(auth)).status).toBe(404);
    expect((await b.http.post("/admin/idps/dyn/refresh")).status).toBe(401);
  });

  it("a refresh cannot switch the IdP to another entity's identity", async () => {
    const b = await adminBridge();
    const server = await metadataServer(metadataFor(ENTITY, [IDP1_CERT], { cacheDuration: "PT5M" }));
    await createFromUrl(b, server);
    // The URL now serves a document naming a config-file IdP's entityID (same key, so the rollover guard passes).
    server.body = metadataFor("https://idp1.test/idp", [IDP1_CERT], { cacheDuration: "PT5M" });
    await after(b, 6 * MIN);
    expect((await view(b)).lastRefreshError).toBe("entity_id_changed");
    expect((await view(b)).entityId).toBe(ENTITY);
    // The registry still works, for the admin IdP and for the config-file one.
    expect((await exchange(b, { xml: assertionFrom(b) })).status).toBe(200);
    server.body = metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT], { cacheDuration: "PT5M" });
    await after(b, 6 * MIN);
    expect((await view(b)).lastRefreshError).toBeUndefined();
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);
  });
});
