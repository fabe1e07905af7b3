/**
 * Review of clients/jwks-uri.ts: the last good key set of a client's jwks_uri was kept forever
 * while the client's server failed, so a key the client had removed (say, after a leak) stayed
 * accepted for as long as an attacker could keep that server down or serving junk. Now bounded by
 * `jwksMaxStaleSeconds` (default 86 400): past it, 503 client_keys_unavailable until a fetch works.
 *
 * A real local key server, private_key_jwt over the real introspection endpoint, the harness
 * clock (the windows run on it). Keys generated per run (test keys only).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { parseConfig } from "../../src/config/load.js";
import { ClientJwksUri } from "../../src/clients/jwks-uri.js";
import { configIssues } from "../support/config-issues.js";
import { API, baseConfig, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";

interface Pair { privateKey: CryptoKey; publicJwk: JWK }
async function pair(kid: string): Promise<Pair> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: "sig", alg: "ES256" } };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const json = (body: unknown): Handler => (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
const status500: Handler = (_req, res) => res.writeHead(500).end();
const junk: Handler = (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [{ kty: "oct", k: "AAAA" }] }));

const handlers = new Map<string, Handler>();
let keyServer: Server;
let keyBase: string;
let bridge: TestBridge;
let k1: Pair;

/** id → jwksMaxStaleSeconds (undefined: the default). */
const CLIENTS: Record<string, number | undefined> = { "st-bound": 3600, "st-junk": 3600, "st-default": undefined };
const path = (id: string): string => `/${id}/jwks.json`;

beforeAll(async () => {
  k1 = await pair("k1");
  keyServer = createServer((req, res) => (handlers.get(req.url ?? "") ?? ((_q: IncomingMessage, r: ServerResponse) => r.writeHead(404).end()))(req, res));
  keyServer.listen(0, "127.0.0.1");
  await new Promise((r) => keyServer.once("listening", r));
  keyBase = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;
  for (const id of Object.keys(CLIENTS)) handlers.set(path(id), json({ keys: [k1.publicJwk] }));
  bridge = await startBridge({
    keyFetchTimeoutMs: 1000,
    patch: (c) => {
      for (const [id, maxStale] of Object.entries(CLIENTS)) {
        c.clients.push({
          id, audiences: [API], idps: ["idp1"], introspect: true,
          privateKeyJwt: {
            jwksUri: `${keyBase}${path(id)}`, algorithms: ["ES256"], jwksCacheSeconds: 60, jwksCooldownSeconds: 10,
            ...(maxStale !== undefined ? { jwksMaxStaleSeconds: maxStale } : {}),
          },
        });
      }
    },
  });
});

afterAll(async () => {
  keyServer.closeAllConnections();
  keyServer.close();
  await bridge.close();
});

async function authenticate(clientId: string): Promise<{ status: number; body: any; retryAfter: string | undefined }> {
  const now = Math.floor(bridge.clock.now / 1000);
  const assertion = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(clientId).setSubject(clientId).setAudience(BRIDGE_ISSUER).setIssuedAt(now).setExpirationTime(now + 60).setJti(randomUUID())
    .sign(k1.privateKey);
  const form = new URLSearchParams({
    token: "not-a-token", client_id: clientId,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion,
  });
  const res = await bridge.http.post("/introspect").type("form").send(form.toString());
  return { status: res.status, body: res.body, retryAfter: res.headers["retry-after"] };
}
const ok = (r: { status: number; body: any }): void => expect({ status: r.status, body: r.body }).toEqual({ status: 200, body: { active: false } });
const unavailable = (r: { status: number; body: any; retryAfter: string | undefined }): void => {
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }).toEqual({ status: 503, error: "temporarily_unavailable", reason: "client_keys_unavailable" });
  expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
};

