import { Router, type ErrorRequestHandler, type NextFunction, type Request, type Response } from "express";
import { adminIdpInput, SOURCE_ID, type AdminConfig } from "../../config/schema.js";
import { ConfigError, validate } from "../../config/load.js";
import type { IdpManager } from "../../admin/idp-manager.js";
import { AdminError, IdpStoreUnavailable } from "../../admin/errors.js";
import { authenticateAdmin } from "../../admin/admin-auth.js";
import { etagOf, type IdpRecord } from "../../admin/records.js";
import { adminBody, adminBodyHeaders } from "../../admin/body.js";
import { UNAUTHENTICATED, queryAudit, type AuditQuery } from "../../admin/audit.js";
import { metadataDetail } from "../../admin/preview.js";
import { adminOpenApi, idpInputJsonSchema } from "../../admin/openapi.js";
import { parseIdpMetadata } from "../../saml/metadata.js";
import type { Logger } from "../../log/logger.js";

/**
 * The admin API: IdPs (/admin/idps: list, read, create/replace, rotate metadata, refresh from URL,
 * delete, key history), a preview of metadata before onboarding, deleted IdPs, the audit trail and
 * the API's own OpenAPI 3.1 description. JSON in and out (rotation takes raw XML). Optimistic
 * concurrency with ETag / If-Match (RFC 9110 §13.1.1): replacing or deleting needs the current
 * ETag (428 without it, 412 when stale). Admin errors are `{"error", "reasons"}`; OAuth errors
 * never appear here. Every refused request (4xx) is audited with who, what and why.
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
  const openapi = JSON.stringify(adminOpenApi());
  const idpSchema = JSON.stringify(idpInputJsonSchema());

  // The description holds no secret: tools fetch it without a token.
  router.get("/admin/openapi.json", (_req, res) => {
    res.type("application/json").send(openapi);
  });

  const auth = authenticateAdmin(options.config.tokens, options.log);
  for (const p of ["/admin/idps", "/admin/audit", "/admin/preview", "/admin/tombstones", "/admin/schema"]) router.use(p, auth);

  router.get("/admin/idps", (_req, res) => {
    res.json({ idps: manager.list() });
  });

  router.get("/admin/schema/idp", (_req, res) => {
    res.type("application/json").send(idpSchema);
  });

  router.get("/admin/tombstones", (_req, res) => {
    res.json({ tombstones: manager.tombstones() });
  });

  router.get("/admin/audit", wrap(async (req, res) => {
    const q = auditQuery(req);
    const page = queryAudit(await manager.auditLog(), q);
    res.json({ ...page, retention: { maxEntries: options.config.auditMaxEntries } });
  }));

  router.post("/admin/preview", adminBody("json", limit), wrap(async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const input = previewInput(body);
    const xml = input.metadata ?? (await manager.fetchForPreview(input.metadataUrl!));
    const dry = await manager.dryRun(input.id, xml, input.entityId, input.force);
    let summary: Record<string, unknown> = {};
    try {
      const m = parseIdpMetadata(xml, input.entityId);
      summary = {
        entityId: m.entityId, protocols: m.protocols,
        ...(m.validUntil !== undefined ? { validUntil: new Date(m.validUntil).toISOString() } : {}),
        ...metadataDetail(xml, m.entityId, Date.now()),
      };
    } catch {
      // The checks say why the metadata is unusable.
    }
    res.json({ ...summary, ...dry, ok: dry.checks.every((c) => c.ok) });
  }));

  router.get("/admin/idps/:id", (req, res, next) => {
    const found = manager.get(idParam(req));
    if (!found) return next(new AdminError(404, "not_found"));
    if (found.record) res.setHeader("ETag", etagOf(found.record.version));
    res.json(found.view);
  });

  // The metadata in force, as stored (what verification uses), for an admin's review or a settings edit.
  router.get("/admin/idps/:id/metadata", (req, res, next) => {
    const found = manager.get(idParam(req));
    if (!found?.record) return next(new AdminError(404, "not_found"));
    res.setHeader("ETag", etagOf(found.record.version));
    res.type("application/samlmetadata+xml").send(found.record.metadataXml);
  });

  router.get("/admin/idps/:id/keys", wrap(async (req, res) => {
    const found = manager.get(idParam(req));
    if (!found) throw new AdminError(404, "not_found");
    const state = await manager.entity(found.view.entityId);
    res.json(state ?? { entityId: found.view.entityId, owner: found.record ? found.view.id : null, version: 0, keys: found.view.signingCertificates.map((c) => c.fingerprint), history: [] });
  }));

  router.put("/admin/idps/:id", adminBody("json", limit), wrap(async (req, res) => {
    const id = idParam(req);
    let input;
    try {
      input = validate(adminIdpInput, req.body);
    } catch (e) {
      if (e instanceof ConfigError) throw new AdminError(400, "invalid_request", e.issues.map((i) => `${i.path}: ${i.message}`));
      throw e;
    }
    const { record, created } = await manager.put(id, input, ifMatch(req), req.admin!);
    sendRecord(res, record, created ? 201 : 200, manager);
  }));

  router.put("/admin/idps/:id/metadata", adminBody("xml", limit), wrap(async (req, res) => {
    const id = idParam(req);
    if (typeof req.body !== "string" || req.body === "") throw new AdminError(415, "xml_body_required");
    const record = await manager.putMetadata(id, req.body, ifMatch(req), forceParam(req), req.admin!);
    sendRecord(res, record, 200, manager);
  }));

  router.post("/admin/idps/:id/refresh", wrap(async (req, res) => {
    const record = await manager.refresh(idParam(req), req.admin!);
    sendRecord(res, record, record.lastRefreshError ? 502 : 200, manager);
  }));

  router.delete("/admin/idps/:id", wrap(async (req, res) => {
    await manager.remove(idParam(req), ifMatch(req), req.admin!, forceParam(req));
    res.status(204).end();
  }));

  // The explain endpoint parses its own JSON: the same header rules apply before it does.
  router.post("/admin/idps/:id/explain", adminBodyHeaders("json"));
  options.extend?.(router);
  router.use("/admin", adminErrors(options.log, manager));
  return router;
}

function sendRecord(res: Response, record: IdpRecord, status: number, manager: IdpManager): void {
  res.setHeader("ETag", etagOf(record.version));
  const view = manager.get(record.id)?.view;
  res.status(status).json(view ? { ...view, lastRefreshAt: record.lastRefreshAt, lastRefreshError: record.lastRefreshError } : { id: record.id, version: record.version, lastRefreshError: record.lastRefreshError });
}

function idParam(req: Request): string {
  const id = String(req.params.id);
  if (!SOURCE_ID.test(id)) throw new AdminError(400, "invalid_id");
  return id;
}

function forceParam(req: Request): boolean {
  const f = req.query.force;
  if (f === undefined || f === "false") return false;
  if (f === "true") return true;
  throw new AdminError(400, "invalid_request", ["force: true or false"]);
}

/** If-Match: one strong ETag `"<version>"` (weak or lists are refused: one record, one version). */
function ifMatch(req: Request): number | undefined {
  const h = req.headers["if-match"];
  if (h === undefined) return undefined;
  const m = /^"(\d{1,15})"$/.exec(h.trim());
  if (!m) throw new AdminError(412, "precondition_failed");
  return Number(m[1]);
}

