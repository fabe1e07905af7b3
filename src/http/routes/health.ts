import { Router } from "express";
import type { ReplayStore } from "../../replay/store.js";

/**
 * /healthz: the process answers. /readyz: it can also do its job: the replay store answers and
 * has not lost its data (a lost store is closed until `replay_store_reopens_at`, replay/redis.ts).
 */
export function healthRoutes(replay: ReplayStore, detail?: () => Record<string, unknown>): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const status = await replay.status().catch(() => ({ state: "down" as const, reopensAt: undefined }));
    const ready = status.state === "up";
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "unavailable",
      replay_store: status.state,
      ...(status.reopensAt !== undefined ? { replay_store_reopens_at: new Date(status.reopensAt).toISOString() } : {}),
      ...detail?.(),
    });
  });
  return router;
}
