import cluster from "node:cluster";
import { createServer, type Server } from "node:http";
import express from "express";
import { AggregatorRegistry, type Registry, type RegistryContentType } from "prom-client";
import type { Config } from "../config/schema.js";
import { metricsRoute } from "../http/routes/metrics.js";
import { listen, urlOf } from "../http/server.js";

/**
 * Metrics under `npm run start:cluster` (src/cluster.ts): every worker counts in its own registry,
 * and the primary serves their aggregate on metrics.port (prom-client's AggregatorRegistry: it
 * asks every worker over the cluster IPC channel at each scrape). A worker never serves metrics
 * itself: workers share their listening sockets, so a scrape of a worker's port would reach
 * whichever worker took the connection and see a fraction of the counts (and apparent counter
 * resets). Counters and histograms are summed; gauges say how they combine (metrics.ts
 * `aggregator`). Exemplars do not survive aggregation: the primary writes the Prometheus text format.
 */
export function inClusterWorker(): boolean {
  return cluster.isWorker;
}

/** In a cluster worker: answer the primary's requests with this registry. */
export function shareWithPrimary(registry: Registry<RegistryContentType>): void {
  new AggregatorRegistry(); // installs the worker's IPC listener (idempotent)
  AggregatorRegistry.setRegistries([registry as Registry]);
}

/** In the primary: serve the workers' aggregate at GET /metrics on metrics.port. */
export async function serveClusterMetrics(config: Config["metrics"]): Promise<{ url: string; server: Server } | undefined> {
  if (!config.enabled || config.port === undefined) return undefined;
  const aggregator = new AggregatorRegistry();
  const app = express();
  app.disable("x-powered-by");
  app.use(metricsRoute(async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }), { tokenHash: config.tokenHash }));
  app.use((_req, res) => {
    res.status(404).json({ error: "not_found" });
  });
  const server = createServer(app);
  return { url: urlOf(await listen(server, config.port, config.host)), server };
}
