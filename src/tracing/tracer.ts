import { ROOT_CONTEXT, trace, type Context, type Tracer } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { TraceContext } from "./traceparent.js";

/**
 * OpenTelemetry tracing of the exchange pipeline (optional: config `tracing`), exported over
 * OTLP/HTTP (protobuf-free JSON) to a collector. The provider is the bridge's own, never registered
 * as the process-global one: a process may hold several bridges (tests), and nothing else in the
 * process is instrumented. Span attributes carry ids and reason codes only, never a token.
 */
export interface TracingConfig {
  /** OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces. */
  otlpEndpoint: string;
  serviceName: string;
  /** Share of new traces recorded (a caller's sampled flag is followed: ParentBased). */
  sampleRatio: number;
  exportTimeoutMs: number;
  headers?: Record<string, string>;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** The context of a server span: the caller's trace (W3C traceparent) when it sent one. */
  parentContext(caller: TraceContext | undefined): Context;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function createTracing(config: TracingConfig): Tracing {
  const exporter = new OTLPTraceExporter({
    url: config.otlpEndpoint,
    timeoutMillis: config.exportTimeoutMs,
    ...(config.headers ? { headers: config.headers } : {}),
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": config.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000, maxQueueSize: 2_048, exportTimeoutMillis: config.exportTimeoutMs })],
  });
  const tracer = provider.getTracer("fedbridge");
  return {
    tracer,
    parentContext: (caller) => caller
      ? trace.setSpanContext(ROOT_CONTEXT, { traceId: caller.traceId, spanId: caller.parentId, traceFlags: caller.flags & 1, isRemote: true })
      : ROOT_CONTEXT,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
