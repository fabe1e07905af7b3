/**
 * The `htu` comparison of RFC 9449 §4.3 check 9: the proof's `htu` must be the HTTP target URI of
 * the request "without query and fragment parts", compared after syntax-based and scheme-based
 * normalization (RFC 3986 §6.2.2, §6.2.3). The target is the bridge's configured token endpoint
 * (config `tokenEndpoint`, default issuer + /token), never the Host header or X-Forwarded-*: those
 * are the caller's to write, and a bridge behind a proxy is reached at its public URL.
 */

/** Longer than any real endpoint URL; bounds the work before parsing. */
const MAX_HTU_LENGTH = 2048;
/** RFC 3986 §2.3 unreserved characters, which percent-encoding normalization decodes. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The normalized form (scheme://host[:port]/path) of an absolute http(s) URI without query,
 * fragment or user info; undefined for anything else. WHATWG URL parsing does the case
 * normalization of scheme and host, drops the scheme's default port, resolves dot segments and
 * gives an empty path "/"; before it, everything its leniency would silently repair (whitespace,
 * control characters, backslashes, non-ASCII) is refused, so only RFC 3986 syntax is accepted.
 */
export function normalizeHttpUri(uri: string): string | undefined {
  if (uri.length === 0 || uri.length > MAX_HTU_LENGTH || !/^[\x21-\x7E]+$/.test(uri) || uri.includes("\\")) return undefined;
  // "without query and fragment parts": a `?` or `#` at all (even empty) is another URI.
  if (uri.includes("?") || uri.includes("#")) return undefined;
  // The authority as written: the WHATWG parser drops an empty user info ("https://@host") and
  // skips extra slashes ("https:///host"), neither of which RFC 3986 §6.2.3 normalization removes
  // (only an empty port is); any user info at all never names the endpoint.
  const authority = /^https?:\/\/([^/]*)/i.exec(uri)?.[1];
  if (authority === undefined || authority === "" || authority.includes("@")) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "" || url.hostname === "") return undefined;
  // The WHATWG parser rewrites numeric hosts ("0x7f.1", "2130706433", "127.1", a trailing dot) to
  // dotted-decimal IPv4; in RFC 3986 §3.2.2 those are reg-names, not that address.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname) && authority.replace(/:\d*$/, "") !== url.hostname) return undefined;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

/** Whether a proof's `htu` names `endpoint` (both normalized; an unparsable `htu` never does). */
export function htuMatches(htu: string, endpoint: string): boolean {
  const a = normalizeHttpUri(htu);
  return a !== undefined && a === normalizeHttpUri(endpoint);
}
