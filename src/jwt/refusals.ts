import { errors } from "jose";
import { isOAuthError, refuse, type OAuthError } from "../oauth/errors.js";

/**
 * jose's verdicts as the bridge's reason codes, for every JWT path (trusted issuers' tokens and
 * the bridge's own), so that a reason says what was wrong (README, reason table):
 *  - `exp` passed, or `iat` older than the maximum age: token_expired;
 *  - any `aud` failure (absent, not a string or string array, none accepted): audience_mismatch;
 *  - `sub` absent: subject_missing; `iss` absent: issuer_missing, not the expected one: issuer_mismatch;
 *  - a time claim (`exp`, `iat`, `nbf`) that is not a number: timestamp_invalid; a required one
 *    absent: timestamp_missing; `nbf` or `iat` in the future (beyond the skew): assertion_not_yet_valid;
 *  - the header's `typ` not the expected one (RFC 8725 §3.11): token_type_mismatch;
 *  - an algorithm not allowed: signature_algorithm_forbidden;
 *  - everything else jose refuses (signature, structure, unknown `kid`, `crit`): token_invalid.
 * Returns undefined for anything that is not a jose verdict (a bug, which must surface).
 */
export function joseRefusal(e: unknown): OAuthError | undefined {
  if (isOAuthError(e)) return e;
  if (e instanceof errors.JWTExpired) return refuse("token_expired");
  if (e instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = e;
    switch (claim) {
      case "aud":
        return refuse("audience_mismatch");
      case "sub":
        return refuse(reason === "missing" ? "subject_missing" : "subject_invalid");
      case "iss":
        return refuse(reason === "missing" ? "issuer_missing" : "issuer_mismatch");
      case "typ":
        return refuse("token_type_mismatch");
      case "exp":
      case "iat":
      case "nbf":
        if (reason === "missing") return refuse("timestamp_missing");
        if (reason === "invalid") return refuse("timestamp_invalid");
        return refuse("assertion_not_yet_valid");
      default:
        return refuse("token_invalid");
    }
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return refuse("signature_algorithm_forbidden");
  if (e instanceof errors.JOSEError) return refuse("token_invalid");
  return undefined;
}
