import { readFileSync } from "node:fs";
import type { Express } from "express";
import { ConfigError, resolvePath, type LoadedConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { ClientRegistry } from "./clients/registry.js";
import { PrivateKeyJwtVerifier } from "./clients/private-key-jwt.js";
import { MtlsVerifier } from "./clients/mtls.js";
import { IdpRegistry, trustedIdp, type TrustedIdp } from "./saml/idp-registry.js";
import { MetadataError, parseIdpMetadata } from "./saml/metadata.js";
import { KeyError, loadSigningKeys } from "./tokens/signing-keys.js";
import { MemoryReplayStore } from "./replay/memory.js";
import { RedisReplayStore } from "./replay/redis.js";
import { connectionOf, topologyOf } from "./redis/settings.js";
import type { ReplayStore } from "./replay/store.js";
import { lostStoreWindowMs } from "./replay/window.js";
import { buildTokenVerifiers } from "./subject/verifiers.js";
import { loadJwtIssuers } from "./jwt/registry.js";
import type { FetchFn } from "./jwt/keys.js";
import { tokenExchangeGrant } from "./grants/token-exchange.js";
import { saml2BearerGrant } from "./grants/saml2-bearer.js";
import { jwtBearerGrant } from "./grants/jwt-bearer.js";
import { idJagVerifier } from "./idjag/verify.js";
import { ownTokenVerifier } from "./tokens/self-token.js";
import { createApp } from "./http/app.js";
import { Telemetry, watch } from "./metrics/telemetry.js";
import type { Readiness } from "./http/routes/health.js";
import { setupAdmin } from "./admin/setup.js";
import { explainRoute } from "./admin/explain.js";
import type { IdpManager } from "./admin/idp-manager.js";
import { loadDecryptionKeys } from "./saml/decryption-keys.js";
import { spMetadataSource } from "./saml/sp-metadata.js";
import { TOKEN_TYPES } from "./oauth/constants.js";
import type { ExchangeServices } from "./exchange/services.js";
import type { Logger } from "./log/logger.js";
import { onboardingNamespaceProblem } from "./policy/subject-namespace.js";
import { RateLimits } from "./limits/rate-limits.js";
import { failedAuthGuard } from "./limits/failed-auth.js";
import { limitsRedisConnection } from "./limits/redis-client.js";
import { loadFederations, withFederationPrefetch, type Federations } from "./federation/setup.js";
import { DpopVerifier } from "./dpop/verifier.js";

/**
 * Composition root: turns a validated config into a running app. Every file the config names is
 * read here, and any problem is reported as a ConfigError with the config path of the bad field.
 */
export interface Bridge {
  app: Express;
  services: ExchangeServices;
  /** Run-time IdP management, when `admin` is configured. */
  admin?: IdpManager;
  /** Metrics registry, tracing and logger of this bridge (metrics/telemetry.ts). */
  telemetry: Telemetry;
  /** Federation sources (`samlFederations`): aggregates and MDQ responders. */
  federations: Federations;
  close(): Promise<void>;
}

export interface BridgeOptions {
  now: () => number;
  log: Logger;
  /** Replace the configured replay store (tests use this to point at a specific Redis). */
  replay?: ReplayStore;
  /** Admin refresh/warning tick (default 5 s; 0 = none, tests call manager.tick()). */
  adminTickMs?: number;
  /** fetch for URL metadata (default globalThis.fetch). */
  metadataFetch?: typeof globalThis.fetch;
  /** fetch for JWT issuers' JWKS and discovery documents (default globalThis.fetch; tests count requests). */
  fetch?: FetchFn;
  /** Per-request timeout of those fetches (default 5000 ms). */
  keyFetchTimeoutMs?: number;
  /** Refresh tick of federation aggregates (default 5 s; 0 = none, tests call federations.tick()). */
  federationTickMs?: number;
  /** fetch for federation aggregates and MDQ (default: metadataFetch, else globalThis.fetch). */
  federationFetch?: typeof globalThis.fetch;
  /** The process's drain flag (main.ts raises it on SIGTERM): /readyz answers 503 once it is up. */
  readiness?: Readiness;
}

export function loadIdps(config: Pick<Config, "samlIdps" | "issuer" | "tokenEndpoint">, baseDir: string): TrustedIdp[] {
  const tokenEndpoint = tokenEndpointOf(config);
  const seen = new Map<string, number>();
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
      // The bridge's issuer is the namespace of its clients and its own tokens: no IdP may share it.
      if (metadata.entityId === config.issuer) throw new MetadataError("entityID must differ from the bridge's own issuer");
      // The Issuer of an assertion selects its IdP: one entityID, one IdP.
      const other = seen.get(metadata.entityId);
      if (other !== undefined) throw new MetadataError(`entityID ${metadata.entityId} is also samlIdps[${other}]'s`);
      seen.set(metadata.entityId, i);
      return trustedIdp(idp.id, metadata, idp, tokenEndpoint);
    } catch (e) {
      if (e instanceof MetadataError) throw new ConfigError([{ path: `${path}.metadataFile`, message: e.message }]);
      throw e;
    }
  });
}


