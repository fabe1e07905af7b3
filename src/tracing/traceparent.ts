/**
 * The W3C Trace Context `traceparent` header (Trace Context Level 1, §3.2), parsed strictly:
 *   version "-" trace-id "-" parent-id "-" trace-flags, all lowercase hex,
 *   version 2 hex (not "ff"), trace-id 32 hex (not all zeros), parent-id 16 hex (not all zeros),
 *   trace-flags 2 hex. Version 00 is exactly 55 characters; a higher version may append fields
 *   after a "-" (§3.2.4 "parse the fields it knows"). Anything else is invalid and ignored: the
 *   request then starts a new trace (§3.2.2, §4.3), it is never refused for it.
 */
export interface TraceContext {
  readonly traceId: string;
  /** The caller's span id (the parent of the bridge's span). */
  readonly parentId: string;
  readonly flags: number;
}

const MAX_HEADER = 512; // bounds the work on a hostile header; every valid one is far shorter
const V00 = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(header: string | string[] | undefined): TraceContext | undefined {
  // Several traceparent headers cannot be told apart: §3.2.2 treats that as invalid.
  if (typeof header !== "string" || header.length > MAX_HEADER) return undefined;
  const v = header.trim();
  if (v.length < 55) return undefined;
  const version = v.slice(0, 2);
  if (!/^[0-9a-f]{2}$/.test(version) || version === "ff") return undefined;
  // Version 00 has exactly these four fields; a future version may append "-..." after them.
  if (version === "00" ? v.length !== 55 : v.length > 55 && v[55] !== "-") return undefined;
  const m = V00.exec(v.slice(0, 55));
  if (!m) return undefined;
  const [, , traceId, parentId, flags] = m;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return { traceId: traceId!, parentId: parentId!, flags: parseInt(flags!, 16) };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}
