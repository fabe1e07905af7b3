import { refuse } from "../../oauth/errors.js";
import { many, required, single } from "../../oauth/params.js";
import { parseScope } from "../../policy/scope.js";
import { ISSUABLE_TOKEN_TYPES, TOKEN_TYPES } from "../../oauth/constants.js";
import { step } from "../pipeline.js";

/**
 * RFC 8693 §2.1 request parameters. `actor_token` and `actor_token_type` must come together
 * ("REQUIRED when the actor_token parameter is present ... MUST NOT be included otherwise").
 */
export const readRequest = step("read_request", (ctx) => {
  const { form } = ctx;
  const subjectToken = required(form, "subject_token");
  const subjectTokenType = required(form, "subject_token_type");
  const actorToken = single(form, "actor_token");
  const actorTokenType = single(form, "actor_token_type");
  if ((actorToken === undefined) !== (actorTokenType === undefined)) throw refuse("actor_token_pairing");
  const requestedTokenType = single(form, "requested_token_type") ?? TOKEN_TYPES.accessToken;
  if (!ISSUABLE_TOKEN_TYPES.includes(requestedTokenType)) throw refuse("requested_token_type_unsupported");
  ctx.request = {
    subjectToken,
    subjectTokenType,
    actorToken,
    actorTokenType,
    requestedTokenType,
    audience: many(form, "audience"),
    resource: many(form, "resource"),
    scope: parseScope(single(form, "scope")),
  };
});
