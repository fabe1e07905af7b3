import express, { type Express, type Router } from "express";
import type { ExchangeServices } from "../exchange/services.js";
import type { ClientRegistry } from "../clients/registry.js";
import type { Grant } from "../grants/grant.js";
import { tokenRoute } from "./routes/token.js";
import { discoveryRoutes } from "./routes/discovery.js";
import { healthRoutes } from "./routes/health.js";
import { introspectRoute } from "./routes/introspect.js";
import { samlMetadataRoute, type SpMetadataFor } from "./routes/saml-metadata.js";
import type { OwnTokenVerifier } from "../tokens/self-token.js";
import { errorHandler } from "./error-response.js";
import { advertisedTokenTypes } from "../subject/verifiers.js";

export interface AppOptions {
  services: ExchangeServices;
  clients: ClientRegistry;
  grants: readonly Grant[];
  tokenEndpoint: string;
  /** The bridge's SAML SP metadata (saml/sp-metadata.ts), served at GET /saml/metadata[?idp=]. */
  samlMetadata: string | SpMetadataFor;
  verifyOwnToken: OwnTokenVerifier;
  now: () => number;
  /** Further routers (the admin API), mounted before the 404 handler. */
  extraRoutes?: readonly Router[];
  /** Extra detail for /readyz (e.g. IdPs whose metadata refresh failed). */
  readinessDetail?: () => Record<string, unknown>;
}

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  // RFC 6749 §5.1 / RFC 8693 §2.2: token responses must not be cached; applied to every response.
  app.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Pragma", "no-cache");
    res.setHeader("X-Content-Type-Options", "nosniff");
    next();
  });
  app.use(tokenRoute({ grants: options.grants, services: options.services, clients: options.clients, now: options.now }));
  app.use(
    discoveryRoutes({
      issuer: options.services.issuer,
      tokenEndpoint: options.tokenEndpoint,
      keys: options.services.keys,
      grantTypes: options.grants.map((g) => g.grantType),
      tokenTypes: () => advertisedTokenTypes(options.services.tokenVerifiers),
    }),
  );
  app.use(introspectRoute({
    clients: options.clients,
    verifyOwnToken: options.verifyOwnToken,
    maxBodyBytes: options.services.limits.maxBodyBytes,
    now: options.now,
  }));
  app.use(healthRoutes(options.services.replay, options.readinessDetail));
  for (const r of options.extraRoutes ?? []) app.use(r);
  app.use(samlMetadataRoute(options.samlMetadata));
  app.use((_req, res) => {
    res.status(404).json({ error: "not_found" });
  });
  app.use(errorHandler(options.services.log));
  return app;
}
