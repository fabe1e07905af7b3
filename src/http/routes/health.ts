import { Router } from "express";
import type { ReplayStore } from "../../replay/store.js";

/**
 * Whether this process should be sent new traffic. The config, the signing keys and every IdP's
 * metadata are loaded before the port opens (any failure there is exit 1, main.ts), so a process
 * that answers at all has them; what can change afterwards is the replay store (replay/redis.ts)
 * and this flag, which main.ts raises on SIGTERM/SIGINT before it stops accepting connections.
 */
export class Readiness {
  #draining = false;

  get draining(): boolean {
    return this.#draining;
  }

  /** From now on /readyz answers 503 `draining`; there is no way back (the process is stopping). */
  drain(): void {
    this.#draining = true;
  }
}

/**
 * /healthz: liveness, the process answers (200 even while draining: restarting a process that is
 * finishing its exchanges would cut them off). /readyz: it can also do its job and should get new
 * traffic: not draining, and the replay store answers and has not lost its data (a lost store is
 * closed until `replay_store_reopens_at`, replay/redis.ts).
 */
export function healthRoutes(replay: ReplayStore, detail?: () => Record<string, unknown>, readiness?: Readiness): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    // Draining answers at once, without asking Redis: a load balancer must see it even when Redis is slow.
    if (readiness?.draining) {
      res.status(503).json({ status: "draining" });
      return;
    }
    const status = await replay.status().catch(() => ({ state: "down" as const, reopensAt: undefined }));
    const ready = status.state === "up" && !readiness?.draining;
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : readiness?.draining ? "draining" : "unavailable",
      replay_store: status.state,
      ...(status.reopensAt !== undefined ? { replay_store_reopens_at: new Date(status.reopensAt).toISOString() } : {}),
      ...detail?.(),
    });
  });
  return router;
}
