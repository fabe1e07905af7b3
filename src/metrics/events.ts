import type { LogEvent } from "../log/logger.js";
import type { BridgeMetrics } from "./metrics.js";
import { bounded, code } from "./labels.js";

/**
 * Metrics derived from the bridge's structured log events: the admin API, the metadata refresher,
 * the JWT key fetcher and the Redis client already write one event per fact, so they are counted
 * where they are logged, with no second code path that could disagree with the log.
 * The event names below are the contract (test/metrics/sources.test.ts exercises each one).
 * Successful JWKS fetches are not logged: jwt/keys.ts reports them through `onFetched`.
 */
const ADMIN_ACTIONS = new Set(["create", "replace", "rotate", "refresh", "delete"]);

export function metricsTap(metrics: BridgeMetrics, known: { source(id: string): boolean }): (e: LogEvent) => void {
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  return (e) => {
    switch (e.event) {
      case "admin_audit":
        metrics.adminChanges.inc({ action: bounded(str(e.action), (a) => ADMIN_ACTIONS.has(a)), outcome: "applied" });
        break;
      case "admin_refused":
        metrics.adminChanges.inc({ action: bounded(str(e.action), (a) => ADMIN_ACTIONS.has(a)), outcome: "refused" });
        break;
      case "idp_refreshed": {
        const idp = bounded(str(e.idp), known.source);
        metrics.metadataRefreshes.inc({ idp, outcome: e.changed === true ? "changed" : "unchanged" });
        metrics.refreshSucceeded(idp);
        break;
      }
      case "idp_refresh_failed":
        metrics.metadataRefreshes.inc({ idp: bounded(str(e.idp), known.source), outcome: "failed" });
        break;
      // Federation sources (src/federation): `idp` is the federation's id (a config id, never an
      // entityID: those are unbounded), outcome `loaded` for a verified aggregate swapped in.
      case "federation_loaded": {
        const idp = bounded(str(e.federation), known.source);
        metrics.metadataRefreshes.inc({ idp, outcome: "loaded" });
        metrics.refreshSucceeded(idp);
        break;
      }
      case "federation_refresh_failed":
      case "federation_mdq_failed":
        metrics.metadataRefreshes.inc({ idp: bounded(str(e.federation), known.source), outcome: "failed" });
        break;
      case "jwt_issuer_keys_unavailable":
        metrics.jwksFetches.inc({ issuer: bounded(str(e.issuer), known.source), outcome: code(str(e.reason)) });
        break;
      case "redis_error":
        metrics.replayConnectionErrors.inc();
        break;
      default:
    }
  };
}
