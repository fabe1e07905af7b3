import type { ServerResponse } from "node:http";
import { OAuthError, refuse } from "../../oauth/errors.js";
import { runSteps, StepFailure, type ExchangeContext } from "../../exchange/pipeline.js";
import type { Grant } from "../../grants/grant.js";
import type { ExchangeServices } from "../../exchange/services.js";
import type { ClientRegistry } from "../../clients/registry.js";
import type { ClientConfig } from "../../config/schema.js";
import { oauthEndpoint, type OAuthEndpoint } from "../oauth-endpoint.js";
import { required, type Form } from "../../oauth/params.js";
import { sendJson, toOAuthError } from "../error-response.js";
import type { Next, OAuthRequest } from "../plain.js";
import { TOKEN_TYPE_ID_JAG } from "../../idjag/constants.js";
import { presentedCertificate } from "../../clients/mtls.js";


/**
 * POST /token (RFC 6749 §3.2, RFC 8693 §2). Body: application/x-www-form-urlencoded only, parsed
 * flat (no nested objects: `a[b]=c` is just a name) with a size and parameter-count limit. Then:
 * authenticate the client, dispatch on grant_type, run the grant's steps, answer per §2.2.1.
 */
export function tokenRoute(options: {
  grants: readonly Grant[];
  services: ExchangeServices;
  clients: ClientRegistry;
  now: () => number;
}): OAuthEndpoint {
  const { services } = options;
  const grants = new Map(options.grants.map((g) => [g.grantType, g]));
  return oauthEndpoint(
    "/token",
    { clients: options.clients, maxBodyBytes: services.limits.maxBodyBytes, maxParameters: 64 },
    async (req: OAuthRequest, res: ServerResponse, next: Next) => {
      const client = req.client!;
      const form = req.body as Form;
      let ctx: ExchangeContext | undefined;
      let grant: Grant | undefined;
      try {
        grant = grants.get(required(form, "grant_type"));
        if (!grant) throw refuse("grant_type_unsupported");
        grant = grant.variant?.(form) ?? grant;
        // RFC 9449 §4.3 check 1 counts header lines: headersDistinct keeps repeated ones apart.
        const dpopProofs = req.headersDistinct.dpop ?? [];
        // RFC 8705 §3: the connection's client certificate (when the bridge terminates TLS); a
        // certificateBoundTokens client's token is bound to it (cnf.x5t#S256, merged with a DPoP jkt).
        const certificateThumbprint = presentedCertificate(req)?.thumbprint;
        ctx = {
          now: options.now(), form, client, dpopProofs,
          ...(certificateThumbprint !== undefined ? { certificateThumbprint } : {}),
          ...(client.certificateBoundTokens && certificateThumbprint !== undefined ? { confirmation: { "x5t#S256": certificateThumbprint } } : {}),
        };
        // RFC 9449 §8: with nonces on, every answer to a DPoP request carries a fresh nonce
        // (use_dpop_nonce needs it; a success hands the client the next one).
        if (services.dpop?.nonces && dpopProofs.length > 0) res.setHeader("DPoP-Nonce", services.dpop.nonces.issue(client.id, ctx.now));
        await runSteps(grant.steps, ctx, services);
        logExchange(services, { client, ctx, grantType: grant.grantType, outcome: "issued", jti: ctx.issued!.jti });
        // RFC 6749 §5.1: `scope` is required when it differs from the request. A requested scope is
        // granted exactly or refused (decide_scope), so it differs only when defaults applied.
        sendJson(res, 200, {
          access_token: ctx.issued!.token,
          // RFC 9449 §5: a DPoP-bound token is of type DPoP; a certificate-bound one stays Bearer (RFC 8705 §3).
          token_type: ctx.confirmation?.jkt !== undefined ? "DPoP" : "Bearer",
          expires_in: Math.floor(ctx.expiresAt! / 1000) - Math.floor(ctx.now / 1000),
          ...(ctx.request?.scope === undefined && ctx.scope!.length > 0 ? { scope: ctx.scope!.join(" ") } : {}),
          // Last: a grant may replace a field (an ID-JAG's token_type is N_A, RFC 8693 §2.2.1).
          ...grant.responseFields?.(ctx),
        });
      } catch (e) {
        const err = toOAuthError(e);
        logExchange(services, {
          client, ctx, grantType: grant?.grantType, outcome: "refused", err, step: e instanceof StepFailure ? e.step : "dispatch",
        });
        next(err);
      }
    },
  );
}

/** One structured line per exchange: identifiers and reason codes only, never a token. */
function logExchange(
  services: ExchangeServices,
  e: {
    client: ClientConfig;
    ctx: ExchangeContext | undefined;
    grantType: string | undefined;
    outcome: "issued" | "refused";
    err?: OAuthError;
    step?: string;
    jti?: string;
  },
): void {
  const { ctx } = e;
  const type = ctx?.request?.subjectTokenType;
  services.log({
    event: "token_exchange",
    outcome: e.outcome,
    grant_type: e.grantType,
    client: e.client.id,
    // Only a known type is logged verbatim: the raw parameter is caller-controlled text.
    subject_token_type: type === undefined ? undefined : services.tokenVerifiers.has(type) || type === TOKEN_TYPE_ID_JAG ? type : "unsupported",
    idp: ctx?.subject?.source.id,
    sub: ctx?.mapped?.sub,
    actor: ctx?.act?.sub,
    audience: ctx?.targets?.map((t) => t.id),
    scope: ctx?.scope?.join(" "),
    error: e.err?.code,
    reason: e.err?.reason,
    step: e.step,
    jti: e.jti,
  });
}