describe("jwksMaxStaleSeconds bounds the last good set", () => {
  it("server down: the stale set serves until jwksMaxStaleSeconds after its fetch, then 503, and a working fetch restores it", async () => {
    ok(await authenticate("st-bound")); // fetched at t0
    handlers.set(path("st-bound"), status500);
    bridge.clock.advance(61_000);
    ok(await authenticate("st-bound")); // refetch failed: stale but within the bound
    bridge.clock.advance(3600_000 - 61_000 - 1_000);
    ok(await authenticate("st-bound")); // t0 + 3599 s
    bridge.clock.advance(1_000);
    unavailable(await authenticate("st-bound")); // t0 + 3600 s: no longer
    bridge.clock.advance(5_000);
    unavailable(await authenticate("st-bound")); // within the cooldown: still no, and no fetch
    handlers.set(path("st-bound"), json({ keys: [k1.publicJwk] }));
    bridge.clock.advance(10_000);
    ok(await authenticate("st-bound"));
  });

  it("a server serving junk (a symmetric key) is a failure like any other: the bound holds", async () => {
    ok(await authenticate("st-junk"));
    handlers.set(path("st-junk"), junk);
    bridge.clock.advance(1800_000);
    ok(await authenticate("st-junk"));
    bridge.clock.advance(1800_000);
    unavailable(await authenticate("st-junk"));
  });

  it("the default is 24 hours", async () => {
    ok(await authenticate("st-default"));
    handlers.set(path("st-default"), status500);
    bridge.clock.advance(86_399_000);
    ok(await authenticate("st-default"));
    bridge.clock.advance(1_000);
    unavailable(await authenticate("st-default"));
  });
});

describe("ClientJwksUri directly (injected fetch and clock)", () => {
  it("never serves a set older than maxStaleMs, and a maxStaleMs below cacheMs is raised to cacheMs", async () => {
    let now = 0;
    let up = true;
    const fetchFn = async (): Promise<Response> => (up ? new Response(JSON.stringify({ keys: [k1.publicJwk] }), { status: 200 }) : new Response("", { status: 503 }));
    const make = (maxStaleMs: number | undefined, cacheMs: number): ClientJwksUri => new ClientJwksUri({
      clientId: "c", url: new URL("https://keys.example/jwks.json"), fetch: fetchFn, timeoutMs: 1000, cacheMs, cooldownMs: 1000,
      ...(maxStaleMs !== undefined ? { maxStaleMs } : {}), now: () => now, log: () => undefined, validate: () => undefined,
    });
    const set = make(10_000, 1_000);
    await expect(set.current()).resolves.toHaveProperty("keys");
    up = false;
    now = 9_999;
    await expect(set.current()).resolves.toHaveProperty("keys");
    now = 10_000;
    await expect(set.current()).rejects.toMatchObject({ reason: "client_keys_unavailable" });
    now = 20_000;
    await expect(set.current()).rejects.toMatchObject({ reason: "client_keys_unavailable" });
    // Without the option: 24 h.
    up = true;
    now = 0;
    const dflt = make(undefined, 1_000);
    await dflt.current();
    up = false;
    now = 86_399_999;
    await expect(dflt.current()).resolves.toHaveProperty("keys");
    now = 86_400_000;
    await expect(dflt.current()).rejects.toMatchObject({ reason: "client_keys_unavailable" });
    // A bound shorter than the cache never refuses a set the cache would serve.
    up = true;
    now = 0;
    const short = make(100, 5_000);
    await short.current();
    up = false;
    now = 4_999;
    await expect(short.current()).resolves.toHaveProperty("keys");
  });
});

describe("config", () => {
  function issues(privateKeyJwt: Record<string, unknown>): string {
    return configIssues((c) => {
      c.clients.push({ id: "c", audiences: [API], privateKeyJwt });
    }).join("\n");
  }
  const uri = "https://keys.example/jwks.json";
  it("takes a bound from 60 s to 30 days, at least jwksCacheSeconds; defaults to 86 400", () => {
    expect(issues({ jwksUri: uri, jwksMaxStaleSeconds: 60, jwksCacheSeconds: 60 })).toBe("");
    expect(issues({ jwksUri: uri, jwksMaxStaleSeconds: 2_592_000 })).toBe("");
    expect(parseConfig({ ...baseConfig(), clients: [...baseConfig().clients, { id: "c", audiences: [API], privateKeyJwt: { jwksUri: uri } }] })
      .clients.find((x) => x.id === "c")!.privateKeyJwt!.jwksMaxStaleSeconds).toBe(86_400);
  });
  it("refuses a bound out of range or below jwksCacheSeconds", () => {
    expect(issues({ jwksUri: uri, jwksMaxStaleSeconds: 59 })).toMatch(/jwksMaxStaleSeconds/);
    expect(issues({ jwksUri: uri, jwksMaxStaleSeconds: 2_592_001 })).toMatch(/jwksMaxStaleSeconds/);
    expect(issues({ jwksUri: uri, jwksMaxStaleSeconds: 1.5 })).toMatch(/jwksMaxStaleSeconds/);
    expect(issues({ jwksUri: uri, jwksMaxStaleSeconds: 300, jwksCacheSeconds: 600 })).toMatch(/jwksMaxStaleSeconds: jwksMaxStaleSeconds must be at least jwksCacheSeconds/);
  });
});
