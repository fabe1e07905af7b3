import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type RegistryContentType } from "prom-client";

/**
 * The bridge's Prometheus metrics, in a registry of its own (never prom-client's global one: a
 * process may hold several bridges, and each must count only its own exchanges). Every label is
 * bounded (metrics/labels.ts). The series, their labels and example alert rules are listed in the
 * operations documentation.
 */
export const REPLAY_STATES = ["up", "down", "lost", "closed"] as const;
export type ReplayState = (typeof REPLAY_STATES)[number];

/** Seconds: an exchange is a few ms (JWT) to tens of ms (SAML, signing); stalls reach the timeouts. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface TrustedCertificate {
  idp: string;
  fingerprint: string;
  /** ISO instant. */
  notAfter: string;
}

/** Read at scrape time; each set by the composition root once the part exists. */
export interface MetricsSources {
  replayState?: () => Promise<ReplayState>;
  certificates?: () => readonly TrustedCertificate[];
  /** URL-managed IdPs and whether their last metadata refresh failed. */
  refreshFailing?: () => readonly { idp: string; failing: boolean }[];
}

export interface MetricsOptions {
  /** OpenMetrics exposition with exemplars (request_id, trace_id) on the exchange series. */
  exemplars: boolean;
  processMetrics: boolean;
  now: () => number;
}

export type Exemplar = Record<string, string>;

export class BridgeMetrics {
  readonly registry: Registry<RegistryContentType>;
  readonly sources: MetricsSources = {};
  readonly exemplars: boolean;
  readonly #lastRefreshOk = new Map<string, number>();
  readonly #now: () => number;

  readonly exchanges: Counter<"grant_type" | "subject_token_type" | "client" | "source" | "outcome" | "reason">;
  readonly exchangeDuration: Histogram<"grant_type" | "outcome">;
  readonly stepDuration: Histogram<"grant_type" | "step" | "outcome">;
  readonly oauthErrors: Counter<"error" | "reason" | "status">;
  readonly replayDuration: Histogram<"operation" | "outcome">;
  readonly replayErrors: Counter<"operation" | "kind">;
  readonly replayConnectionErrors: Counter;
  readonly adminChanges: Counter<"action" | "outcome">;
  readonly metadataRefreshes: Counter<"idp" | "outcome">;
  readonly jwksFetches: Counter<"issuer" | "outcome">;

