import { createServer, type Server } from "node:http";
import express, { type Express, type Router } from "express";
import type { Config } from "../config/schema.js";
import { bridgeLogger, type Logger } from "../log/logger.js";
import { listen, urlOf } from "../http/server.js";
import { metricsRoute } from "../http/routes/metrics.js";
import { observeOAuthErrors } from "../http/error-response.js";
import type { ReplayStore } from "../replay/store.js";
import type { PipelineObserver } from "../exchange/pipeline.js";
import { createTracing, type Tracing } from "../tracing/tracer.js";
import { BridgeMetrics, type MetricsSources } from "./metrics.js";
import { metricsTap } from "./events.js";
import { observedReplayStore } from "./replay.js";
import { exchangeObserver, type KnownValues } from "./exchange-observer.js";
import { bounded, code } from "./labels.js";
import { inClusterWorker, shareWithPrimary } from "./cluster.js";

/**
 * A bridge's observability, built from config `metrics`, `tracing` and `log`: its metrics
 * registry, its logger (levels, request ids, redaction, log-derived metrics), the pipeline
 * observer (step metrics and spans), the /metrics route or its own listener, and the OTLP exporter.
 * The composition root (bootstrap.ts) creates one per bridge and closes it with the bridge.
 */
export type TelemetryConfig = Pick<Config, "metrics" | "tracing" | "log" | "samlFederations">;

export class Telemetry {
  readonly metrics: BridgeMetrics;
  readonly tracing: Tracing | undefined;
  readonly log: Logger;
  /** URL of the separate metrics listener (metrics.port), once started. */
  metricsUrl: string | undefined;
  #known: KnownValues;
  #server: Server | undefined;

  constructor(readonly config: TelemetryConfig, o: { now: () => number; log: Logger }) {
    // Process metrics only when served: prom-client samples the event loop on a timer of its own,
    // which a bridge that is never scraped (or one of the many a test process builds) need not run.
    this.metrics = new BridgeMetrics({
      exemplars: config.metrics.exemplars, processMetrics: config.metrics.enabled && config.metrics.processMetrics, now: o.now,
    });
    // Federation ids are known from the config: their sources load (and log) before watch() runs.
    const federations = new Set(config.samlFederations.map((f) => f.id));
    this.#known = { grantType: () => false, client: () => false, source: (id) => federations.has(id), tokenType: () => false };
    const tap = metricsTap(this.metrics, { source: (id) => this.#known.source(id) });
    this.log = bridgeLogger(o.log, { minLevel: config.log.level, tap });
    this.tracing = config.tracing.enabled && config.tracing.otlpEndpoint
      ? createTracing({
        otlpEndpoint: config.tracing.otlpEndpoint, serviceName: config.tracing.serviceName,
        sampleRatio: config.tracing.sampleRatio, exportTimeoutMs: config.tracing.exportTimeoutMs,
      })
      : undefined;
  }

  /** The closed sets labels are drawn from (evaluated at each use: admin-managed IdPs come and go). */
  know(known: KnownValues): void {
    this.#known = known;
  }

  /** Scrape-time sources (certificates, metadata refresh status). */
  sources(s: Omit<MetricsSources, "replayState">): void {
    Object.assign(this.metrics.sources, s);
  }

  /** A JWT issuer's fetcher got a JWKS or discovery document (jwt/keys.ts). */
  keysFetched(issuerId: string): void {
    this.metrics.jwksFetches.inc({ issuer: bounded(issuerId, (id) => this.#known.source(id)), outcome: "ok" });
  }

  observeReplay<S extends ReplayStore & { start?(): void }>(store: S): ReplayStore & { start?(): void } {
    return observedReplayStore(store, this.metrics);
  }

  observer(): PipelineObserver {
    return exchangeObserver(this.metrics, {
      grantType: (v) => this.#known.grantType(v),
      client: (v) => this.#known.client(v),
      source: (v) => this.#known.source(v),
      tokenType: (v) => this.#known.tokenType(v),
    }, this.tracing);
  }

  /** Request ids and trace context for the app, and the count of its OAuth error responses. */
  attach(app: Express): void {
    observeOAuthErrors(app, (error, reason, status) => {
      this.metrics.oauthErrors.inc({ error: code(error), reason: code(reason), status: String(status) });
    });
  }

  /**
   * GET /metrics for the main app: only when enabled and not on a port of its own, and never in a
   * cluster worker (its answer would be one random worker's share: metrics/cluster.ts).
   */
  mainRoute(): Router | undefined {
    const m = this.config.metrics;
    return m.enabled && m.port === undefined && !inClusterWorker() ? metricsRoute(() => this.metrics.scrape(), { tokenHash: m.tokenHash }) : undefined;
  }

  /**
   * Starts the separate metrics listener (metrics.port on metrics.host), when configured; in a
   * cluster worker, hands the registry to the primary instead, which serves the aggregate there.
   */
  async start(): Promise<void> {
    const m = this.config.metrics;
    if (!m.enabled) return;
    if (inClusterWorker()) {
      shareWithPrimary(this.metrics.registry);
      return;
    }
    if (m.port === undefined) return;
    const app = express();
    app.disable("x-powered-by");
    app.use(metricsRoute(() => this.metrics.scrape(), { tokenHash: m.tokenHash }));
    app.use((_req, res) => {
      res.status(404).json({ error: "not_found" });
    });
    this.#server = createServer(app);
    this.metricsUrl = urlOf(await listen(this.#server, m.port, m.host));
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await this.tracing?.shutdown().catch(() => undefined);
  }
}

/** What `watch` reads the closed label sets and scrape-time gauges from. */
export interface WatchedBridge {
  config: Pick<Config, "clients" | "jwtIssuers">;
  grantTypes: readonly string[];
  /** SAML IdPs in force (config and admin-managed): their ids and signing certificates. */
  idps: { all(): readonly { id: string; metadata: { certificates: readonly { fingerprint: string; notAfter: string }[] } }[] };
  tokenTypes: { has(uri: string): boolean };
  /** The admin IdP manager, when admin is configured: URL-managed IdPs' refresh status. */
  admin?: { list(): readonly { id: string; source: string; lastRefreshError: string | undefined }[] } | undefined;
}

/** Wires a bridge's parts into its telemetry (bootstrap.ts calls this once the parts exist). */
export function watch(telemetry: Telemetry, b: WatchedBridge): void {
  const clients = new Set(b.config.clients.map((c) => c.id));
  const jwtIssuers = new Set(b.config.jwtIssuers.map((j) => j.id));
  telemetry.know({
    grantType: (g) => b.grantTypes.includes(g),
    client: (id) => clients.has(id),
    // SELF: the bridge's own access tokens (subject/types.ts).
    source: (id) => id === "self" || jwtIssuers.has(id) || b.idps.all().some((i) => i.id === id),
    tokenType: (t) => b.tokenTypes.has(t),
  });
  telemetry.sources({
    certificates: () => b.idps.all().flatMap((i) => i.metadata.certificates.map((c) => ({ idp: i.id, fingerprint: c.fingerprint, notAfter: c.notAfter }))),
    ...(b.admin ? { refreshFailing: () => b.admin!.list().filter((v) => v.source === "url").map((v) => ({ idp: v.id, failing: v.lastRefreshError !== undefined })) } : {}),
  });
}