function previewInput(body: Record<string, unknown>): { metadata?: string; metadataUrl?: string; id?: string; entityId?: string; force: boolean } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new AdminError(400, "invalid_request", ["an object"]);
  const reasons: string[] = [];
  for (const k of Object.keys(body)) if (!["metadata", "metadataUrl", "id", "entityId", "force"].includes(k)) reasons.push(`${k}: unknown field`);
  const str = (k: string): string | undefined => {
    const v = body[k];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v === "") reasons.push(`${k}: a non-empty string`);
    return typeof v === "string" ? v : undefined;
  };
  const out = { metadata: str("metadata"), metadataUrl: str("metadataUrl"), id: str("id"), entityId: str("entityId"), force: body.force === true };
  if ((out.metadata === undefined) === (out.metadataUrl === undefined)) reasons.push("give exactly one of metadata or metadataUrl");
  if (out.id !== undefined && !SOURCE_ID.test(out.id)) reasons.push("id: invalid");
  if (out.metadataUrl !== undefined && !URL.canParse(out.metadataUrl)) reasons.push("metadataUrl: a URL");
  if (reasons.length) throw new AdminError(400, "invalid_request", reasons);
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as ReturnType<typeof previewInput>;
}

function auditQuery(req: Request): AuditQuery {
  const reasons: string[] = [];
  const q: AuditQuery = { limit: 50 };
  const one = (k: string): string | undefined => {
    const v = req.query[k];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.length > 256) {
      reasons.push(`${k}: one value`);
      return undefined;
    }
    return v;
  };
  for (const k of ["idp", "actor", "action"] as const) {
    const v = one(k);
    if (v !== undefined) q[k] = v;
  }
  for (const k of ["since", "until"] as const) {
    const v = one(k);
    if (v === undefined) continue;
    const t = Date.parse(v);
    if (Number.isNaN(t)) reasons.push(`${k}: an ISO 8601 instant`);
    else q[k] = new Date(t).toISOString();
  }
  const limit = one("limit");
  if (limit !== undefined) {
    if (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 200) reasons.push("limit: 1 to 200");
    else q.limit = Number(limit);
  }
  const before = one("before");
  if (before !== undefined) {
    if (!/^\d{1,15}$/.test(before)) reasons.push("before: a sequence number");
    else q.before = Number(before);
  }
  if (reasons.length) throw new AdminError(400, "invalid_request", reasons);
  return q;
}

