import { signAccessToken, type AccessTokenContent } from "../../tokens/access-token.js";
import { SELF, type VerifiedSubject } from "../../subject/types.js";
import type { ExchangeServices } from "../services.js";
import { need, step, type ExchangeContext } from "../pipeline.js";

/** What the token will say, from what the earlier steps decided (also the explain preview). */
export function tokenContent(ctx: ExchangeContext, services: Pick<ExchangeServices, "issuer">): AccessTokenContent {
  const subject = need(ctx.subject, "subject");
  const mapped = need(ctx.mapped, "mapped");
  const targets = need(ctx.targets, "targets");
  // An audience may name the one client that may re-exchange its tokens (RFC 8693 §4.4); the
  // targets agree on it (resolve_targets).
  const mayActClient = targets[0]?.mayAct;
  return {
    issuer: services.issuer,
    sub: mapped.sub,
    audiences: targets.map((t) => t.id),
    clientId: ctx.client.id,
    scope: need(ctx.scope, "scope"),
    act: ctx.act,
    mayAct: mayActClient === undefined ? undefined : { sub: mayActClient, iss: services.issuer },
    // The subject's identity provider; a re-exchanged token keeps the original one.
    idp: subject.source.id === SELF ? need(subject.granted, "granted").idp : subject.source.issuer,
    authTime: subject.authTime,
    acr: subject.acr,
    claims: mapped.claims,
    issuedAt: ctx.now,
    expiresAt: need(ctx.expiresAt, "expiresAt"),
    proxyRestriction: nextProxyRestriction(subject),
    cnf: ctx.confirmation,
  };
}

/**
 * The ProxyRestriction the issued token carries on (SAML Core §2.5.1.6): one indirection fewer
 * (this token used one), the same audiences. A re-exchange of it is bound by both
 * (mapping/mapper.ts checkProxyRestriction).
 */
function nextProxyRestriction(subject: VerifiedSubject): AccessTokenContent["proxyRestriction"] {
  const count = subject.proxyCount === undefined ? undefined : subject.proxyCount - 1;
  const aud = subject.proxyAudiences;
  if (count === undefined && aud === undefined) return undefined;
  return { ...(count !== undefined ? { count } : {}), ...(aud !== undefined ? { aud: [...aud] } : {}) };
}

export const issueAccessToken = step("issue_token", async (ctx, services) => {
  ctx.issued = await signAccessToken(tokenContent(ctx, services), services.keys.active);
});
