/**
 * The token endpoint's fast lane (src/http/token-lane.ts): POST /token is served on node's own
 * request and response objects; everything else through Express. The lane must be taken (an
 * Express release that stopped routing through `app.handle` would silently lose it), must not be
 * taken for anything but that exact request target, and must answer exactly as Express does: the
 * same requests sent both ways (POST /token: the lane; POST /token/: the same route through
 * Express, whose router is not strict about the trailing slash) get the same status, body and
 * headers, refusals of every layer included (form, client authentication, grant, steps).
 */
import { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import express from "express";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installTokenLane } from "../../src/http/token-lane.js";
import { errorHandler } from "../../src/http/error-response.js";
import type { OAuthEndpoint } from "../../src/http/oauth-endpoint.js";
import { refuse } from "../../src/oauth/errors.js";
import { CLIENTS, GRANT, SAML2, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";

describe("which requests take the lane", () => {
  function appWithLane(trustProxy: unknown = false): { app: express.Express; seen: { lane: boolean; ip: string | undefined }[] } {
    const seen: { lane: boolean; ip: string | undefined }[] = [];
    const app = express();
    app.set("trust proxy", trustProxy);
    const endpoint: OAuthEndpoint = {
      path: "/token",
      router: express.Router(),
      serve(req, res) {
        // Node's own objects: no Express prototype in between.
        seen.push({ lane: Object.getPrototypeOf(req) === IncomingMessage.prototype && Object.getPrototypeOf(res) === ServerResponse.prototype, ip: req.ip });
        res.end("lane");
      },
    };
    app.all("/{*any}", (req, res) => {
      seen.push({ lane: false, ip: req.ip });
      res.end("express");
    });
    installTokenLane(app, { endpoint, before: [], onError: errorHandler(() => undefined) });
    return { app, seen };
  }

  it("POST /token: the lane, on node's objects", async () => {
    const { app, seen } = appWithLane();
    expect((await request(app).post("/token").send("a=b")).text).toBe("lane");
    expect(seen).toEqual([{ lane: true, ip: expect.stringMatching(/127\.0\.0\.1$/) }]);
  });

  it.each([
    ["GET /token", "get", "/token"],
    ["HEAD /token", "head", "/token"],
    ["PUT /token", "put", "/token"],
    ["POST /token/", "post", "/token/"],
    ["POST /TOKEN", "post", "/TOKEN"],
    ["POST /token?x=1", "post", "/token?x=1"],
    ["POST //token", "post", "//token"],
    ["POST /token%2f", "post", "/token%2f"],
    ["POST /introspect", "post", "/introspect"],
  ] as const)("%s: Express", async (_what, method, path) => {
    const { app, seen } = appWithLane();
    await request(app)[method](path);
    expect(seen.map((s) => s.lane)).toEqual([false]);
  });

  it("the caller's address follows server.trustProxy exactly as Express's req.ip does", async () => {
    for (const trust of [false, "loopback", 1]) {
      const { app, seen } = appWithLane(trust);
      await request(app).post("/token").set("X-Forwarded-For", "203.0.113.7, 198.51.100.2").send("a=b");
      await request(app).post("/other").set("X-Forwarded-For", "203.0.113.7, 198.51.100.2").send("a=b");
      expect(seen[0]!.lane).toBe(true);
      expect(seen[0]!.ip, String(trust)).toBe(seen[1]!.ip);
    }
  });

  it("a handler that throws, or a chain that ends without answering, is an internal_error answer, never a hang", async () => {
    for (const serve of [
      () => { throw new Error("boom"); },
      (_req: unknown, _res: unknown, done: (e?: unknown) => void) => done(),
      (_req: unknown, _res: unknown, done: (e?: unknown) => void) => done(refuse("grant_type_unsupported")),
    ]) {
      const app = express();
      installTokenLane(app, { endpoint: { path: "/token", router: express.Router(), serve }, before: [], onError: errorHandler(() => undefined) });
      const r = await request(app).post("/token").send("a=b");
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.body.error).toMatch(/^(server_error|unsupported_grant_type)$/);
      expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    }
  });

  it("an error handler that throws cuts that one connection (logged by class), and the next request is served", async () => {
    const logs: Record<string, unknown>[] = [];
    let calls = 0;
    const app = express();
    installTokenLane(app, {
      endpoint: { path: "/token", router: express.Router(), serve: (_req, res, done) => (calls++ === 0 ? done(new Error("x")) : res.end("ok")) },
      before: [],
      onError: () => { throw new TypeError("<secret>"); },
      log: (e) => void logs.push(e),
    });
    const server = app.listen(0);
    try {
      const agent = request(server);
      await expect(agent.post("/token").send("a=b")).rejects.toThrow(/socket hang up|ECONNRESET/);
      expect((await agent.post("/token").send("a=b")).text).toBe("ok");
      expect(logs).toEqual([{ event: "internal_error", reason: "response_cut", error: "TypeError" }]);
    } finally {
      server.close();
    }
  });

  it("an absolute-form request target (POST http://host/token) is Express's", async () => {
    const { app, seen } = appWithLane();
    const server = app.listen(0);
    try {
      const port = (server.address() as { port: number }).port;
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => {
          socket.end(`POST http://127.0.0.1:${port}/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b`);
        });
        socket.on("data", () => undefined);
        socket.on("close", () => resolve());
        socket.on("error", reject);
      });
    } finally {
      server.close();
    }
    expect(seen.map((x) => x.lane)).toEqual([false]);
  });
});

