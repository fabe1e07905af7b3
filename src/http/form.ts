import express from "express";
import typeis from "type-is";
import { refuse } from "../oauth/errors.js";
import type { PlainHandler } from "./plain.js";

/**
 * Every `charset=` value in a Content-Type header, lowercased (RFC 9110 §8.3.2: token or
 * quoted-string). Every occurrence, also one inside another parameter's quoted string: the body
 * parser reads the header with its own parser (content-type), and a check that reads only the first
 * match could see `utf-8` inside `foo="x;charset=utf-8;"` while the parser decodes the body with the
 * real `charset=iso-8859-1` after it. Requiring all of them to be UTF-8 agrees with any reading.
 */
function charsetsOf(contentType: string): string[] {
  return [...contentType.matchAll(/charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/gi)].map((m) => (m[1] ?? m[2] ?? "").toLowerCase());
}

/**
 * Body parsing for the OAuth endpoints (RFC 6749 §3.2, RFC 7662 §2.1): only
 * application/x-www-form-urlencoded in UTF-8 (RFC 6749 Appendix B), uncompressed, parsed flat (no
 * nested objects: `a[b]=c` is just a name), with a size and a parameter-count limit.
 *
 * OAuth clients send plain form bodies: any Content-Encoding but `identity` is refused (415
 * content_encoding_unsupported) before a byte is read, so no corrupt, truncated or mislabelled
 * compressed stream ever reaches a decompressor; a charset other than UTF-8 is 415
 * charset_unsupported. Every other body-parser failure maps onto its 4xx in error-response.ts.
 */
export function formBody(options: { limitBytes: number; maxParameters: number }): PlainHandler[] {
  return [
    (req, _res, next) => {
      const encoding = req.headers["content-encoding"];
      if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") return next(refuse("content_encoding_unsupported"));
      // type-is, as Express's req.is: no body (no Content-Length, no Transfer-Encoding) is no form either.
      if (!typeis(req, ["application/x-www-form-urlencoded"])) return next(refuse("content_type_unsupported"));
      if (charsetsOf(req.headers["content-type"] ?? "").some((c) => c !== "utf-8")) return next(refuse("charset_unsupported"));
      next();
    },
    express.urlencoded({ extended: false, limit: options.limitBytes, parameterLimit: options.maxParameters, inflate: false }),
  ];
}
