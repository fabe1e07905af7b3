import { refuse } from "../../oauth/errors.js";
import { many, required, single } from "../../oauth/params.js";
import { TOKEN_TYPES } from "../../oauth/constants.js";
import { decideScope, parseScope } from "../../policy/scope.js";
import { checkSubjectIdentifier } from "../../subject/identifier.js";
import type { AudienceConfig, ResourceAuthorizationServerConfig } from "../../config/schema.js";
import type { VerifiedSubject } from "../../subject/types.js";
import type { MayAct } from "../../oauth/claims.js";
import { decodeUnverified } from "../../jwt/compact.js";
import { TOKEN_TYPE_ID_JAG } from "../../idjag/constants.js";
import { signIdJag, type IdJagContent } from "../../idjag/grant-token.js";
import type { ExchangeServices } from "../services.js";
import { need, step, type ExchangeContext } from "../pipeline.js";

/**
 * Issuing an Identity Assertion JWT Authorization Grant by token exchange
 * (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.3): the steps particular to it. The
 * subject token goes through the very verification, source authorization, mapping and one-time
 * use of any exchange (the shared steps); what differs is the target (a configured resource
 * authorization server, not an audience of the bridge), the scope ceiling, the subject and the
 * token issued.
 */

/** The resource authorization server and this client's entry there, chosen by resolve_id_jag_audience. */
export interface IdJagPlan {
  server: ResourceAuthorizationServerConfig;
  entry: ResourceAuthorizationServerConfig["clients"][number];
  resources: string[];
  sub?: string;
}

const plans = new WeakMap<ExchangeContext, IdJagPlan>();

/** The plan of this exchange (explain reads it too). */
export function idJagPlan(ctx: ExchangeContext): IdJagPlan {
  return need(plans.get(ctx), "id-jag plan");
}

/** Identity assertions only (draft §4.3 `subject_token`): SAML 2.0 / 1.1 assertions, ID tokens, JWTs. */
const ASSERTION_TYPES: readonly string[] = [TOKEN_TYPES.saml2, TOKEN_TYPES.saml1, TOKEN_TYPES.idToken, TOKEN_TYPES.jwt];

/**
 * RFC 8693 §2.1 as the draft §4.3 profiles it: `audience` REQUIRED and one value (the resource
 * authorization server), `resource` and `scope` optional. The draft defines no processing of an
 * `actor_token` (§4.3, §8.5): refused rather than ignored, so no caller believes an actor was
 * recorded.
 */
export const readIdJagRequest = step("read_request", (ctx) => {
  const { form } = ctx;
  const subjectToken = required(form, "subject_token");
  const subjectTokenType = required(form, "subject_token_type");
  const actorToken = single(form, "actor_token");
  const actorTokenType = single(form, "actor_token_type");
  if ((actorToken === undefined) !== (actorTokenType === undefined)) throw refuse("actor_token_pairing");
  if (actorToken !== undefined) throw refuse("id_jag_actor_unsupported");
  // Draft §4.3.3: authorization_details MUST be processed when present; RAR is not implemented, so
  // it is refused rather than dropped from a grant the client would believe restricted by it.
  if (single(form, "authorization_details") !== undefined) throw refuse("parameter_invalid");
  const audience = many(form, "audience");
  if (audience.length === 0) throw refuse("target_missing");
  if (audience.length > 1) throw refuse("target_too_many");
  ctx.request = {
    subjectToken,
    subjectTokenType,
    actorToken: undefined,
    actorTokenType: undefined,
    requestedTokenType: TOKEN_TYPE_ID_JAG,
    audience,
    resource: many(form, "resource"),
    scope: parseScope(single(form, "scope")),
  };
});

/** Draft §4.3: the subject token is an Identity Assertion; the bridge's own access tokens are not one (§8.3). */
export const authorizeIdJagSubjectType = step("authorize_id_jag_subject", (ctx) => {
  if (!ASSERTION_TYPES.includes(need(ctx.request, "request").subjectTokenType)) throw refuse("id_jag_subject_not_assertion");
});

/**
 * The `audience` must be the issuer identifier of a configured resource authorization server
 * (exact match, draft §4.3) that lists the calling client; an unknown server and a server the
 * client may not use answer alike (no oracle of the configuration). Every `resource` must be one
 * of the client's resources there (RFC 8707 §2: invalid_target); without one, all of them.
 */
export const resolveIdJagAudience = step("resolve_id_jag_audience", (ctx, services) => {
  const request = need(ctx.request, "request");
  const server = services.crossAppAccess?.servers.get(request.audience[0]!);
  const entry = server?.clients.find((c) => c.client === ctx.client.id);
  if (!server || !entry) throw refuse("id_jag_audience_unknown");
  if (request.resource.length > services.limits.maxTargets) throw refuse("target_too_many");
  for (const r of request.resource) {
    if (r.includes("#") || !URL.canParse(r)) throw refuse("target_invalid");
    if (!entry.resources.includes(r)) throw refuse("target_not_allowed");
  }
  const resources = request.resource.length > 0 ? [...new Set(request.resource)] : [...entry.resources];
  plans.set(ctx, { server, entry, resources });
  // The server as the exchange's one target: logs, explain and the ProxyRestriction check
  // (map_subject: an ID-JAG is an assertion issued on the basis of the subject's, SAML Core §2.5.1.6).
  const target: AudienceConfig = { id: server.issuer, scopes: [...entry.scopes], defaultScopes: [...entry.defaultScopes], tokenTtlSeconds: server.grantTtlSeconds };
  ctx.targets = [target];
});

