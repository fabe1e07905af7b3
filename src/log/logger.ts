import { requestScope } from "./context.js";
import { redactEvent } from "./redact.js";

/**
 * Structured logging: one JSON object per line. Callers pass only identifiers and reason codes;
 * there is deliberately no way to log a request body, a token or an assertion through this type.
 * On top of that contract come levels (filtered by config log.level), the request's correlation
 * ids (written by `jsonLogger`) and a redaction pass (redact.ts) that is a second line of defence,
 * never the first.
 */
export type LogValue = string | number | boolean | null | undefined | readonly string[];
export type LogEvent = { event: string } & Record<string, LogValue>;
export type Logger = (entry: LogEvent) => void;

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The level of each event the bridge writes, when the caller does not say (`level` in the entry
 * wins). Everything not listed is `info`: a routine fact an operator may want to keep.
 */
const EVENT_LEVELS: Readonly<Record<string, LogLevel>> = {
  internal_error: "error",
  admin_internal_error: "error",
  admin_audit_write_failed: "error",
  redis_error: "warn",
  rate_limit_redis_error: "warn",
  replay_store_lost: "warn",
  replay_store_server_changed: "warn",
  replay_store_eviction_policy: "warn",
  idp_refresh_failed: "warn",
  idp_refresh_error: "warn",
  idp_reload_failed: "warn",
  idp_record_unusable: "warn",
  idp_record_conflict: "warn",
  idp_certificate_expiring: "warn",
  jwt_issuer_keys_unavailable: "warn",
  admin_auth_failed: "warn",
  worker_died: "warn",
};

export function levelOf(entry: LogEvent): LogLevel {
  const l = entry.level;
  if (typeof l === "string" && (LOG_LEVELS as readonly string[]).includes(l)) return l as LogLevel;
  return Object.hasOwn(EVENT_LEVELS, entry.event) ? EVENT_LEVELS[entry.event]! : "info";
}

/**
 * The bridge's logger over a sink: `tap` sees every entry (all levels, before redaction: it reads
 * only identifiers, to count events as metrics); entries below `minLevel` are then dropped, and
 * the rest passed on through the redaction pass (unchanged when clean).
 */
export function bridgeLogger(sink: Logger, options: { minLevel?: LogLevel; tap?: (entry: LogEvent) => void } = {}): Logger {
  const min = LOG_LEVELS.indexOf(options.minLevel ?? "info");
  return (entry) => {
    try {
      options.tap?.(entry);
    } catch {
      // Observing must never break what is observed.
    }
    if (LOG_LEVELS.indexOf(levelOf(entry)) < min) return;
    sink(redactEvent(entry));
  };
}

/**
 * The line writer: `ts`, `level`, the entry, and inside a request the request's `request_id` and
 * `trace_id` (log/context.ts), so one id joins the log line, the metric exemplar, the span and the
 * caller's X-Request-Id. The sink is called synchronously by the logger, in the caller's context.
 */
export function jsonLogger(write: (line: string) => void, now: () => number): Logger {
  return (entry) => {
    const { level: _own, ...rest } = entry;
    const scope = requestScope();
    const traceId = scope?.traceId ?? scope?.trace?.traceId;
    write(`${JSON.stringify({
      ts: new Date(now()).toISOString(),
      level: levelOf(entry),
      ...rest,
      ...(scope && rest.request_id === undefined ? { request_id: scope.requestId } : {}),
      ...(traceId !== undefined && rest.trace_id === undefined ? { trace_id: traceId } : {}),
    })}\n`);
  };
}

export const silentLogger: Logger = () => undefined;
