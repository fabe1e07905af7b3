/**
 * private_key_jwt with the client's keys at a `jwksUri` (src/clients/jwks-uri.ts), against a real
 * local HTTP server that serves, rotates, fails, stalls or floods the key set. Authentication is
 * exercised over the real introspection endpoint (a client with introspect: a 200 means the client
 * authenticated). Time is the harness clock: the cache and cooldown windows run on it. Keys are
 * generated per run (test keys only).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { configIssues } from "../support/config-issues.js";
import { API, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";

interface Pair { privateKey: CryptoKey; publicJwk: JWK }
async function pair(kid: string): Promise<Pair> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: "sig", alg: "ES256" } };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const json = (body: unknown): Handler => (_req, res) => {
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
};

/** The key server: one handler per path, a request count per path. */
const handlers = new Map<string, Handler>();
const hits = new Map<string, number>();
const stalled: ServerResponse[] = [];
let keyServer: Server;
let keyBase: string;
let bridge: TestBridge;
let k1: Pair;
let k2: Pair;
let k3: Pair;

const CLIENTS = ["rot", "flood", "down", "never", "big", "slow", "bad", "redir", "ttl"] as const;
const path = (id: string): string => `/${id}/jwks.json`;

beforeAll(async () => {
  [k1, k2, k3] = await Promise.all([pair("k1"), pair("k2"), pair("k3")]);
  keyServer = createServer((req, res) => {
    const p = req.url ?? "";
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const h = handlers.get(p);
    if (h) h(req, res);
    else res.writeHead(404).end();
  });
  keyServer.listen(0, "127.0.0.1");
  await new Promise((r) => keyServer.once("listening", r));
  keyBase = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;
  for (const id of CLIENTS) handlers.set(path(id), json({ keys: [k1.publicJwk] }));
  bridge = await startBridge({
    keyFetchTimeoutMs: 300,
    patch: (c) => {
      for (const id of CLIENTS) {
        c.clients.push({
          id, audiences: [API], idps: ["idp1"], introspect: true,
          privateKeyJwt: {
            // "never" points at a port nothing listens on (the key server's, once closed, is not known).
            jwksUri: id === "never" ? "http://127.0.0.1:9/jwks.json" : `${keyBase}${path(id)}`,
            algorithms: ["ES256"], jwksCacheSeconds: 60, jwksCooldownSeconds: 10,
          },
        });
      }
    },
  });
});

afterAll(async () => {
  for (const r of stalled) r.destroy();
  keyServer.closeAllConnections();
  keyServer.close();
  await bridge.close();
});

async function assertion(clientId: string, key: Pair, kid = key.publicJwk.kid!): Promise<string> {
  const now = Math.floor(bridge.clock.now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid })
    .setIssuer(clientId).setSubject(clientId).setAudience(BRIDGE_ISSUER)
    .setIssuedAt(now).setExpirationTime(now + 60).setJti(randomUUID())
    .sign(key.privateKey);
}

/** Authenticates `clientId` at POST /introspect; returns status, body and Retry-After. */
async function authenticate(clientId: string, key: Pair, kid?: string): Promise<{ status: number; body: any; retryAfter: string | undefined }> {
  const form = new URLSearchParams({
    token: "not-a-token", client_id: clientId,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: await assertion(clientId, key, kid),
  });
  const res = await bridge.http.post("/introspect").type("form").send(form.toString());
  return { status: res.status, body: res.body, retryAfter: res.headers["retry-after"] };
}

const ok = (r: { status: number; body: any }): void => {
  expect({ status: r.status, body: r.body }).toEqual({ status: 200, body: { active: false } });
};
const refused = (r: { status: number; body: any }, status: number, reason: string): void => {
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }).toEqual({
    status, error: status === 503 ? "temporarily_unavailable" : "invalid_client", reason,
  });
};
const count = (id: string): number => hits.get(path(id)) ?? 0;
const unavailableLogs = (id: string): unknown[] =>
  bridge.logs.filter((l) => l.event === "client_keys_unavailable" && l.client === id).map((l) => l.reason);

