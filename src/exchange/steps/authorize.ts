import { refuse } from "../../oauth/errors.js";
import { SELF, type VerifiedSubject } from "../../subject/types.js";
import { type ClientConfig } from "../../config/schema.js";
import { ACTOR_TOKEN_TYPES } from "../../oauth/constants.js";
import { need, step, type Step } from "../pipeline.js";
import { checkPartyBinding } from "../../policy/client-binding.js";

/** RFC 6749 §5.2 `unauthorized_client`: the client is authenticated but may not use this grant. */
export function authorizeGrant(grantType: string): Step {
  return step("authorize_grant", (ctx) => {
    if (!(ctx.client.grantTypes as readonly string[]).includes(grantType)) throw refuse("grant_not_allowed");
  });
}

/** The client may present these token types at all (checked before any expensive verification). */
export const authorizeTokenTypes = step("authorize_token_types", (ctx, services) => {
  const { subjectTokenType, actorTokenType } = need(ctx.request, "request");
  if (!services.tokenVerifiers.has(subjectTokenType)) throw refuse("subject_token_type_unsupported");
  if (!(ctx.client.subjectTokenTypes as readonly string[]).includes(subjectTokenType)) {
    throw refuse("subject_token_type_not_allowed");
  }
  if (actorTokenType !== undefined) {
    if (!ACTOR_TOKEN_TYPES.includes(actorTokenType) || !services.tokenVerifiers.has(actorTokenType)) {
      throw refuse("actor_token_type_unsupported");
    }
    if (!(ctx.client.actorTokenTypes as readonly string[]).includes(actorTokenType)) {
      throw refuse("actor_token_type_not_allowed");
    }
  }
});

/**
 * The client may exchange tokens from these sources: one client cannot trade another tenant's
 * users. The bridge's own tokens were already allowed by token type (access_token). Then whose
 * token it is: a token naming another party (azp / client_id) is refused by the issuer's binding
 * (src/policy/client-binding.ts).
 */
export const authorizeSources = step("authorize_sources", (ctx) => {
  const subject = need(ctx.subject, "subject");
  for (const token of [subject, ctx.actor]) {
    if (token && !sourceAllowed(ctx.client, token)) throw refuse("idp_not_allowed");
  }
  // One of the bridge's own tokens as actor token must have been issued to the calling client: a
  // bearer token picked up elsewhere does not let another client claim that identity.
  if (ctx.actor?.source.id === SELF && ctx.actor.granted?.clientId !== ctx.client.id) throw refuse("actor_client_mismatch");
  checkPartyBinding(ctx.client, subject, "subject");
  if (ctx.actor) checkPartyBinding(ctx.client, ctx.actor, "actor");
});

function sourceAllowed(client: ClientConfig, token: VerifiedSubject): boolean {
  return token.source.id === SELF || client.idps.includes(token.source.id);
}
