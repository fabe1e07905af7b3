/**
 * The bridge logger: levels (per event, overridable, filtered by config log.level), the request's
 * correlation ids on every line written while it is served (X-Request-Id kept only when it is a
 * short safe token), and the redaction pass with its several shapes of credential.
 */
import { describe, expect, it } from "vitest";
import { bridgeLogger, jsonLogger, levelOf, type LogEvent } from "../../src/log/logger.js";
import { REDACTED, redactEvent } from "../../src/log/redact.js";
import { runInRequestScope } from "../../src/log/context.js";
import { REQUEST_ID, requestIdOf } from "../../src/log/request-scope.js";
import request from "supertest";
import { createBridge } from "../../src/bootstrap.js";
import { parseConfig } from "../../src/config/load.js";
import { baseConfig, exchange, signedAssertion, type TestBridge, type TestClock } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";

/** A bridge whose log entries are the lines jsonLogger writes (ts, level, the ids), parsed back. */
async function lineBridge(): Promise<TestBridge> {
  const clock: TestClock = { now: Date.now(), advance(ms) { this.now += ms; } };
  const logs: LogEvent[] = [];
  const bridge = await createBridge({ config: parseConfig(baseConfig()), baseDir: FIXTURES_DIR }, {
    now: () => clock.now, log: jsonLogger((l) => logs.push(JSON.parse(l) as LogEvent), () => clock.now),
  });
  return { ...bridge, clock, logs, http: request(bridge.app) };
}

describe("levels", () => {
  it("gives known events their level, info otherwise; an entry's own level wins", () => {
    expect(levelOf({ event: "internal_error" })).toBe("error");
    expect(levelOf({ event: "redis_error" })).toBe("warn");
    expect(levelOf({ event: "anything", level: "debug" })).toBe("debug");
    expect(levelOf({ event: "token_exchange" })).toBe("info");
    expect(levelOf({ event: "token_exchange", level: "warn" })).toBe("warn");
    expect(levelOf({ event: "token_exchange", level: "loud" })).toBe("info");
  });

  it("drops lines below the minimum level but still shows them to the tap", () => {
    const out: LogEvent[] = [];
    const tapped: string[] = [];
    const log = bridgeLogger((e) => out.push(e), { minLevel: "warn", tap: (e) => tapped.push(e.event) });
    log({ event: "token_exchange" });
    log({ event: "redis_error" });
    log({ event: "internal_error" });
    log({ event: "detail", level: "debug" });
    expect(out.map((e) => [e.event, levelOf(e)])).toEqual([["redis_error", "warn"], ["internal_error", "error"]]);
    // A clean entry passes unchanged (callers' own assertions on log entries keep holding).
    expect(out[0]).toEqual({ event: "redis_error" });
    expect(tapped).toEqual(["token_exchange", "redis_error", "internal_error", "detail"]);
  });

  it("a throwing tap never stops the line", () => {
    const out: LogEvent[] = [];
    bridgeLogger((e) => out.push(e), { tap: () => { throw new Error("boom"); } })({ event: "x" });
    expect(out).toHaveLength(1);
  });

  it("writes one JSON object per line: ts, level, then the entry", () => {
    const lines: string[] = [];
    const write = jsonLogger((l) => lines.push(l), () => 0);
    write({ event: "x", a: 1 });
    write({ event: "y", level: "warn" });
    expect(lines).toEqual([
      '{"ts":"1970-01-01T00:00:00.000Z","level":"info","event":"x","a":1}\n',
      '{"ts":"1970-01-01T00:00:00.000Z","level":"warn","event":"y"}\n',
    ]);
  });
});

