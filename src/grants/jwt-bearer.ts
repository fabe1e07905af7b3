import type { ExchangeContext, Step } from "../exchange/pipeline.js";
import type { Grant } from "./grant.js";
import { authorizeGrant, authorizeSources } from "../exchange/steps/authorize.js";
import { decideActor, decideLifetime } from "../exchange/steps/policy.js";
import { mapSubjectClaims } from "../exchange/steps/subject.js";
import { consumeTokens } from "../exchange/steps/replay.js";
import { issueAccessToken } from "../exchange/steps/issue.js";
import {
  checkIdJagClient, decideIdJagAccessScope, grantErrorsAsInvalidGrant, readJwtBearerRequest, resolveIdJagTargets, verifyIdJag,
} from "../exchange/steps/id-jag-accept.js";
import { GRANT_JWT_BEARER } from "../idjag/constants.js";
import { limitClient, limitSource, limitSubject } from "../exchange/steps/limits.js";
import { checkDpop } from "../dpop/steps.js";

/**
 * RFC 7523 §2.1, the JWT bearer authorization grant, for Identity Assertion JWT Authorization
 * Grants only (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.4): the bridge as the
 * resource authorization server. The grant must come from a jwtIssuers entry marked `idJag`,
 * name the bridge as `aud` and the authenticated client as `client_id`, and is good for one access
 * token (its `jti`). The response is a plain RFC 6749 §5.1 token response with the granted scope
 * and no refresh token (draft §4.4.3). Client authentication is mandatory (draft §8.1).
 */
export const jwtBearerGrant = {
  grantType: GRANT_JWT_BEARER,
  steps: [
    limitClient,
    readJwtBearerRequest,
    authorizeGrant(GRANT_JWT_BEARER),
    grantErrorsAsInvalidGrant(verifyIdJag),
    checkIdJagClient,
    grantErrorsAsInvalidGrant(authorizeSources),
    // Not wrapped: a limit is 429 rate_limited in every grant (exchange/steps/limits.ts).
    limitSource,
    limitSubject,
    resolveIdJagTargets,
    // RFC 9449 §5 names this grant (RFC 7523) explicitly; after the targets (requireDpop), not wrapped.
    checkDpop,
    grantErrorsAsInvalidGrant(mapSubjectClaims),
    decideIdJagAccessScope,
    grantErrorsAsInvalidGrant(decideActor),
    grantErrorsAsInvalidGrant(decideLifetime),
    grantErrorsAsInvalidGrant(consumeTokens),
    issueAccessToken,
  ] satisfies readonly Step[],
  /** Draft §4.4.1: the response includes the granted scope. */
  responseFields: (ctx: ExchangeContext) => ({ scope: ctx.scope!.join(" ") }),
} as const satisfies Grant;
