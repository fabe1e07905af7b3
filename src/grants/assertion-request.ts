import { TOKEN_TYPES } from "../oauth/constants.js";
import { many, required, single, type Form } from "../oauth/params.js";
import { parseScope } from "../policy/scope.js";
import type { ExchangeContext } from "../exchange/pipeline.js";

/**
 * The request of an assertion grant (RFC 7521 §4.1; RFC 7522 §2.1 SAML 2.0 bearer, RFC 7523 §2.1
 * JWT bearer, which carries an ID-JAG): one `assertion`, no `audience` (the client's default
 * audience, or RFC 8707 `resource`), `scope` as in RFC 6749 §3.3, no actor, an access token out.
 */
export function assertionGrantRequest(form: Form, subjectTokenType: string): NonNullable<ExchangeContext["request"]> {
  return {
    subjectToken: required(form, "assertion"),
    subjectTokenType,
    actorToken: undefined,
    actorTokenType: undefined,
    requestedTokenType: TOKEN_TYPES.accessToken,
    audience: [],
    resource: many(form, "resource"),
    scope: parseScope(single(form, "scope")),
  };
}