type Handler = (req: Request, res: Response) => Promise<void>;
function wrap(fn: Handler) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };
}

/** What a request was trying to do, for the audit of a refusal. */
function actionOf(req: Request, path: string): { action: string; idp?: string } {
  const m = /^\/admin\/idps\/([^/]{1,80})(?:\/([a-z]+))?$/.exec(path);
  const idp = m?.[1] && SOURCE_ID.test(m[1]) ? m[1] : undefined;
  const sub = m?.[2];
  let action = `${req.method.toLowerCase()} ${path.slice(0, 80)}`;
  if (m && !sub && req.method === "PUT") action = "put";
  else if (m && !sub && req.method === "DELETE") action = "delete";
  else if (sub === "metadata") action = "rotate";
  else if (sub === "refresh" || sub === "explain") action = sub;
  else if (path === "/admin/preview") action = "preview";
  else if (req.method === "GET") action = "read";
  return { action, ...(idp ? { idp } : {}) };
}

/** Statuses of refusals worth a trace: a stolen token probing, a blocked swap, a stale write. */
const AUDITED = new Set([400, 401, 403, 404, 409, 412, 413, 415, 428]);

/** The admin API's one error serializer; every refusal is a 4xx with a reason, and audited. */
export function adminErrors(log: Logger, manager?: IdpManager): ErrorRequestHandler {
  return (e: unknown, req, res, next) => {
    if (res.headersSent) return next(e);
    const { status, body } = errorResponse(e, log);
    const audited = AUDITED.has(status) && (req.method !== "GET" || status === 401 || status === 403);
    const send = (): void => {
      if (status === 503) res.setHeader("Retry-After", "1");
      res.status(status).json(body);
    };
    if (!audited || !manager) return send();
    // req.path is relative to this handler's mount point: the full path is in originalUrl.
    const path = req.originalUrl.split("?")[0]!;
    manager.auditRefused({
      actor: req.admin ?? UNAUTHENTICATED, ...actionOf(req, path), method: req.method, path: path.slice(0, 200),
      ...(req.socket.remoteAddress ? { remote: req.socket.remoteAddress } : {}),
      status, error: body.error, ...(body.reasons ? { reasons: [...body.reasons] } : {}),
    }).finally(send);
  };
}

function errorResponse(e: unknown, log: Logger): { status: number; body: { error: string; reasons?: readonly string[] } } {
  if (e instanceof AdminError) return { status: e.status, body: { error: e.code, ...(e.reasons.length ? { reasons: e.reasons } : {}) } };
  // The record store (Redis) is unreachable or too slow: nothing was changed; try again.
  if (e instanceof IdpStoreUnavailable) return { status: 503, body: { error: "admin_store_unavailable" } };
  // body-parser errors (the explain endpoint's JSON) carry a 4xx status and a type.
  const err = e as { type?: unknown; status?: unknown; statusCode?: unknown } | null;
  const type = typeof err?.type === "string" ? err.type : undefined;
  const status = Number(err?.status ?? err?.statusCode);
  if (type === "entity.too.large") return { status: 413, body: { error: "body_too_large" } };
  if (type === "entity.parse.failed") return { status: 400, body: { error: "invalid_json" } };
  if (type === "charset.unsupported") return { status: 415, body: { error: "unsupported_charset", reasons: ["only utf-8 is accepted"] } };
  if (type === "encoding.unsupported") return { status: 415, body: { error: "unsupported_content_encoding", reasons: ["only identity is accepted"] } };
  if (e instanceof URIError) return { status: 400, body: { error: "invalid_request", reasons: ["malformed URI"] } };
  if (Number.isInteger(status) && status >= 400 && status < 500) return { status, body: { error: "invalid_request", ...(type ? { reasons: [type] } : {}) } };
  if (e instanceof RangeError) return { status: 400, body: { error: "invalid_request", reasons: ["too deep or too large"] } };
  log({ event: "admin_internal_error", error: (e as Error | undefined)?.name ?? "unknown" });
  return { status: 500, body: { error: "server_error" } };
}