describe("request correlation", () => {
  it("adds request_id and trace_id inside a request scope, nothing outside", () => {
    const out: Record<string, unknown>[] = [];
    const log = bridgeLogger(jsonLogger((l) => out.push(JSON.parse(l)), () => 0));
    log({ event: "outside" });
    runInRequestScope({ requestId: "r-1", trace: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentId: "00f067aa0ba902b7", flags: 1 } }, () => log({ event: "inside" }));
    expect(out[0]).not.toHaveProperty("request_id");
    expect(out[1]).toMatchObject({ request_id: "r-1", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" });
  });

  it("keeps a well-formed X-Request-Id, replaces anything else", () => {
    for (const ok of ["abc", "req-1", "0f3c2a.b:c_d-e", "A".repeat(64), "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"]) expect(requestIdOf(ok)).toBe(ok);
    for (const bad of ["", " x", "a b", "a\nb", "A".repeat(65), "-leading", "<script>", "é", "a,b", "x".repeat(10_000)]) {
      const id = requestIdOf(bad);
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(requestIdOf(["a", "b"])).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf(undefined)).toMatch(REQUEST_ID);
  });

  it("over HTTP: echoes a kept id, generates one otherwise, and the exchange's log line carries it with the caller's trace id", async () => {
    const b = await lineBridge();
    try {
      const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      const kept = await exchange(b, { xml: signedAssertion(b) }).set("X-Request-Id", "client-req-42").set("traceparent", traceparent);
      expect(kept.status).toBe(200);
      expect(kept.headers["x-request-id"]).toBe("client-req-42");
      const line = b.logs.find((l) => l.event === "token_exchange" && l.request_id === "client-req-42");
      expect(line).toMatchObject({ outcome: "issued", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", level: "info" });

      const generated = await b.http.get("/.well-known/oauth-authorization-server").set("X-Request-Id", "has spaces").set("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01");
      expect(generated.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
      const refused = await exchange(b, { rawToken: "x" }).set("traceparent", "garbage");
      const line2 = b.logs.find((l) => l.event === "token_exchange" && l.request_id === refused.headers["x-request-id"]);
      expect(line2).toBeDefined();
      expect(line2).not.toHaveProperty("trace_id");
    } finally {
      await b.close();
    }
  });
});

describe("redaction (second line of defence)", () => {
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
  it.each([
    ["a JWS in a value", { event: "x", detail: `bad token ${jwt}` }, "detail"],
    ["XML in a value", { event: "x", detail: "<saml:Assertion ID=\"_1\">" }, "detail"],
    ["a PEM block", { event: "x", detail: "-----BEGIN PRIVATE KEY-----\nMIIE" }, "detail"],
    ["a long base64 run (an encoded assertion)", { event: "x", detail: "PHNhbWw6QXNzZXJ0aW9u".repeat(6) }, "detail"],
    ["a credential-named field", { event: "x", client_secret: "hunter2" }, "client_secret"],
    ["a subject_token field", { event: "x", subject_token: "opaque" }, "subject_token"],
    ["an assertion field", { event: "x", assertion: "opaque" }, "assertion"],
    ["an Authorization field", { event: "x", authorization: "Basic YTpi" }, "authorization"],
    ["a credential inside a list", { event: "x", values: ["ok", jwt] }, "values"],
  ])("redacts %s", (_name, entry, field) => {
    const out = redactEvent(entry as LogEvent);
    expect(out[field]).toBe(REDACTED);
    expect(out.redacted).toEqual([field]);
    expect(JSON.stringify(out)).not.toContain("eyJzdWIi");
  });

  it("leaves identifiers alone: ids, URLs, reason codes, token type URIs, fingerprints, UUIDs", () => {
    const entry: LogEvent = {
      event: "token_exchange", outcome: "refused", client: "c1", idp: "idp1", reason: "signature_invalid",
      subject_token_type: "urn:ietf:params:oauth:token-type:saml2", audience: ["https://api.example.com"],
      jti: "4bf92f35-77b3-4da6-a3ce-929d0e0e4736", fingerprint: "x5Jq7d0p9v2m1YfQ0pI8m2b1kq3l9x0zA7B6C5D4E3F",
      sub: "alice@corp.test", issuer: "https://login.corp.test", step: "verify_subject_token", scope: "read write",
    };
    expect(redactEvent(entry)).toBe(entry);
  });
});
