import express, { type Express, type Router } from "express";
import type { ExchangeServices } from "../exchange/services.js";
import type { ClientRegistry } from "../clients/registry.js";
import type { Grant } from "../grants/grant.js";
import { tokenRoute } from "./routes/token.js";
import { discoveryRoutes } from "./routes/discovery.js";
import { healthRoutes, type Readiness } from "./routes/health.js";
import { introspectRoute } from "./routes/introspect.js";
import { samlMetadataRoute, type SpMetadataFor } from "./routes/saml-metadata.js";
import type { OwnTokenVerifier } from "../tokens/self-token.js";
import { errorHandler } from "./error-response.js";
import type { PlainHandler } from "./plain.js";
import { assertLaneMatchesApp, installTokenLane } from "./token-lane.js";
import { requestScopeMiddleware } from "../log/request-scope.js";
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
  /** GET /metrics (metrics/telemetry.ts), when served on the main port. */
  metricsRoute?: Router | undefined;
  /** Extra detail for /readyz (e.g. IdPs whose metadata refresh failed). */
  readinessDetail?: () => Record<string, unknown>;
  /** Raised on SIGTERM/SIGINT (main.ts): /readyz then answers 503 `draining`. */
  readiness?: Readiness;
  /** Config server.trustProxy: which proxies may name the client's address (limits/remote-address.ts). */
  trustProxy?: false | number | readonly string[];
}

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  // Express `trust proxy` (proxy-addr): req.ip is the TCP peer unless trusted proxies are configured.
  app.set("trust proxy", typeof options.trustProxy === "object" ? [...options.trustProxy] : options.trustProxy ?? false);
  // RFC 6749 §5.1 / RFC 8693 §2.2: token responses must not be cached; applied to every response.
  // Every request's id (X-Request-Id) and W3C trace context, for its log lines, exemplars and spans.
  const first: PlainHandler[] = [
    requestScopeMiddleware(),
    (_req, res, next) => {
      res.setHeader("Cache-Control", "no-store");
      res.setHeader("Pragma", "no-cache");
      res.setHeader("X-Content-Type-Options", "nosniff");
      next();
    },
  ];
  for (const m of first) app.use(m);
  const token = tokenRoute({ grants: options.grants, services: options.services, clients: options.clients, now: options.now });
  app.use(token.router);
  app.use(
    discoveryRoutes({
      issuer: options.services.issuer,
      tokenEndpoint: options.tokenEndpoint,
      keys: options.services.keys,
      grantTypes: options.grants.map((g) => g.grantType),
      tokenTypes: () => advertisedTokenTypes(options.services.tokenVerifiers),
      crossAppAccess: {
        issuesIdJag: (options.services.crossAppAccess?.servers.size ?? 0) > 0,
        acceptsIdJag: options.services.crossAppAccess?.verifyGrant !== undefined,
      },
      clientAssertionAlgorithms: options.clients.clientAssertionAlgorithms(),
      certificateMethods: options.clients.certificateMethods(),
      certificateBoundTokens: options.clients.bindsTokensToCertificates,
      ...(options.services.dpop ? { dpopAlgorithms: options.services.dpop.algorithms } : {}),
    }),
  );
  app.use(introspectRoute({
    clients: options.clients,
    verifyOwnToken: options.verifyOwnToken,
    maxBodyBytes: options.services.limits.maxBodyBytes,
    now: options.now,
  }));
  app.use(healthRoutes(options.services.replay, options.readinessDetail, options.readiness));
  for (const r of options.extraRoutes ?? []) app.use(r);
  if (options.metricsRoute) app.use(options.metricsRoute);
  app.use(samlMetadataRoute(options.samlMetadata));
  app.use((_req, res) => {
    res.status(404).json({ error: "not_found" });
  });
  const onError = errorHandler(options.services.log);
  app.use(onError);
  // POST /token on node's own objects, the same chain (http/token-lane.ts).
  installTokenLane(app, { endpoint: token, before: first, onError, log: options.services.log });
  assertLaneMatchesApp(app, [...first, token.router]);
  return app;
}
