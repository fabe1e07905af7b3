import { refuse } from "../../oauth/errors.js";
import { decideScope } from "../../policy/scope.js";
import { resolveTargets } from "../../policy/targets.js";
import { need, step } from "../pipeline.js";

export const resolveTargetAudiences = step("resolve_targets", (ctx, services) => {
  const request = need(ctx.request, "request");
  ctx.targets = resolveTargets(request, ctx.client, services.audiences, services.limits.maxTargets);
});

export const decideTokenScope = step("decide_scope", (ctx) => {
  const request = need(ctx.request, "request");
  ctx.scope = decideScope(request.scope, ctx.client.scopes, need(ctx.targets, "targets"), need(ctx.mapped, "mapped").grantedScopes);
});

/**
 * Delegation is the default (RFC 8693 §1.1, §4.1): the token names the acting client in `act`, so
 * every hop is recorded. Impersonation (no `act`) is a deliberate per-client setting.
 */
export const decideActor = step("decide_actor", (ctx) => {
  ctx.act = ctx.client.mode === "delegation" ? { sub: ctx.client.id } : undefined;
});

/**
 * Lifetime: the configured TTL, shortened by any target audience's own TTL, and never past the IdP
 * session (SessionNotOnOrAfter, SAML Core §2.7.2).
 */
export const decideLifetime = step("decide_lifetime", (ctx, services) => {
  const subject = need(ctx.subject, "subject");
  const ttls = [services.tokens.ttlSeconds, ...need(ctx.targets, "targets").map((t) => t.tokenTtlSeconds ?? Infinity)];
  let expiresAt = ctx.now + Math.min(...ttls) * 1000;
  if (subject.sessionNotOnOrAfter !== undefined) expiresAt = Math.min(expiresAt, subject.sessionNotOnOrAfter);
  if (expiresAt - ctx.now < 1000) throw refuse("session_expired");
  ctx.expiresAt = expiresAt;
});
