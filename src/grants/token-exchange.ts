import { GRANT_TOKEN_EXCHANGE } from "../oauth/constants.js";
import type { ExchangeContext, Step } from "../exchange/pipeline.js";
import type { Grant } from "./grant.js";
import { readRequest } from "../exchange/steps/request.js";
import { authorizeGrant, authorizeSources, authorizeTokenTypes } from "../exchange/steps/authorize.js";
import { resolveTargetAudiences, decideTokenScope, decideActor, decideLifetime } from "../exchange/steps/policy.js";
import { verifySubjectToken, verifyActorToken, mapSubjectClaims } from "../exchange/steps/subject.js";
import { consumeTokens } from "../exchange/steps/replay.js";
import { issueAccessToken } from "../exchange/steps/issue.js";
import { single, type Form } from "../oauth/params.js";
import { TOKEN_TYPE_ID_JAG } from "../idjag/constants.js";
import { idJagExchangeGrant } from "./id-jag-exchange.js";
import { limitClient, limitSource, limitSubject } from "../exchange/steps/limits.js";
import { checkDpop, checkDpopBinding } from "../dpop/steps.js";
import { checkCertificateBinding } from "../exchange/steps/certificate-binding.js";

/**
 * RFC 8693 token exchange, in order. Cheap request and policy checks come before any signature
 * check; the one-time-use marks come last, just before signing.
 */
export const tokenExchangeGrant = {
  grantType: GRANT_TOKEN_EXCHANGE,
  steps: [
    limitClient,
    readRequest,
    authorizeGrant(GRANT_TOKEN_EXCHANGE),
    authorizeTokenTypes,
    resolveTargetAudiences,
    // RFC 9449 §5: after the targets (an audience may require DPoP), before any token signature.
    checkDpop,
    verifySubjectToken,
    verifyActorToken,
    // A DPoP-bound token of the bridge only with a proof by its key (src/dpop/steps.ts).
    checkDpopBinding,
    // A certificate-bound token of the bridge only over a connection with its certificate (RFC 8705 §3).
    checkCertificateBinding,
    authorizeSources,
    // After verification, before the one-time mark: exchange/steps/limits.ts says why.
    limitSource,
    limitSubject,
    mapSubjectClaims,
    decideTokenScope,
    decideActor,
    decideLifetime,
    consumeTokens,
    issueAccessToken,
  ] satisfies readonly Step[],
  /** RFC 8693 §2.2.1: the type of what was issued. */
  responseFields: (ctx: ExchangeContext) => ({ issued_token_type: ctx.request!.requestedTokenType }),
  /** Draft-ietf-oauth-identity-assertion-authz-grant-04 §4.3: an ID-JAG has its own steps. */
  variant: (form: Form): Grant | undefined => (single(form, "requested_token_type") === TOKEN_TYPE_ID_JAG ? idJagExchangeGrant : undefined),
} as const satisfies Grant;
