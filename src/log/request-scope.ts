import { randomUUID } from "node:crypto";
import type { PlainHandler } from "../http/plain.js";
import { runInRequestScope } from "./context.js";
import { parseTraceparent } from "../tracing/traceparent.js";

/**
 * A caller's X-Request-Id is kept only when it is a short token of safe characters: it goes into
 * log lines, a response header and metric exemplars (whose label set OpenMetrics bounds to 128
 * characters), so anything longer or stranger is replaced by a generated id, never echoed.
 */
export const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * First middleware of the app: gives the request its id (answered in X-Request-Id) and the
 * caller's trace context, and serves the rest of the request inside that scope (log/context.ts).
 */
export function requestScopeMiddleware(): PlainHandler {
  return (req, res, next) => {
    const requestId = requestIdOf(req.headers["x-request-id"]);
    res.setHeader("X-Request-Id", requestId);
    runInRequestScope({ requestId, trace: parseTraceparent(req.headers.traceparent) }, next);
  };
}
