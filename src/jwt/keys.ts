import { createPublicKey } from "node:crypto";
import {
  createLocalJWKSet, createRemoteJWKSet, customFetch, errors,
  type CryptoKey, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters,
} from "jose";
import { forgeableByAnyone } from "./key-material.js";
import { OAuthError } from "../oauth/errors.js";
import type { Logger } from "../log/logger.js";

/**
 * Where a trusted issuer's verification keys come from: a static JWKS file, a `jwks_uri`, or an
 * OIDC discovery document naming one. Only configured URLs are ever fetched: never one from a
 * token (`jku`, `x5u`), never for an `iss` that is not configured (catalogue G5, G16).
 *
 * Fetching is bounded three ways so that no token can make the bridge hammer an issuer:
 * - jose's cache (`cacheMaxAge`) and cooldown (`cooldownDuration`): an unknown `kid` refetches at
 *   most once per cooldown after a successful fetch;
 * - a failed fetch (unreachable, timeout, non-200, redirect, oversized or malformed document) is
 *   not retried for the same cooldown: meanwhile tokens that need a fetch fail fast with 503
 *   `issuer_keys_unavailable`, while tokens whose keys are cached still verify;
 * - each request has a timeout and a size bound, and redirects are not followed.
 * Both windows run on the wall clock (`Date.now`), as jose's cache does.
 */

/** The `fetch` the bridge uses for issuer documents (injectable: tests count requests). */
export type FetchFn = (url: string, init: { method: "GET"; headers: Headers; redirect: "manual"; signal: AbortSignal }) => Promise<Response>;

/** A key resolver for jose's jwtVerify. */
export type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

const MAX_JWKS_BYTES = 256 * 1024;
const MAX_DISCOVERY_BYTES = 64 * 1024;
const MAX_KEYS = 100;

/** Why an issuer's keys could not be had (logged; the client only sees issuer_keys_unavailable). */
export type UnavailableReason =
  | "unreachable" | "timeout" | "http_status" | "too_large" | "malformed" | "backoff"
  | "discovery_issuer_mismatch" | "discovery_jwks_uri_invalid";

export class KeySourceUnavailable extends Error {
  override name = "KeySourceUnavailable";
  constructor(readonly reason: UnavailableReason, options?: { cause?: unknown }) {
    super(reason, options);
  }
}

/**
 * One issuer's HTTP access: bounded GETs of JSON, with a back-off after any failure. The back-off
 * runs on the wall clock on purpose, not the injected request time: it paces network I/O, alongside
 * jose's own JWKS cooldown, which also uses the wall clock.
 */
export class IssuerFetcher {
  private failedAt: number | undefined;

  constructor(private readonly o: {
    issuerId: string;
    fetch: FetchFn;
    timeoutMs: number;
    /** No new attempt within this long after a failure. */
    cooldownMs: number;
    log: Logger;
    /** Each document fetched and parsed (metrics). */
    onFetched?: (() => void) | undefined;
  }) {}

  get timeoutMs(): number {
    return this.o.timeoutMs;
  }

  /**
   * How long until this issuer's keys will be fetched again (0: a request may fetch now). What a
   * 503 issuer_keys_unavailable says in Retry-After: retrying sooner only meets the back-off.
   */
  retryAfterMs(): number {
    if (this.failedAt === undefined) return 0;
    return Math.max(0, this.failedAt + this.o.cooldownMs - Date.now());
  }

