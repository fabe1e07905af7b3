import { readFileSync } from "node:fs";
import type { Express } from "express";
import { ConfigError, resolvePath, type LoadedConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { ClientRegistry } from "./clients/registry.js";
import { IdpRegistry, type TrustedIdp } from "./saml/idp-registry.js";
import { MetadataError, parseIdpMetadata } from "./saml/metadata.js";
import { KeyError, loadSigningKeys } from "./tokens/signing-keys.js";
import { MemoryReplayStore } from "./replay/memory.js";
import { RedisReplayStore } from "./replay/redis.js";
import type { ReplayStore } from "./replay/store.js";
import { buildTokenVerifiers } from "./subject/verifiers.js";
import { tokenExchangeGrant } from "./grants/token-exchange.js";
import { saml2BearerGrant } from "./grants/saml2-bearer.js";
import { ownTokenVerifier } from "./tokens/self-token.js";
import { createApp } from "./http/app.js";
import type { ExchangeServices } from "./exchange/services.js";
import type { Logger } from "./log/logger.js";

/**
 * Composition root: turns a validated config into a running app. Every file the config names is
 * read here, and any problem is reported as a ConfigError with the config path of the bad field.
 */
export interface Bridge {
  app: Express;
  services: ExchangeServices;
  close(): Promise<void>;
}

export interface BridgeOptions {
  now: () => number;
  log: Logger;
  /** Replace the configured replay store (tests use this to point at a specific Redis). */
  replay?: ReplayStore;
}

export function loadIdps(config: Pick<Config, "samlIdps" | "issuer" | "tokenEndpoint">, baseDir: string): TrustedIdp[] {
  // RFC 7522 §3: the Recipient MUST match the token endpoint, so that is the default; an IdP whose
  // assertions were addressed elsewhere (a legacy app's ACS) lists those URLs explicitly.
  const defaultRecipients = [tokenEndpointOf(config)];
  return config.samlIdps.map((idp, i) => {
    const path = `samlIdps[${i}]`;
    let xml: string;
    try {
      xml = readFileSync(resolvePath(baseDir, idp.metadataFile), "utf8");
    } catch (e) {
      throw new ConfigError([{ path: `${path}.metadataFile`, message: `cannot read ${idp.metadataFile} (${(e as NodeJS.ErrnoException).code ?? "error"})` }]);
    }
    try {
      const metadata = parseIdpMetadata(xml, idp.entityId);
      return {
        id: idp.id,
        metadata,
        policy: {
          allowSha1: idp.allowSha1,
          requireSignedAssertion: idp.requireSignedAssertion,
          recipients: idp.recipients ?? defaultRecipients,
          maxAssertionAgeMs: idp.maxAssertionAgeSeconds * 1000,
        },
        mapping: idp.mapping,
      };
    } catch (e) {
      if (e instanceof MetadataError) throw new ConfigError([{ path: `${path}.metadataFile`, message: e.message }]);
      throw e;
    }
  });
}

function createReplayStore(config: Config["replay"], options: BridgeOptions): ReplayStore {
  if (options.replay) return options.replay;
  if (config.store === "redis") {
    const store = new RedisReplayStore({
      url: config.redisUrl!,
      keyPrefix: config.keyPrefix,
      timeoutMs: config.timeoutMs,
      onEvent: (event, detail) => options.log({ event, detail: detail?.slice(0, 200) }),
    });
    store.start();
    return store;
  }
  return new MemoryReplayStore({ maxEntries: config.memoryMaxEntries, now: options.now });
}

export async function createBridge(loaded: LoadedConfig, options: BridgeOptions): Promise<Bridge> {
  const { config, baseDir } = loaded;
  const idps = new IdpRegistry(loadIdps(config, baseDir));
  let keys;
  try {
    keys = await loadSigningKeys(config.signing, (p) => resolvePath(baseDir, p));
  } catch (e) {
    if (e instanceof KeyError) throw new ConfigError([{ path: e.path, message: e.message }]);
    throw e;
  }
  const replay = createReplayStore(config.replay, options);
  const services: ExchangeServices = {
    issuer: config.issuer,
    tokens: config.tokens,
    limits: config.limits,
    audiences: new Map(config.audiences.map((a) => [a.id, a])),
    delegation: config.delegation,
    tokenVerifiers: buildTokenVerifiers({
      idps, issuer: config.issuer, keys, saml: config.saml, tokens: config.tokens, limits: config.limits,
    }),
    replay,
    keys,
    log: options.log,
  };
  const app = createApp({
    services,
    clients: new ClientRegistry(config.clients),
    grants: [tokenExchangeGrant, saml2BearerGrant],
    tokenEndpoint: tokenEndpointOf(config),
    verifyOwnToken: ownTokenVerifier({
      issuer: config.issuer, keys, skewMs: config.tokens.clockSkewSeconds * 1000, maxTokenBytes: config.limits.maxTokenBytes,
    }),
    now: options.now,
  });
  return { app, services, close: () => replay.close() };
}

export function tokenEndpointOf(config: Pick<Config, "issuer" | "tokenEndpoint">): string {
  return config.tokenEndpoint ?? `${config.issuer.replace(/\/+$/, "")}/token`;
}
