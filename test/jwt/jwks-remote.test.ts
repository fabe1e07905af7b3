/**
 * JWT issuers whose keys are fetched at run time (jwksUri, OIDC discovery), served by a local
 * node:http server started here: caching, one refetch for a rotated key, a flood of unknown kids
 * (at most one fetch per cooldown), an unreachable, failing, slow, redirecting or oversized
 * issuer (503 issuer_keys_unavailable, with a back-off), discovery issuer mismatch, and no fetch at
 * all for an unknown `iss` or a header-supplied URL (catalogue G5, G16). Every fetch goes through
 * the bridge's injected `fetch`, which counts them; the server counts what reached it.
 *
 * jose's JWKS cache and the bridge's back-off run on the wall clock, so only `Date` is faked here
 * (vi.setSystemTime moves it past a cooldown); the bridge's own clock, which checks the tokens, is
 * untouched.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { FetchFn } from "../../src/jwt/keys.js";
import { decodeJwt, exchange, expectError, type TestBridge } from "../support/harness.js";
import { JWT_KEYS, pySign, pySignMany } from "../support/independent-jwt.js";
import { ID_TOKEN, JWT_CLIENT, corpClaims, corpIssuer, startJwtBridge, withJwtIssuers } from "../support/jwt-fixtures.js";

const jwksFile = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/jwks/${name}`, import.meta.url), "utf8"));
const OIDC_JWKS = jwksFile("oidc.jwks.json");
const ROTATED_JWKS = jwksFile("oidc-rotated.jwks.json");

// ---- the issuers' web server ------------------------------------------------------------------------

const hits = new Map<string, number>();
const hitsOf = (path: string): number => hits.get(path) ?? 0;
const state = {
  jwks: OIDC_JWKS as unknown,
  flakyUp: true,
};
let server: Server;
let base: string;
let deadPort: number;
const hanging: ServerResponse[] = [];

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0]!;
  hits.set(path, hitsOf(path) + 1);
  switch (path) {
    case "/remote/jwks":
    case "/disco/jwks":
      return json(res, state.jwks);
    case "/disco/.well-known/openid-configuration":
      return json(res, { issuer: "https://disco.corp.test", jwks_uri: `${base}/disco/jwks`, id_token_signing_alg_values_supported: ["RS256"] });
    case "/mismatch/.well-known/openid-configuration":
      return json(res, { issuer: "https://evil.test", jwks_uri: `${base}/mismatch/jwks` });
    case "/downgrade/.well-known/openid-configuration":
      return json(res, { issuer: "https://downgrade.corp.test", jwks_uri: "ftp://127.0.0.1/jwks" });
    case "/flaky/jwks":
      if (!state.flakyUp) {
        res.writeHead(500).end("oops");
        return;
      }
      return json(res, OIDC_JWKS);
    case "/redirect/jwks":
      res.writeHead(302, { location: `${base}/remote/jwks` }).end();
      return;
    case "/huge/jwks":
      return json(res, { keys: [(OIDC_JWKS as { keys: unknown[] }).keys[0]], padding: "x".repeat(300 * 1024) });
    case "/garbage/jwks":
      res.writeHead(200, { "content-type": "application/json" }).end("{not json");
      return;
    case "/hang/jwks":
      hanging.push(res); // never answered
      return;
    default:
      res.writeHead(404).end();
  }
}

// ---- the bridge ------------------------------------------------------------------------------------

const fetched: string[] = [];
const countingFetch: FetchFn = (url, init) => {
  fetched.push(new URL(url).pathname);
  return globalThis.fetch(url, init);
};
const fetchesOf = (path: string): number => fetched.filter((p) => p === path).length;

const ISS = {
  remote: "https://remote.corp.test",
  disco: "https://disco.corp.test",
  mismatch: "https://mismatch.corp.test",
  downgrade: "https://downgrade.corp.test",
  down: "https://down.corp.test",
  flaky: "https://flaky.corp.test",
  slow: "https://slow.corp.test",
  redirect: "https://redirect.corp.test",
  huge: "https://huge.corp.test",
  garbage: "https://garbage.corp.test",
} as const;
const COOLDOWN_S = 30;
const CACHE_S = 600;

let bridge: TestBridge;

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
  deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));

  const remote = (id: keyof typeof ISS, keys: Record<string, string>): Record<string, unknown> => {
    const issuer = corpIssuer({
      id, issuer: ISS[id], ...keys, jwksCacheSeconds: CACHE_S, jwksCooldownSeconds: COOLDOWN_S,
      mapping: { scopes: [{ grant: ["read"] }] },
    });
    delete issuer.jwksFile;
    return issuer;
  };
  bridge = await startJwtBridge({
    fetch: countingFetch,
    keyFetchTimeoutMs: 300,
    patch: (c) => withJwtIssuers(c, [
      remote("remote", { jwksUri: `${base}/remote/jwks` }),
      remote("disco", { discoveryUrl: `${base}/disco/.well-known/openid-configuration` }),
      remote("mismatch", { discoveryUrl: `${base}/mismatch/.well-known/openid-configuration` }),
      remote("downgrade", { discoveryUrl: `${base}/downgrade/.well-known/openid-configuration` }),
      remote("down", { jwksUri: `http://127.0.0.1:${deadPort}/jwks` }),
      remote("flaky", { jwksUri: `${base}/flaky/jwks` }),
      remote("slow", { jwksUri: `${base}/hang/jwks` }),
      remote("redirect", { jwksUri: `${base}/redirect/jwks` }),
      remote("huge", { jwksUri: `${base}/huge/jwks` }),
      remote("garbage", { jwksUri: `${base}/garbage/jwks` }),
    ]),
  });
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await bridge.close();
});

// One fake wall clock for the whole file: each test continues where the previous one left it.
beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
});
afterAll(() => {
  vi.useRealTimers();
});

/** Moves the wall clock (jose's cache, the back-off) forward; tokens are checked on the bridge clock. */
const wallClockForward = (seconds: number): void => {
  vi.setSystemTime(Date.now() + seconds * 1000);
};

