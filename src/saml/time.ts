import { refuse } from "../oauth/errors.js";

/**
 * SAML Core §1.3.3: time values are xs:dateTime in UTC, expressed with a trailing "Z". Anything
 * else (no zone, offsets, RFC 1123 dates, date-only, 6-digit years) is refused rather than guessed
 * at, because `Date.parse` reads a zone-less value as local time (catalogue D9).
 */
const XS_DATETIME_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

export function parseSamlInstant(value: string | undefined): number {
  if (value === undefined) throw refuse("timestamp_invalid");
  const m = XS_DATETIME_UTC.exec(value);
  if (!m) throw refuse("timestamp_invalid");
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, "0")) : 0;
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const back = new Date(t);
  // Reject rolled-over values such as 2026-02-30 or 24:00:00.
  if (
    back.getUTCFullYear() !== Number(y) ||
    back.getUTCMonth() !== Number(mo) - 1 ||
    back.getUTCDate() !== Number(d) ||
    back.getUTCHours() !== Number(h) ||
    back.getUTCMinutes() !== Number(mi) ||
    back.getUTCSeconds() !== Number(s)
  ) {
    throw refuse("timestamp_invalid");
  }
  return t;
}

export function parseOptionalInstant(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseSamlInstant(value);
}
