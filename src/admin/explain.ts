import express, { type Router, type NextFunction, type Request, type Response } from "express";
import { z } from "zod";
import { TOKEN_TYPES, type ClientConfig } from "../config/schema.js";
import { isOAuthError, refuse } from "../oauth/errors.js";
import { mapSubject, type MappedSubject } from "../mapping/mapper.js";
import { resolveTargets } from "../policy/targets.js";
import { decideScope, parseScope } from "../policy/scope.js";
import { decideAct } from "../policy/delegation.js";
import type { ExchangeServices } from "../exchange/services.js";
import type { VerifiedSubject } from "../subject/types.js";
import { AdminError } from "./idp-manager.js";
import type { Logger } from "../log/logger.js";
import { GRANT_TOKEN_EXCHANGE } from "../config/schema.js";

/**
 * POST /admin/idps/{id}/explain: a dry run answering the support question "why was this user
 * refused?". It runs the exchange's own verification and policy functions step by step on a
 * subject token and reports what each found: which metadata key verified the signature, the
 * checked times and audience, the attributes, the mapped claims and scopes, and, for a named
 * client, the targets, scope, actor and the claims of the token that would be issued. It signs
 * nothing and marks nothing in the replay store.
 */
const explainInput = z.strictObject({
  subject_token: z.string().min(1).max(1_500_000),
  subject_token_type: z.enum([TOKEN_TYPES.saml2, TOKEN_TYPES.saml1]).default(TOKEN_TYPES.saml2),
  client_id: z.string().min(1).optional(),
  audience: z.array(z.string()).max(32).default([]),
  resource: z.array(z.string()).max(32).default([]),
  scope: z.string().optional(),
});

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
}): void {
  router.post("/admin/idps/:id/explain", express.json({ limit: 2 * 1024 * 1024 }), (req: Request, res: Response, next: NextFunction) => {
    const id = String(req.params.id);
    if (!deps.knows(id)) return next(new AdminError(404, "not_found"));
    // Explain shows a user's attributes: who looked is audited (never the token itself).
    deps.log({ event: "admin_audit", admin: req.admin, action: "explain", idp: id });
    explain(id, req.body, deps).then((r) => res.json(r), next);
  });
}

async function explain(
  idpId: string,
  body: unknown,
  deps: { services: ExchangeServices; clients: readonly ClientConfig[]; now: () => number },
): Promise<{ ok: boolean; steps: StepReport[]; claims?: Record<string, unknown> }> {
  const parsed = explainInput.safeParse(body);
  if (!parsed.success) throw new AdminError(400, "invalid_request", parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const input = parsed.data;
  const { services } = deps;
  const now = deps.now();
  const steps: StepReport[] = [];
  const fail = (step: string, e: unknown): { ok: false; steps: StepReport[] } => {
    if (!isOAuthError(e)) throw e;
    steps.push({ step, ok: false, reason: e.reason });
    return { ok: false, steps };
  };

  // 1. The token itself: everything the verifier checks (signature, conditions, subject).
  let subject: VerifiedSubject;
  try {
    const verify = services.tokenVerifiers.get(input.subject_token_type);
    if (!verify) throw new AdminError(400, "token_type_unsupported");
    subject = await verify(input.subject_token, now);
  } catch (e) {
    return fail("verify_subject_token", e);
  }
  steps.push({
    step: "verify_subject_token", ok: true, detail: {
      issuer: subject.source.issuer,
      verified_by_key: subject.keyId,
      subject: subject.subject,
      name_id_format: subject.nameIdFormat,
      assertion_id: subject.oneTimeUse?.id,
      issued_at: iso(subject.issuedAt),
      valid_until: iso(subject.expiresAt),
      session_not_on_or_after: iso(subject.notAfter),
      auth_time: iso(subject.authTime),
      acr: subject.acr,
      checked_at: iso(now),
      clock_skew_seconds: services.tokens.clockSkewSeconds,
      attributes: subject.attributes.map((a) => ({ name: a.name, friendly_name: a.friendlyName, name_format: a.nameFormat, values: a.values })),
    },
  });
  if (subject.source.id !== idpId) {
    steps.push({ step: "issuer_is_this_idp", ok: false, reason: "issuer_mismatch", detail: { token_idp: subject.source.id } });
    return { ok: false, steps };
  }

  // 2. The IdP's mapping: sub, claims, the subject's scope ceiling, required conditions.
  let mapped: MappedSubject;
  try {
    mapped = mapSubject(subject, subject.source.mapping!);
  } catch (e) {
    return fail("map_subject", e);
  }
  steps.push({ step: "map_subject", ok: true, detail: { sub: mapped.sub, claims: mapped.claims, granted_scopes: [...mapped.grantedScopes], may_act: mapped.mayAct } });

  // 3. A client's view, when one is named: the policy steps of the exchange, without issuing.
  if (input.client_id === undefined) return { ok: true, steps };
  const client = deps.clients.find((c) => c.id === input.client_id);
  if (!client) throw new AdminError(400, "unknown_client");
  // The same client checks, in the same order, as the token endpoint.
  const clientRefusal = !(client.grantTypes as readonly string[]).includes(GRANT_TOKEN_EXCHANGE) ? ["authorize_grant", "grant_not_allowed"]
    : !(client.subjectTokenTypes as readonly string[]).includes(input.subject_token_type) ? ["authorize_token_types", "subject_token_type_not_allowed"]
    : !client.idps.includes(idpId) ? ["authorize_sources", "idp_not_allowed"]
    : undefined;
  if (clientRefusal) {
    steps.push({ step: clientRefusal[0]!, ok: false, reason: clientRefusal[1]! });
    return { ok: false, steps };
  }
  try {
    const targets = resolveTargets({ audience: input.audience, resource: input.resource }, client, services.audiences, services.limits.maxTargets);
    const scope = decideScope(parseScope(input.scope), client.scopes, targets, mapped.grantedScopes);
    const act = decideAct({
      client, subject, actor: undefined, mayAct: subject.mayAct ?? mapped.mayAct,
      bridgeIssuer: services.issuer, maxChainDepth: services.delegation.maxChainDepth,
    });
    if (new Set(targets.map((t) => t.mayAct)).size > 1) throw refuse("target_not_allowed");
    let expiresAt = now + Math.min(services.tokens.ttlSeconds, ...targets.map((t) => t.tokenTtlSeconds ?? Infinity)) * 1000;
    if (subject.notAfter !== undefined) expiresAt = Math.min(expiresAt, subject.notAfter);
    if (expiresAt - now < 1000) throw refuse("session_expired");
    steps.push({ step: "client_policy", ok: true, detail: { targets: targets.map((t) => t.id), scope, act, mode: client.mode } });
    const claims = {
      ...mapped.claims,
      iss: services.issuer, sub: mapped.sub, aud: targets.length === 1 ? targets[0]!.id : targets.map((t) => t.id),
      iat: Math.floor(now / 1000), exp: Math.floor(expiresAt / 1000), client_id: client.id, idp: subject.source.issuer,
      ...(scope.length ? { scope: scope.join(" ") } : {}), ...(act ? { act } : {}),
    };
    return { ok: true, steps, claims };
  } catch (e) {
    return fail("client_policy", e);
  }
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
