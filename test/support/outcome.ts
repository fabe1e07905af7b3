import { isOAuthError } from "../../src/oauth/errors.js";

/**
 * What a check did with an input: "accepted", or the reason code it refused with. Anything but an
 * OAuthError is rethrown, so a crash never passes for a refusal.
 */
export function outcome(f: () => unknown): string {
  try {
    f();
    return "accepted";
  } catch (e) {
    if (isOAuthError(e)) return e.reason;
    throw e;
  }
}
