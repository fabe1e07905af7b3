import { limitKey } from "../../limits/keys.js";
import { need, step } from "../pipeline.js";

/**
 * Rate limits as pipeline steps (src/limits; config `rateLimits`). Where each one sits is the point:
 *
 * limit_client runs first, right after client authentication (which happens before the steps): it
 * needs nothing but the authenticated client, and a limited client costs the bridge no parsing, no
 * XML and no signature check.
 *
 * limit_source and limit_subject run after verify_subject_token and authorize_sources, and before
 * everything with effects:
 *  - after verification, so only a token whose signature and conditions hold counts: the source and
 *    the subject are then facts, not claims, and nobody can spend an IdP's or a person's budget
 *    with forged tokens that merely name them;
 *  - after authorize_sources, so a client spends only the budget of sources it may use;
 *  - before consume_tokens, so a limited request does not burn its one-time assertion (catalogue
 *    F8): after Retry-After the client retries with the same token, which then still exchanges;
 *  - before the policy steps, because each verified token costs the bridge its signature check
 *    whatever the policy later says, and that is the work these limits bound.
 * A subject is counted per source: the key is a hash of source id and subject (limits/keys.ts),
 * never the identifier itself. Only the subject token counts, not an actor token.
 */
export const limitClient = step("limit_client", async (ctx, services) => {
  // A client's own rateLimit (config clients[].rateLimit) replaces rateLimits.perClient for it.
  await services.rateLimits.take("client", limitKey("client", ctx.client.id), { client: ctx.client.id }, ctx.client.rateLimit);
});

export const limitSource = step("limit_source", async (ctx, services) => {
  const { source } = need(ctx.subject, "subject");
  await services.rateLimits.take("source", limitKey("source", source.id), { client: ctx.client.id, idp: source.id });
});

export const limitSubject = step("limit_subject", async (ctx, services) => {
  const { source, subject } = need(ctx.subject, "subject");
  await services.rateLimits.take("subject", limitKey("subject", source.id, subject), { client: ctx.client.id, idp: source.id });
});
