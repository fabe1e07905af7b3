import { GRANT_SAML2_BEARER, TOKEN_TYPES } from "../oauth/constants.js";
import { isOAuthError, refuse } from "../oauth/errors.js";
import { assertionGrantRequest } from "./assertion-request.js";
import { step, type Step } from "../exchange/pipeline.js";
import type { Grant } from "./grant.js";
import { authorizeGrant, authorizeSources } from "../exchange/steps/authorize.js";
import { resolveTargetAudiences, decideTokenScope, decideActor, decideLifetime } from "../exchange/steps/policy.js";
import { verifySubjectToken, mapSubjectClaims } from "../exchange/steps/subject.js";
import { consumeTokens } from "../exchange/steps/replay.js";
import { issueAccessToken } from "../exchange/steps/issue.js";
import { limitClient, limitSource, limitSubject } from "../exchange/steps/limits.js";
import { checkDpop } from "../dpop/steps.js";

/**
 * RFC 7522 §2.1: the SAML 2.0 bearer assertion grant, for legacy clients that predate token
 * exchange. The assertion goes through exactly the validation, mapping, replay and issuance of a
 * `saml2` subject token; what differs is the protocol around it:
 *  - the assertion is the `assertion` parameter (base64url);
 *  - there is no `audience` parameter: the client's default audience applies (or RFC 8707
 *    `resource`), and scope as in RFC 6749 §3.3;
 *  - a bad assertion is `invalid_grant` (RFC 7522 §3.1), not `invalid_request`;
 *  - the response is a plain RFC 6749 §5.1 token response (no issued_token_type).
 * Client authentication stays mandatory (RFC 7522 §3 leaves it optional; this bridge does not).
 */
const readBearerRequest = step("read_request", (ctx) => {
  ctx.request = assertionGrantRequest(ctx.form, TOKEN_TYPES.saml2);
});

/** Assertion problems become invalid_grant; request, client, target and scope errors keep theirs. */
function assertionErrorsAsInvalidGrant(inner: Step): Step {
  return step(inner.name, async (ctx, services) => {
    try {
      await inner.run(ctx, services);
    } catch (e) {
      if (isOAuthError(e) && e.code === "invalid_request") throw e.withCode("invalid_grant");
      throw e;
    }
  });
}

/** The client's token types are not consulted: this grant always carries a SAML 2.0 assertion. */
const requireSaml2 = step("authorize_token_types", (_ctx, services) => {
  if (!services.tokenVerifiers.has(TOKEN_TYPES.saml2)) throw refuse("subject_token_type_unsupported");
});

export const saml2BearerGrant = {
  grantType: GRANT_SAML2_BEARER,
  steps: [
    limitClient,
    readBearerRequest,
    authorizeGrant(GRANT_SAML2_BEARER),
    requireSaml2,
    resolveTargetAudiences,
    // RFC 9449 §5 (any grant type); not wrapped: a proof's errors are DPoP's own codes.
    checkDpop,
    assertionErrorsAsInvalidGrant(verifySubjectToken),
    assertionErrorsAsInvalidGrant(authorizeSources),
    // Not wrapped: a limit is 429 rate_limited in either grant (exchange/steps/limits.ts).
    limitSource,
    limitSubject,
    assertionErrorsAsInvalidGrant(mapSubjectClaims),
    decideTokenScope,
    assertionErrorsAsInvalidGrant(decideActor),
    assertionErrorsAsInvalidGrant(decideLifetime),
    assertionErrorsAsInvalidGrant(consumeTokens),
    issueAccessToken,
  ] satisfies readonly Step[],
} as const satisfies Grant;

