import express, { type Router, type NextFunction, type Request, type Response } from "express";
import { z } from "zod";
import { type ClientConfig } from "../config/schema.js";
import { GRANT_TOKEN_EXCHANGE, TOKEN_TYPES } from "../oauth/constants.js";
import { isOAuthError } from "../oauth/errors.js";
import { tokenExchangeGrant } from "../grants/token-exchange.js";
import { readRequest } from "../exchange/steps/request.js";
import { verifySubjectToken, mapSubjectClaims } from "../exchange/steps/subject.js";
import { tokenContent } from "../exchange/steps/issue.js";
import { checkTokensUnused } from "../exchange/steps/replay.js";
import { accessTokenClaims } from "../tokens/access-token.js";
import type { ExchangeContext, Step } from "../exchange/pipeline.js";
import type { ExchangeServices } from "../exchange/services.js";
import type { Form } from "../oauth/params.js";
import type { Logger } from "../log/logger.js";
import { AdminError } from "./errors.js";
import { namespaceOf } from "../policy/subject-namespace.js";
import { idJagExchangeGrant } from "../grants/id-jag-exchange.js";
import { idJagContent, idJagPlan } from "../exchange/steps/id-jag.js";
import { idJagClaims } from "../idjag/grant-token.js";
import { TOKEN_TYPE_ID_JAG } from "../idjag/constants.js";
import { DPOP_STEP_NAMES } from "../dpop/steps.js";

/**
 * POST /admin/idps/{id}/explain: a dry run answering the support question "why was this user
 * refused?". It runs the token endpoint's own steps, in their order, on a subject token and
 * reports what each found: which metadata key verified the signature, the checked times, the
 * attributes, the mapped claims and scopes, and, for a named client, the targets, scope, actor,
 * lifetime, whether the assertion was already used, and the claims of the token that would be
 * issued. Nothing is marked used in the replay store, nothing is signed.
 */
const explainInput = z.strictObject({
  subject_token: z.string().min(1),
  subject_token_type: z.enum([TOKEN_TYPES.saml2, TOKEN_TYPES.saml1]).default(TOKEN_TYPES.saml2),
  client_id: z.string().min(1).optional(),
  audience: z.array(z.string()).max(32).default([]),
  resource: z.array(z.string()).max(32).default([]),
  scope: z.string().optional(),
  // RFC 8693 §2.1: an actor token and its type go together (read_request checks that, as at /token).
  actor_token: z.string().min(1).optional(),
  actor_token_type: z.enum([TOKEN_TYPES.jwt, TOKEN_TYPES.idToken, TOKEN_TYPES.accessToken]).optional(),
  // Cross-App Access: id-jag explains the ID-JAG the bridge would issue (`audience`: the server's issuer).
  requested_token_type: z.enum([TOKEN_TYPES.accessToken, TOKEN_TYPE_ID_JAG]).default(TOKEN_TYPES.accessToken),
});

/**
 * The exchange without its effects: consume_tokens only checks (a used assertion is reported as
 * `replayed`, nothing is marked) and issue_token is left out (nothing is signed).
 */
const DRY_RUN: readonly Step[] = tokenExchangeGrant.steps
  // Rate limits count requests: a dry run must not spend a client's, source's or subject's budget.
  .filter((s) => s.name !== "issue_token" && !s.name.startsWith("limit_"))
  // A dry run has no HTTP request, so no DPoP proof (and check_dpop would mark its jti).
  .filter((s) => !DPOP_STEP_NAMES.has(s.name))
  // Nor a TLS connection, so no client certificate to hold a certificate-bound token to.
  .filter((s) => s.name !== "check_certificate_binding")
  .map((s) => (s.name === "consume_tokens" ? checkTokensUnused : s));
/** The same for an ID-JAG (grants/id-jag-exchange.ts): nothing marked, nothing signed. */
const ID_JAG_DRY_RUN: readonly Step[] = idJagExchangeGrant.steps
  .filter((s) => s.name !== "issue_id_jag" && !s.name.startsWith("limit_"))
  .map((s) => (s.name === "consume_tokens" ? checkTokensUnused : s));
/** Without a client, only what depends on the token and the IdP alone. */
const TOKEN_ONLY: readonly Step[] = [readRequest, verifySubjectToken, mapSubjectClaims];

/** A client that may do nothing: it only carries the token-only steps, which read no client. */
const NO_CLIENT: ClientConfig = {
  id: "(explain)", secretHash: "", grantTypes: [], audiences: [], scopes: [], subjectTokenTypes: [], actorTokenTypes: [],
  idps: [], issuerParties: {}, mode: "delegation", impersonateChains: false, introspect: false, certificateBoundTokens: false,
};

interface StepReport {
  step: string;
  ok: boolean;
  reason?: string;
  detail?: Record<string, unknown>;
}

export function explainRoute(router: Router, deps: {
  services: ExchangeServices;
  clients: readonly ClientConfig[];
  now: () => number;
  /** Whether an IdP with this id exists (config file or admin-managed). */
  knows: (id: string) => boolean;
  log: Logger;
  /** The top-level userDirectory (the default of sources that declare none). */
  userDirectory?: string | undefined;
}): void {
  router.post("/admin/idps/:id/explain", express.json({ limit: deps.services.limits.maxBodyBytes }), (req: Request, res: Response, next: NextFunction) => {
    const id = String(req.params.id);
    if (!deps.knows(id)) return next(new AdminError(404, "not_found"));
    // Explain shows a user's attributes: who looked is audited (never the token itself).
    deps.log({ event: "admin_audit", admin: req.admin, action: "explain", idp: id });
    explain(id, req.body, deps).then((r) => res.json(r), next);
  });
}

