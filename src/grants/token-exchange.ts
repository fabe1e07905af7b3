import { GRANT_TOKEN_EXCHANGE } from "../config/schema.js";
import type { Step } from "../exchange/pipeline.js";
import { readRequest } from "../exchange/steps/request.js";
import { authorizeGrant, authorizeSubject, authorizeTokenType } from "../exchange/steps/authorize.js";
import { resolveTargetAudiences, decideTokenScope, decideActor, decideLifetime } from "../exchange/steps/policy.js";
import { verifySubjectToken, mapSubjectClaims } from "../exchange/steps/subject.js";
import { consumeSubjectToken } from "../exchange/steps/replay.js";
import { issueAccessToken } from "../exchange/steps/issue.js";

/**
 * RFC 8693 token exchange, in order. Cheap request and policy checks come before the signature
 * check; the replay mark comes last, just before signing.
 */
export const tokenExchangeGrant = {
  grantType: GRANT_TOKEN_EXCHANGE,
  steps: [
    readRequest,
    authorizeGrant,
    authorizeTokenType,
    resolveTargetAudiences,
    verifySubjectToken,
    authorizeSubject,
    mapSubjectClaims,
    decideTokenScope,
    decideActor,
    decideLifetime,
    consumeSubjectToken,
    issueAccessToken,
  ] satisfies readonly Step[],
} as const;
