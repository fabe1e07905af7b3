import type { ServerResponse } from "node:http";
import { OAuthError, isOAuthError, type Reason } from "../oauth/errors.js";
import { StepFailure } from "../exchange/pipeline.js";
import type { Logger } from "../log/logger.js";

/**
 * Refusals of the request body whose HTTP status is more precise than 400 (RFC 9110 §15.5.14
 * Content Too Large, §15.5.16 Unsupported Media Type); the body is the usual OAuth error.
 */
const HTTP_STATUS: Partial<Record<Reason, number>> = {
  body_too_large: 413,
  content_encoding_unsupported: 415,
  charset_unsupported: 415,
};

/** Observes every OAuth error response of one app (the metrics: fedbridge_oauth_errors_total). */
export type OAuthErrorObserver = (error: string, reason: Reason, status: number) => void;
const observers = new WeakMap<object, OAuthErrorObserver>();

/** Registers the observer of `app`'s error responses (an app per bridge: tests build many). */
export function observeOAuthErrors(app: object, observer: OAuthErrorObserver): void {
  observers.set(app, observer);
}

/**
 * The one place OAuth errors become HTTP (RFC 6749 §5.2): status, JSON `error` and a stable
 * `error_description` that is just the reason code: never the token, XML, a secret or a stack.
 * Anything that is not an OAuthError is a bug and becomes an opaque `server_error`.
 * Every such response is counted here, by code, reason and status, whichever endpoint refused.
 */
export function sendOAuthError(res: ServerResponse & { app?: object }, err: OAuthError, status = HTTP_STATUS[err.reason] ?? err.status): void {
  try {
    (res.app ? observers.get(res.app) : undefined)?.(err.code, err.reason, status);
  } catch {
    // counting never changes the answer
  }
  if (err.status === 401 && err.challenge) {
    res.setHeader("WWW-Authenticate", 'Basic realm="fedbridge", charset="UTF-8"');
  }
  // The refusal knows when a retry can succeed (e.g. a JWT issuer's fetch cooldown); default 1 s.
  if (err.code === "temporarily_unavailable") res.setHeader("Retry-After", String(Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1))));
  sendJson(res, status, { error: err.code, error_description: err.reason });
}

/**
 * A JSON answer on node's own response object, as Express's `res.json` writes it (the same
 * Content-Type; Content-Length from the one write), so the token endpoint's fast lane
 * (http/token-lane.ts) and the Express routes answer alike.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

/** body-parser's error types (body-parser 2, raw-body 3) and the refusal each one is. */
const BODY_ERRORS: Readonly<Record<string, Reason>> = {
  "entity.too.large": "body_too_large",
  "parameters.too.many": "body_too_large",
  "encoding.unsupported": "content_encoding_unsupported",
  "charset.unsupported": "charset_unsupported",
  "request.aborted": "body_invalid", // the client went away mid-body
  "request.size.invalid": "body_invalid", // fewer (or more) bytes than Content-Length said
  "entity.parse.failed": "body_invalid",
  "entity.verify.failed": "body_invalid",
  "stream.encoding.set": "body_invalid",
  "stream.not.readable": "body_invalid",
};

/**
 * Maps body-parser failures (too large, bad encoding, aborted, short) onto the OAuth error family.
 * Any other client error raised with an HTTP 4xx status by the HTTP layer (http-errors, e.g. a
 * decoding error) is a bad request too, never a 500; anything else is a bug (internal_error).
 */
export function toOAuthError(e: unknown): OAuthError {
  if (e instanceof StepFailure) return toOAuthError(e.cause);
  if (isOAuthError(e)) return e;
  const { type, status, expose } = (e ?? {}) as { type?: unknown; status?: unknown; expose?: unknown };
  if (typeof type === "string" && Object.hasOwn(BODY_ERRORS, type)) return new OAuthError(BODY_ERRORS[type]!, { cause: e });
  if (expose === true && typeof status === "number" && status >= 400 && status < 500) {
    return new OAuthError(status === 413 ? "body_too_large" : status === 415 ? "content_encoding_unsupported" : "body_invalid", { cause: e });
  }
  return new OAuthError("internal_error", { cause: e });
}

/** An error middleware on node's own objects: Express's error handler shape, and the token lane's. */
export type PlainErrorHandler = (e: unknown, req: unknown, res: ServerResponse, next: (e?: unknown) => void) => void;

/** The error middleware of the app, and of the token endpoint's fast lane (plain node objects). */
export function errorHandler(log: Logger): PlainErrorHandler {
  return (e, _req, res, next) => {
    if (res.headersSent) return next(e);
    const err = toOAuthError(e);
    if (err.code === "server_error") {
      // Log the error class only: messages of third-party errors may quote input.
      // The reason tells an internal_error from e.g. signature_verifier_failed (a fault in the XML
      // signature verifier, never reported as an invalid signature).
      log({ event: "internal_error", reason: err.reason, error: (err.cause as Error | undefined)?.name ?? "unknown" });
    }
    sendOAuthError(res, err);
  };
}
