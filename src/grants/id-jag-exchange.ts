import { GRANT_TOKEN_EXCHANGE } from "../oauth/constants.js";
import type { ExchangeContext, Step } from "../exchange/pipeline.js";
import type { Grant } from "./grant.js";
import { authorizeGrant, authorizeSources, authorizeTokenTypes } from "../exchange/steps/authorize.js";
import { verifySubjectToken, mapSubjectClaims } from "../exchange/steps/subject.js";
import { consumeTokens } from "../exchange/steps/replay.js";
import {
  authorizeIdJagSubjectType, bindIdJagSubjectToClient, decideIdJagLifetime, decideIdJagScope, decideIdJagSubject,
  issueIdJag, readIdJagRequest, resolveIdJagAudience,
} from "../exchange/steps/id-jag.js";
import { TOKEN_TYPE_ID_JAG, TOKEN_TYPE_NOT_APPLICABLE } from "../idjag/constants.js";
import { limitClient, limitSource, limitSubject } from "../exchange/steps/limits.js";

/**
 * Token exchange for an Identity Assertion JWT Authorization Grant
 * (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.3): the token-exchange grant when
 * `requested_token_type` is `urn:ietf:params:oauth:token-type:id-jag` (token-exchange.ts selects
 * it). Same order as any exchange: request and policy checks before any signature check, the
 * subject token verified, authorized and mapped by the shared steps, one-time use last.
 */
export const idJagExchangeGrant = {
  grantType: GRANT_TOKEN_EXCHANGE,
  steps: [
    limitClient,
    readIdJagRequest,
    authorizeGrant(GRANT_TOKEN_EXCHANGE),
    authorizeTokenTypes,
    authorizeIdJagSubjectType,
    resolveIdJagAudience,
    verifySubjectToken,
    authorizeSources,
    // After verification, before the one-time mark: exchange/steps/limits.ts says why.
    limitSource,
    limitSubject,
    bindIdJagSubjectToClient,
    mapSubjectClaims,
    decideIdJagScope,
    decideIdJagSubject,
    decideIdJagLifetime,
    consumeTokens,
    issueIdJag,
  ] satisfies readonly Step[],
  /**
   * Draft §4.3.4 / RFC 8693 §2.2.1: the grant is not an access token, so `token_type` is `N_A`;
   * `scope` is always returned (it is what the resource authorization server will see).
   */
  responseFields: (ctx: ExchangeContext) => ({
    issued_token_type: TOKEN_TYPE_ID_JAG,
    token_type: TOKEN_TYPE_NOT_APPLICABLE,
    scope: ctx.scope!.join(" "),
  }),
} as const satisfies Grant;
