import { checkProxyRestriction, mapSubject } from "../../mapping/mapper.js";
import { SELF } from "../../subject/types.js";
import { need, step } from "../pipeline.js";

/** Verify the subject token with the verifier for its type (signature, conditions, every rule). */
export const verifySubjectToken = step("verify_subject_token", async (ctx, services) => {
  const { subjectToken, subjectTokenType } = need(ctx.request, "request");
  const verify = need(services.tokenVerifiers.get(subjectTokenType), "verifier");
  ctx.subject = await verify(subjectToken, ctx.now);
});

/** RFC 8693 §2.1: the actor token is verified exactly like a subject token of its type. */
export const verifyActorToken = step("verify_actor_token", async (ctx, services) => {
  const { actorToken, actorTokenType } = need(ctx.request, "request");
  if (actorToken === undefined || actorTokenType === undefined) return;
  const verify = need(services.tokenVerifiers.get(actorTokenType), "verifier");
  ctx.actor = await verify(actorToken, ctx.now);
});

/**
 * Attributes → sub, claims and the subject's scope ceiling, by the source's mapping. The bridge's
 * own tokens carry their subject, claims and scope over unchanged: a next hop never widens them.
 */
export const mapSubjectClaims = step("map_subject", (ctx) => {
  const subject = need(ctx.subject, "subject");
  // A SAML ProxyRestriction bounds the issued token, and so does one carried on by a token of the
  // bridge's own (its re-exchange is a further indirection): count and audiences (explain has no targets).
  checkProxyRestriction(subject, ctx.targets?.map((t) => t.id));
  if (subject.source.id === SELF || subject.source.mapping === undefined) {
    const granted = need(subject.granted, "granted");
    ctx.mapped = { sub: subject.subject, claims: { ...granted.claims } as Record<string, string | string[]>, grantedScopes: new Set(granted.scope) };
    return;
  }
  ctx.mapped = mapSubject(subject, subject.source.mapping);
});
