import { GRANT_TOKEN_EXCHANGE } from "../../config/schema.js";
import { refuse } from "../../oauth/errors.js";
import { need, step } from "../pipeline.js";

/** RFC 6749 §5.2 `unauthorized_client`: the client is authenticated but may not use this grant. */
export const authorizeGrant = step("authorize_grant", (ctx) => {
  if (!(ctx.client.grantTypes as readonly string[]).includes(GRANT_TOKEN_EXCHANGE)) throw refuse("grant_not_allowed");
});

/** The client may present this token type at all (checked before any expensive verification). */
export const authorizeTokenType = step("authorize_token_type", (ctx, services) => {
  const { subjectTokenType } = need(ctx.request, "request");
  if (!services.subjectVerifiers.has(subjectTokenType)) throw refuse("subject_token_type_unsupported");
  if (!(ctx.client.subjectTokenTypes as readonly string[]).includes(subjectTokenType)) {
    throw refuse("subject_token_type_not_allowed");
  }
});

/** The client may exchange tokens from this IdP: one client cannot trade another tenant's users. */
export const authorizeSubject = step("authorize_subject", (ctx) => {
  const subject = need(ctx.subject, "subject");
  if (!ctx.client.idps.includes(subject.idp.id)) throw refuse("idp_not_allowed");
});