function token(iss: string, kid = "oidc-rs-1", key: string = kid === "oidc-rs-2" ? JWT_KEYS.oidcNext : JWT_KEYS.oidc, extraHeader: Record<string, unknown> = {}): string {
  return pySign({ key, alg: "RS256", header: { kid, ...extraHeader }, claims: corpClaims(bridge.clock.now, { iss }) });
}
function send(t: string) {
  return exchange(bridge, { rawToken: t, tokenType: ID_TOKEN, client: JWT_CLIENT });
}

describe("jwksUri: cache, rotation, unknown kids", () => {
  it("fetches the JWKS once, then serves later tokens from the cache", async () => {
    const first = await send(token(ISS.remote));
    expect(first.status).toBe(200);
    expect(decodeJwt(first.body.access_token).payload).toMatchObject({ sub: "alice", idp: ISS.remote });
    expect(fetchesOf("/remote/jwks")).toBe(1);
    expect(hitsOf("/remote/jwks")).toBe(1);
    wallClockForward(COOLDOWN_S + 1);
    expect((await send(token(ISS.remote))).status).toBe(200);
    expect(fetchesOf("/remote/jwks")).toBe(1);
  });

  it("a rotated-in key: refused within the cooldown (no fetch), then one refetch and success", async () => {
    const next = token(ISS.remote, "oidc-rs-2");
    const before = fetchesOf("/remote/jwks");
    // Not published yet: the unknown kid triggers one refetch (the cooldown has passed), still unknown.
    expectError(await send(next), 400, "invalid_request", "token_invalid");
    expect(fetchesOf("/remote/jwks")).toBe(before + 1);
    // Published now, but the bridge fetched a moment ago: no new fetch within the cooldown.
    state.jwks = ROTATED_JWKS;
    expectError(await send(next), 400, "invalid_request", "token_invalid");
    expect(fetchesOf("/remote/jwks")).toBe(before + 1);
    // After the cooldown: one refetch, and the new key verifies.
    wallClockForward(COOLDOWN_S + 1);
    expect((await send(next)).status).toBe(200);
    expect(fetchesOf("/remote/jwks")).toBe(before + 2);
    // Both keys now verify, without further fetches.
    expect((await send(token(ISS.remote, "oidc-rs-1"))).status).toBe(200);
    expect((await send(token(ISS.remote, "oidc-rs-2"))).status).toBe(200);
    expect(fetchesOf("/remote/jwks")).toBe(before + 2);
  });

  it("an unknown kid: one refetch after the cooldown, still unknown → token_invalid, then no more fetches", async () => {
    state.jwks = OIDC_JWKS; // the server drops oidc-rs-2 again; the cache still has it
    wallClockForward(COOLDOWN_S + 1);
    const t = token(ISS.remote, "oidc-rs-3", JWT_KEYS.oidcNext);
    const before = fetchesOf("/remote/jwks");
    expectError(await send(t), 400, "invalid_request", "token_invalid"); // one refetch: still unknown
    expect(fetchesOf("/remote/jwks")).toBe(before + 1);
    expectError(await send(t), 400, "invalid_request", "token_invalid"); // cooling down: no fetch
    expect(fetchesOf("/remote/jwks")).toBe(before + 1);
  });

  it("a flood of random kids causes at most one fetch per cooldown, even concurrently", async () => {
    const specs = Array.from({ length: 40 }, (_, i) => ({
      key: JWT_KEYS.attacker, alg: "RS256", header: { kid: `random-${i}-${Math.random().toString(36).slice(2)}` },
      claims: corpClaims(bridge.clock.now, { iss: ISS.remote }),
    }));
    const tokens = pySignMany(specs);
    const before = fetchesOf("/remote/jwks");
    // Within the cooldown of the last fetch: none.
    for (const t of tokens.slice(0, 10)) expectError(await send(t), 400, "invalid_request", "token_invalid");
    expect(fetchesOf("/remote/jwks")).toBe(before);
    // Past the cooldown: 30 at once share a single fetch.
    wallClockForward(COOLDOWN_S + 1);
    const results = await Promise.all(tokens.slice(10).map((t) => send(t)));
    for (const r of results) expectError(r, 400, "invalid_request", "token_invalid");
    expect(fetchesOf("/remote/jwks")).toBe(before + 1);
    expect(hitsOf("/remote/jwks")).toBe(fetchesOf("/remote/jwks"));
  });

  it("never fetches a header-supplied jku / x5u, nor anything for an unknown iss (catalogue G5, G16)", async () => {
    const total = fetched.length;
    const withJku = token(ISS.remote, "oidc-rs-1", JWT_KEYS.attacker, { jku: `${base}/canary/jwks.json`, x5u: `${base}/canary/cert.pem` });
    expectError(await send(withJku), 400, "invalid_request", "token_invalid");
    // An attacker's iss whose discovery document the attacker hosts: never looked at.
    const unknown = pySign({
      key: JWT_KEYS.attacker, alg: "RS256", header: { kid: "a", jku: `${base}/canary/jwks.json` },
      claims: corpClaims(bridge.clock.now, { iss: `${base}/canary` }),
    });
    expectError(await send(unknown), 400, "invalid_request", "issuer_unknown");
    expect(fetched.length).toBe(total);
    expect([...hits.keys()].filter((p) => p.startsWith("/canary"))).toEqual([]);
  });
});

