import express, { Router, type ErrorRequestHandler, type NextFunction, type Request, type Response } from "express";
import { adminIdpInput, SOURCE_ID, type AdminConfig } from "../../config/schema.js";
import { ConfigError, validate } from "../../config/load.js";
import type { IdpManager } from "../../admin/idp-manager.js";
import { AdminError, IdpStoreUnavailable } from "../../admin/errors.js";
import { authenticateAdmin } from "../../admin/admin-auth.js";
import { etagOf, type IdpRecord } from "../../admin/records.js";
import type { Logger } from "../../log/logger.js";

/**
 * The admin API (/admin/idps): list, read, create/replace, rotate metadata, refresh from URL and
 * delete IdPs at run time. JSON in and out (metadata may also be sent raw as XML). Optimistic
 * concurrency with ETag / If-Match (RFC 9110 §13.1.1): replacing or deleting needs the current
 * ETag (428 without it, 412 when stale). Admin errors are `{"error", "reasons"}`; OAuth errors
 * never appear here.
 */

export interface AdminRouteOptions {
  config: AdminConfig;
  manager: IdpManager;
  log: Logger;
  /** Extra steps mounted under /admin/idps/:id (the explain endpoint). */
  extend?: (router: Router) => void;
}

export function adminRoutes(options: AdminRouteOptions): Router {
  const { manager } = options;
  const router = Router();
  const limit = options.config.maxMetadataBytes + 64 * 1024;
  router.use("/admin/idps", authenticateAdmin(options.config.tokens, options.log));

  router.get("/admin/idps", (_req, res) => {
    res.json({ idps: manager.list() });
  });

  router.get("/admin/idps/:id", (req, res, next) => {
    const found = manager.get(idParam(req));
    if (!found) return next(new AdminError(404, "not_found"));
    if (found.record) res.setHeader("ETag", etagOf(found.record.version));
    res.json(found.view);
  });

  router.put("/admin/idps/:id", express.json({ limit, strict: true }), wrap(async (req, res) => {
    let input;
    try {
      input = validate(adminIdpInput, req.body);
    } catch (e) {
      if (e instanceof ConfigError) throw new AdminError(400, "invalid_request", e.issues.map((i) => `${i.path}: ${i.message}`));
      throw e;
    }
    const { record, created } = await manager.put(idParam(req), input, ifMatch(req), req.admin!);
    sendRecord(res, record, created ? 201 : 200, manager);
  }));

  router.put(
    "/admin/idps/:id/metadata",
    express.text({ type: ["application/samlmetadata+xml", "application/xml", "text/xml"], limit }),
    wrap(async (req, res) => {
      if (typeof req.body !== "string" || req.body === "") throw new AdminError(415, "xml_body_required");
      const force = req.query.force === "true";
      const record = await manager.putMetadata(idParam(req), req.body, ifMatch(req), force, req.admin!);
      sendRecord(res, record, 200, manager);
    }),
  );

  router.post("/admin/idps/:id/refresh", wrap(async (req, res) => {
    const record = await manager.refresh(idParam(req), req.admin!);
    sendRecord(res, record, record.lastRefreshError ? 502 : 200, manager);
  }));

  router.delete("/admin/idps/:id", wrap(async (req, res) => {
    await manager.remove(idParam(req), ifMatch(req), req.admin!);
    res.status(204).end();
  }));

  options.extend?.(router);
  router.use("/admin", adminErrors(options.log));
  return router;
}

function sendRecord(res: Response, record: IdpRecord, status: number, manager: IdpManager): void {
  res.setHeader("ETag", etagOf(record.version));
  res.status(status).json(manager.get(record.id)?.view ?? { id: record.id, version: record.version, lastRefreshError: record.lastRefreshError });
}

function idParam(req: Request): string {
  const id = String(req.params.id);
  if (!SOURCE_ID.test(id)) throw new AdminError(400, "invalid_id");
  return id;
}

/** If-Match: one strong ETag `"<version>"` (weak or lists are refused: one record, one version). */
function ifMatch(req: Request): number | undefined {
  const h = req.headers["if-match"];
  if (h === undefined) return undefined;
  const m = /^"(\d{1,15})"$/.exec(h.trim());
  if (!m) throw new AdminError(412, "precondition_failed");
  return Number(m[1]);
}

type Handler = (req: Request, res: Response) => Promise<void>;
function wrap(fn: Handler) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };
}


/** The admin API's one error serializer. */
export function adminErrors(log: Logger): ErrorRequestHandler {
  return (e: unknown, _req, res, next) => {
    if (res.headersSent) return next(e);
    if (e instanceof AdminError) {
      res.status(e.status).json({ error: e.code, ...(e.reasons.length ? { reasons: e.reasons } : {}) });
      return;
    }
    const type = (e as { type?: unknown } | null)?.type;
    if (type === "entity.too.large") return void res.status(413).json({ error: "body_too_large" });
    if (type === "entity.parse.failed") return void res.status(400).json({ error: "invalid_json" });
    if (e instanceof URIError || (e as { status?: unknown } | null)?.status === 400) return void res.status(400).json({ error: "invalid_request" });
    // The record store (Redis) is unreachable: nothing was changed; try again.
    if (e instanceof IdpStoreUnavailable) return void res.status(503).setHeader("Retry-After", "1").json({ error: "admin_store_unavailable" });
    log({ event: "admin_internal_error", error: (e as Error | undefined)?.name ?? "unknown" });
    res.status(500).json({ error: "server_error" });
  };
}
