import { isOAuthError, refuse } from "../../oauth/errors.js";
import { decideScope } from "../../policy/scope.js";
import { assertionGrantRequest } from "../../grants/assertion-request.js";
import { resolveTargets } from "../../policy/targets.js";
import { TOKEN_TYPE_ID_JAG } from "../../idjag/constants.js";
import type { IdJagGrant } from "../../idjag/verify.js";
import { need, step, type ExchangeContext, type Step } from "../pipeline.js";

/**
 * Accepting an Identity Assertion JWT Authorization Grant with the RFC 7523 §2.1 JWT bearer grant
 * (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.4): the steps particular to it. The
 * grant's subject then goes through the shared source authorization, mapping, delegation,
 * lifetime, one-time use and issuance of any exchange: the bridge's usual access token.
 */

const grants = new WeakMap<ExchangeContext, IdJagGrant>();

function grantOf(ctx: ExchangeContext): IdJagGrant {
  return need(grants.get(ctx), "id-jag grant");
}

/**
 * RFC 7523 §2.1: `assertion` (one JWT), optional `scope` (RFC 6749 §3.3) and RFC 8707 `resource`,
 * both only narrowing what the grant says.
 */
export const readJwtBearerRequest = step("read_request", (ctx) => {
  ctx.request = assertionGrantRequest(ctx.form, TOKEN_TYPE_ID_JAG);
});

/** Draft §4.4.1: `typ`, issuer, signature, `aud`, lifetime and claim shapes (src/idjag/verify.ts). */
export const verifyIdJag = step("verify_id_jag", async (ctx, services) => {
  const verify = services.crossAppAccess?.verifyGrant;
  if (!verify) throw refuse("id_jag_issuer_not_trusted");
  const { subject, grant } = await verify(need(ctx.request, "request").subjectToken, ctx.now);
  ctx.subject = subject;
  grants.set(ctx, grant);
});

/**
 * Draft §4.4.1: "The Resource Authorization Server MUST validate that the client_id claim in the
 * ID-JAG matches the authenticated client making the request" (exact, constant data: both public).
 */
export const checkIdJagClient = step("check_id_jag_client", (ctx) => {
  if (grantOf(ctx).clientId !== ctx.client.id) throw refuse("id_jag_client_mismatch");
});

/**
 * The access token's audiences: the grant's `resource` values (or the request's, which must be
 * among them), each an audience this client may have (RFC 8707: invalid_target); none at all, the
 * client's default audience. Like resolve_targets, one may_act per token (RFC 8693 §4.4).
 */
export const resolveIdJagTargets = step("resolve_targets", (ctx, services) => {
  const request = need(ctx.request, "request");
  const granted = grantOf(ctx).resource;
  if (granted !== undefined && request.resource.some((r) => !granted.includes(r))) throw refuse("target_not_allowed");
  const wanted = request.resource.length > 0 ? request.resource : (granted ?? []);
  const targets = resolveTargets({ audience: [], resource: wanted }, ctx.client, services.audiences, services.limits.maxTargets);
  if (new Set(targets.map((t) => t.mayAct)).size > 1) throw refuse("target_not_allowed");
  ctx.targets = targets;
});

/**
 * Scope, never wider than the grant (draft §4.4.1: the granted scopes MAY be a subset): the
 * request's `scope` or else the grant's, within the grant's scope, the client's scopes, every
 * target audience's scopes and the issuer mapping's grant. A grant without `scope` authorizes
 * none (scope_empty), rather than the audiences' defaults.
 */
export const decideIdJagAccessScope = step("decide_scope", (ctx) => {
  const request = need(ctx.request, "request");
  const ceiling = new Set(grantOf(ctx).scope ?? []);
  const granted = new Set([...need(ctx.mapped, "mapped").grantedScopes].filter((s) => ceiling.has(s)));
  const requested = request.scope ?? grantOf(ctx).scope;
  ctx.scope = decideScope(requested, ctx.client.scopes, need(ctx.targets, "targets"), granted);
});

/** RFC 7523 §3.1: a grant that is not valid is `invalid_grant`; request, client, target and scope errors keep theirs. */
export function grantErrorsAsInvalidGrant(inner: Step): Step {
  return step(inner.name, async (ctx, services) => {
    try {
      await inner.run(ctx, services);
    } catch (e) {
      if (isOAuthError(e) && e.code === "invalid_request") throw e.withCode("invalid_grant");
      throw e;
    }
  });
}
