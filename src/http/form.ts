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

/** A parsed application/x-www-form-urlencoded body: repeated names become arrays. */
export type Form = Readonly<Record<string, string | string[] | undefined>>;

/**
 * A single-valued parameter. RFC 6749 §3.2: "Request and response parameters MUST NOT be included
 * more than once"; RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
 */
export function single(form: Form, name: string): string | undefined {
  if (!Object.hasOwn(form, name)) return undefined;
  const v = form[name];
  if (Array.isArray(v)) throw refuse("parameter_duplicated");
  return v === "" ? undefined : v;
}

/** A parameter that may repeat (RFC 8693 §2.1: `audience`, `resource`). */
export function many(form: Form, name: string): string[] {
  if (!Object.hasOwn(form, name)) return [];
  const v = form[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.filter((x) => x !== "");
}

export function required(form: Form, name: string): string {
  const v = single(form, name);
  if (v === undefined) throw refuse("parameter_missing");
  return v;
}