export async function explain(
  idpId: string,
  body: unknown,
  deps: { services: ExchangeServices; clients: readonly ClientConfig[]; now: () => number; userDirectory?: string | undefined },
): Promise<{ ok: boolean; steps: StepReport[]; claims?: Record<string, unknown> }> {
  const parsed = explainInput.safeParse(body);
  if (!parsed.success) throw new AdminError(400, "invalid_request", parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const input = parsed.data;
  const client = input.client_id === undefined ? undefined : deps.clients.find((c) => c.id === input.client_id);
  if (input.client_id !== undefined && !client) throw new AdminError(400, "unknown_client");

  const form: Form = {
    grant_type: GRANT_TOKEN_EXCHANGE,
    subject_token: input.subject_token,
    subject_token_type: input.subject_token_type,
    audience: input.audience,
    resource: input.resource,
    ...(input.scope !== undefined ? { scope: input.scope } : {}),
    ...(input.actor_token !== undefined ? { actor_token: input.actor_token } : {}),
    ...(input.actor_token_type !== undefined ? { actor_token_type: input.actor_token_type } : {}),
    requested_token_type: input.requested_token_type,
  };
  const idJag = input.requested_token_type === TOKEN_TYPE_ID_JAG;
  const ctx: ExchangeContext = { now: deps.now(), form, client: client ?? NO_CLIENT };
  const steps: StepReport[] = [];
  for (const s of client ? (idJag ? ID_JAG_DRY_RUN : DRY_RUN) : TOKEN_ONLY) {
    try {
      await s.run(ctx, deps.services);
    } catch (e) {
      if (!isOAuthError(e)) throw e;
      steps.push({ step: s.name, ok: false, reason: e.reason });
      return { ok: false, steps };
    }
    const detail = detailOf(s.name, ctx, deps.services, deps.userDirectory);
    if (s.name === "verify_subject_token" && ctx.subject!.source.id !== idpId) {
      // The token is fine but belongs to another IdP: the wrong record is being explained.
      steps.push({ step: s.name, ok: false, reason: "issuer_mismatch", detail: { token_idp: ctx.subject!.source.id } });
      return { ok: false, steps };
    }
    if (s.name !== "read_request") steps.push({ step: s.name, ok: true, ...(detail ? { detail } : {}) });
  }
  if (!client) return { ok: true, steps };
  // The dry run skipped what only a live request can show (DPoP proof, client certificate): say
  // when /token will still require it, so "ok" never hides a refusal (dpop_proof_missing).
  const constraints = senderConstraints(client, ctx, idJag);
  if (constraints) steps.push({ step: "sender_constraint", ok: true, detail: constraints });
  return { ok: true, steps, claims: idJag ? idJagClaims(idJagContent(ctx, deps.services)) : accessTokenClaims(tokenContent(ctx, deps.services)) };
}

/** What each step established, as an operator wants to read it. */
function detailOf(step: string, ctx: ExchangeContext, services: ExchangeServices, userDirectory: string | undefined): Record<string, unknown> | undefined {
  const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
  switch (step) {
    case "verify_subject_token": {
      const s = ctx.subject!;
      return {
        issuer: s.source.issuer, verified_by_key: s.keyId, subject: s.subject, name_id_format: s.nameIdFormat,
        assertion_id: s.oneTimeUse?.id, issued_at: iso(s.issuedAt), valid_until: iso(s.expiresAt),
        session_not_on_or_after: iso(s.notAfter), auth_time: iso(s.authTime), acr: s.acr,
        checked_at: iso(ctx.now), clock_skew_seconds: services.tokens.clockSkewSeconds,
        attributes: s.attributes.map((a) => ({ name: a.name, friendly_name: a.friendlyName, name_format: a.nameFormat, values: a.values })),
      };
    }
    case "map_subject": {
      // The subject namespace applied (src/policy/subject-namespace.ts): the prefix that made `sub`
      // and the user directory the source is declared to share, if any.
      const mapping = ctx.subject!.source.mapping;
      const namespace = namespaceOf({ subjectPrefix: mapping?.subjectPrefix, userDirectory: mapping?.userDirectory ?? userDirectory });
      return {
        sub: ctx.mapped!.sub, claims: ctx.mapped!.claims, granted_scopes: [...ctx.mapped!.grantedScopes], may_act: ctx.mapped!.mayAct,
        subject_namespace: { subject_prefix: namespace.subjectPrefix, user_directory: namespace.userDirectory ?? null },
      };
    }
    case "resolve_targets":
      return { targets: ctx.targets!.map((t) => t.id) };
    case "resolve_id_jag_audience": {
      const plan = idJagPlan(ctx);
      return { resource_authorization_server: plan.server.id, audience: plan.server.issuer, client_id: plan.entry.clientId, resources: plan.resources };
    }
    case "decide_id_jag_subject":
      return { sub: idJagPlan(ctx).sub };
    case "decide_scope":
      return { scope: ctx.scope };
    case "decide_actor":
      return { act: ctx.act, mode: ctx.client.mode };
    case "decide_lifetime":
      return { expires_at: iso(ctx.expiresAt) };
    default:
      return undefined;
  }
}

/** What a token request must also present for this client and these targets (RFC 9449 §5, RFC 8705 §3). */
function senderConstraints(client: ClientConfig, ctx: ExchangeContext, idJag: boolean): Record<string, unknown> | undefined {
  if (idJag) return undefined; // an ID-JAG is never bound (docs/dpop.md)
  const dpop = client.dpop === "required" || (ctx.targets ?? []).some((t) => t.requireDpop === true);
  const certificate = client.certificateBoundTokens === true;
  if (!dpop && !certificate) return undefined;
  return { ...(dpop ? { dpop_proof: "required" } : {}), ...(certificate ? { client_certificate: "required" } : {}) };
}