  constructor(o: MetricsOptions) {
    this.exemplars = o.exemplars;
    this.#now = o.now;
    this.registry = new Registry<RegistryContentType>();
    // Set before any metric registers (prom-client refuses exemplars on a Prometheus-text registry).
    this.registry.setContentType(o.exemplars ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
    const registers = [this.registry];
    const self = this;

    this.exchanges = new Counter({
      name: "fedbridge_exchanges_total",
      help: "Token requests that reached a grant's pipeline (authenticated client, supported grant_type), by outcome and reason code.",
      labelNames: ["grant_type", "subject_token_type", "client", "source", "outcome", "reason"],
      enableExemplars: o.exemplars, registers,
    });
    this.exchangeDuration = new Histogram({
      name: "fedbridge_exchange_duration_seconds",
      help: "Time of a grant's whole pipeline (request checks, verification, policy, replay mark, signing).",
      labelNames: ["grant_type", "outcome"], buckets: LATENCY_BUCKETS,
      enableExemplars: o.exemplars, registers,
    });
    this.stepDuration = new Histogram({
      name: "fedbridge_exchange_step_duration_seconds",
      help: "Time of each named pipeline step (src/exchange/pipeline.ts), by outcome (ok, refused, error).",
      labelNames: ["grant_type", "step", "outcome"], buckets: LATENCY_BUCKETS, registers,
    });
    this.oauthErrors = new Counter({
      name: "fedbridge_oauth_errors_total",
      help: "OAuth error responses (RFC 6749 §5.2) of every endpoint, by error code, reason code and HTTP status.",
      labelNames: ["error", "reason", "status"], registers,
    });
    this.replayDuration = new Histogram({
      name: "fedbridge_replay_store_operation_duration_seconds",
      help: "Time of one replay-store operation (mark: one-time use; read: the explain dry run).",
      labelNames: ["operation", "outcome"], buckets: LATENCY_BUCKETS, registers,
    });
    this.replayErrors = new Counter({
      name: "fedbridge_replay_store_errors_total",
      help: "Replay-store operations that failed (unavailable: could not answer; lost: closed after a data loss; error: unexpected).",
      labelNames: ["operation", "kind"], registers,
    });
    this.replayConnectionErrors = new Counter({
      name: "fedbridge_replay_store_connection_errors_total",
      help: "Distinct connection errors of the Redis replay store (each new error once, not every reconnect attempt).",
      registers,
    });
    new Gauge({
      name: "fedbridge_replay_store_state",
      help: "1 for the replay store's current state (up, down, lost, closed), 0 for the others (cluster: the number of workers in each state).",
      labelNames: ["state"], registers, aggregator: "sum",
      async collect() {
        const state = await self.sources.replayState?.().catch((): ReplayState => "down");
        for (const s of REPLAY_STATES) this.set({ state: s }, s === state ? 1 : 0);
      },
    });
    this.adminChanges = new Counter({
      name: "fedbridge_admin_changes_total",
      help: "Admin API changes to IdPs by action (create, replace, rotate, refresh, delete) and outcome (applied, refused).",
      labelNames: ["action", "outcome"], registers,
    });
    this.metadataRefreshes = new Counter({
      name: "fedbridge_metadata_refresh_total",
      help: "Metadata refreshes of URL-managed IdPs and federation sources by outcome (changed, unchanged, loaded, failed).",
      labelNames: ["idp", "outcome"], registers,
    });
    new Gauge({
      name: "fedbridge_metadata_refresh_age_seconds",
      help: "Seconds since this instance last refreshed an IdP's metadata successfully.",
      labelNames: ["idp"], registers, aggregator: "min",
      collect() {
        this.reset();
        const now = self.#now();
        for (const [idp, at] of self.#lastRefreshOk) this.set({ idp }, Math.max(0, (now - at) / 1000));
      },
    });
    new Gauge({
      name: "fedbridge_metadata_refresh_failing",
      help: "1 when the last metadata refresh of a URL-managed IdP failed (its previous metadata stays in force).",
      labelNames: ["idp"], registers, aggregator: "max",
      collect() {
        this.reset();
        for (const r of self.sources.refreshFailing?.() ?? []) this.set({ idp: r.idp }, r.failing ? 1 : 0);
      },
    });
    new Gauge({
      name: "fedbridge_certificate_expiry_days",
      help: "Days until each trusted IdP signing certificate expires (negative: expired).",
      labelNames: ["idp", "fingerprint"], registers, aggregator: "min",
      collect() {
        this.reset();
        const now = self.#now();
        for (const c of self.sources.certificates?.() ?? []) {
          const at = Date.parse(c.notAfter);
          if (Number.isFinite(at)) this.set({ idp: c.idp, fingerprint: c.fingerprint }, Math.floor(((at - now) / 86_400_000) * 100) / 100);
        }
      },
    });
    this.jwksFetches = new Counter({
      name: "fedbridge_jwks_fetches_total",
      help: "Fetches of JWT issuers' JWKS and discovery documents by issuer id and outcome (ok, or the failure: timeout, unreachable, http_status, too_large, malformed, …).",
      labelNames: ["issuer", "outcome"], registers,
    });
    if (o.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** A successful metadata refresh of `idp` (for fedbridge_metadata_refresh_age_seconds). */
  refreshSucceeded(idp: string): void {
    this.#lastRefreshOk.set(idp, this.#now());
  }

  /** Prometheus text (0.0.4) or OpenMetrics 1.0 (with exemplars), per the registry's type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