/** The replay store, not yet started (a Redis store connects once every IdP is known: replay/window.ts). */
function createReplayStore(config: Config["replay"], options: BridgeOptions, lostWindowMs: () => number): ReplayStore & { start?(): void } {
  if (options.replay) return options.replay;
  if (config.store === "redis") {
    return new RedisReplayStore({
      redis: connectionOf(config),
      keyPrefix: config.keyPrefix,
      timeoutMs: config.timeoutMs,
      now: options.now,
      lostWindowMs,
      // Fail closed by default on replicated stores (security review): the mark counter cannot see a
      // lost mark once another instance's marks have raised the counter again, so only a quarantine
      // after every server change guarantees no replay there (docs/operations.md, Redis topologies).
      quarantineOnServerChange: config.quarantineOnServerChange ?? topologyOf(connectionOf(config)) !== "single",
      initializeEmptyStore: config.initializeEmptyStore,
      waitReplicas: config.waitReplicas,
      waitTimeoutMs: config.waitTimeoutMs,
      log: options.log,
    });
  }
  return new MemoryReplayStore({ maxEntries: config.memoryMaxEntries, now: options.now });
}

export async function createBridge(loaded: LoadedConfig, options: BridgeOptions): Promise<Bridge> {
  const { config, baseDir } = loaded;
  // Observability first: every part below logs through the bridge's logger (levels, request ids,
  // redaction, log-derived metrics).
  const telemetry = new Telemetry(config, { now: options.now, log: options.log });
  options = { ...options, log: telemetry.log };
  const tokenEndpoint = tokenEndpointOf(config);
  const configIdps = loadIdps(config, baseDir);
  const idps = new IdpRegistry(configIdps);
  // Federation sources are consulted after the local IdPs (src/federation, docs/federation.md).
  const federations = await loadFederations(config, idps, {
    baseDir, tokenEndpoint, now: options.now, log: options.log, fetch: options.federationFetch ?? options.metadataFetch,
  });
  const decryptionKeys = loadDecryptionKeys(config.saml, baseDir);
  const jwtIssuers = loadJwtIssuers(config, baseDir, {
    fetch: options.fetch, timeoutMs: options.keyFetchTimeoutMs, log: options.log, onKeysFetched: (id) => telemetry.keysFetched(id),
  });
  let keys;
  try {
    keys = await loadSigningKeys(config.signing, (p) => resolvePath(baseDir, p));
  } catch (e) {
    if (e instanceof KeyError) throw new ConfigError([{ path: e.path, message: e.message }]);
    throw e;
  }
  // One verifier of the bridge's own tokens, for next-hop exchanges and introspection alike.
  const ownTokens = ownTokenVerifier({
    issuer: config.issuer, keys, skewMs: config.tokens.clockSkewSeconds * 1000, maxTokenBytes: config.limits.maxTokenBytes,
  });
  // A lost replay store stays closed while any token it forgot could still pass its time checks:
  // computed when the loss is noticed, over every IdP then known (admin-managed ones included).
  const replay = telemetry.observeReplay(createReplayStore(config.replay, options, () => lostStoreWindowMs({
    skewMs: config.tokens.clockSkewSeconds * 1000,
    samlMaxAgesMs: idps.all().map((i) => i.policy.maxAssertionAgeMs),
    jwtLifetimesMs: [
      ...config.jwtIssuers.filter((j) => j.oneTimeUse).map((j) => j.maxLifetimeSeconds * 1000),
      // ID-JAGs are one-time too (src/idjag/verify.ts): a forgotten one stays presentable this long.
      ...config.jwtIssuers.flatMap((j) => (j.idJag ? [j.idJag.maxLifetimeSeconds * 1000] : [])),
    ],
  })));
  // Rate limits (src/limits): in this process, or shared through the replay store's Redis.
  const rateLimits = new RateLimits(config.rateLimits, {
    log: options.log,
    ...(config.rateLimits.store === "redis" ? { redis: limitsRedisConnection(config.replay, config.rateLimits.timeoutMs, options.log) } : {}),
  });
  const services: ExchangeServices = {
    issuer: config.issuer,
    tokens: config.tokens,
    limits: config.limits,
    audiences: new Map(config.audiences.map((a) => [a.id, a])),
    delegation: config.delegation,
    // MDQ: the entity a SAML token claims is fetched before the synchronous verification (federation/claimed-issuer.ts).
    tokenVerifiers: withFederationPrefetch(buildTokenVerifiers({
      decryptionKeys, ownTokens,
      idps, issuer: config.issuer, saml: config.saml, tokens: config.tokens, limits: config.limits, jwtIssuers,
    }), federations, {
      maxDepth: config.limits.maxXmlDepth, maxElements: config.limits.maxXmlElements, maxNodes: config.limits.maxXmlNodes,
      maxAttributesPerElement: config.limits.maxXmlAttributesPerElement, maxTokenBytes: config.limits.maxTokenBytes,
    }),
    replay,
    rateLimits,
    keys,
    log: options.log,
    observer: telemetry.observer(),
    // Cross-App Access (src/idjag): the servers ID-JAGs are issued for, and the issuers whose are taken.
    crossAppAccess: {
      servers: new Map(config.resourceAuthorizationServers.map((r) => [r.issuer, r])),
      verifyGrant: jwtIssuers.issuers.some((i) => i.idJag)
        ? idJagVerifier({ issuers: jwtIssuers, audience: config.issuer, skewSeconds: config.tokens.clockSkewSeconds, maxTokenBytes: config.limits.maxTokenBytes })
        : undefined,
    },
    // DPoP proofs (RFC 9449): htu is the configured token endpoint; jtis go to the same replay store.
    dpop: new DpopVerifier(config.dpop, { tokenEndpoint, replay, baseDir }),
  };
  const admin = config.admin
    ? await setupAdmin(config.admin, {
      baseDir, configIdps, reservedIds: config.jwtIssuers.map((j) => j.id), bridgeIssuer: config.issuer, registry: idps, tokenEndpoint, log: options.log, now: options.now,
      ...(options.adminTickMs !== undefined ? { tickMs: options.adminTickMs } : {}),
      ...(options.metadataFetch ? { fetch: options.metadataFetch } : {}),
      subjectNamespace: (candidate, adminIdps) => onboardingNamespaceProblem(config, candidate, adminIdps),
      extendRoutes: (router) => explainRoute(router, {
        services, clients: config.clients, now: options.now, log: options.log, userDirectory: config.userDirectory, knows: (id) => idps.all().some((i) => i.id === id),
      }),
    })
    : undefined;
  // private_key_jwt clients' keys are read (and a bad JWKS refused) before anything starts.
  const clientAssertions = new PrivateKeyJwtVerifier(config.clients, {
    issuer: config.issuer, tokenEndpoint, replay, now: options.now, clockSkewSeconds: config.tokens.clockSkewSeconds, baseDir,
    fetch: options.fetch, keyFetchTimeoutMs: options.keyFetchTimeoutMs, log: options.log,
  });
  // Mutual-TLS clients (RFC 8705 §2): their match values and registered certificates, checked now.
  const clientCertificates = new MtlsVerifier(config.clients, {
    baseDir, now: options.now, log: options.log, fetch: options.fetch, timeoutMs: options.keyFetchTimeoutMs,
  });
  replay.start?.();
  rateLimits.start();
  const app = createApp({
    ...(admin ? { extraRoutes: [admin.routes], readinessDetail: () => ({ idp_refresh_failures: admin.manager.refreshFailures() }) } : {}),
    services,
    clients: new ClientRegistry(config.clients, config.clientAuth, failedAuthGuard(rateLimits, new Set(config.clients.map((c) => c.id))),
      clientAssertions, clientCertificates),
    trustProxy: config.server.trustProxy,
    // jwt-bearer only while some issuer's ID-JAGs are accepted: discovery lists only what works.
    grants: [tokenExchangeGrant, saml2BearerGrant, ...(services.crossAppAccess?.verifyGrant ? [jwtBearerGrant] : [])],
    tokenEndpoint,
    samlMetadata: spMetadataSource({
      entityId: config.saml.entityId,
      tokenEndpoint,
      keys: decryptionKeys,
      saml11: services.tokenVerifiers.has(TOKEN_TYPES.saml1),
      // `?idp=`: config and admin-managed SAML IdPs alike.
      knows: (id) => idps.all().some((i) => i.id === id),
    }),
    verifyOwnToken: ownTokens,
    now: options.now,
    ...(options.readiness ? { readiness: options.readiness } : {}),
    metricsRoute: telemetry.mainRoute(),
  });
  telemetry.attach(app);
  watch(telemetry, {
    config, idps, tokenTypes: services.tokenVerifiers, admin: admin?.manager,
    grantTypes: [tokenExchangeGrant, saml2BearerGrant, jwtBearerGrant].map((g) => g.grantType),
  });
  federations.start(options.federationTickMs ?? 5_000);
  const closeParts = async (): Promise<void> => {
    federations.close();
    await admin?.close();
    await replay.close();
    await rateLimits.close();
    await telemetry.close();
  };
  // The metrics port (metrics.port), if any: a failure to listen stops start-up like the main one.
  await telemetry.start().catch(async (e: unknown) => {
    await closeParts().catch(() => undefined);
    throw e;
  });
  return {
    app, services, ...(admin ? { admin: admin.manager } : {}),
    telemetry,
    federations,
    close: closeParts,
  };
}

export function tokenEndpointOf(config: Pick<Config, "issuer" | "tokenEndpoint">): string {
  return config.tokenEndpoint ?? `${config.issuer.replace(/\/+$/, "")}/token`;
}
