import type { IncomingMessage, ServerResponse } from "node:http";
import type { Express } from "express";
import proxyaddr from "proxy-addr";
import type { PlainErrorHandler } from "./error-response.js";
import type { Logger } from "../log/logger.js";
import type { OAuthEndpoint } from "./oauth-endpoint.js";
import { runChain, type Next, type OAuthRequest, type PlainHandler } from "./plain.js";

/**
 * The token endpoint's fast lane: `POST /token` (that exact request target, the form every client
 * sends) is served on node's own request and response objects, without Express's.
 *
 * Why: Express gives every request its own prototypes (`Object.setPrototypeOf` on the request and
 * the response, express/lib/application.js `handle`), after which every property access on them,
 * in node's HTTP code as in body-parser and passport, misses V8's inline caches. Measured with
 * `npm run bench:http` on the 2-vCPU development machine: the chain an exchange runs (request
 * scope, form, passport) costs ≈ 390 µs of CPU through Express and ≈ 225 µs on node's objects
 * (docs/performance.md); the router itself is a small part of it.
 *
 * What stays the same: the handlers. The lane runs exactly the endpoint's chain (http/form.ts with
 * body-parser, http/client-auth.ts with passport, the grant's steps) after the same request scope
 * and headers as the app's first middleware, and refusals go through the app's one error
 * serializer (http/error-response.ts). Everything else (other methods: 405; other spellings of
 * the path, a query string; every other route) goes to Express, which serves it as before.
 */
export function installTokenLane(app: Express, o: {
  endpoint: OAuthEndpoint;
  /** The app's first middleware (request id and trace context, then the no-store headers). */
  before: readonly PlainHandler[];
  /** The app's error middleware. */
  onError: PlainErrorHandler;
  /** Where a response that had to be cut is logged (the error class only, never the message). */
  log?: Logger;
}): void {
  // Express's `app(req, res)` is `app.handle(req, res, next)` (express/lib/express.js, 4.x and
  // 5.x; not in its type declarations): replaced on this app only. test/http/token-lane.test.ts
  // fails should an Express release stop routing through it.
  const inner = app as unknown as { handle: (req: IncomingMessage, res: ServerResponse, done?: Next) => void };
  const express = inner.handle.bind(app);
  const { endpoint } = o;
  const chain: readonly PlainHandler[] = [...o.before, (req, res, next) => endpoint.serve(req, res, next)];
  inner.handle = (req, res, done) => {
    if (req.method !== "POST" || req.url !== endpoint.path) return express(req, res, done);
    serve(req as OAuthRequest, res);
  };

  function serve(req: OAuthRequest, res: ServerResponse): void {
    // What Express's req.ip and res.app would give: the caller's address under server.trustProxy
    // (the limits key on it), and the app whose error counter the serializer feeds.
    Object.defineProperty(req, "ip", {
      value: proxyaddr(req, app.get("trust proxy fn") as (addr: string, i: number) => boolean), enumerable: true, writable: true, configurable: true,
    });
    (res as ServerResponse & { app?: object }).app = app;
    let answered = false;
    runChain(chain, req, res, (err) => {
      // One error answer per request, whatever the chain does after it.
      if (answered) return;
      answered = true;
      // The endpoint's chain ends in a refusal (oauth-endpoint.ts): `err` is always set; should it
      // not be, that is a bug too.
      const e = err ?? new Error("token endpoint chain ended without an answer");
      try {
        o.onError(e, req, res, (unhandled) => {
          // Headers already sent: nothing can be answered any more; the connection goes (as
          // Express's final handler does), and the log says why.
          if (unhandled !== undefined) cut(res, unhandled);
        });
      } catch (fault) {
        // The error handler itself failed: Express would answer 500 from its final handler; here
        // the request must not hang nor the process die: the connection goes.
        cut(res, fault);
      }
    });
  }

  function cut(res: ServerResponse, cause: unknown): void {
    o.log?.({ event: "internal_error", reason: "response_cut", error: cause instanceof Error ? cause.name : typeof cause });
    res.destroy();
  }
}

/**
 * The lane runs `before` and then the endpoint: anything the app runs between them for every
 * request (a middleware added later with app.use) would be skipped for POST /token. So the app's
 * first layers must be exactly those handlers, in that order; start-up stops otherwise.
 */
export function assertLaneMatchesApp(app: Express, handlers: readonly unknown[]): void {
  const stack = (app as unknown as { router?: { stack?: readonly { handle?: unknown }[] } }).router?.stack ?? [];
  const mismatch = handlers.findIndex((h, i) => stack[i]?.handle !== h);
  if (mismatch !== -1) {
    throw new Error(`token lane: the app's layer ${mismatch} is not the one the lane runs there; POST /token would skip a middleware the app runs for every other request`);
  }
}