/**
 * Draft §4.3.3: the IdP "MUST validate that the audience of the assertion ... matches the client_id
 * of the client authentication of the request". For an ID token or JWT: its `aud` (or `azp` with
 * several audiences) must be one of the caller's identifiers at that issuer (`issuerParties`), so
 * a token issued to one relying party cannot be traded by another. A SAML assertion's audience is
 * the bridge itself (its SP entity ID, checked by the SAML rules): its binding to the client is
 * the client's `idps` and the assertion's one-time use.
 */
export const bindIdJagSubjectToClient = step("bind_id_jag_subject", (ctx) => {
  const request = need(ctx.request, "request");
  const subject = need(ctx.subject, "subject");
  if (subject.tokenType !== TOKEN_TYPES.idToken && subject.tokenType !== TOKEN_TYPES.jwt) return;
  const listed = Object.hasOwn(ctx.client.issuerParties, subject.source.id) ? ctx.client.issuerParties[subject.source.id]! : [];
  // The token was verified from exactly these bytes (verify_subject_token): reading them again is safe.
  const { payload } = decodeUnverified(request.subjectToken);
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const named = aud.length === 1 ? aud[0] : payload.azp;
  if (typeof named !== "string" || !listed.includes(named)) throw refuse("id_jag_subject_client_mismatch");
});

/** Scope: requested (or the entry's defaults) within the entry's scopes and the subject's mapping grant; never widened. */
export const decideIdJagScope = step("decide_scope", (ctx) => {
  const { entry } = idJagPlan(ctx);
  ctx.scope = decideScope(need(ctx.request, "request").scope, entry.scopes, need(ctx.targets, "targets"), need(ctx.mapped, "mapped").grantedScopes);
});

/**
 * The ID-JAG `sub` (draft §3.1: the identifier the resource authorization server knows from SSO):
 * the mapped `sub`, or the server's `subjectClaim`. No delegation: a subject token carrying `act`
 * would be misrepresented by a grant without it, and the draft defines none (§8.5). A `may_act`
 * constraint must name the calling client (RFC 8693 §4.4), which is who will act.
 */
export const decideIdJagSubject = step("decide_id_jag_subject", (ctx, services) => {
  const plan = idJagPlan(ctx);
  const subject = need(ctx.subject, "subject");
  const mapped = need(ctx.mapped, "mapped");
  if (subject.act) throw refuse("id_jag_actor_unsupported");
  const mayAct: MayAct | undefined = subject.mayAct ?? mapped.mayAct;
  if (mayAct && (mayAct.sub !== ctx.client.id || (mayAct.iss !== undefined && mayAct.iss !== services.issuer))) throw refuse("may_act_mismatch");
  if (plan.server.subjectClaim === undefined) {
    plan.sub = mapped.sub;
    return;
  }
  const v = mapped.claims[plan.server.subjectClaim];
  const one = Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
  if (one === undefined) throw refuse("id_jag_subject_claim_missing");
  plan.sub = checkSubjectIdentifier(one);
});

/** The server's grant lifetime, never past the subject token (draft §3.1: short-lived). */
export const decideIdJagLifetime = step("decide_lifetime", (ctx) => {
  const { server } = idJagPlan(ctx);
  let expiresAt = ctx.now + server.grantTtlSeconds * 1000;
  const notAfter = need(ctx.subject, "subject").notAfter;
  if (notAfter !== undefined) expiresAt = Math.min(expiresAt, notAfter);
  if (expiresAt - ctx.now < 1000) throw refuse("session_expired");
  ctx.expiresAt = expiresAt;
});

/** What the grant will say, from what the earlier steps decided (also the explain preview). */
export function idJagContent(ctx: ExchangeContext, services: Pick<ExchangeServices, "issuer">): IdJagContent {
  const plan = idJagPlan(ctx);
  const subject = need(ctx.subject, "subject");
  return {
    issuer: services.issuer,
    sub: need(plan.sub, "sub"),
    audience: plan.server.issuer,
    clientId: plan.entry.clientId,
    resources: plan.resources,
    scope: need(ctx.scope, "scope"),
    authTime: subject.authTime,
    acr: subject.acr,
    amr: amrOf(subject),
    claims: need(ctx.mapped, "mapped").claims,
    issuedAt: ctx.now,
    expiresAt: need(ctx.expiresAt, "expiresAt"),
  };
}

/** OIDC Core §2 `amr` of an ID token or JWT (its values as read); SAML carries none. */
function amrOf(subject: VerifiedSubject): string[] | undefined {
  if (subject.tokenType !== TOKEN_TYPES.idToken && subject.tokenType !== TOKEN_TYPES.jwt) return undefined;
  return subject.attributes.find((a) => a.name === "amr")?.values;
}

export const issueIdJag = step("issue_id_jag", async (ctx, services) => {
  ctx.issued = await signIdJag(idJagContent(ctx, services), services.keys.active);
});
