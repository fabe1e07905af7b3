import { readFileSync } from "node:fs";
import { Router } from "express";
import { ConfigError, resolvePath } from "../config/load.js";
import type { AdminConfig } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import type { IdpRegistry, TrustedIdp } from "../saml/idp-registry.js";
import { MetadataError, trustedKeyFromCertificate } from "../saml/metadata.js";
import type { TrustedKey } from "../xml/signature.js";
import { adminRoutes } from "../http/routes/admin.js";
import { adminPageRoutes } from "../http/routes/admin-page.js";
import { IdpManager, type IdpManagerDeps } from "./idp-manager.js";
import { FileIdpStore } from "./file-store.js";
import { RedisIdpStore } from "./redis-store.js";
import type { IdpRecordStore } from "./store.js";

/** Builds the admin side from its config slice: store, manager, routes, the refresh timer. */
export interface AdminSetup {
  manager: IdpManager;
  routes: Router;
  close(): Promise<void>;
}

export async function setupAdmin(
  config: AdminConfig,
  deps: {
    baseDir: string;
    configIdps: readonly TrustedIdp[];
    /** Ids of other config entries (JWT issuers) an admin record may not take. */
    reservedIds: readonly string[];
    bridgeIssuer: string;
    registry: IdpRegistry;
    tokenEndpoint: string;
    log: Logger;
    now: () => number;
    fetch?: typeof globalThis.fetch;
    /** Tick period of refreshes and certificate warnings (default 5 s; 0 = no timer, tests tick). */
    tickMs?: number;
    extendRoutes?: (router: Router) => void;
    /** The subject-namespace rule for onboarding (IdpManagerDeps.subjectNamespace). */
    subjectNamespace?: IdpManagerDeps["subjectNamespace"];
  },
): Promise<AdminSetup> {
  const pinned: TrustedKey[] = config.metadataSigningCertFiles.map((file, i) => {
    try {
      return trustedKeyFromCertificate(readFileSync(resolvePath(deps.baseDir, file), "utf8"));
    } catch (e) {
      const why = e instanceof MetadataError ? e.message : `cannot read ${file}`;
      throw new ConfigError([{ path: `admin.metadataSigningCertFiles[${i}]`, message: why }]);
    }
  });
  let store: IdpRecordStore;
  const limits = { timeoutMs: config.storeTimeoutMs, auditMaxEntries: config.auditMaxEntries };
  if (config.store.kind === "file") {
    store = new FileIdpStore(resolvePath(deps.baseDir, config.store.directory), limits);
  } else {
    const redis = new RedisIdpStore({ url: config.store.redisUrl, redis: config.store.redis, keyPrefix: config.store.keyPrefix, ...limits });
    // Start-up needs the records: an unreachable Redis stops it with a clear message, not a hang.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConfigError([{ path: "admin.store.redisUrl", message: "Redis did not answer within 5 s" }])), 5_000);
    });
    try {
      await Promise.race([redis.connect(), timeout]);
    } catch (e) {
      await redis.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    store = redis;
  }
  const manager = new IdpManager({
    config, configIdps: deps.configIdps, reservedIds: deps.reservedIds, bridgeIssuer: deps.bridgeIssuer, store, registry: deps.registry, pinned,
    tokenEndpoint: deps.tokenEndpoint, log: deps.log, now: deps.now, fetch: deps.fetch ?? globalThis.fetch,
    ...(deps.subjectNamespace ? { subjectNamespace: deps.subjectNamespace } : {}),
  });
  await manager.start();
  const tickMs = deps.tickMs ?? 5_000;
  const timer = tickMs > 0 ? setInterval(() => void manager.tick().catch(() => undefined), tickMs) : undefined;
  timer?.unref();
  return {
    manager,
    routes: Router().use(adminPageRoutes(), adminRoutes({ config, manager, log: deps.log, ...(deps.extendRoutes ? { extend: deps.extendRoutes } : {}) })),
    close: async () => {
      if (timer) clearInterval(timer);
      await store.close();
    },
  };
}