describe("OIDC discovery", () => {
  it("fetches the discovery document once and uses its jwks_uri (cached)", async () => {
    expect((await send(token(ISS.disco))).status).toBe(200);
    expect(fetchesOf("/disco/.well-known/openid-configuration")).toBe(1);
    expect(fetchesOf("/disco/jwks")).toBe(1);
    wallClockForward(COOLDOWN_S + 1);
    expect((await send(token(ISS.disco))).status).toBe(200);
    expect(fetchesOf("/disco/.well-known/openid-configuration")).toBe(1);
    expect(fetchesOf("/disco/jwks")).toBe(1);
  });

  it("a discovery document naming another issuer is refused (OIDC Discovery §4.3), with a back-off", async () => {
    const res = await send(token(ISS.mismatch));
    expectError(res, 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(res.headers["retry-after"]).toBe(String(COOLDOWN_S));
    expect(bridge.logs).toContainEqual({ event: "jwt_issuer_keys_unavailable", issuer: "mismatch", reason: "discovery_issuer_mismatch" });
    expect(fetchesOf("/mismatch/jwks")).toBe(0);
    expectError(await send(token(ISS.mismatch)), 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(fetchesOf("/mismatch/.well-known/openid-configuration")).toBe(1);
    wallClockForward(COOLDOWN_S + 1);
    expectError(await send(token(ISS.mismatch)), 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(fetchesOf("/mismatch/.well-known/openid-configuration")).toBe(2);
    expect(fetchesOf("/mismatch/jwks")).toBe(0);
  });

  it("a jwks_uri that is not http(s) is refused", async () => {
    expectError(await send(token(ISS.downgrade)), 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(bridge.logs).toContainEqual({ event: "jwt_issuer_keys_unavailable", issuer: "downgrade", reason: "discovery_jwks_uri_invalid" });
  });
});

describe("an issuer that cannot be reached: 503 issuer_keys_unavailable", () => {
  it("connection refused: 503, then fail fast without new attempts until the cooldown has passed", async () => {
    const t = token(ISS.down);
    const res = await send(t);
    expectError(res, 503, "temporarily_unavailable", "issuer_keys_unavailable");
    // Retry-After is the real time left before the bridge will try the issuer again, not 1 s.
    expect(res.headers["retry-after"]).toBe(String(COOLDOWN_S));
    expect(fetchesOf("/jwks")).toBe(1);
    for (let i = 0; i < 5; i++) expectError(await send(t), 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(fetchesOf("/jwks")).toBe(1);
    wallClockForward(12);
    const later = await send(t);
    expectError(later, 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(later.headers["retry-after"]).toBe(String(COOLDOWN_S - 12));
    wallClockForward(COOLDOWN_S - 12 + 1);
    const refetched = await send(t);
    expectError(refetched, 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(fetchesOf("/jwks")).toBe(2);
    // That new attempt failed too: a fresh cooldown, said as such.
    expect(refetched.headers["retry-after"]).toBe(String(COOLDOWN_S));
    expect(bridge.logs).toContainEqual({ event: "jwt_issuer_keys_unavailable", issuer: "down", reason: "unreachable" });
  });

  it("a timeout: 503 within the configured timeout", async () => {
    const started = performance.now();
    const res = await send(token(ISS.slow));
    expectError(res, 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(performance.now() - started).toBeLessThan(3000);
    // The timed-out attempt starts the cooldown: the whole of it is what a client must wait.
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(COOLDOWN_S - 3);
    expect(Number(res.headers["retry-after"])).toBeLessThanOrEqual(COOLDOWN_S);
    expect(bridge.logs).toContainEqual({ event: "jwt_issuer_keys_unavailable", issuer: "slow", reason: "timeout" });
  });

  it.each([
    ["redirect", ISS.redirect, "http_status"],
    ["huge", ISS.huge, "too_large"],
    ["garbage", ISS.garbage, "malformed"],
  ] as const)("%s: a redirect is not followed, an oversized or malformed JWKS is not used", async (id, iss, reason) => {
    const res = await send(token(iss));
    expectError(res, 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(res.headers["retry-after"]).toBe(String(COOLDOWN_S));
    expect(bridge.logs).toContainEqual({ event: "jwt_issuer_keys_unavailable", issuer: id, reason });
  });

  it("cached keys keep verifying while the issuer is down; stale ones do not; recovery after the back-off", async () => {
    const t = token(ISS.flaky);
    expect((await send(t)).status).toBe(200);
    expect(fetchesOf("/flaky/jwks")).toBe(1);
    state.flakyUp = false;
    // Known kid, fresh cache: no fetch needed.
    expect((await send(token(ISS.flaky))).status).toBe(200);
    // Unknown kid past the cooldown: the refetch fails → 503; the cached key still verifies.
    wallClockForward(COOLDOWN_S + 1);
    expectError(await send(token(ISS.flaky, "oidc-rs-2")), 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect((await send(token(ISS.flaky))).status).toBe(200);
    expect(fetchesOf("/flaky/jwks")).toBe(2);
    // Cache past its maximum age with the issuer down: a clear 503, not a stale key.
    wallClockForward(CACHE_S + 1);
    expectError(await send(token(ISS.flaky)), 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(fetchesOf("/flaky/jwks")).toBe(3);
    // Back up: the next attempt after the back-off succeeds.
    state.flakyUp = true;
    expectError(await send(token(ISS.flaky)), 503, "temporarily_unavailable", "issuer_keys_unavailable");
    expect(fetchesOf("/flaky/jwks")).toBe(3);
    wallClockForward(COOLDOWN_S + 1);
    expect((await send(token(ISS.flaky))).status).toBe(200);
    expect(fetchesOf("/flaky/jwks")).toBe(4);
  });
});
