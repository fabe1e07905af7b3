import { readFileSync } from "node:fs";
import type { JSONWebKeySet } from "jose";
import { ConfigError, resolvePath } from "../config/load.js";
import { type Config, type JwtIssuerConfig, type MappingConfig } from "../config/schema.js";
import { TOKEN_TYPES } from "../oauth/constants.js";
import type { Logger } from "../log/logger.js";
import type { PartyBinding } from "../subject/types.js";
import {
  IssuerFetcher, checkStaticJwks, discoveredKeys, guardedKeys, localKeys, remoteKeys,
  type FetchFn, type KeyResolver,
} from "./keys.js";

/**
 * The trusted JWT issuers (OIDC providers, CI platforms), by exact `iss`. A token's unverified
 * `iss` only chooses which entry to try; an `iss` that is not here is refused before anything is
 * fetched (catalogue G16).
 */
export interface TrustedJwtIssuer {
  id: string;
  issuer: string;
  algorithms: readonly string[];
  audiences: readonly string[];
  tokenTypes: readonly string[];
  maxTokenAgeSeconds: number;
  maxLifetimeSeconds: number;
  oneTimeUse: boolean;
  mapping: MappingConfig;
  /** How its tokens' azp / client_id bind to the presenting client (src/policy/client-binding.ts). */
  binding: PartyBinding;
  /** This issuer's keys only. */
  keys: KeyResolver;
  /** Set when its ID-JAGs are accepted (Cross-App Access, src/idjag/verify.ts). */
  idJag?: { maxLifetimeSeconds: number } | undefined;
}

export class JwtIssuerRegistry {
  private readonly byIss: ReadonlyMap<string, TrustedJwtIssuer>;

  constructor(readonly issuers: readonly TrustedJwtIssuer[]) {
    this.byIss = new Map(issuers.map((i) => [i.issuer, i]));
  }

  byIssuer(iss: string): TrustedJwtIssuer | undefined {
    return this.byIss.get(iss);
  }

  get size(): number {
    return this.issuers.length;
  }

  /** The token types at least one issuer accepts, in a fixed order. */
  tokenTypes(): string[] {
    return [TOKEN_TYPES.idToken, TOKEN_TYPES.jwt].filter((t) => this.issuers.some((i) => i.tokenTypes.includes(t)));
  }
}

export interface JwtIssuerDeps {
  /** Default: globalThis.fetch. */
  fetch?: FetchFn | undefined;
  /** Per-request timeout of JWKS and discovery fetches. Default 5000 ms. */
  timeoutMs?: number | undefined;
  log: Logger;
  /** Each JWKS or discovery document an issuer's fetcher got (metrics: fedbridge_jwks_fetches_total). */
  onKeysFetched?: ((issuerId: string) => void) | undefined;
}

export const DEFAULT_KEY_FETCH_TIMEOUT_MS = 5_000;

/** Builds the registry from the config; any problem is a ConfigError naming the field. */
export function loadJwtIssuers(config: Pick<Config, "jwtIssuers">, baseDir: string, deps: JwtIssuerDeps): JwtIssuerRegistry {
  const fetchImpl: FetchFn = deps.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const seen = new Map<string, number>();
  const issuers = config.jwtIssuers.map((cfg, i): TrustedJwtIssuer => {
    const path = `jwtIssuers[${i}]`;
    if (seen.has(cfg.issuer)) {
      throw new ConfigError([{ path: `${path}.issuer`, message: `same issuer as jwtIssuers[${seen.get(cfg.issuer)}]` }]);
    }
    seen.set(cfg.issuer, i);
    return {
      id: cfg.id,
      issuer: cfg.issuer,
      algorithms: cfg.algorithms,
      audiences: cfg.audiences,
      tokenTypes: cfg.tokenTypes,
      maxTokenAgeSeconds: cfg.maxTokenAgeSeconds,
      maxLifetimeSeconds: cfg.maxLifetimeSeconds,
      oneTimeUse: cfg.oneTimeUse,
      mapping: cfg.mapping,
      binding: { actor: cfg.actorBinding, subject: cfg.bindSubjectTokens },
      keys: keySource(cfg, path, baseDir, fetchImpl, deps),
      idJag: cfg.idJag,
    };
  });
  return new JwtIssuerRegistry(issuers);
}

function keySource(cfg: JwtIssuerConfig, path: string, baseDir: string, fetchImpl: FetchFn, deps: JwtIssuerDeps): KeyResolver {
  if (cfg.jwksFile !== undefined) {
    const jwks = readJwksFile(resolvePath(baseDir, cfg.jwksFile), cfg, `${path}.jwksFile`);
    const local = localKeys(jwks);
    return guardedKeys(() => local);
  }
  const fetcher = new IssuerFetcher({
    issuerId: cfg.id,
    fetch: fetchImpl,
    timeoutMs: deps.timeoutMs ?? DEFAULT_KEY_FETCH_TIMEOUT_MS,
    cooldownMs: cfg.jwksCooldownSeconds * 1000,
    log: deps.log,
    onFetched: () => deps.onKeysFetched?.(cfg.id),
  });
  const remote = {
    fetcher,
    cacheMaxAgeMs: cfg.jwksCacheSeconds * 1000,
    cooldownMs: cfg.jwksCooldownSeconds * 1000,
  };
  if (cfg.jwksUri !== undefined) {
    const keys = remoteKeys(new URL(cfg.jwksUri), remote);
    return guardedKeys(() => keys, fetcher);
  }
  return guardedKeys(discoveredKeys(new URL(cfg.discoveryUrl!), cfg.issuer, remote), fetcher);
}

function readJwksFile(file: string, cfg: JwtIssuerConfig, path: string): JSONWebKeySet {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([{ path, message: `cannot read ${cfg.jwksFile} (${(e as NodeJS.ErrnoException).code ?? "error"})` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError([{ path, message: `${cfg.jwksFile} is not JSON` }]);
  }
  const problem = checkStaticJwks(json, cfg.algorithms);
  if (problem) throw new ConfigError([{ path, message: `${cfg.jwksFile}: ${problem}` }]);
  return json as JSONWebKeySet;
}
