import { createHash, timingSafeEqual } from "node:crypto";
import { Router } from "express";
/** The exposition to serve: one bridge's registry, or (cluster primary) every worker's, summed. */
export type Scrape = () => Promise<{ contentType: string; body: string }>;

/**
 * GET /metrics: the bridge's Prometheus metrics (OpenMetrics 1.0 with exemplars, or the Prometheus
 * text format 0.0.4: config metrics.exemplars). With metrics.tokenHash set, a scrape must present
 * that bearer token (RFC 6750 §2.1), compared as SHA-256 digests in constant time; otherwise 401
 * with a Bearer challenge (RFC 6750 §3). The series name configured clients and IdPs, so an
 * unprotected endpoint belongs on a private port (metrics.port) only.
 */
export function metricsRoute(scrape: Scrape, options: { tokenHash?: string | undefined }): Router {
  const router = Router();
  const expected = options.tokenHash === undefined ? undefined : Buffer.from(options.tokenHash.slice("sha256:".length), "base64url");
  router.get("/metrics", (req, res, next) => {
    if (expected !== undefined) {
      const m = /^Bearer ([\x21-\x7E]{1,512})$/.exec(req.headers.authorization ?? "");
      const presented = createHash("sha256").update(m?.[1] ?? "").digest();
      // Hash first, compare always: the answer's time does not depend on how much of it matched.
      if (!(timingSafeEqual(presented, expected) && m)) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="fedbridge-metrics"');
        res.status(401).json({ error: "unauthorized" });
        return;
      }
    }
    scrape().then(({ contentType, body }) => {
      res.setHeader("Content-Type", contentType);
      res.status(200).send(body);
    }, next);
  });
  return router;
}
