import { readFileSync } from "node:fs";
import { createLocalJWKSet, errors, type JSONWebKeySet } from "jose";
import { ConfigError, resolvePath } from "../config/load.js";
import { IssuerFetcher, KeySourceUnavailable, type FetchFn, type KeyResolver } from "../jwt/keys.js";
import { DEFAULT_KEY_FETCH_TIMEOUT_MS } from "../jwt/registry.js";
import { OAuthError } from "../oauth/errors.js";
import type { Logger } from "../log/logger.js";

/**
 * A client's public keys (RFC 7591 §2 `jwks` / `jwks_uri`): inline, from a file read at start-up,
 * or fetched from the client's `jwks_uri`. Used by `private_key_jwt` (the keys that verify the
 * client's assertions) and `self_signed_tls_client_auth` (RFC 8705 §2.2: the certificates or keys
 * the client may present in the TLS handshake).
 *
 * A `jwks_uri` is fetched through the same bounded GET as the JWT issuers' keys (jwt/keys.ts
 * IssuerFetcher: a timeout, a size bound, no redirects, JSON only), and then:
 * - cached for `cacheMs`; past it, the next use refetches;
 * - refetched early, when no key matches (the client rotated), at most once per `cooldownMs`:
 *   made-up `kid`s cannot make the bridge hammer the client's server;
 * - never fetched more than once per `cooldownMs` whatever happens, and one fetch at a time;
 * - a failed fetch (or a document that is not a usable key set) keeps the last good set, for at
 *   most `maxStaleMs` after it was fetched: a key the client removed (maybe because it leaked)
 *   must not stay accepted for as long as its server is down or serves junk. Past that, and for a
 *   client whose keys were never fetched, it fails closed: 503 `client_keys_unavailable`.
 * Only the configured URL is fetched, never one from a request. Unlike jose's createRemoteJWKSet
 * (which the JWT issuers use), an expired cache whose refetch fails keeps the last good set, and
 * the windows run on the injected clock.
 */

/** A client's key set as the authentication methods read it. */
export interface ClientKeySet {
  /** The keys to check against (may fetch); throws OAuthError client_keys_unavailable when there are none yet. */
  current(): Promise<JSONWebKeySet>;
  /** After nothing matched: a newer set if one could be fetched now, else undefined. */
  refreshed(): Promise<JSONWebKeySet | undefined>;
}

/** A client's JWK Set is small: a few keys, maybe certificate chains (x5c). */
export const MAX_CLIENT_JWKS_BYTES = 64 * 1024;

/** Default bound on the use of a stale key set (config jwksMaxStaleSeconds: 86 400). */
export const DEFAULT_MAX_STALE_MS = 86_400_000;

export interface ClientJwksUriOptions {
  clientId: string;
  url: URL;
  fetch: FetchFn;
  timeoutMs: number;
  maxBytes?: number;
  /** A fetched set is used this long before the next use refetches it. */
  cacheMs: number;
  /** Least time between two fetch attempts (success or failure). */
  cooldownMs: number;
  /** The last good set is used at most this long after it was fetched (default 24 h); at least cacheMs. */
  maxStaleMs?: number;
  now: () => number;
  log: Logger;
  /** The problem with a fetched document (then ignored, the last good set kept), or undefined. */
  validate: (json: unknown) => string | undefined;
}

export class ClientJwksUri implements ClientKeySet {
  readonly #o: ClientJwksUriOptions;
  readonly #fetcher: IssuerFetcher;
  #keys: JSONWebKeySet | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;

