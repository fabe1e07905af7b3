import type { NextFunction, Request, RequestHandler, Response } from "express";
import { AdminError } from "./errors.js";

/**
 * The admin API's request bodies, read once and bounded before anything looks inside:
 *  - Content-Encoding: identity only (415 unsupported_content_encoding), so the size bound is the
 *    size of what is parsed (no decompression bomb);
 *  - a media type from the route's list (415 unsupported_media_type) and, when a charset is
 *    given, UTF-8 (415 unsupported_charset: RFC 8259 §8.1, JSON exchanged between systems is
 *    UTF-8; the XML declaration's encoding is the metadata parser's business);
 *  - at most `limit` bytes (413 body_too_large), valid UTF-8 (400 invalid_encoding);
 *  - JSON: nesting at most MAX_JSON_DEPTH, counted by a loop over the text BEFORE JSON.parse,
 *    so no later walk (the schema, the poison-key check, a diff) ever meets attacker depth
 *    (400 invalid_json, reason json_too_deep).
 * Every failure is an AdminError (a 4xx with a reason), never a 500.
 */
export const MAX_JSON_DEPTH = 32;

export function adminBody(kind: "json" | "xml", limit: number): RequestHandler {
  const types = kind === "json" ? ["application/json"] : ["application/samlmetadata+xml", "application/xml", "text/xml"];
  return (req: Request, _res: Response, next: NextFunction) => {
    readBody(req, types, limit)
      .then((text) => kind === "json" ? parseJson(text) : text)
      .then((body) => {
        req.body = body;
        next();
      }, next);
  };
}

/**
 * The header rules alone (encoding, media type, charset), for a route that parses its own body
 * (the explain endpoint's JSON): the same 415s before its parser runs.
 */
export function adminBodyHeaders(kind: "json" | "xml"): RequestHandler {
  const types = kind === "json" ? ["application/json"] : ["application/samlmetadata+xml", "application/xml", "text/xml"];
  return (req: Request, _res: Response, next: NextFunction) => {
    try {
      checkHeaders(req, types);
      next();
    } catch (e) {
      next(e);
    }
  };
}

function checkHeaders(req: Request, types: readonly string[]): void {
  const encoding = String(req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    req.resume();
    throw new AdminError(415, "unsupported_content_encoding", ["only identity is accepted"]);
  }
  const { type, charset } = mediaType(req.headers["content-type"]);
  if (!types.includes(type)) {
    req.resume();
    throw new AdminError(415, "unsupported_media_type", [`expected ${types.join(" or ")}`]);
  }
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    req.resume();
    throw new AdminError(415, "unsupported_charset", ["only utf-8 is accepted"]);
  }
}

async function readBody(req: Request, types: readonly string[], limit: number): Promise<string> {
  checkHeaders(req, types);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new AdminError(413, "body_too_large");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new AdminError(413, "body_too_large");
    }
    chunks.push(chunk);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Buffer.concat(chunks));
  } catch {
    throw new AdminError(400, "invalid_encoding", ["body is not valid UTF-8"]);
  }
}

/** RFC 9110 §8.3.1: type/subtype, then `;`-separated parameters; names case-insensitive. */
export function mediaType(header: string | undefined): { type: string; charset: string | undefined } {
  if (header === undefined) return { type: "", charset: undefined };
  const [type = "", ...params] = header.split(";");
  let charset: string | undefined;
  for (const p of params) {
    const eq = p.indexOf("=");
    if (eq < 0) continue;
    if (p.slice(0, eq).trim().toLowerCase() === "charset") charset = p.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1").toLowerCase();
  }
  return { type: type.trim().toLowerCase(), charset };
}

export function parseJson(text: string): unknown {
  if (text.trim() === "") throw new AdminError(400, "invalid_json", ["empty body"]);
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new AdminError(400, "invalid_json", ["json_too_deep"]);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AdminError(400, "invalid_json", ["not valid JSON"]);
  }
}

/** Deepest nesting of `[`/`{` outside strings: one pass, a counter (no parse, no recursion). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
