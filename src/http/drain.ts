import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type { Logger } from "../log/logger.js";
import type { Readiness } from "./routes/health.js";

/**
 * The graceful stop of the HTTP side (main.ts runs it on SIGTERM/SIGINT), in this order:
 *   1. /readyz answers 503 `draining` (Readiness), so load balancers stop routing here;
 *   2. for `delayMs` new connections are still accepted, since a load balancer notices only at its
 *      next probe; from step 1 on every response says `Connection: close` (RFC 9112 §9.6), so
 *      keep-alive clients open their next request elsewhere instead of reusing this connection;
 *   3. the listeners close (new connections are refused) and idle connections are closed;
 *   4. the exchanges in flight finish, each connection closing after its last response;
 * all within `graceMs` of the signal: past it the remaining connections are cut ("expired").
 * Closing Redis comes after, in main.ts (an exchange in flight still needs the replay store).
 */
export interface DrainOptions {
  /** The whole drain must end within this time of `drain()` (config server.shutdownGraceMs). */
  graceMs: number;
  /** Time between /readyz turning 503 and the listeners closing (config server.shutdownDelayMs). */
  delayMs: number;
  log: Logger;
  now: () => number;
}

export type DrainOutcome = "drained" | "expired";

/** What the drain needs of a listener: node:http's and node:https' servers alike. */
export type Listener = Pick<Server, "close" | "closeIdleConnections" | "closeAllConnections" | "listening">;

/** Exit code of a process whose shutdown was cut short: its grace ran out, or a second signal came. */
export const EXIT_SHUTDOWN_CUT = 3;

export class Drain {
  readonly #open = new Set<ServerResponse>();
  readonly #servers: Listener[] = [];
  #draining = false;
  #cut: (() => void) | undefined;

  constructor(private readonly readiness: Readiness) {}

  /** The request listener to serve: counts the responses in flight and marks them `Connection: close` once draining. */
  handler(app: RequestListener): RequestListener<typeof IncomingMessage, typeof ServerResponse> {
    return (req, res) => {
      if (this.#draining) res.setHeader("Connection", "close");
      this.#open.add(res);
      res.once("close", () => {
        this.#open.delete(res);
        // A connection whose response ended during the drain may now be idle: close it now.
        if (this.#draining) for (const s of this.#servers) s.closeIdleConnections();
      });
      app(req, res);
    };
  }

  /** The listeners to close on drain (the HTTP one, and any other serving the same handler). */
  track(server: Listener): void {
    this.#servers.push(server);
  }

  get inFlight(): number {
    return this.#open.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Runs steps 1-4; resolves once every connection is closed ("drained") or the grace is over ("expired"). */
  async drain(o: DrainOptions): Promise<DrainOutcome> {
    if (this.#draining) throw new Error("already draining");
    const deadline = o.now() + o.graceMs;
    this.#draining = true;
    this.readiness.drain();
    for (const res of this.#open) if (!res.headersSent) res.setHeader("Connection", "close");
    o.log({ event: "shutdown_draining", in_flight: this.#open.size, delay_ms: o.delayMs, grace_ms: o.graceMs });

    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      this.#cut = () => resolve("expired");
      timer = setTimeout(() => resolve("expired"), Math.max(0, deadline - o.now()));
    });
    const delay = new Promise<void>((resolve) => setTimeout(resolve, o.delayMs));
    const closed = delay.then(() => {
      o.log({ event: "shutdown_listener_closed", in_flight: this.#open.size });
      return Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeIdleConnections();
      })));
    }).then(() => "drained" as const);
    const outcome = await Promise.race([closed, expired]);
    clearTimeout(timer);
    if (outcome === "expired") {
      for (const s of this.#servers) {
        if (s.listening) s.close();
        s.closeAllConnections();
      }
    }
    o.log({ event: outcome === "drained" ? "shutdown_drained" : "shutdown_grace_expired", in_flight: this.#open.size });
    return outcome;
  }

  /** Ends a drain in progress at once, as if its grace had expired (a second signal). */
  cut(): void {
    this.#cut?.();
  }
}

/** Resolves with `work`'s outcome, or with `fallback` once `ms` have passed. */
export function within<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), Math.max(0, ms));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
