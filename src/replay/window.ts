/**
 * How long a lost replay store must stay closed: the longest time a token accepted before the loss
 * could still pass its time checks, so that when the store reopens every token it forgot has become
 * unusable anyway. The replay marks themselves live exactly that long (exchange/steps/replay.ts):
 *  - a SAML assertion: min(NotOnOrAfter, IssueInstant + maxAssertionAge) + skew, where IssueInstant
 *    may lie up to skew in the future (saml/rules.ts bearerReplayMark): at most maxAge + 2·skew;
 *  - a one-time JWT: exp + skew, with exp ≤ iat + maxLifetime and iat ≤ now + skew (jwt/verifier.ts):
 *    at most maxLifetime + 2·skew;
 *  - plus the 1 s margin the replay step adds to every mark.
 * Taken over every source at the moment of the loss, admin-managed IdPs included.
 */
export function lostStoreWindowMs(o: {
  skewMs: number;
  /** maxAssertionAge of every SAML IdP (config and admin-managed). */
  samlMaxAgesMs: readonly number[];
  /** maxLifetime of every JWT issuer whose tokens are one-time (`oneTimeUse`). */
  jwtLifetimesMs: readonly number[];
}): number {
  const longest = Math.max(0, ...o.samlMaxAgesMs, ...o.jwtLifetimesMs);
  return longest + 2 * o.skewMs + REPLAY_MARK_MARGIN_MS;
}

/** The margin exchange/steps/replay.ts adds to every mark's TTL. */
export const REPLAY_MARK_MARGIN_MS = 1_000;
