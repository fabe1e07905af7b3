/**
 * The series fed by the bridge's other parts, each driven for real: admin changes (the admin API
 * over HTTP), metadata refresh outcome and age (a URL IdP served by a local node:http server),
 * JWKS fetches by issuer and outcome (the bridge's injected fetch), and the replay store's latency,
 * errors and state (a Redis URL where no server listens: down), plus the store's `lost` and
 * `closed` states through the observing decorator.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SignJWT, importPKCS8 } from "jose";
import request from "supertest";
import { exchange, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { FIXTURES_DIR, IDP1_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { JWT_KEYS } from "../support/independent-jwt.js";
import { ID_TOKEN, JWT_CLIENT, corpClaims, corpIssuer, withJwtIssuers } from "../support/jwt-fixtures.js";
import type { FetchFn } from "../../src/jwt/keys.js";
import { BridgeMetrics } from "../../src/metrics/metrics.js";
import { observedReplayStore } from "../../src/metrics/replay.js";
import { ReplayStoreUnavailable, type ReplayStore, type ReplayStoreStatus } from "../../src/replay/store.js";
import { find, parseExposition, value, type Sample } from "./scrape.js";

const ADMIN_TOKEN = "admin-token-for-metrics-tests-0123456789";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const ENTITY = "https://dyn.test/idp";

const bridges: TestBridge[] = [];
const servers: Server[] = [];
afterEach(async () => {
  while (bridges.length) await bridges.pop()!.close();
  while (servers.length) {
    const s = servers.pop()!;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function scrape(b: TestBridge): Promise<Sample[]> {
  const res = await request(b.app).get("/metrics");
  expect(res.status).toBe(200);
  return parseExposition(res.text);
}

describe("admin changes and metadata refresh", () => {
  it("counts admin changes by action, refresh outcomes per IdP, and the age of the last good refresh", async () => {
    const state = { status: 200, body: metadataFor(ENTITY, [IDP1_CERT]) };
    const server = createServer((_req, res) => {
      res.writeHead(state.status, { "Content-Type": "application/samlmetadata+xml" });
      res.end(state.body);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/md.xml`;
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-metrics-"));
    const b = await startBridge({
      adminTickMs: 0,
      patch: (c) => {
        c.metrics = { enabled: true, processMetrics: false };
        c.admin = { tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "file", directory: dir } };
        c.clients[0].idps.push("dyn");
      },
    });
    bridges.push(b);
    const created = await b.http.put("/admin/idps/dyn").set(auth).send({ metadataUrl: url, mapping: { scopes: [{ grant: ["read"] }] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // An admin refusal: a body the schema refuses.
    expect((await b.http.put("/admin/idps/dyn2").set(auth).send({ metadataUrl: "ftp://nope" })).status).toBe(400);
    // On-demand refresh: unchanged.
    expect((await b.http.post("/admin/idps/dyn/refresh").set(auth)).status).toBe(200);
    b.clock.advance(90_000);
    // Then the IdP's server fails.
    state.status = 500;
    expect((await b.http.post("/admin/idps/dyn/refresh").set(auth)).status).toBeGreaterThanOrEqual(400);

    const s = await scrape(b);
    expect(value(s, "fedbridge_admin_changes_total", { action: "create", outcome: "applied" })).toBe(1);
    expect(find(s, "fedbridge_admin_changes_total", { outcome: "refused" }).reduce((n, x) => n + x.value, 0)).toBeGreaterThanOrEqual(1);
    expect(value(s, "fedbridge_metadata_refresh_total", { idp: "dyn", outcome: "unchanged" })).toBe(1);
    expect(value(s, "fedbridge_metadata_refresh_total", { idp: "dyn", outcome: "failed" })).toBe(1);
    expect(value(s, "fedbridge_metadata_refresh_failing", { idp: "dyn" })).toBe(1);
    expect(value(s, "fedbridge_metadata_refresh_age_seconds", { idp: "dyn" })).toBe(90);
    // The admin-managed IdP's certificate is watched too.
    expect(find(s, "fedbridge_certificate_expiry_days", { idp: "dyn" })).toHaveLength(1);

    // The next good refresh clears the failure.
    state.status = 200;
    expect((await b.http.post("/admin/idps/dyn/refresh").set(auth)).status).toBe(200);
    const after = await scrape(b);
    expect(value(after, "fedbridge_metadata_refresh_failing", { idp: "dyn" })).toBe(0);
    expect(value(after, "fedbridge_metadata_refresh_age_seconds", { idp: "dyn" })).toBe(0);
  });
});

describe("JWKS fetches", () => {
  it("counts fetches by issuer and outcome", async () => {
    const jwks = readFileSync(join(FIXTURES_DIR, "jwks/oidc.jwks.json"), "utf8");
    const fetch: FetchFn = async (url) => (String(url).startsWith("https://keys.corp.test/")
      ? new Response(jwks, { status: 200, headers: { "content-type": "application/json" } })
      : new Response("no", { status: 503 }));
    const b = await startBridge({
      fetch,
      patch: (c) => {
        c.metrics = { enabled: true, processMetrics: false };
        withJwtIssuers(c, [
          corpIssuer({ jwksFile: undefined, jwksUri: "https://keys.corp.test/jwks" }),
          corpIssuer({ id: "down", issuer: "https://down.test", jwksFile: undefined, jwksUri: "https://down.test/jwks" }),
        ]);
        c.clients.find((x: { id: string }) => x.id === JWT_CLIENT.id).idps.push("down");
      },
    });
    bridges.push(b);
    const key = await importPKCS8(readFileSync(JWT_KEYS.oidc, "utf8"), "RS256");
    const sign = (over: Record<string, unknown> = {}): Promise<string> =>
      new SignJWT(corpClaims(b.clock.now, over)).setProtectedHeader({ alg: "RS256", kid: "oidc-rs-1" }).sign(key);
    expect((await exchange(b, { rawToken: await sign(), tokenType: ID_TOKEN, client: JWT_CLIENT })).status).toBe(200);
    expect((await exchange(b, { rawToken: await sign({ iss: "https://down.test" }), tokenType: ID_TOKEN, client: JWT_CLIENT })).status).toBe(503);
    const s = await scrape(b);
    expect(value(s, "fedbridge_jwks_fetches_total", { issuer: "corp", outcome: "ok" })).toBe(1);
    expect(value(s, "fedbridge_jwks_fetches_total", { issuer: "down", outcome: "http_status" })).toBe(1);
    expect(b.logs.some((l) => l.event === "jwt_issuer_keys_unavailable")).toBe(true);
  });
});

describe("replay store", () => {
  it("a Redis that is not there: state down, the exchange's mark counted as unavailable", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r)); // nothing listens there now
    const b = await startBridge({
      patch: (c) => {
        c.metrics = { enabled: true, processMetrics: false };
        c.replay = { store: "redis", redisUrl: `redis://127.0.0.1:${port}`, timeoutMs: 200 };
      },
    });
    bridges.push(b);
    const res = await exchange(b, { xml: signedAssertion(b) });
    expect(res.status).toBe(503);
    const s = await scrape(b);
    expect(value(s, "fedbridge_replay_store_state", { state: "down" })).toBe(1);
    expect(value(s, "fedbridge_replay_store_state", { state: "up" })).toBe(0);
    expect(value(s, "fedbridge_replay_store_errors_total", { operation: "mark", kind: "unavailable" })).toBe(1);
    expect(value(s, "fedbridge_replay_store_operation_duration_seconds_count", { operation: "mark", outcome: "unavailable" })).toBe(1);
    expect(value(s, "fedbridge_exchanges_total", { outcome: "refused", reason: "replay_store_unavailable" })).toBe(1);
    expect(value(s, "fedbridge_replay_store_connection_errors_total")).toBeGreaterThanOrEqual(1);
  });

  it("lost and closed states, and lost marks, through the observing decorator", async () => {
    let status: ReplayStoreStatus = { state: "lost", reopensAt: 1 };
    const store: ReplayStore = {
      markUsed: async () => true,
      markAllUsed: async () => {
        throw new ReplayStoreUnavailable("lost", { lost: true, retryAfterMs: 1000 });
      },
      anyUsed: async () => false,
      ready: async () => false,
      status: async () => status,
      close: async () => undefined,
    };
    const metrics = new BridgeMetrics({ exemplars: false, processMetrics: false, now: () => 0 });
    const observed = observedReplayStore(store, metrics);
    await expect(observed.markAllUsed([{ key: "k", ttlMs: 1 }])).rejects.toThrow(ReplayStoreUnavailable);
    expect(await observed.anyUsed(["k"])).toBe(false);
    let s = parseExposition(await metrics.registry.metrics());
    expect(value(s, "fedbridge_replay_store_state", { state: "lost" })).toBe(1);
    expect(value(s, "fedbridge_replay_store_errors_total", { operation: "mark", kind: "lost" })).toBe(1);
    expect(value(s, "fedbridge_replay_store_operation_duration_seconds_count", { operation: "read", outcome: "new" })).toBe(1);
    // A state the store may grow later counts as down until the metric lists it.
    status = { state: "quarantined" } as unknown as ReplayStoreStatus;
    s = parseExposition(await metrics.registry.metrics());
    expect(value(s, "fedbridge_replay_store_state", { state: "down" })).toBe(1);
    await observed.close();
    s = parseExposition(await metrics.registry.metrics());
    expect(value(s, "fedbridge_replay_store_state", { state: "closed" })).toBe(1);
  });
});
