import { Router, type NextFunction, type Request, type Response } from "express";
import type { ClientRegistry } from "../clients/registry.js";
import { refuse } from "../oauth/errors.js";
import { authenticateClient } from "./client-auth.js";
import { sendOAuthError } from "./error-response.js";
import { formBody } from "./form.js";

/**
 * An OAuth endpoint of the bridge (the token endpoint, RFC 6749 §3.2; introspection, RFC 7662 §2.1):
 * POST only (405 with `Allow: POST` otherwise), a bounded form body, and one authenticated client
 * (`req.client`) before the handler runs.
 */
export function oauthEndpoint(
  path: string,
  options: { clients: ClientRegistry; maxBodyBytes: number; maxParameters: number },
  handler: (req: Request, res: Response, next: NextFunction) => Promise<void>,
): Router {
  const router = Router();
  router.post(
    path,
    ...formBody({ limitBytes: options.maxBodyBytes, maxParameters: options.maxParameters }),
    authenticateClient(options.clients),
    (req: Request, res: Response, next: NextFunction) => {
      handler(req, res, next).catch(next);
    },
  );
  router.all(path, (_req, res) => {
    res.setHeader("Allow", "POST");
    sendOAuthError(res, refuse("parameter_invalid"), 405);
  });
  return router;
}
