import { refuse } from "../../oauth/errors.js";
import { decideScope } from "../../policy/scope.js";
import { resolveTargets } from "../../policy/targets.js";
import { decideAct } from "../../policy/delegation.js";
import { need, step } from "../pipeline.js";

export const resolveTargetAudiences = step("resolve_targets", (ctx, services) => {
  const request = need(ctx.request, "request");
  const targets = resolveTargets(request, ctx.client, services.audiences, services.limits.maxTargets);
  // One token carries one may_act (RFC 8693 §4.4): targets naming different next actors cannot
  // share a token. Checked here, before any token is verified or marked used.
  if (new Set(targets.map((t) => t.mayAct)).size > 1) throw refuse("target_not_allowed");
  ctx.targets = targets;
});

export const decideTokenScope = step("decide_scope", (ctx) => {
  const request = need(ctx.request, "request");
  ctx.scope = decideScope(request.scope, ctx.client.scopes, need(ctx.targets, "targets"), need(ctx.mapped, "mapped").grantedScopes);
});

/** Who is acting, and the `act` chain the token records (src/policy/delegation.ts). */
export const decideActor = step("decide_actor", (ctx, services) => {
  const subject = need(ctx.subject, "subject");
  ctx.act = decideAct({
    client: ctx.client,
    subject,
    actor: ctx.actor,
    mayAct: subject.mayAct ?? need(ctx.mapped, "mapped").mayAct,
    bridgeIssuer: services.issuer,
    maxChainDepth: services.delegation.maxChainDepth,
    maxChainBytes: services.delegation.maxChainBytes,
  });
});

/**
 * Lifetime: the configured TTL, shortened by any target audience's own TTL, and never past what
 * the subject (or actor) token allows: the IdP session (SessionNotOnOrAfter, SAML Core §2.7.2) or
 * the remaining lifetime of the token being exchanged.
 */
export const decideLifetime = step("decide_lifetime", (ctx, services) => {
  const ttls = [services.tokens.ttlSeconds, ...need(ctx.targets, "targets").map((t) => t.tokenTtlSeconds ?? Infinity)];
  let expiresAt = ctx.now + Math.min(...ttls) * 1000;
  for (const token of [need(ctx.subject, "subject"), ctx.actor]) {
    if (token?.notAfter !== undefined) expiresAt = Math.min(expiresAt, token.notAfter);
  }
  if (expiresAt - ctx.now < 1000) throw refuse("session_expired");
  ctx.expiresAt = expiresAt;
});