describe("private_key_jwt keys from a jwks_uri", () => {
  it("fetches on first use, then serves from the cache (one fetch for many assertions)", async () => {
    for (let i = 0; i < 3; i++) ok(await authenticate("ttl", k1));
    expect(count("ttl")).toBe(1);
  });

  it("refetches once the cache is older than jwksCacheSeconds", async () => {
    handlers.set(path("ttl"), json({ keys: [k2.publicJwk] }));
    bridge.clock.advance(61_000);
    ok(await authenticate("ttl", k2));
    expect(count("ttl")).toBe(2);
    // k1 is gone from the new set, and the cooldown forbids another fetch: refused.
    refused(await authenticate("ttl", k1), 401, "client_auth_failed");
    expect(count("ttl")).toBe(2);
  });

  it("follows a rotation: an unknown kid refetches at once, and the retired key stops working", async () => {
    ok(await authenticate("rot", k1));
    expect(count("rot")).toBe(1);
    handlers.set(path("rot"), json({ keys: [k2.publicJwk] }));
    bridge.clock.advance(10_000); // past the cooldown, well within the cache age
    ok(await authenticate("rot", k2));
    expect(count("rot")).toBe(2);
    refused(await authenticate("rot", k1), 401, "client_auth_failed");
    expect(count("rot")).toBe(2);
  });

  it("refetches for unknown kids at most once per cooldown, whatever the number of assertions", async () => {
    ok(await authenticate("flood", k1));
    for (let i = 0; i < 5; i++) refused(await authenticate("flood", k3, `made-up-${i}`), 401, "client_auth_failed");
    // The first made-up kid came before any cooldown had passed since the first fetch: no refetch at all.
    expect(count("flood")).toBe(1);
    bridge.clock.advance(10_000);
    for (let i = 0; i < 5; i++) refused(await authenticate("flood", k3, `made-up-again-${i}`), 401, "client_auth_failed");
    expect(count("flood")).toBe(2);
    // A key signed with a registered key but a kid the set does not have: still one answer.
    refused(await authenticate("flood", k1, "k1-renamed"), 401, "client_auth_failed");
  });

  it("keeps the last good set when the server fails, and logs why", async () => {
    ok(await authenticate("down", k1));
    handlers.set(path("down"), (_req, res) => res.writeHead(500).end());
    bridge.clock.advance(61_000);
    ok(await authenticate("down", k1));
    expect(count("down")).toBe(2);
    expect(unavailableLogs("down")).toEqual(["http_status"]);
    // Down for good (connection refused is the same path): still the last good set.
    handlers.set(path("down"), (req) => req.socket.destroy());
    bridge.clock.advance(61_000);
    ok(await authenticate("down", k1));
    expect(unavailableLogs("down")).toEqual(["http_status", "unreachable"]);
    // Back up with a new key: the next fetch after the cooldown takes it.
    handlers.set(path("down"), json({ keys: [k2.publicJwk] }));
    bridge.clock.advance(10_000);
    ok(await authenticate("down", k2));
  });

  it("fails closed with 503 client_keys_unavailable when the keys were never fetched, and retries only after the cooldown", async () => {
    const r = await authenticate("never", k1);
    refused(r, 503, "client_keys_unavailable");
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(r.retryAfter)).toBeLessThanOrEqual(10);
    refused(await authenticate("never", k1), 503, "client_keys_unavailable");
    expect(unavailableLogs("never")).toEqual(["unreachable"]);
    bridge.clock.advance(10_000);
    refused(await authenticate("never", k1), 503, "client_keys_unavailable");
    expect(unavailableLogs("never")).toEqual(["unreachable", "unreachable"]);
  });

  it("refuses an oversized key set (64 KiB bound), keeping the last good one", async () => {
    ok(await authenticate("big", k1));
    const padding = "x".repeat(70 * 1024);
    // Declared length, then the same without it (chunked): both cut off.
    handlers.set(path("big"), json({ keys: [k2.publicJwk], padding }));
    bridge.clock.advance(61_000);
    ok(await authenticate("big", k1));
    handlers.set(path("big"), (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"keys":[${JSON.stringify(k2.publicJwk)}],"padding":"`);
      for (let i = 0; i < 80; i++) res.write("y".repeat(1024));
      res.end("\"}");
    });
    bridge.clock.advance(61_000);
    ok(await authenticate("big", k1));
    refused(await authenticate("big", k2), 401, "client_auth_failed");
    expect(unavailableLogs("big")).toEqual(["too_large", "too_large"]);
  });

  it("gives up on a slow server after the fetch timeout, keeping the last good set", async () => {
    ok(await authenticate("slow", k1));
    handlers.set(path("slow"), (_req, res) => {
      stalled.push(res);
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{\"keys\":"); // and never more
    });
    bridge.clock.advance(61_000);
    ok(await authenticate("slow", k1));
    expect(unavailableLogs("slow")).toEqual(["timeout"]);
  });

  it("ignores a document that is not a usable key set (private key, symmetric key, not JSON, no keys)", async () => {
    ok(await authenticate("bad", k1));
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const bodies: Handler[] = [
      json({ keys: [{ ...(await exportJWK(privateKey)), kid: "k2" }] }),
      json({ keys: [{ kty: "oct", k: "c2VjcmV0", kid: "k2" }] }),
      (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{not json"),
      json({ keys: [] }),
      json([k2.publicJwk]),
    ];
    for (const h of bodies) {
      handlers.set(path("bad"), h);
      bridge.clock.advance(61_000);
      ok(await authenticate("bad", k1));
    }
    expect(unavailableLogs("bad")).toEqual(["malformed", "malformed", "malformed", "malformed", "malformed"]);
  });

  it("does not follow a redirect", async () => {
    ok(await authenticate("redir", k1));
    handlers.set(path("redir"), (_req, res) => res.writeHead(302, { location: `${keyBase}${path("rot")}` }).end());
    const before = count("rot");
    bridge.clock.advance(61_000);
    ok(await authenticate("redir", k1));
    expect(count("rot")).toBe(before);
    expect(unavailableLogs("redir")).toEqual(["http_status"]);
  });
});

describe("jwksUri configuration", () => {
  function issues(jwksUri: string, extra: Record<string, unknown> = {}): string {
    return configIssues((c) => {
      c.clients.push({ id: "u", audiences: [API], privateKeyJwt: { jwksUri, ...extra } });
    }).join("\n");
  }

  it("takes https anywhere and http only to a loopback address", () => {
    expect(issues("https://client.example.com/jwks.json")).toBe("");
    expect(issues("http://127.0.0.1:8443/jwks.json")).toBe("");
    expect(issues("http://localhost/jwks.json")).toBe("");
    expect(issues("http://[::1]:80/jwks.json")).toBe("");
    for (const bad of ["http://client.example.com/jwks.json", "http://10.0.0.1/jwks.json", "http://127.0.0.1.nip.io/jwks.json", "ftp://client.example.com/jwks.json"]) {
      expect(issues(bad)).toMatch(/privateKeyJwt\.jwksUri/);
    }
  });

  it("refuses credentials or a fragment in the URL, two key sources, and out-of-range windows", () => {
    expect(issues("https://user:pw@client.example.com/jwks.json")).toMatch(/jwksUri: https \(http only to a loopback address\), without credentials/);
    expect(issues("https://client.example.com/jwks.json#k")).toMatch(/jwksUri/);
    expect(issues("https://client.example.com/jwks.json", { jwksFile: "x.json" })).toMatch(/exactly one of jwks, jwksFile or jwksUri/);
    expect(issues("https://client.example.com/jwks.json", { jwksCacheSeconds: 5 })).toMatch(/jwksCacheSeconds/);
    expect(issues("https://client.example.com/jwks.json", { jwksCooldownSeconds: 0 })).toMatch(/jwksCooldownSeconds/);
  });
});
