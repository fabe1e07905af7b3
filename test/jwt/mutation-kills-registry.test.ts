/**
 * Mutation testing (issue 8, docs/mutation-testing.md): the trusted-issuer registry
 * (src/jwt/registry.ts) built directly from issuer configs, inside each test: lookup by exact `iss`,
 * the advertised token types, duplicate issuers, what each entry carries, and each key source
 * (jwksFile relative to the config folder, jwksUri, discovery) wired with the issuer's own cache,
 * cooldown and fetch timeout. The JWKS cache and back-off run on the wall clock: only `Date` is faked.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { JSONWebKeySet, JWSHeaderParameters } from "jose";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../src/config/load.js";
import type { JwtIssuerConfig } from "../../src/config/schema.js";
import type { FetchFn } from "../../src/jwt/keys.js";
import { DEFAULT_KEY_FETCH_TIMEOUT_MS, JwtIssuerRegistry, loadJwtIssuers, type TrustedJwtIssuer } from "../../src/jwt/registry.js";
import { OAuthError } from "../../src/oauth/errors.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { ID_TOKEN, JWT } from "../support/jwt-fixtures.js";

const T0 = Date.UTC(2027, 0, 15, 12, 0, 0);
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});
const tmp = mkdtempSync(path.join(os.tmpdir(), "fedbridge-registry-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const OIDC_JWKS = JSON.parse(readFileSync(path.join(FIXTURES_DIR, "jwks/oidc.jwks.json"), "utf8")) as JSONWebKeySet;
const MAPPING = { subject: { nameId: true }, claims: {}, scopes: [], require: [] };

function cfg(over: Record<string, unknown> = {}): JwtIssuerConfig {
  return {
    id: "corp", issuer: "https://login.corp.test", jwksFile: "jwks/oidc.jwks.json",
    algorithms: ["RS256"], audiences: ["fedbridge"], tokenTypes: [ID_TOKEN, JWT],
    maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 86_400, oneTimeUse: false,
    jwksCacheSeconds: 600, jwksCooldownSeconds: 30, mapping: MAPPING, actorBinding: "azp", bindSubjectTokens: false,
    ...over,
  } as JwtIssuerConfig;
}
/** `fetch` counting requests by URL; `answer` decides each response. */
function counting(answer: (url: string) => Response = () => Response.json(OIDC_JWKS)) {
  const urls: string[] = [];
  const fetch: FetchFn = async (url) => {
    urls.push(url);
    return answer(url);
  };
  return { fetch, urls };
}
const noLog = (): void => undefined;
function load(issuers: JwtIssuerConfig[], o: { fetch?: FetchFn; timeoutMs?: number; baseDir?: string } = {}): JwtIssuerRegistry {
  return loadJwtIssuers({ jwtIssuers: issuers } as never, o.baseDir ?? FIXTURES_DIR, {
    log: noLog, ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
}
const RS256: JWSHeaderParameters = { alg: "RS256", kid: "oidc-rs-1" };
async function keyOf(i: TrustedJwtIssuer, header: JWSHeaderParameters = RS256): Promise<string> {
  try {
    await i.keys(header, { payload: "", signature: "", protected: "" } as never);
    return "key";
  } catch (e) {
    if (e instanceof OAuthError) return `${e.reason}:${e.retryAfterSeconds}`;
    return (e as Error).name;
  }
}
function configIssues(f: () => unknown): { path: string; message: string }[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  return [];
}

describe("JwtIssuerRegistry", () => {
  it("finds an issuer by its exact iss only", () => {
    const r = load([cfg(), cfg({ id: "ci", issuer: "https://ci.test", tokenTypes: [JWT] })]);
    expect(r.byIssuer("https://login.corp.test")?.id).toBe("corp");
    expect(r.byIssuer("https://ci.test")?.id).toBe("ci");
    for (const iss of ["https://login.corp.test/", "https://LOGIN.corp.test", "", "corp", "https://ci.test "]) {
      expect(r.byIssuer(iss)).toBeUndefined();
    }
    expect(r.size).toBe(2);
    expect(load([]).size).toBe(0);
  });

  it("lists the token types some issuer accepts, id_token before jwt whatever the config order", () => {
    expect(load([cfg({ tokenTypes: [JWT, ID_TOKEN] })]).tokenTypes()).toEqual([ID_TOKEN, JWT]);
    expect(load([cfg({ tokenTypes: [JWT] }), cfg({ id: "b", issuer: "https://b.test", tokenTypes: [ID_TOKEN] })]).tokenTypes()).toEqual([ID_TOKEN, JWT]);
    expect(load([cfg({ tokenTypes: [JWT] })]).tokenTypes()).toEqual([JWT]);
    expect(load([cfg({ tokenTypes: [ID_TOKEN] })]).tokenTypes()).toEqual([ID_TOKEN]);
    expect(load([cfg({ tokenTypes: [] })]).tokenTypes()).toEqual([]);
    expect(load([]).tokenTypes()).toEqual([]);
  });

  it("carries each issuer's own settings, and binds actor/subject as configured", () => {
    const r = load([
      cfg(),
      cfg({
        id: "ci", issuer: "https://ci.test", algorithms: ["ES256", "RS256"], audiences: ["a", "b"], tokenTypes: [JWT],
        maxTokenAgeSeconds: 600, maxLifetimeSeconds: 3600, oneTimeUse: true, actorBinding: "sub", bindSubjectTokens: true,
        jwksFile: "jwks/ci.jwks.json",
      }),
    ]);
    expect(r.byIssuer("https://login.corp.test")).toMatchObject({
      id: "corp", issuer: "https://login.corp.test", algorithms: ["RS256"], audiences: ["fedbridge"], tokenTypes: [ID_TOKEN, JWT],
      maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 86_400, oneTimeUse: false, mapping: MAPPING, binding: { actor: "azp", subject: false },
    });
    expect(r.byIssuer("https://ci.test")).toMatchObject({
      id: "ci", algorithms: ["ES256", "RS256"], audiences: ["a", "b"], tokenTypes: [JWT],
      maxTokenAgeSeconds: 600, maxLifetimeSeconds: 3600, oneTimeUse: true, binding: { actor: "sub", subject: true },
    });
  });

  it("refuses a second issuer with the same iss, naming both entries", () => {
    expect(configIssues(() => load([cfg(), cfg({ id: "b", issuer: "https://b.test" }), cfg({ id: "c" })]))).toEqual([
      { path: "jwtIssuers[2].issuer", message: "same issuer as jwtIssuers[0]" },
    ]);
    expect(configIssues(() => load([cfg({ id: "a", issuer: "https://a.test" }), cfg(), cfg({ id: "c" })]))).toEqual([
      { path: "jwtIssuers[2].issuer", message: "same issuer as jwtIssuers[1]" },
    ]);
    expect(configIssues(() => load([cfg(), cfg({ id: "other-id", issuer: "https://login.corp.test/" })]))).toEqual([]);
  });
});

describe("jwksFile: read at start-up, relative to the config file's folder", () => {
  it("relative and absolute paths both load, and the keys resolve by kid", async () => {
    const rel = load([cfg()]).byIssuer("https://login.corp.test")!;
    expect(await keyOf(rel)).toBe("key");
    expect(await keyOf(rel, { alg: "RS256", kid: "nope" })).toBe("JWKSNoMatchingKey");
    const abs = load([cfg({ jwksFile: path.join(FIXTURES_DIR, "jwks/oidc.jwks.json") })], { baseDir: "/nonexistent" });
    expect(await keyOf(abs.byIssuer("https://login.corp.test")!)).toBe("key");
  });

  it("a file that cannot be read, is not JSON, or is not a usable JWKS is a ConfigError on jwtIssuers[i].jwksFile", () => {
    mkdirSync(path.join(tmp, "a-dir"), { recursive: true });
    writeFileSync(path.join(tmp, "bad.json"), "{keys:");
    writeFileSync(path.join(tmp, "empty.json"), JSON.stringify({ keys: [] }));
    writeFileSync(path.join(tmp, "ok.json"), JSON.stringify(OIDC_JWKS));
    const second = (jwksFile: string) => configIssues(() => load([cfg({ jwksFile: "ok.json" }), cfg({ id: "b", issuer: "https://b.test", jwksFile })], { baseDir: tmp }));
    expect(second("nope.json")).toEqual([{ path: "jwtIssuers[1].jwksFile", message: "cannot read nope.json (ENOENT)" }]);
    expect(second("a-dir")).toEqual([{ path: "jwtIssuers[1].jwksFile", message: "cannot read a-dir (EISDIR)" }]);
    expect(second("bad.json")).toEqual([{ path: "jwtIssuers[1].jwksFile", message: "bad.json is not JSON" }]);
    expect(second("empty.json")).toEqual([{ path: "jwtIssuers[1].jwksFile", message: "empty.json: the JWK Set has no keys" }]);
    // checked against the issuer's own algorithms
    const es = configIssues(() => load([cfg({ jwksFile: "ok.json", algorithms: ["ES256"] })], { baseDir: tmp }));
    expect(es).toEqual([{ path: "jwtIssuers[0].jwksFile", message: "ok.json: no key fits the issuer's algorithms (ES256)" }]);
  });

  it("is never fetched", async () => {
    const { fetch, urls } = counting();
    const r = load([cfg()], { fetch });
    expect(await keyOf(r.byIssuer("https://login.corp.test")!)).toBe("key");
    expect(urls).toEqual([]);
  });
});

describe("jwksUri: fetched with the issuer's cache and cooldown (seconds in the config, ms here)", () => {
  const remoteCfg = (over: Record<string, unknown> = {}) => cfg({ jwksFile: undefined, jwksUri: "https://login.corp.test/jwks", jwksCacheSeconds: 600, jwksCooldownSeconds: 30, ...over });

  it("is fetched lazily, from the configured URL, and cached for exactly jwksCacheSeconds", async () => {
    const { fetch, urls } = counting();
    const i = load([remoteCfg()], { fetch }).byIssuer("https://login.corp.test")!;
    expect(urls).toEqual([]);
    expect(await keyOf(i)).toBe("key");
    expect(urls).toEqual(["https://login.corp.test/jwks"]);
    vi.setSystemTime(T0 + 600_000 - 1);
    expect(await keyOf(i)).toBe("key");
    expect(urls).toHaveLength(1);
    vi.setSystemTime(T0 + 600_000);
    expect(await keyOf(i)).toBe("key");
    expect(urls).toHaveLength(2);
  });

  it("after a failed fetch, no new attempt for exactly jwksCooldownSeconds; Retry-After says so", async () => {
    let up = false;
    const { fetch, urls } = counting(() => (up ? Response.json(OIDC_JWKS) : new Response("down", { status: 503 })));
    const i = load([remoteCfg({ jwksCooldownSeconds: 45 })], { fetch }).byIssuer("https://login.corp.test")!;
    expect(await keyOf(i)).toBe("issuer_keys_unavailable:45");
    up = true;
    vi.setSystemTime(T0 + 45_000 - 1);
    expect(await keyOf(i)).toBe("issuer_keys_unavailable:1");
    expect(urls).toHaveLength(1);
    vi.setSystemTime(T0 + 45_000);
    expect(await keyOf(i)).toBe("key");
    expect(urls).toHaveLength(2);
  });

  it("an unknown kid refetches at most once per cooldown", async () => {
    const { fetch, urls } = counting();
    const i = load([remoteCfg({ jwksCooldownSeconds: 45 })], { fetch }).byIssuer("https://login.corp.test")!;
    expect(await keyOf(i)).toBe("key");
    vi.setSystemTime(T0 + 45_000 - 1);
    expect(await keyOf(i, { alg: "RS256", kid: "new" })).toBe("JWKSNoMatchingKey");
    expect(urls).toHaveLength(1);
    vi.setSystemTime(T0 + 45_000);
    expect(await keyOf(i, { alg: "RS256", kid: "new" })).toBe("JWKSNoMatchingKey");
    expect(urls).toHaveLength(2);
  });

  it("each issuer has its own fetcher and back-off", async () => {
    const { fetch, urls } = counting((url) => (url.includes("down") ? new Response("", { status: 500 }) : Response.json(OIDC_JWKS)));
    const r = load([
      remoteCfg({ id: "down", issuer: "https://down.test", jwksUri: "https://down.test/jwks" }),
      remoteCfg(),
    ], { fetch });
    expect(await keyOf(r.byIssuer("https://down.test")!)).toBe("issuer_keys_unavailable:30");
    expect(await keyOf(r.byIssuer("https://login.corp.test")!)).toBe("key");
    expect(urls).toEqual(["https://down.test/jwks", "https://login.corp.test/jwks"]);
  });
});

describe("discoveryUrl: the document's jwks_uri, fetched through the same fetcher", () => {
  const discoCfg = (over: Record<string, unknown> = {}) => cfg({
    jwksFile: undefined, discoveryUrl: "https://login.corp.test/.well-known/openid-configuration", jwksCooldownSeconds: 20, ...over,
  });
  const site = (issuer = "https://login.corp.test") => counting((url) => (url.endsWith("openid-configuration")
    ? Response.json({ issuer, jwks_uri: "https://login.corp.test/keys" })
    : Response.json(OIDC_JWKS)));

  it("resolves the keys through the document, with or without an explicit fetch timeout", async () => {
    for (const timeoutMs of [undefined, 2_000]) {
      const { fetch, urls } = site();
      const i = load([discoCfg()], { fetch, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }).byIssuer("https://login.corp.test")!;
      expect(await keyOf(i)).toBe("key");
      expect(urls).toEqual(["https://login.corp.test/.well-known/openid-configuration", "https://login.corp.test/keys"]);
    }
    expect(DEFAULT_KEY_FETCH_TIMEOUT_MS).toBe(5_000);
  });

  it("the document must name the configured issuer; the back-off is the issuer's cooldown", async () => {
    const { fetch, urls } = site("https://evil.test");
    const i = load([discoCfg()], { fetch }).byIssuer("https://login.corp.test")!;
    expect(await keyOf(i)).toBe("issuer_keys_unavailable:20");
    vi.setSystemTime(T0 + 20_000 - 1);
    expect(await keyOf(i)).toBe("issuer_keys_unavailable:1");
    expect(urls).toHaveLength(1);
  });
});

describe("without an injected fetch, globalThis.fetch is used", () => {
  it("a jwksUri on a local server is fetched for real; a closed port is 503 issuer_keys_unavailable", async () => {
    vi.useRealTimers();
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(OIDC_JWKS));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const up = load([cfg({ jwksFile: undefined, jwksUri: `http://127.0.0.1:${port}/jwks` })], { timeoutMs: 10_000 });
      expect(await keyOf(up.byIssuer("https://login.corp.test")!)).toBe("key");
      expect(hits).toBe(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    // the same port, now closed: refused at once on loopback
    const down = load([cfg({ jwksFile: undefined, jwksUri: `http://127.0.0.1:${port}/jwks` })], { timeoutMs: 10_000 });
    expect(await keyOf(down.byIssuer("https://login.corp.test")!)).toMatch(/^issuer_keys_unavailable:/);
  });
});

describe("onKeysFetched: one call per document an issuer's fetcher got (metrics)", () => {
  it("names the issuer for its JWKS and its discovery document, not for a failed fetch", async () => {
    const fetched: string[] = [];
    const { fetch } = counting((url) => (url.endsWith("openid-configuration")
      ? Response.json({ issuer: "https://disco.test", jwks_uri: "https://disco.test/keys" })
      : url.includes("down") ? new Response("", { status: 500 }) : Response.json(OIDC_JWKS)));
    const r = loadJwtIssuers({
      jwtIssuers: [
        cfg({ id: "remote", jwksFile: undefined, jwksUri: "https://login.corp.test/jwks" }),
        cfg({ id: "disco", issuer: "https://disco.test", jwksFile: undefined, discoveryUrl: "https://disco.test/.well-known/openid-configuration" }),
        cfg({ id: "down", issuer: "https://down.test", jwksFile: undefined, jwksUri: "https://down.test/jwks" }),
      ],
    } as never, FIXTURES_DIR, { log: noLog, fetch, onKeysFetched: (id) => fetched.push(id) });
    expect(await keyOf(r.byIssuer("https://login.corp.test")!)).toBe("key");
    expect(await keyOf(r.byIssuer("https://disco.test")!)).toBe("key");
    expect(await keyOf(r.byIssuer("https://down.test")!)).toBe("issuer_keys_unavailable:30");
    expect(fetched).toEqual(["remote", "disco", "disco"]);
    // without a listener nothing breaks
    expect(await keyOf(load([cfg({ jwksFile: undefined, jwksUri: "https://login.corp.test/jwks" })], { fetch }).byIssuer("https://login.corp.test")!)).toBe("key");
  });
});
