import { refuse } from "../oauth/errors.js";

/**
 * The lifetime rule every JWT the bridge accepts as a subject follows once its signature, `exp`
 * (not passed) and `iat` (not in the future, not too old) have been checked (jose, with the clock
 * skew): ID tokens and JWTs (verifier.ts) and ID-JAGs (src/idjag/verify.ts), with the same reason
 * codes in the same order.
 *
 * 1. `exp` strictly after `iat` (timestamp_invalid): a token that expires when or before it was
 *    issued is malformed, not merely expired (RFC 7519 §4.1.4, §4.1.6);
 * 2. `exp − iat` ≤ `maxLifetimeSeconds` (token_lifetime_too_long): RFC 7523 §3 item 4 lets the
 *    server refuse an `exp` unreasonably far in the future; a long-lived token is a long replay
 *    and theft window.
 *
 * `iat` and `exp` are NumericDates in seconds, both required and numbers by the time this runs.
 */
export function checkLifetime(iat: number, exp: number, maxLifetimeSeconds: number): void {
  if (exp <= iat) throw refuse("timestamp_invalid");
  if (exp - iat > maxLifetimeSeconds) throw refuse("token_lifetime_too_long");
}
