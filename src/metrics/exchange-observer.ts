import { SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import type { ExchangeContext, ExchangeObservation, PipelineObserver } from "../exchange/pipeline.js";
import { isOAuthError } from "../oauth/errors.js";
import { requestScope } from "../log/context.js";
import type { Tracing } from "../tracing/tracer.js";
import type { BridgeMetrics, Exemplar } from "./metrics.js";
import { bounded, code, NONE, OTHER } from "./labels.js";

/** The closed sets labels are drawn from (config ids; token types the bridge has verifiers for). */
export interface KnownValues {
  grantType(v: string): boolean;
  client(id: string): boolean;
  source(id: string): boolean;
  tokenType(uri: string): boolean;
}

/** A refusal's reason code, or internal_error for anything that is not an OAuthError (a bug). */
function reasonOf(error: unknown): string {
  return isOAuthError(error) ? error.reason : "internal_error";
}

function outcomeOf(error: unknown): "ok" | "refused" | "error" {
  if (error === undefined) return "ok";
  return isOAuthError(error) && error.code !== "server_error" ? "refused" : "error";
}

/**
 * Metrics and spans for every run of a grant's pipeline: the exchange counter and latency (with the
 * request id and trace id as exemplar), a latency histogram and a span per named step. Whatever
 * happens in here is swallowed: observing an exchange never changes its answer.
 */
export function exchangeObserver(metrics: BridgeMetrics, known: KnownValues, tracing?: Tracing): PipelineObserver {
  const safe = (f: () => void): void => {
    try {
      f();
    } catch {
      // never let telemetry break an exchange
    }
  };
  return {
    exchange(ctx: ExchangeContext): ExchangeObservation {
      const start = performance.now();
      const scope = requestScope();
      let grant = OTHER;
      let span: Span | undefined;
      safe(() => {
        grant = bounded(ctx.form.grant_type as string | undefined, known.grantType);
        if (!tracing) return;
        span = tracing.tracer.startSpan("token_exchange", {
          kind: SpanKind.SERVER,
          attributes: { "fedbridge.grant_type": grant, "fedbridge.client": bounded(ctx.client.id, known.client), ...(scope ? { "fedbridge.request_id": scope.requestId } : {}) },
        }, tracing.parentContext(scope?.trace));
        // The log line of this request now names the trace its spans are in (log/logger.ts).
        if (scope && span.spanContext().traceFlags & 1) scope.traceId = span.spanContext().traceId;
      });
      const exemplar = (): Exemplar => {
        const s = requestScope() ?? scope;
        const traceId = s?.traceId ?? s?.trace?.traceId;
        return { ...(s ? { request_id: s.requestId } : {}), ...(traceId ? { trace_id: traceId } : {}) };
      };
      return {
        step(name) {
          const t0 = performance.now();
          let stepSpan: Span | undefined;
          safe(() => {
            if (tracing && span) stepSpan = tracing.tracer.startSpan(name, { attributes: { "fedbridge.step": code(name) } }, trace.setSpan(tracing.parentContext(undefined), span));
          });
          return (error) => safe(() => {
            const outcome = outcomeOf(error);
            metrics.stepDuration.observe({ grant_type: grant, step: code(name), outcome }, (performance.now() - t0) / 1000);
            if (stepSpan) {
              if (error !== undefined) {
                stepSpan.setAttribute("fedbridge.reason", reasonOf(error));
                stepSpan.setStatus({ code: SpanStatusCode.ERROR, message: reasonOf(error) });
              }
              stepSpan.end();
            }
          });
        },
        end(error, step) {
          safe(() => {
            const labels = {
              grant_type: grant,
              subject_token_type: bounded(ctx.request?.subjectTokenType, known.tokenType),
              client: bounded(ctx.client.id, known.client),
              source: bounded(ctx.subject?.source.id, known.source),
              outcome: error === undefined ? "issued" : "refused",
              reason: error === undefined ? NONE : reasonOf(error),
            };
            const seconds = (performance.now() - start) / 1000;
            const durationLabels = { grant_type: grant, outcome: labels.outcome };
            if (metrics.exemplars) {
              // Outside a request (no ids) the series is counted without an exemplar.
              const ids = exemplar();
              const exemplarLabels = Object.keys(ids).length > 0 ? { exemplarLabels: ids } : {};
              metrics.exchanges.inc({ labels, value: 1, ...exemplarLabels });
              metrics.exchangeDuration.observe({ labels: durationLabels, value: seconds, ...exemplarLabels });
            } else {
              metrics.exchanges.inc(labels);
              metrics.exchangeDuration.observe(durationLabels, seconds);
            }
            if (span) {
              span.setAttributes({ "fedbridge.outcome": labels.outcome, "fedbridge.reason": labels.reason, "fedbridge.source": labels.source });
              if (step !== undefined) span.setAttribute("fedbridge.step", code(step));
              if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: labels.reason });
              span.end();
            }
          });
        },
      };
    },
  };
}
