import { refuse } from "../oauth/errors.js";

/**
 * The compact JWS serialization (RFC 7515 §7.1), read WITHOUT trusting anything in it: the
 * header and payload are decoded only to choose the issuer (whose keys then decide) and to refuse
 * what must never reach the signature check (RFC 8725 §3.1, §3.11). Nothing read here is used
 * after verification; the verified payload comes from jose.
 */

/** RFC 8725 §3 and catalogue G15: cap JWT subject/actor tokens before any parsing. */
export const JWT_MAX_BYTES = 16 * 1024;

const B64URL = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface UnverifiedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/**
 * Splits and decodes a compact JWS: exactly three base64url parts (a five-part JWE is refused),
 * header and payload JSON objects. The size bound is the caller's, checked before this runs.
 */
export function decodeUnverified(token: string): UnverifiedJwt {
  const parts = token.split(".");
  if (parts.length !== 3) throw refuse("token_invalid");
  const [h, p, s] = parts as [string, string, string];
  // An empty signature (alg none, or a stripped one) gets as far as the alg check, and never verifies.
  if (!B64URL.test(h) || !B64URL.test(p) || (s !== "" && !B64URL.test(s))) throw refuse("token_invalid");
  return { header: jsonObject(h), payload: jsonObject(p) };
}

function jsonObject(part: string): Record<string, unknown> {
  // base64 never leaves one character over (4n+1); Buffer would silently drop it.
  if (part.length % 4 === 1) throw refuse("token_invalid");
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(part, "base64url")));
  } catch {
    throw refuse("token_invalid");
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
