/**
 * OpenTelemetry spans over OTLP/HTTP to a local receiver started here (no network): one
 * `token_exchange` server span per exchange with a child span per pipeline step, continuing the
 * caller's W3C trace (traceparent) or starting a new one, with ids and reason codes only as
 * attributes (never a token), and the trace id on the exchange's log line. Off by default.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { createBridge } from "../../src/bootstrap.js";
import { parseConfig } from "../../src/config/load.js";
import { jsonLogger, type LogEvent } from "../../src/log/logger.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { baseConfig, type TestClock } from "../support/harness.js";
import { exchange, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { tokenExchangeGrant } from "../../src/grants/token-exchange.js";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status?: { code?: number; message?: string };
  attributes?: { key: string; value: Record<string, unknown> }[];
}

const bodies: { contentType: string; body: string }[] = [];
let receiver: Server;
let endpoint: string;
let bridge: TestBridge;
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

function spans(): OtlpSpan[] {
  return bodies.flatMap((b) => {
    const doc = JSON.parse(b.body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
    return doc.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  });
}
const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") bodies.push({ contentType: String(req.headers["content-type"]), body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
  // Log entries as jsonLogger writes them (with request_id and trace_id), parsed back.
  const raw = baseConfig();
  raw.tracing = { enabled: true, otlpEndpoint: endpoint, serviceName: "fedbridge-test" };
  const clock: TestClock = { now: Date.now(), advance(ms) { this.now += ms; } };
  const logs: LogEvent[] = [];
  const b = await createBridge({ config: parseConfig(raw), baseDir: FIXTURES_DIR }, {
    now: () => clock.now, log: jsonLogger((l) => logs.push(JSON.parse(l) as LogEvent), () => clock.now),
  });
  bridge = { ...b, clock, logs, http: request(b.app) };
});
afterAll(async () => {
  await bridge.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

describe("OTLP tracing", () => {
  it("exports a server span per exchange and a child span per step, in the caller's trace", async () => {
    const xml = signedAssertion(bridge);
    const res = await exchange(bridge, { xml }).set("traceparent", `00-${TRACE}-${PARENT}-01`).set("X-Request-Id", "trace-req-1");
    expect(res.status).toBe(200);
    await bridge.telemetry.tracing!.forceFlush();
    const all = spans().filter((s) => s.traceId === TRACE);
    const root = all.find((s) => s.name === "token_exchange")!;
    expect(root).toBeDefined();
    expect(root.parentSpanId).toBe(PARENT);
    expect(root.kind).toBe(2); // SERVER
    expect(attr(root, "fedbridge.outcome")).toBe("issued");
    expect(attr(root, "fedbridge.client")).toBe("c1");
    expect(attr(root, "fedbridge.source")).toBe("idp1");
    expect(attr(root, "fedbridge.request_id")).toBe("trace-req-1");
    const steps = all.filter((s) => s.parentSpanId === root.spanId).map((s) => s.name);
    expect(steps).toEqual(tokenExchangeGrant.steps.map((s) => s.name));
    expect(bodies[0]!.contentType).toContain("application/json");
    // The log line names the same trace.
    expect(bridge.logs.find((l) => l.event === "token_exchange" && l.request_id === "trace-req-1")?.trace_id).toBe(TRACE);
    // No token in what was exported.
    const exported = bodies.map((b) => b.body).join("");
    expect(exported).not.toContain(Buffer.from(xml).toString("base64url").slice(0, 40));
    expect(exported).not.toContain(res.body.access_token.split(".")[1].slice(0, 40));
  });

  it("marks the failing step and the exchange as errors with the reason code", async () => {
    const xml = signedAssertion(bridge);
    expect((await exchange(bridge, { xml })).status).toBe(200);
    const replay = await exchange(bridge, { xml }).set("X-Request-Id", "trace-replay");
    expect(replay.status).toBe(400);
    await bridge.telemetry.tracing!.forceFlush();
    const root = spans().find((s) => s.name === "token_exchange" && attr(s, "fedbridge.request_id") === "trace-replay")!;
    expect(root.status?.code).toBe(2); // ERROR
    expect(attr(root, "fedbridge.reason")).toBe("replayed");
    expect(attr(root, "fedbridge.step")).toBe("consume_tokens");
    // Without a caller's traceparent the exchange starts a trace of its own, and the log says which.
    expect(root.parentSpanId ?? "").toBe("");
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    const failed = spans().find((s) => s.parentSpanId === root.spanId && s.name === "consume_tokens")!;
    expect(failed.status?.code).toBe(2);
    expect(bridge.logs.find((l) => l.event === "token_exchange" && l.request_id === "trace-replay")?.trace_id).toBe(root.traceId);
  });

  it("follows the caller's not-sampled flag: no spans, no trace id on the line", async () => {
    const before = spans().length;
    const res = await exchange(bridge, { xml: signedAssertion(bridge) }).set("traceparent", `00-${"a".repeat(32)}-${PARENT}-00`).set("X-Request-Id", "unsampled");
    expect(res.status).toBe(200);
    await bridge.telemetry.tracing!.forceFlush();
    expect(spans().filter((s) => s.traceId === "a".repeat(32))).toHaveLength(0);
    expect(spans().length).toBe(before);
    // The caller's trace id is still logged: its own trace, which the caller may have recorded.
    expect(bridge.logs.find((l) => l.event === "token_exchange" && l.request_id === "unsampled")?.trace_id).toBe("a".repeat(32));
  });

  it("is off by default, and tracing.enabled needs an endpoint", async () => {
    const b = await startBridge();
    try {
      expect(b.telemetry.tracing).toBeUndefined();
    } finally {
      await b.close();
    }
    await expect(startBridge({ patch: (c) => { c.tracing = { enabled: true }; } })).rejects.toThrow(/otlpEndpoint/);
  });
});
