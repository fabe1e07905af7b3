import { refuse } from "../oauth/errors.js";
import { StrictJsonError, parseStrictJson } from "./strict-json.js";

/**
 * The one strict reader of the compact JWS serialization (RFC 7515 §7.1) for EVERY JWT path: ID
 * tokens and JWTs from trusted issuers, and the bridge's own access tokens (exchange and
 * introspection). It runs before jose and refuses anything two parsers could read differently:
 *
 * - exactly three `.`-separated segments (a five-part JWE is refused);
 * - each segment canonical base64url (RFC 7515 §2, RFC 4648 §5): only [A-Za-z0-9_-], no padding,
 *   no whitespace, no 4n+1 length, and no unused trailing bits, checked by decoding, re-encoding and
 *   comparing (so exactly one text encodes given bytes; Node's decoder would silently accept the
 *   others);
 * - header and payload are UTF-8 JSON objects (RFC 7515 §4, RFC 7519 §7.2 steps 3, 10) in which no
 *   member name repeats at any depth (RFC 7515 §4 / RFC 7519 §4 allow refusing; strict-json.ts).
 *
 * The header and payload are read here WITHOUT trusting them: only to choose the issuer (whose
 * keys then decide) and to refuse what must never reach the signature check (RFC 8725 §3.1,
 * §3.11). The verified claims come from jose, which reads the very same canonical bytes.
 */

/** RFC 8725 §3 and catalogue G15: cap JWT subject/actor tokens before any parsing. */
export const JWT_MAX_BYTES = 16 * 1024;

const B64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface UnverifiedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/**
 * Splits and decodes a compact JWS by the rules above; any failure is `token_invalid`. The size
 * bound is the caller's, checked before this runs. An empty signature segment (alg none, or a
 * stripped signature) is let through to the algorithm check, and never verifies.
 */
export function decodeUnverified(token: string): UnverifiedJwt {
  const parts = token.split(".");
  if (parts.length !== 3) throw refuse("token_invalid");
  const [h, p] = parts as [string, string, string];
  if (h === "" || p === "") throw refuse("token_invalid");
  for (const part of parts) canonicalBase64url(part);
  return { header: jsonObject(h), payload: jsonObject(p) };
}

/** The bytes of one canonical base64url segment; anything else is token_invalid. */
export function canonicalBase64url(part: string): Buffer {
  if (!B64URL.test(part) || part.length % 4 === 1) throw refuse("token_invalid");
  const bytes = Buffer.from(part, "base64url");
  // Unused trailing bits (e.g. "QR" and "QQ" both decode to "A") make two texts one value.
  if (bytes.toString("base64url") !== part) throw refuse("token_invalid");
  return bytes;
}

function jsonObject(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseStrictJson(utf8.decode(canonicalBase64url(part)));
  } catch (e) {
    if (e instanceof StrictJsonError || e instanceof TypeError) throw refuse("token_invalid");
    throw e;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw refuse("token_invalid");
  return value as Record<string, unknown>;
}

/**
 * RFC 7515 §4.1.9 `typ` is a media type whose "application/" prefix may be left out, compared
 * case-insensitively. ID tokens and generic JWTs carry no `typ` or `JWT` (OIDC Core §2, RFC 7519
 * §5.1); anything else, `at+jwt` above all (RFC 9068 §2.1), is another kind of token (RFC 8725
 * §3.11) and is refused here.
 */
export function isPlainJwtTyp(typ: unknown): boolean {
  if (typ === undefined) return true;
  if (typeof typ !== "string") return false;
  const t = typ.toLowerCase();
  return t === "jwt" || t === "application/jwt";
}
