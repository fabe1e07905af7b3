import type { ErrorRequestHandler, Response } from "express";
import { OAuthError, isOAuthError } from "../oauth/errors.js";
import { StepFailure } from "../exchange/pipeline.js";
import type { Logger } from "../log/logger.js";

/**
 * The one place OAuth errors become HTTP (RFC 6749 §5.2): status, JSON `error` and a stable
 * `error_description` that is just the reason code: never the token, XML, a secret or a stack.
 * Anything that is not an OAuthError is a bug and becomes an opaque `server_error`.
 */
export function sendOAuthError(res: Response, err: OAuthError, status = err.status): void {
  if (err.status === 401 && err.challenge) {
    res.setHeader("WWW-Authenticate", 'Basic realm="fedbridge", charset="UTF-8"');
  }
  if (err.code === "temporarily_unavailable") res.setHeader("Retry-After", "1");
  res.status(status).json({ error: err.code, error_description: err.reason });
}

/** Maps body-parser failures (too large, bad encoding) onto the OAuth error family. */
export function toOAuthError(e: unknown): OAuthError {
  if (e instanceof StepFailure) return toOAuthError(e.cause);
  if (isOAuthError(e)) return e;
  const type = (e as { type?: unknown } | null)?.type;
  if (type === "entity.too.large" || type === "parameters.too.many") return new OAuthError("body_invalid");
  if (typeof type === "string" && type.startsWith("entity.") || type === "charset.unsupported" || type === "encoding.unsupported") {
    return new OAuthError("body_invalid");
  }
  return new OAuthError("internal_error", { cause: e });
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (e: unknown, _req, res, next) => {
    if (res.headersSent) return next(e);
    const err = toOAuthError(e);
    if (err.code === "server_error") {
      // Log the error class only: messages of third-party errors may quote input.
      log({ event: "internal_error", error: (err.cause as Error | undefined)?.name ?? "unknown" });
    }
    sendOAuthError(res, err);
  };
}
