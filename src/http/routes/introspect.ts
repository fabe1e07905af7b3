import type { ServerResponse } from "node:http";
import type { Router } from "express";
import { isOAuthError, refuse } from "../../oauth/errors.js";
import type { ClientRegistry } from "../../clients/registry.js";
import type { OwnTokenVerifier } from "../../tokens/self-token.js";
import { oauthEndpoint } from "../oauth-endpoint.js";
import { sendJson } from "../error-response.js";
import type { OAuthRequest } from "../plain.js";
import { required, single, type Form } from "../../oauth/params.js";

/**
 * POST /introspect (RFC 7662) for authenticated resource servers (`clients[].introspect`). An
 * active token answers with its claims, the full `act` chain included, verified exactly as the
 * bridge verifies its own tokens in a next-hop exchange, so introspection and local JWT
 * validation never disagree. A client sees only tokens whose `aud` is one of its `audiences`.
 * Anything else is `{"active": false}` and nothing more (§2.2).
 */
export function introspectRoute(options: {
  clients: ClientRegistry;
  verifyOwnToken: OwnTokenVerifier;
  maxBodyBytes: number;
  now: () => number;
}): Router {
  return oauthEndpoint(
    "/introspect",
    { clients: options.clients, maxBodyBytes: options.maxBodyBytes, maxParameters: 16 },
    async (req: OAuthRequest, res: ServerResponse) => {
      if (!req.client!.introspect) throw refuse("grant_not_allowed");
      const form = req.body as Form;
      const token = required(form, "token");
      single(form, "token_type_hint"); // §2.1: a hint only; duplicates still refused
      let payload: Record<string, unknown>;
      try {
        payload = (await options.verifyOwnToken(token, options.now())).payload;
      } catch (e) {
        if (!isOAuthError(e)) throw e;
        sendJson(res, 200, { active: false });
        return;
      }
      // RFC 7662 §4: a resource server learns only about tokens meant for it. A token for another
      // audience is "inactive" to this caller, which also stops it testing stolen tokens.
      const aud = typeof payload.aud === "string" ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
      if (!aud.some((a) => req.client!.audiences.includes(String(a)))) {
        sendJson(res, 200, { active: false });
        return;
      }
      // RFC 7662 §2.2 token_type; `cnf` (RFC 9449 §6.2, RFC 8705 §3.2) is among the payload's claims.
      const cnf = payload.cnf as { jkt?: unknown } | undefined;
      sendJson(res, 200, { ...payload, active: true, token_type: typeof cnf?.jkt === "string" ? "DPoP" : "Bearer" });
    },
  ).router;
}
