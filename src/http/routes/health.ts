import { Router } from "express";
import type { ReplayStore } from "../../replay/store.js";

/** /healthz: the process answers. /readyz: it can also do its job (the replay store answers). */
export function healthRoutes(replay: ReplayStore, detail?: () => Record<string, unknown>): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const ready = await replay.ready().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", replay_store: ready ? "up" : "down", ...detail?.() });
  });
  return router;
}
