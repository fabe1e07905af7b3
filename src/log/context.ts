import { AsyncLocalStorage } from "node:async_hooks";
import type { TraceContext } from "../tracing/traceparent.js";

/**
 * What identifies the request being served, for every log line, metric exemplar and span written
 * while it is served, without threading it through every function: Node's AsyncLocalStorage
 * follows the request through awaits, timers and the body parser's stream callbacks.
 */
export interface RequestScope {
  /** The caller's X-Request-Id when it is well-formed (request-scope.ts), else one generated here. */
  readonly requestId: string;
  /** The caller's W3C traceparent (Trace Context §3.2), when it sent a valid one. */
  readonly trace: TraceContext | undefined;
  /** The trace of the bridge's own spans, once tracing started one (may differ: a new root trace). */
  traceId?: string;
}

const storage = new AsyncLocalStorage<RequestScope>();

export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

export function requestScope(): RequestScope | undefined {
  return storage.getStore();
}
