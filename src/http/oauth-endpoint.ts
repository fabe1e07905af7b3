import type { ServerResponse } from "node:http";
import { Router } from "express";
import type { ClientRegistry } from "../clients/registry.js";
import { refuse } from "../oauth/errors.js";
import { authenticateClient } from "./client-auth.js";
import { sendOAuthError } from "./error-response.js";
import { formBody } from "./form.js";
import { runChain, type Next, type OAuthRequest, type PlainHandler } from "./plain.js";

/**
 * An OAuth endpoint of the bridge (the token endpoint, RFC 6749 §3.2; introspection, RFC 7662 §2.1):
 * POST only (405 with `Allow: POST` otherwise), a bounded form body, and one authenticated client
 * (`req.client`) before the handler runs. One chain of handlers on node's own request and
 * response objects, reachable two ways: `router` (Express: every method, path spelling and query)
 * and `serve` (the same chain called directly, for the token endpoint's fast lane,
 * http/token-lane.ts). Both run the same functions in the same order.
 */
export interface OAuthEndpoint {
  readonly path: string;
  readonly router: Router;
  /** Runs the chain; `done(err)` gets every refusal (the chain's last handler is one: see below). */
  serve(req: OAuthRequest, res: ServerResponse, done: Next): void;
}

export function oauthEndpoint(
  path: string,
  options: { clients: ClientRegistry; maxBodyBytes: number; maxParameters: number },
  handler: (req: OAuthRequest, res: ServerResponse, next: Next) => Promise<void>,
): OAuthEndpoint {
  const chain: readonly PlainHandler[] = [
    ...formBody({ limitBytes: options.maxBodyBytes, maxParameters: options.maxParameters }),
    authenticateClient(options.clients),
    (req, res, next) => {
      handler(req, res, next).catch(next);
    },
    // A handler answers or refuses; one that went on instead is a bug, answered as one (500) on
    // both ways in, rather than Express falling through to the 405 below.
    (_req, _res, next) => next(new Error(`${path}: the handler neither answered nor refused`)),
  ];
  const router = Router();
  router.post(path, ...chain);
  router.all(path, (_req, res) => {
    res.setHeader("Allow", "POST");
    sendOAuthError(res, refuse("parameter_invalid"), 405);
  });
  return {
    path,
    router,
    serve: (req, res, done) => runChain(chain, req, res, done),
  };
}
