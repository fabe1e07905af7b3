import type { IncomingMessage, ServerResponse } from "node:http";
import type { ClientConfig } from "../config/schema.js";

/**
 * What the OAuth endpoints read of a request: node's own IncomingMessage plus the three things the
 * middleware of an endpoint adds (the parsed form, the caller's address, the authenticated client).
 * Express's Request has all of it, so the same handlers serve through Express (every other path
 * and method) and through the token endpoint's fast lane (http/token-lane.ts), which gives them
 * node's objects as they are.
 */
export interface OAuthRequest extends IncomingMessage {
  /** The form (http/form.ts, body-parser's urlencoded). */
  body?: unknown;
  /** The caller's address under `server.trustProxy` (Express's `req.ip`, proxy-addr). */
  readonly ip?: string | undefined;
  /** The authenticated OAuth client, set by http/client-auth.ts. */
  client?: ClientConfig;
}

export type Next = (err?: unknown) => void;

/** A connect-style handler on node's objects: what Express, body-parser and passport all call. */
export type PlainHandler = (req: OAuthRequest, res: ServerResponse, next: Next) => void;

/**
 * Runs `chain` in order the way Express runs a route's handlers: each calls `next()` to go on or
 * `next(err)` to stop; a throw is `next(err)`. `done(err)` gets the first refusal, `done()` a chain
 * whose last handler went on without answering.
 */
export function runChain(chain: readonly PlainHandler[], req: OAuthRequest, res: ServerResponse, done: Next): void {
  let i = 0;
  const next: Next = (err) => {
    if (err !== undefined && err !== null) return done(err);
    const h = chain[i++];
    if (!h) return done();
    try {
      h(req, res, next);
    } catch (e) {
      done(e);
    }
  };
  next();
}