  constructor(o: ClientJwksUriOptions) {
    this.#o = o;
    const clientId = o.clientId;
    this.#fetcher = new IssuerFetcher({
      issuerId: clientId,
      fetch: o.fetch,
      timeoutMs: o.timeoutMs,
      // Pacing is done here, on the injected clock (#mayFetch): the fetcher's own back-off is off.
      cooldownMs: 0,
      // The fetcher logs its failures as an issuer's; here they are a client's (no metrics series
      // of the JWT issuers is fed by a client's jwks_uri).
      log: (e) => o.log(e.event === "jwt_issuer_keys_unavailable"
        ? { event: "client_keys_unavailable", level: "warn", client: clientId, reason: e.reason }
        : e),
    });
  }

  async current(): Promise<JSONWebKeySet> {
    if (this.#pending) await this.#pending;
    const now = this.#o.now();
    if (this.#keys && now - this.#fetchedAt < this.#o.cacheMs) return this.#keys;
    if (this.#mayFetch(now)) await this.#fetch();
    // Stale: the last good set, rather than locking the client out while its server is down; but
    // only for so long (jwksMaxStaleSeconds), then the client fails closed until a fetch succeeds.
    if (this.#keys && this.#o.now() - this.#fetchedAt < Math.max(this.#o.maxStaleMs ?? DEFAULT_MAX_STALE_MS, this.#o.cacheMs)) return this.#keys;
    throw new OAuthError("client_keys_unavailable", { retryAfterSeconds: this.#retryAfterSeconds() });
  }

  async refreshed(): Promise<JSONWebKeySet | undefined> {
    if (this.#pending) await this.#pending;
    if (!this.#mayFetch(this.#o.now())) return undefined;
    const before = this.#keys;
    await this.#fetch();
    return this.#keys !== before ? this.#keys : undefined;
  }

  #mayFetch(now: number): boolean {
    return now - this.#attemptedAt >= this.#o.cooldownMs;
  }

  #retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.#attemptedAt + this.#o.cooldownMs - this.#o.now()) / 1000));
  }

  #fetch(): Promise<void> {
    this.#pending ??= this.#load().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #load(): Promise<void> {
    this.#attemptedAt = this.#o.now();
    let json: unknown;
    try {
      json = await this.#fetcher.getJson(this.#o.url.href, this.#o.maxBytes ?? MAX_CLIENT_JWKS_BYTES);
    } catch (e) {
      // Logged by the fetcher (reason only); the last good set stays.
      if (e instanceof KeySourceUnavailable) return;
      throw e;
    }
    const doc = signatureKeysOnly(json);
    if (this.#o.validate(doc) !== undefined) {
      this.#fetcher.fail("malformed");
      return;
    }
    this.#keys = doc as JSONWebKeySet;
    this.#fetchedAt = this.#o.now();
  }
}

/** JWK members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * A client's jwks_uri document without the keys that are not for verifying signatures: `use`
 * other than "sig" (RFC 7517 §4.2) or `key_ops` without "verify" (§4.3). A client's published set
 * commonly holds its encryption keys too (OIDC: `use: enc` for encrypted responses); the whole
 * document must not be refused for them, and they must never verify anything here. A key with
 * private material is kept, so that the check refuses the whole document as before.
 */
export function signatureKeysOnly(json: unknown): unknown {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  const keys = (json as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return json;
  const notForSignatures = (k: unknown): boolean => {
    if (k === null || typeof k !== "object" || Array.isArray(k)) return false;
    const jwk = k as Record<string, unknown>;
    if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) return false;
    return (jwk.use !== undefined && jwk.use !== "sig") || (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes("verify"));
  };
  return { ...(json as Record<string, unknown>), keys: keys.filter((k) => !notForSignatures(k)) };
}

/** A set given inline or in a file: nothing to fetch. */
export function staticClientKeys(jwks: JSONWebKeySet): ClientKeySet {
  return { current: () => Promise.resolve(jwks), refreshed: () => Promise.resolve(undefined) };
}

/** The jose key resolver over a client's key set: one refetch when no key matches the header. */
export function clientKeyResolver(keys: ClientKeySet): KeyResolver {
  let cached: { set: JSONWebKeySet; resolve: KeyResolver } | undefined;
  const local = (set: JSONWebKeySet): KeyResolver => {
    if (cached?.set !== set) cached = { set, resolve: createLocalJWKSet(set) };
    return cached.resolve;
  };
  return async (header, token) => {
    const set = await keys.current();
    try {
      return await local(set)(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      const fresh = await keys.refreshed();
      if (!fresh) throw e;
      return local(fresh)(header, token);
    }
  };
}

/** Where a client's keys come from in the config (privateKeyJwt, selfSignedTlsClientAuth). */
export interface ClientJwksConfig {
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  jwksFile?: string | undefined;
  jwksUri?: string | undefined;
  jwksCacheSeconds: number;
  jwksCooldownSeconds: number;
  /** Optional for callers built before it existed; the schema always sets it (default 86 400). */
  jwksMaxStaleSeconds?: number | undefined;
}

export interface ClientKeyDeps {
  baseDir: string;
  now: () => number;
  log: Logger;
  /** Default: globalThis.fetch. */
  fetch?: FetchFn | undefined;
  /** Default 5000 ms (as the JWT issuers' key fetches). */
  timeoutMs?: number | undefined;
}

/**
 * The key set of one client's config block at `path`. An inline or file set is checked now (a bad
 * one stops start-up with the path); a fetched one is checked on each fetch by the same `check`.
 */
export function loadClientKeys(
  clientId: string, cfg: ClientJwksConfig, path: string, deps: ClientKeyDeps, check: (json: unknown) => string | undefined,
): ClientKeySet {
  if (cfg.jwksUri !== undefined) {
    return new ClientJwksUri({
      clientId,
      url: new URL(cfg.jwksUri),
      fetch: deps.fetch ?? ((url, init) => globalThis.fetch(url, init)),
      timeoutMs: deps.timeoutMs ?? DEFAULT_KEY_FETCH_TIMEOUT_MS,
      cacheMs: cfg.jwksCacheSeconds * 1000,
      cooldownMs: cfg.jwksCooldownSeconds * 1000,
      maxStaleMs: (cfg.jwksMaxStaleSeconds ?? DEFAULT_MAX_STALE_MS / 1000) * 1000,
      now: deps.now,
      log: deps.log,
      validate: check,
    });
  }
  const jwks = cfg.jwks ?? readJwks(resolvePath(deps.baseDir, cfg.jwksFile!), `${path}.jwksFile`);
  const problem = check(jwks);
  if (problem) throw new ConfigError([{ path, message: problem }]);
  return staticClientKeys(jwks as JSONWebKeySet);
}

function readJwks(file: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([{ path, message: `cannot read the JWKS file (${(e as NodeJS.ErrnoException).code ?? "error"})` }]);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError([{ path, message: "the JWKS file is not JSON" }]);
  }
}