describe("the lane answers as Express does (the same requests, both ways)", () => {
  let bridge: TestBridge;
  beforeAll(async () => {
    bridge = await startBridge({ patch: (c) => { c.limits = { ...(c.limits ?? {}), maxBodyBytes: 16_384 }; } });
  });
  afterAll(async () => {
    await bridge?.close();
  });

  const basic = `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`;
  const form = (extra: Record<string, string> = {}): string => new URLSearchParams({ grant_type: GRANT, subject_token_type: SAML2, ...extra }).toString();
  type Shape = { headers?: Record<string, string>; body?: string | (() => string) };
  const shapes: [string, Shape][] = [
    ["a good exchange", { body: () => form({ subject_token: toBase64Url(signedAssertion(bridge)), scope: "read" }) }],
    ["a replayed assertion", { body: () => "replay" }],
    ["no client authentication", { headers: { authorization: "" } }],
    ["a wrong secret", { headers: { authorization: `Basic ${Buffer.from("c1:wrong").toString("base64")}` } }],
    ["a malformed Basic header", { headers: { authorization: "Basic !!!" } }],
    ["Basic and client_secret together", { body: form({ client_secret: "x" }) }],
    ["a JSON body", { headers: { "content-type": "application/json" }, body: "{}" }],
    ["no Content-Type", { headers: { "content-type": "" } }],
    ["gzip", { headers: { "content-encoding": "gzip" } }],
    ["latin-1", { headers: { "content-type": "application/x-www-form-urlencoded; charset=iso-8859-1" } }],
    ["a body over the limit", { body: `${form()}&pad=${"x".repeat(20_000)}` }],
    ["too many parameters", { body: Array.from({ length: 80 }, (_, i) => `p${i}=1`).join("&") }],
    ["a repeated grant_type", { body: `${form()}&grant_type=${encodeURIComponent(GRANT)}` }],
    ["an unknown grant type", { body: "grant_type=password&username=a&password=b" }],
    ["no subject token", { body: form() }],
    ["a subject token that is not base64url", { body: form({ subject_token: "%%%" }) }],
    ["an unknown token type", { body: form({ subject_token: "abc", subject_token_type: "urn:example:other" }) }],
    ["malformed percent-encoding", { body: `${form()}&x=%E0%A4%A` }],
    ["an empty body", { body: "" }],
  ];

  const HEADERS = ["content-type", "content-length", "cache-control", "pragma", "x-content-type-options", "www-authenticate", "retry-after", "allow"];
  let used = "";
  async function send(path: string, s: Shape): Promise<{ status: number; body: unknown; headers: Record<string, unknown>; requestId: boolean }> {
    let body = typeof s.body === "function" ? s.body() : s.body ?? form({ subject_token: "abc" });
    if (body === "replay") body = used;
    else if (typeof s.body === "function") used = body;
    let req = bridge.http.post(path).set("content-type", "application/x-www-form-urlencoded").set("authorization", basic);
    for (const [k, v] of Object.entries(s.headers ?? {})) req = v === "" ? req.unset(k) : req.set(k, v);
    const r = await req.send(body);
    const b = r.body as Record<string, unknown>;
    // Two good exchanges issue two different tokens: compare their shape.
    const shown = typeof b?.access_token === "string" ? { ...b, access_token: "<jwt>" } : b;
    // (and their lengths may differ with the token's random parts: compared for refusals only).
    const headers = HEADERS.filter((h) => !(h === "content-length" && shown !== b));
    return { status: r.status, body: shown, headers: Object.fromEntries(headers.map((h) => [h, r.headers[h]])), requestId: /^[\w-]+$/.test(String(r.headers["x-request-id"])) };
  }

  it.each(shapes)("%s", async (_what, s) => {
    const lane = await send("/token", s);
    const viaExpress = await send("/token/", s);
    expect(viaExpress).toEqual(lane);
    expect(lane.requestId).toBe(true);
  });

  it("the error counter sees refusals of both ways", async () => {
    const count = async (): Promise<number> => {
      const text = (await bridge.telemetry.metrics.scrape()).body;
      return [...text.matchAll(/^fedbridge_oauth_errors_total\{[^}]*reason="client_auth_failed"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await count();
    await send("/token", shapes[3]![1]);
    expect(await count()).toBe(before + 1);
    await send("/token/", shapes[3]![1]);
    expect(await count()).toBe(before + 2);
  });
});

describe("a handler that neither answers nor refuses is a bug, answered alike both ways", () => {
  it("500 server_error through the lane and through Express (never Express's 405 for a POST)", async () => {
    const { oauthEndpoint } = await import("../../src/http/oauth-endpoint.js");
    const app = express();
    const client = { id: "c" };
    const registry = { authenticate: async () => client, acceptsClientAssertions: false, acceptsCertificates: false };
    const endpoint = oauthEndpoint("/token", { clients: registry as never, maxBodyBytes: 1024, maxParameters: 8 }, async (_req, _res, next) => next());
    app.use(endpoint.router);
    const onError = errorHandler(() => undefined);
    app.use(onError);
    installTokenLane(app, { endpoint, before: [], onError });
    for (const path of ["/token", "/token/"]) {
      const r = await request(app).post(path).auth("c", "s").type("form").send("grant_type=x");
      expect({ path, status: r.status, body: r.body }).toEqual({ path, status: 500, body: { error: "server_error", error_description: "internal_error" } });
    }
  });
});

describe("the lane runs what the app runs first, or start-up stops", () => {
  it("a middleware between the app's first layers and the token router is refused by name of the rule", async () => {
    const { assertLaneMatchesApp } = await import("../../src/http/token-lane.js");
    const scope = (_q: unknown, _s: unknown, next: () => void): void => next();
    const router = express.Router();
    const good = express();
    good.use(scope);
    good.use(router);
    expect(() => assertLaneMatchesApp(good, [scope, router])).not.toThrow();
    const extra = express();
    extra.use(scope);
    extra.use((_q, _s, next) => next()); // e.g. a rate limiter added later for every request
    extra.use(router);
    expect(() => assertLaneMatchesApp(extra, [scope, router])).toThrow(/token lane: the app's layer 1/);
    const swapped = express();
    swapped.use(router);
    swapped.use(scope);
    expect(() => assertLaneMatchesApp(swapped, [scope, router])).toThrow(/layer 0/);
  });
});
