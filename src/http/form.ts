import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
import { refuse } from "../oauth/errors.js";

/**
 * Body parsing for the OAuth endpoints (RFC 6749 §3.2, RFC 7662 §2.1): only
 * application/x-www-form-urlencoded, parsed flat (no nested objects: `a[b]=c` is just a name),
 * with a size and a parameter-count limit.
 */
export function formBody(options: { limitBytes: number; maxParameters: number }): RequestHandler[] {
  return [
    (req: Request, _res: Response, next: NextFunction) => {
      if (!req.is("application/x-www-form-urlencoded")) return next(refuse("content_type_unsupported"));
      next();
    },
    express.urlencoded({ extended: false, limit: options.limitBytes, parameterLimit: options.maxParameters }),
  ];
}