  async getJson(url: string, maxBytes: number, signal?: AbortSignal, headers?: Headers): Promise<unknown> {
    if (this.failedAt !== undefined && Date.now() - this.failedAt < this.o.cooldownMs) {
      throw new KeySourceUnavailable("backoff");
    }
    const sig = signal ?? AbortSignal.timeout(this.o.timeoutMs);
    try {
      const h = headers ?? new Headers({ accept: "application/json" });
      let response: Response;
      try {
        response = await this.o.fetch(url, { method: "GET", headers: h, redirect: "manual", signal: sig });
      } catch (e) {
        throw new KeySourceUnavailable(sig.aborted ? "timeout" : "unreachable", { cause: e });
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        throw new KeySourceUnavailable("http_status");
      }
      const text = await readBounded(response, maxBytes, sig);
      let json: unknown;
      try {
        json = JSON.parse(text) as unknown;
      } catch (e) {
        throw new KeySourceUnavailable("malformed", { cause: e });
      }
      // fedbridge_jwks_fetches_total{outcome="ok"}; a document the caller then finds malformed is
      // counted again under that failure (through the jwt_issuer_keys_unavailable log event).
      this.o.onFetched?.();
      return json;
    } catch (e) {
      const err = e instanceof KeySourceUnavailable ? e : new KeySourceUnavailable(sig.aborted ? "timeout" : "unreachable", { cause: e });
      this.fail(err.reason);
      throw err;
    }
  }

  /** Records a failure (starting the back-off) and logs it, without any data from the issuer. */
  fail(reason: UnavailableReason): KeySourceUnavailable {
    this.failedAt = Date.now();
    this.o.log({ event: "jwt_issuer_keys_unavailable", issuer: this.o.issuerId, reason });
    return new KeySourceUnavailable(reason);
  }
}

async function readBounded(response: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  const declared = response.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new KeySourceUnavailable("too_large");
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    if (signal.aborted) {
      await reader.cancel().catch(() => undefined);
      throw new KeySourceUnavailable("timeout");
    }
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new KeySourceUnavailable("too_large");
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch (e) {
    throw new KeySourceUnavailable("malformed", { cause: e });
  }
}

function isJwkSetShape(value: unknown): value is JSONWebKeySet {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = (value as { keys?: unknown }).keys;
  return Array.isArray(keys) && keys.length <= MAX_KEYS
    && keys.every((k) => k !== null && typeof k === "object" && !Array.isArray(k));
}

/** A static key set (from the config's jwksFile). */
export function localKeys(jwks: JSONWebKeySet): KeyResolver {
  return createLocalJWKSet(jwks);
}

export interface RemoteOptions {
  fetcher: IssuerFetcher;
  cacheMaxAgeMs: number;
  cooldownMs: number;
}

/** A `jwks_uri`, fetched through the issuer's fetcher and cached by jose. */
export function remoteKeys(url: URL, o: RemoteOptions): KeyResolver {
  const fetchJwks = async (href: string, init: { headers: Headers; signal: AbortSignal }): Promise<Response> => {
    const json = await o.fetcher.getJson(href, MAX_JWKS_BYTES, init.signal, init.headers);
    if (!isJwkSetShape(json)) throw o.fetcher.fail("malformed");
    return new Response(JSON.stringify(json), { status: 200, headers: { "content-type": "application/json" } });
  };
  return createRemoteJWKSet(url, {
    cacheMaxAge: o.cacheMaxAgeMs,
    cooldownDuration: o.cooldownMs,
    timeoutDuration: o.fetcher.timeoutMs,
    [customFetch]: fetchJwks,
  });
}

/**
 * OIDC Discovery 1.0 §4: the document is fetched once (then kept for the life of the process); its
 * `issuer` must be exactly the configured issuer (§4.3: otherwise it MUST NOT be used), and its
 * `jwks_uri` is then used like a configured jwksUri. An https discovery URL must not lead to an
 * http jwks_uri.
 */
