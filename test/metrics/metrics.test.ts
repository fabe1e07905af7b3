/**
 * GET /metrics after real exchanges over HTTP (SAML 2.0 signed by xmlsec1, OIDC ID tokens, a
 * replay, refusals of several kinds): the series and their values, the exemplar that joins a
 * counter to the caller's X-Request-Id and the log line, bounded labels (nothing from a request or
 * a token ever becomes a label), the bearer token, the separate port, both exposition formats,
 * and one registry per bridge.
 */
import { X509Certificate, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, importPKCS8 } from "jose";
import request from "supertest";
import { CLIENTS, GRANT, exchange, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT } from "../support/constants.js";
import { JWT_KEYS } from "../support/independent-jwt.js";
import { CORP_AUD, CORP_ISS, ID_TOKEN, JWT_CLIENT, corpClaims, withJwtIssuers } from "../support/jwt-fixtures.js";
import { tokenExchangeGrant } from "../../src/grants/token-exchange.js";
import { find, parseExposition, value, type Sample } from "./scrape.js";

const SCRAPE_TOKEN = "metrics-scrape-token-for-tests-0123456789";
const sha = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

async function scrape(b: { app: TestBridge["app"] }, token?: string): Promise<{ text: string; samples: Sample[]; contentType: string }> {
  let req = request(b.app).get("/metrics");
  if (token) req = req.set("Authorization", `Bearer ${token}`);
  const res = await req;
  expect(res.status).toBe(200);
  return { text: res.text, samples: parseExposition(res.text), contentType: String(res.headers["content-type"]) };
}

let bridge: TestBridge;
const subjectTokens: string[] = [];
async function corpToken(over: Record<string, unknown> = {}): Promise<string> {
  const key = await importPKCS8(readFileSync(JWT_KEYS.oidc, "utf8"), "RS256");
  const t = await new SignJWT(corpClaims(bridge.clock.now, over)).setProtectedHeader({ alg: "RS256", kid: "oidc-rs-1" }).sign(key);
  subjectTokens.push(t);
  return t;
}

