import type { LogEvent, LogValue } from "./logger.js";

/**
 * Second line of defence for the log (the first is that callers pass only identifiers and reason
 * codes): a field whose name says it holds a credential, or whose value has the shape of one, is
 * replaced by REDACTED, and the entry says which fields were (`redacted`), so a leak is both
 * stopped and visible. Shapes: a JWS/JWE compact serialization (RFC 7515 §7.1: its header is
 * base64url JSON, so it starts `eyJ`), XML markup, a PEM block, and any long base64/base64url run
 * (an encoded assertion, a key). Identifiers the bridge logs (ids, entity IDs, URLs, reason codes,
 * 43-character fingerprints, UUIDs) match none of them.
 */
export const REDACTED = "[redacted]";

/** Field names that hold credentials: *token (not *_token_type), secrets, passwords, assertions, Authorization. */
const SENSITIVE_KEY = /(^|_)(token|secret|password|passwd|assertion|authorization|cookie|private_?key|client_secret|subject_token|actor_token|access_token|refresh_token|id_token)$|secret|password|assertion/i;

const SENSITIVE_VALUE = [
  /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\./, // JWS / JWE compact
  /<[A-Za-z_?!/]/, // XML markup
  /-----BEGIN /, // PEM
  /[A-Za-z0-9+/_-]{100,}/, // a long base64 / base64url run (encoded XML, keys, opaque tokens)
];

function sensitiveValue(v: string): boolean {
  return SENSITIVE_VALUE.some((r) => r.test(v));
}

export function redactEvent(entry: LogEvent): LogEvent {
  let redacted: string[] | undefined;
  let out: Record<string, LogValue> | undefined;
  for (const [key, value] of Object.entries(entry)) {
    if (value === undefined || value === null || typeof value === "number" || typeof value === "boolean") continue;
    const hit = key !== "event" && key !== "level" && (
      SENSITIVE_KEY.test(key) || (typeof value === "string" ? sensitiveValue(value) : value.some(sensitiveValue))
    );
    if (!hit) continue;
    out ??= { ...entry };
    out[key] = REDACTED;
    (redacted ??= []).push(key);
  }
  return out ? { ...(out as LogEvent), redacted: redacted! } : entry;
}
