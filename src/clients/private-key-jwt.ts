import { errors, jwtVerify } from "jose";
import type { ClientConfig } from "../config/schema.js";
import { OAuthError, isOAuthError, refuse } from "../oauth/errors.js";
import { JWT_MAX_BYTES, decodeUnverified } from "../jwt/compact.js";
import { checkStaticJwks, type FetchFn, type KeyResolver } from "../jwt/keys.js";
import type { Logger } from "../log/logger.js";
import { clientKeyResolver, loadClientKeys } from "./jwks-uri.js";
import { ReplayStoreUnavailable, replayKey, type ReplayStore } from "../replay/store.js";
import { CLIENT_ASSERTION_ALGORITHMS, CLIENT_ASSERTION_TYPE } from "./assertion-algorithms.js";

/**
 * `private_key_jwt` client authentication (OIDC Core §9, RFC 7523 §2.2 and §3): the client signs a
 * short-lived JWT with its own private key; the bridge holds only the client's public keys.
 *
 * Order matters for the oracle: everything an unauthenticated caller can vary before the signature
 * is verified (unknown client, another client's key, a bad signature, an alg outside this client's
 * list) answers the same `client_auth_failed`. Claim-level reasons (audience, expiry, lifetime,
 * replay) are only given once the signature proved the caller holds the client's key.
 */


/** A `jti` is bounded before it reaches the replay store. */
const MAX_JTI_LENGTH = 256;
/** Namespace of the replay keys, so a client's jti can never collide with an assertion id (replayKey hashes issuer\njti). */
const REPLAY_NAMESPACE = "fedbridge:client-assertion:";

export interface PrivateKeyJwtOptions {
  /** The bridge's issuer (RFC 7523 §3: an accepted `aud`; also the audience used for introspection). */
  issuer: string;
  /** The token endpoint URL (RFC 7523 §3, OIDC Core §9: the other accepted `aud`). */
  tokenEndpoint: string;
  replay: ReplayStore;
  now: () => number;
  clockSkewSeconds: number;
  /** Directory that relative `jwksFile` paths are resolved against. */
  baseDir: string;
  /** For `jwksUri` clients (clients/jwks-uri.ts): the fetch (default globalThis.fetch), its timeout, the logger. */
  fetch?: FetchFn | undefined;
  keyFetchTimeoutMs?: number | undefined;
  log?: Logger | undefined;
}

interface ClientKeys {
  client: ClientConfig;
  keys: KeyResolver;
  algorithms: string[];
  maxLifetimeSeconds: number;
}

export class PrivateKeyJwtVerifier {
  readonly #byId: ReadonlyMap<string, ClientKeys>;
  readonly #o: PrivateKeyJwtOptions;

  constructor(clients: readonly ClientConfig[], options: PrivateKeyJwtOptions) {
    this.#o = options;
    const byId = new Map<string, ClientKeys>();
    clients.forEach((client, i) => {
      const cfg = client.privateKeyJwt;
      if (!cfg) return;
      const path = `clients.${i}.privateKeyJwt`;
      // Inline and file sets are checked now; a jwksUri set on every fetch, by the same rules.
      const keys = loadClientKeys(client.id, cfg, path, {
        baseDir: options.baseDir, now: options.now, log: options.log ?? (() => undefined), fetch: options.fetch, timeoutMs: options.keyFetchTimeoutMs,
      }, (jwks) => checkStaticJwks(jwks, cfg.algorithms));
      byId.set(client.id, { client, keys: clientKeyResolver(keys), algorithms: [...cfg.algorithms], maxLifetimeSeconds: cfg.maxLifetimeSeconds });
    });
    this.#byId = byId;
  }

  /** Whether any client uses private_key_jwt (otherwise the method is off and not advertised). */
  get enabled(): boolean {
    return this.#byId.size > 0;
  }