describe("GET /metrics after real exchanges", () => {
  let samples: Sample[];
  let text: string;
  const saml = "urn:ietf:params:oauth:token-type:saml2";

  beforeAll(async () => {
    bridge = await startBridge({ patch: (c) => { withJwtIssuers(c); c.metrics = { enabled: true }; } });
    // 1. A SAML exchange, with the caller's request id.
    const xml = signedAssertion(bridge);
    const ok = await exchange(bridge, { xml }).set("X-Request-Id", "req-saml-1");
    expect(ok.status).toBe(200);
    expect(ok.headers["x-request-id"]).toBe("req-saml-1");
    // 2. The same assertion again: refused as a replay, at the consume_tokens step.
    expect((await exchange(bridge, { xml }).set("X-Request-Id", "req-replay-1")).body.error_description).toBe("replayed");
    // 3. An OIDC ID token exchange.
    const jwt = await exchange(bridge, { rawToken: await corpToken(), tokenType: ID_TOKEN, client: JWT_CLIENT });
    expect(jwt.status, JSON.stringify(jwt.body)).toBe(200);
    // 4. An ID token with a bad audience (refused in verification).
    expect((await exchange(bridge, { rawToken: await corpToken({ aud: "someone-else" }), tokenType: ID_TOKEN, client: JWT_CLIENT })).status).toBe(400);
    // 5. A caller-made subject_token_type: never a label.
    expect((await exchange(bridge, { xml: signedAssertion(bridge), tokenType: "urn:attacker:label-bomb-7f3a" })).status).toBe(400);
    // 6. A wrong client secret (refused before any grant runs), an X-Request-Id that is not kept.
    const bad = await exchange(bridge, { xml: signedAssertion(bridge), client: { id: CLIENTS.c1.id, secret: "wrong" } }).set("X-Request-Id", "bad id with spaces");
    expect(bad.status).toBe(401);
    expect(bad.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    // 7. An unsupported grant_type.
    expect((await bridge.http.post("/token").auth(CLIENTS.c1.id, CLIENTS.c1.secret).type("form").send("grant_type=urn:x:evil-grant")).status).toBe(400);
    ({ samples, text } = await scrape(bridge));
  });
  afterAll(() => bridge.close());

  it("serves OpenMetrics 1.0 by default", async () => {
    const { contentType } = await scrape(bridge);
    expect(contentType).toContain("application/openmetrics-text");
    expect(text.trimEnd().endsWith("# EOF")).toBe(true);
  });

  it("counts exchanges by grant, token type, client, source, outcome and reason", () => {
    const base = { grant_type: GRANT };
    expect(value(samples, "fedbridge_exchanges_total", { ...base, subject_token_type: saml, client: "c1", source: "idp1", outcome: "issued", reason: "none" })).toBe(1);
    expect(value(samples, "fedbridge_exchanges_total", { ...base, subject_token_type: saml, client: "c1", source: "idp1", outcome: "refused", reason: "replayed" })).toBe(1);
    expect(value(samples, "fedbridge_exchanges_total", { ...base, subject_token_type: ID_TOKEN, client: JWT_CLIENT.id, source: "corp", outcome: "issued", reason: "none" })).toBe(1);
    const audRefusal = find(samples, "fedbridge_exchanges_total", { ...base, subject_token_type: ID_TOKEN, client: JWT_CLIENT.id, outcome: "refused" });
    expect(audRefusal).toHaveLength(1);
    expect(audRefusal[0]!.labels.reason).toMatch(/^[a-z_]+$/);
    // Six exchanges reached a pipeline (the bad secret and the unknown grant did not).
    const total = find(samples, "fedbridge_exchanges_total").reduce((n, s) => n + s.value, 0);
    expect(total).toBe(5);
  });

  it("puts the caller's X-Request-Id on the exemplar (test/log/logger.test.ts: the same id on the log line)", () => {
    const issued = find(samples, "fedbridge_exchanges_total", { subject_token_type: saml, outcome: "issued" })[0]!;
    expect(issued.exemplar?.labels.request_id).toBe("req-saml-1");
    expect(issued.exemplar?.value).toBe(1);
    const replay = find(samples, "fedbridge_exchanges_total", { reason: "replayed" })[0]!;
    expect(replay.exemplar?.labels.request_id).toBe("req-replay-1");
    const latency = find(samples, "fedbridge_exchange_duration_seconds_bucket", { outcome: "issued" }).filter((s) => s.exemplar);
    expect(latency.map((s) => s.exemplar!.labels.request_id)).toContain("req-saml-1");
  });

  it("times the whole exchange and every named step of the grant", () => {
    expect(value(samples, "fedbridge_exchange_duration_seconds_count", { grant_type: GRANT, outcome: "issued" })).toBe(2);
    for (const s of tokenExchangeGrant.steps) {
      const ok = find(samples, "fedbridge_exchange_step_duration_seconds_count", { grant_type: GRANT, step: s.name, outcome: "ok" });
      expect(ok, s.name).toHaveLength(1);
      expect(ok[0]!.value, s.name).toBeGreaterThanOrEqual(2);
    }
    expect(value(samples, "fedbridge_exchange_step_duration_seconds_count", { step: "consume_tokens", outcome: "refused" })).toBe(1);
    const sum = value(samples, "fedbridge_exchange_duration_seconds_sum", { grant_type: GRANT, outcome: "issued" })!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(60);
  });

  it("counts every OAuth error response at the serializer, whichever stage refused", () => {
    expect(value(samples, "fedbridge_oauth_errors_total", { error: "invalid_client", status: "401" })).toBe(1);
    expect(value(samples, "fedbridge_oauth_errors_total", { error: "invalid_request", reason: "replayed", status: "400" })).toBe(1);
    expect(value(samples, "fedbridge_oauth_errors_total", { error: "unsupported_grant_type", status: "400" })).toBe(1);
    const errors = find(samples, "fedbridge_oauth_errors_total").reduce((n, s) => n + s.value, 0);
    expect(errors).toBe(5);
  });

  it("bounds every label: a caller's token type, grant type or request id never becomes one", () => {
    expect(text).not.toContain("label-bomb");
    expect(text).not.toContain("evil-grant");
    expect(text).not.toContain("bad id");
    const types = new Set(find(samples, "fedbridge_exchanges_total").map((s) => s.labels.subject_token_type));
    for (const t of types) expect([saml, ID_TOKEN, "none", "other"]).toContain(t);
    for (const tok of subjectTokens) for (const part of tok.split(".")) expect(text).not.toContain(part.slice(0, 24));
  });

  it("reports the replay store: operation latency and state", () => {
    expect(value(samples, "fedbridge_replay_store_operation_duration_seconds_count", { operation: "mark", outcome: "new" })).toBe(1); // the corp ID tokens are not one-time
    expect(value(samples, "fedbridge_replay_store_operation_duration_seconds_count", { operation: "mark", outcome: "used" })).toBe(1);
    expect(value(samples, "fedbridge_replay_store_state", { state: "up" })).toBe(1);
    for (const s of ["down", "lost", "closed"]) expect(value(samples, "fedbridge_replay_store_state", { state: s })).toBe(0);
  });

  it("reports days until each trusted certificate expires", () => {
    const cert = new X509Certificate(readFileSync(IDP1_CERT));
    const days = (Date.parse(cert.validTo) - bridge.clock.now) / 86_400_000;
    // idp1's metadata lists two certificates (one per fingerprint): one of them is this one.
    const got = find(samples, "fedbridge_certificate_expiry_days", { idp: "idp1" });
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(new Set(got.map((s) => s.labels.fingerprint)).size).toBe(got.length);
    expect(got.some((s) => Math.abs(s.value - days) < 0.02)).toBe(true);
    for (const idp of ["idp2", "idp-ec"]) expect(find(samples, "fedbridge_certificate_expiry_days", { idp }).length, idp).toBeGreaterThanOrEqual(1);
  });

  it("includes the process metrics", () => {
    expect(find(samples, "process_cpu_user_seconds_total")).toHaveLength(1);
    expect(find(samples, "nodejs_eventloop_lag_seconds")).toHaveLength(1);
  });

  it("has one registry per bridge: a second bridge in the process starts from zero", async () => {
    const other = await startBridge({ patch: (c) => { c.metrics = { enabled: true }; } });
    try {
      const s = (await scrape(other)).samples;
      expect(find(s, "fedbridge_exchanges_total")).toHaveLength(0);
      expect((await exchange(other, { xml: signedAssertion(other) })).status).toBe(200);
      expect(value((await scrape(other)).samples, "fedbridge_exchanges_total", { outcome: "issued" })).toBe(1);
      // The first bridge did not see it.
      expect(value((await scrape(bridge)).samples, "fedbridge_exchanges_total", { subject_token_type: saml, outcome: "issued" })).toBe(1);
    } finally {
      await other.close();
    }
  });
});

describe("metrics config", () => {
  it("is off by default: /metrics is 404", async () => {
    const b = await startBridge();
    try {
      expect((await b.http.get("/metrics")).status).toBe(404);
    } finally {
      await b.close();
    }
  });

  it("asks for the bearer token when metrics.tokenHash is set", async () => {
    const b = await startBridge({ patch: (c) => { c.metrics = { enabled: true, tokenHash: sha(SCRAPE_TOKEN) }; } });
    try {
      const none = await b.http.get("/metrics");
      expect(none.status).toBe(401);
      expect(none.headers["www-authenticate"]).toMatch(/^Bearer /);
      expect(none.text).not.toContain("fedbridge_");
      expect((await b.http.get("/metrics").set("Authorization", "Bearer wrong-token")).status).toBe(401);
      expect((await b.http.get("/metrics").set("Authorization", `Bearer ${SCRAPE_TOKEN}x`)).status).toBe(401);
      expect((await b.http.get("/metrics").set("Authorization", `Basic ${Buffer.from(`x:${SCRAPE_TOKEN}`).toString("base64")}`)).status).toBe(401);
      expect((await b.http.get("/metrics").set("Authorization", `Bearer ${SCRAPE_TOKEN}`)).status).toBe(200);
    } finally {
      await b.close();
    }
  });

  it("serves /metrics on a port of its own with metrics.port, and not on the main one", async () => {
    const b = await startBridge({ patch: (c) => { c.metrics = { enabled: true, port: 0 }; } });
    try {
      expect(b.telemetry.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await b.http.get("/metrics")).status).toBe(404);
      expect((await exchange(b, { xml: signedAssertion(b) })).status).toBe(200);
      const res = await fetch(`${b.telemetry.metricsUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(value(parseExposition(await res.text()), "fedbridge_exchanges_total", { outcome: "issued" })).toBe(1);
      expect((await fetch(`${b.telemetry.metricsUrl}/token`, { method: "POST" })).status).toBe(404);
    } finally {
      await b.close();
    }
    // Closed with the bridge.
    await expect(fetch(`${b.telemetry.metricsUrl}/metrics`)).rejects.toThrow();
  });

  it("writes the Prometheus text format 0.0.4 (no exemplars) with metrics.exemplars: false", async () => {
    const b = await startBridge({ patch: (c) => { c.metrics = { enabled: true, exemplars: false, processMetrics: false }; } });
    try {
      expect((await exchange(b, { xml: signedAssertion(b) })).status).toBe(200);
      const { contentType, samples: s, text: t } = await scrape(b);
      expect(contentType).toContain("text/plain; version=0.0.4");
      expect(t).not.toContain("# {");
      expect(t).not.toContain("# EOF");
      expect(value(s, "fedbridge_exchanges_total", { outcome: "issued" })).toBe(1);
      expect(find(s, "process_cpu_user_seconds_total")).toHaveLength(0);
    } finally {
      await b.close();
    }
  });

  it("counts a rate-limit refusal (429 rate_limited) like any other reason", async () => {
    const b = await startBridge({ patch: (c) => {
      c.metrics = { enabled: true, processMetrics: false };
      c.rateLimits = { perClient: { enabled: true, max: 1, windowSeconds: 60 } };
    } });
    try {
      expect((await exchange(b, { xml: signedAssertion(b) })).status).toBe(200);
      expect((await exchange(b, { xml: signedAssertion(b) })).status).toBe(429);
      const { samples: s } = await scrape(b);
      expect(value(s, "fedbridge_oauth_errors_total", { reason: "rate_limited", status: "429" })).toBe(1);
      expect(value(s, "fedbridge_exchanges_total", { outcome: "refused", reason: "rate_limited" })).toBe(1);
    } finally {
      await b.close();
    }
  });

  it("puts the caller's trace id (W3C traceparent) on the exemplar", async () => {
    const b = await startBridge({ patch: (c) => { c.metrics = { enabled: true, processMetrics: false }; } });
    try {
      const trace = "0af7651916cd43dd8448eb211c80319c";
      const res = await exchange(b, { xml: signedAssertion(b) }).set("traceparent", `00-${trace}-b7ad6b7169203331-01`).set("X-Request-Id", "with-trace");
      expect(res.status).toBe(200);
      const issued = find((await scrape(b)).samples, "fedbridge_exchanges_total", { outcome: "issued" })[0]!;
      expect(issued.exemplar?.labels).toEqual({ request_id: "with-trace", trace_id: trace });
    } finally {
      await b.close();
    }
  });

  it("reports the replay store closed once the bridge closed it", async () => {
    const b = await startBridge({ patch: (c) => { c.metrics = { enabled: true, processMetrics: false }; } });
    await b.close();
    const s = parseExposition(await b.telemetry.metrics.registry.metrics());
    expect(value(s, "fedbridge_replay_store_state", { state: "closed" })).toBe(1);
    expect(value(s, "fedbridge_replay_store_state", { state: "up" })).toBe(0);
  });
});

export { CORP_AUD, CORP_ISS };
