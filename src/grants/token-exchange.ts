import { GRANT_TOKEN_EXCHANGE } from "../oauth/constants.js";
import type { ExchangeContext, Step } from "../exchange/pipeline.js";
import type { Grant } from "./grant.js";
import { readRequest } from "../exchange/steps/request.js";
import { authorizeGrant, authorizeSources, authorizeTokenTypes } from "../exchange/steps/authorize.js";
import { resolveTargetAudiences, decideTokenScope, decideActor, decideLifetime } from "../exchange/steps/policy.js";
import { verifySubjectToken, verifyActorToken, mapSubjectClaims } from "../exchange/steps/subject.js";
import { consumeTokens } from "../exchange/steps/replay.js";
import { issueAccessToken } from "../exchange/steps/issue.js";

/**
 * RFC 8693 token exchange, in order. Cheap request and policy checks come before any signature
 * check; the one-time-use marks come last, just before signing.
 */
export const tokenExchangeGrant = {
  grantType: GRANT_TOKEN_EXCHANGE,
  steps: [
    readRequest,
    authorizeGrant(GRANT_TOKEN_EXCHANGE),
    authorizeTokenTypes,
    resolveTargetAudiences,
    verifySubjectToken,
    verifyActorToken,
    authorizeSources,
    mapSubjectClaims,
    decideTokenScope,
    decideActor,
    decideLifetime,
    consumeTokens,
    issueAccessToken,
  ] satisfies readonly Step[],
  /** RFC 8693 §2.2.1: the type of what was issued. */
  responseFields: (ctx: ExchangeContext) => ({ issued_token_type: ctx.request!.requestedTokenType }),
} as const satisfies Grant;