  /** The union of the clients' algorithms, for discovery. */
  algorithms(): string[] {
    return [...new Set([...this.#byId.values()].flatMap((c) => c.algorithms))];
  }

  /** The client id the assertion claims (`iss`), unverified: for the failed-authentication limits. */
  claimedClientId(assertion: string): string {
    return stringClaim(decode(assertion).payload.iss);
  }

  /**
   * Authenticates the client or throws an OAuthError. `clientIdParam`: the request's `client_id`,
   * which must then name the same client (RFC 7523 §3).
   */
  async verify(assertionType: string | undefined, assertion: string | undefined, clientIdParam: string | undefined): Promise<ClientConfig> {
    if (assertionType !== CLIENT_ASSERTION_TYPE || assertion === undefined) throw refuse("client_assertion_invalid");
    const { header, payload } = decode(assertion);
    const iss = stringClaim(payload.iss);
    // RFC 7523 §3 items 1–2 / OIDC Core §9: iss and sub are both the client_id.
    if (payload.sub !== iss) throw refuse("client_assertion_invalid");
    if (clientIdParam !== undefined && clientIdParam !== iss) throw refuse("client_id_mismatch");
    if (typeof header.alg !== "string" || !(CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(header.alg)) {
      throw refuse("client_assertion_alg_forbidden");
    }
    const entry = this.#byId.get(iss);
    // Unknown client, or one without private_key_jwt: the same answer as a bad signature.
    if (!entry) throw authFailed();
    const now = this.#o.now();
    const skew = this.#o.clockSkewSeconds;
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(assertion, entry.keys, {
        algorithms: entry.algorithms,
        issuer: iss,
        subject: iss,
        // RFC 7523 §3 item 3: the token endpoint URL, or the issuer identifier (RFC 8414).
        audience: [this.#o.issuer, this.#o.tokenEndpoint],
        requiredClaims: ["exp", "jti"],
        currentDate: new Date(now),
        clockTolerance: skew,
      }));
    } catch (e) {
      throw mapJoseError(e);
    }
    const exp = claims.exp!;
    // RFC 7523 §3 item 4 / OIDC Core §9: short-lived. Bound the time left, and the whole life when iat is given.
    const nowSeconds = Math.floor(now / 1000);
    if (exp - nowSeconds > entry.maxLifetimeSeconds + skew) throw refuse("client_assertion_lifetime_too_long");
    if (claims.iat !== undefined && exp - claims.iat > entry.maxLifetimeSeconds) throw refuse("client_assertion_lifetime_too_long");
    const jti = claims.jti;
    if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw refuse("client_assertion_invalid");
    // RFC 7523 §3 item 7: the jti is used once, remembered until the assertion could no longer pass.
    const ttlMs = Math.max(1000, (exp + skew) * 1000 - now + 1000);
    let fresh: boolean;
    try {
      fresh = await this.#o.replay.markUsed(replayKey(`${REPLAY_NAMESPACE}${iss}`, jti), ttlMs);
    } catch (e) {
      if (e instanceof ReplayStoreUnavailable) {
        throw new OAuthError(e.lost ? "replay_store_lost" : "replay_store_unavailable", {
          cause: e, ...(e.retryAfterMs !== undefined ? { retryAfterSeconds: Math.ceil(e.retryAfterMs / 1000) } : {}),
        });
      }
      throw e;
    }
    if (!fresh) throw refuse("client_assertion_replayed");
    return entry.client;
  }
}

function authFailed(): OAuthError {
  return refuse("client_auth_failed");
}

function decode(assertion: string): ReturnType<typeof decodeUnverified> {
  if (assertion.length > JWT_MAX_BYTES) throw refuse("client_assertion_invalid");
  try {
    return decodeUnverified(assertion);
  } catch (e) {
    if (isOAuthError(e)) throw refuse("client_assertion_invalid", e);
    throw e;
  }
}

function stringClaim(v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.length > 128) throw refuse("client_assertion_invalid");
  return v;
}

function mapJoseError(e: unknown): unknown {
  if (e instanceof errors.JWTExpired) return refuse("client_assertion_expired", e);
  if (e instanceof errors.JWTClaimValidationFailed) {
    return refuse(e.claim === "aud" ? "client_assertion_audience_invalid" : "client_assertion_invalid", e);
  }
  if (e instanceof errors.JWTInvalid) return refuse("client_assertion_invalid", e);
  // Signature, key (none with that kid, another client's) and alg-allow-list failures: one answer.
  if (e instanceof errors.JOSEError) return authFailed();
  return e;
}