export function discoveredKeys(discoveryUrl: URL, expectedIssuer: string, o: RemoteOptions): () => Promise<KeyResolver> {
  let resolved: KeyResolver | undefined;
  let pending: Promise<KeyResolver> | undefined;
  const discover = async (): Promise<KeyResolver> => {
    const doc = await o.fetcher.getJson(discoveryUrl.href, MAX_DISCOVERY_BYTES);
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw o.fetcher.fail("malformed");
    const { issuer, jwks_uri: jwksUri } = doc as Record<string, unknown>;
    if (issuer !== expectedIssuer) throw o.fetcher.fail("discovery_issuer_mismatch");
    let url: URL;
    try {
      if (typeof jwksUri !== "string") throw new Error("jwks_uri");
      url = new URL(jwksUri);
    } catch {
      throw o.fetcher.fail("discovery_jwks_uri_invalid");
    }
    const allowed = discoveryUrl.protocol === "https:" ? ["https:"] : ["https:", "http:"];
    if (!allowed.includes(url.protocol) || url.username !== "" || url.password !== "") throw o.fetcher.fail("discovery_jwks_uri_invalid");
    resolved = remoteKeys(url, o);
    return resolved;
  };
  return async () => {
    if (resolved) return resolved;
    pending ??= discover().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

/**
 * The resolver handed to jwtVerify: a key-source failure becomes 503 `issuer_keys_unavailable`,
 * whose Retry-After is the real time left in the issuer's back-off (at least 1 s), not a guess;
 * everything else (no key with that `kid`, wrong key type) stays jose's error, i.e. token_invalid.
 */
export function guardedKeys(resolve: () => KeyResolver | Promise<KeyResolver>, fetcher?: IssuerFetcher): KeyResolver {
  return async (header, token) => {
    try {
      const keys = await resolve();
      return await keys(header, token);
    } catch (e) {
      if (e instanceof KeySourceUnavailable || e instanceof errors.JWKSTimeout) {
        const retryAfterSeconds = Math.max(1, Math.ceil((fetcher?.retryAfterMs() ?? 0) / 1000));
        throw new OAuthError("issuer_keys_unavailable", { cause: e, retryAfterSeconds });
      }
      throw e;
    }
  };
}

// ---- static JWKS files ----------------------------------------------------------------------------

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const CURVE_ALG: Record<string, string> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512", Ed25519: "EdDSA" };

/** Which of `algorithms` a public JWK can verify. */
function algorithmsFor(jwk: Record<string, unknown>, algorithms: readonly string[]): string[] {
  let fits: string[];
  if (jwk.kty === "RSA") fits = algorithms.filter((a) => /^(RS|PS)\d{3}$/.test(a));
  else if (jwk.kty === "EC" || jwk.kty === "OKP") fits = algorithms.filter((a) => a === CURVE_ALG[String(jwk.crv)]);
  else fits = [];
  // A key restricted to another `alg` (or to a non-string one, which jose never matches) fits none.
  return jwk.alg === undefined ? fits : fits.filter((a) => a === jwk.alg);
}

/**
 * Validates a static JWKS at start-up; returns the problem, or undefined. Public asymmetric
 * signature keys only (RSA of at least 2048 bits, EC, Ed25519), and at least one that fits one of
 * the issuer's algorithms.
 */
export function checkStaticJwks(value: unknown, algorithms: readonly string[]): string | undefined {
  if (!isJwkSetShape(value)) return `not a JWK Set (an object with "keys", at most ${MAX_KEYS})`;
  if (value.keys.length === 0) return "the JWK Set has no keys";
  let usable = 0;
  for (const [i, raw] of value.keys.entries()) {
    const jwk = raw as Record<string, unknown>;
    if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP") return `keys[${i}]: kty must be RSA, EC or OKP`;
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) return `keys[${i}]: private key material (public keys only)`;
    if (jwk.use !== undefined && jwk.use !== "sig") return `keys[${i}]: use is not "sig"`;
    let details;
    try {
      details = createPublicKey({ key: jwk as never, format: "jwk" }).asymmetricKeyDetails;
    } catch {
      return `keys[${i}]: not a valid public key`;
    }
    if (jwk.kty === "RSA" && (details?.modulusLength ?? 0) < 2048) return `keys[${i}]: RSA keys must have at least 2048 bits`;
    if (forgeableByAnyone(createPublicKey({ key: jwk as never, format: "jwk" }))) return `keys[${i}]: a key anyone can sign for (RSA exponent below 3 or even, or an Ed25519 point of small order)`;
    if (algorithmsFor(jwk, algorithms).length > 0) usable++;
  }
  if (usable === 0) return `no key fits the issuer's algorithms (${algorithms.join(", ")})`;
  return undefined;
}
