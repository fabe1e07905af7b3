import { ConfigError, loadConfigFile, resolvePath, type LoadedConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { loadIdps, tokenEndpointOf } from "../bootstrap.js";
import { loadFederations, withFederationPrefetch } from "../federation/setup.js";
import { IdpRegistry, type TrustedIdp } from "../saml/idp-registry.js";
import { loadDecryptionKeys } from "../saml/decryption-keys.js";
import { loadJwtIssuers, type JwtIssuerRegistry } from "../jwt/registry.js";
import { KeyError, loadSigningKeys, type SigningKeySet } from "../tokens/signing-keys.js";
import { ownTokenVerifier } from "../tokens/self-token.js";
import { buildTokenVerifiers } from "../subject/verifiers.js";
import { MemoryReplayStore } from "../replay/memory.js";
import { RateLimits } from "../limits/rate-limits.js";
import type { ExchangeServices } from "../exchange/services.js";
import type { FetchFn } from "../jwt/keys.js";
import type { Logger } from "../log/logger.js";
import { CliError } from "./errors.js";

/**
 * The bridge's parts built from a config file WITHOUT running anything: no listener, no Redis, no
 * metrics port, no admin store, no network (a JWT issuer's remote JWKS is never fetched), and a
 * replay store of its own that starts empty: nothing the CLI does can mark (use up) an assertion
 * in the running bridge's store. Same loaders as src/bootstrap.ts, so the same config paths in errors.
 */

/** Logs nothing: the CLI reports through its own output. */
export const silent: Logger = () => undefined;

/** Offline means offline: a fetch is refused (the key source then reports keys unavailable). */
export const noNetwork: FetchFn = () => Promise.reject(new Error("fedbridge CLI: no network access offline"));

export function readConfig(file: string | undefined): LoadedConfig {
  const path = file ?? process.env.FEDBRIDGE_CONFIG;
  if (!path) throw new CliError("config_missing", "give --config FILE (or set FEDBRIDGE_CONFIG)", 2);
  return loadConfigFile(path);
}

export async function signingKeysOf(loaded: LoadedConfig): Promise<SigningKeySet> {
  try {
    return await loadSigningKeys(loaded.config.signing, (p) => resolvePath(loaded.baseDir, p));
  } catch (e) {
    if (e instanceof KeyError) throw new ConfigError([{ path: e.path, message: e.message }]);
    throw e;
  }
}

export function jwtIssuersOf(loaded: LoadedConfig): JwtIssuerRegistry {
  return loadJwtIssuers(loaded.config, loaded.baseDir, { fetch: noNetwork, log: silent });
}

export interface Offline {
  config: Config;
  idps: TrustedIdp[];
  services: ExchangeServices;
}

export async function offlineBridge(loaded: LoadedConfig, now: () => number): Promise<Offline> {
  const { config, baseDir } = loaded;
  const idpList = loadIdps(config, baseDir);
  const idps = new IdpRegistry(idpList);
  // Federation aggregates from files load as in the bridge; a URL aggregate or an MDQ responder
  // would need the network: offline, their entities stay unknown.
  const federations = await loadFederations(config, idps, {
    baseDir, tokenEndpoint: tokenEndpointOf(config), now, log: silent,
    fetch: (() => Promise.reject(new Error("fedbridge CLI: no network access offline"))) as typeof globalThis.fetch,
  });
  const decryptionKeys = loadDecryptionKeys(config.saml, baseDir);
  const jwtIssuers = jwtIssuersOf(loaded);
  const keys = await signingKeysOf(loaded);
  const ownTokens = ownTokenVerifier({ issuer: config.issuer, keys, skewMs: config.tokens.clockSkewSeconds * 1000, maxTokenBytes: config.limits.maxTokenBytes });
  const services: ExchangeServices = {
    issuer: config.issuer,
    tokens: config.tokens,
    limits: config.limits,
    audiences: new Map(config.audiences.map((a) => [a.id, a])),
    delegation: config.delegation,
    tokenVerifiers: withFederationPrefetch(
      buildTokenVerifiers({ decryptionKeys, ownTokens, idps, issuer: config.issuer, saml: config.saml, tokens: config.tokens, limits: config.limits, jwtIssuers }),
      federations,
      { maxDepth: config.limits.maxXmlDepth, maxElements: config.limits.maxXmlElements, maxNodes: config.limits.maxXmlNodes, maxAttributesPerElement: config.limits.maxXmlAttributesPerElement, maxTokenBytes: config.limits.maxTokenBytes },
    ),
    // Empty and private to this process: the dry run only reads it, and the bridge's marks are elsewhere.
    replay: new MemoryReplayStore({ maxEntries: 1_000, now }),
    // In memory and never started: the dry run leaves the limit steps out (admin/explain.ts).
    rateLimits: new RateLimits({ ...config.rateLimits, store: "memory" }, { log: silent }),
    keys,
    log: silent,
  };
  return { config, idps: idpList, services };
}
