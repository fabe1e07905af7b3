/**
 * Distinguished names for `tls_client_auth` (RFC 8705 §2.1.2 `tls_client_auth_subject_dn`: "the
 * expected subject distinguished name of the certificate, in string representation as defined in
 * RFC 4514"). A leaf module: the config schema validates configured DNs with it.
 *
 * Comparison is structural, not textual: both sides are parsed into RDNs of (type, value) pairs,
 * - the configured string per RFC 4514 (most specific RDN first, `,` between RDNs, `+` inside a
 *   multi-valued RDN, `\` escapes of a special character or of a UTF-8 byte as two hex digits);
 * - the certificate's subject as Node prints it (X509Certificate#subject: one RDN per line, in
 *   certificate order, RFC 2253 escaping, ` + ` inside a multi-valued RDN), reversed;
 * and then the RDN sequences must be equal: the same RDNs in the same order, the same attributes
 * in each (in any order inside a multi-valued RDN). Attribute types compare case-insensitively,
 * by short name or dotted OID (CN = cn = 2.5.4.3). Values compare exactly, after unescaping and
 * without leading/trailing spaces (no case folding: "CN=Client" is not "CN=client"). The `#hex`
 * (BER) value form is not supported in configuration.
 */

export type Rdn = readonly (readonly [type: string, value: string])[];

/** Short names (as OpenSSL prints them, lower-cased) for the dotted OIDs one may configure. */
const OID_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "cn", "2.5.4.4": "sn", "2.5.4.5": "serialnumber", "2.5.4.6": "c", "2.5.4.7": "l", "2.5.4.8": "st",
  "2.5.4.9": "street", "2.5.4.10": "o", "2.5.4.11": "ou", "2.5.4.12": "title", "2.5.4.42": "gn",
  "2.5.4.97": "organizationidentifier",
  "0.9.2342.19200300.100.1.1": "uid", "0.9.2342.19200300.100.1.25": "dc", "1.2.840.113549.1.9.1": "emailaddress",
};
/** Long and alternative names of the same attributes. */
const ALIASES: Readonly<Record<string, string>> = {
  commonname: "cn", surname: "sn", countryname: "c", localityname: "l", stateorprovincename: "st", s: "st",
  streetaddress: "street", organizationname: "o", organizationalunitname: "ou", givenname: "gn",
  userid: "uid", domaincomponent: "dc", email: "emailaddress", e: "emailaddress",
};

function canonicalType(raw: string): string {
  const t = raw.trim().toLowerCase().replace(/^oid\./, "");
  return OID_NAMES[t] ?? ALIASES[t] ?? t;
}

/**
 * OpenSSL short names that differ only in case from another attribute's: OpenSSL prints userId
 * (0.9.2342.19200300.100.1.1, RFC 4519 `uid`) as "UID" but uniqueIdentifier (…100.1.44) as "uid".
 * A certificate's printed type is therefore read case-sensitively for these, before the
 * case-insensitive rules: "uid=alice" in a certificate is not the configured "UID=alice".
 */
const CERT_EXACT_TYPES: Readonly<Record<string, string>> = { uid: "0.9.2342.19200300.100.1.44" };

const TYPE = /^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+|OID\.[0-9]+(\.[0-9]+)+)$/i;

/**
 * Splits `s` at unescaped `sep` characters, unescaping nothing (escapes are kept for the value
 * parser). Throws on a trailing lone backslash.
 */
function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "\\") {
      if (i + 1 >= s.length) throw new Error("dangling escape");
      cur += ch + s[i + 1];
      i++;
    } else if (ch === sep) {
      parts.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts;
}

/**
 * Characters RFC 4514 §3 (`string`: SUTF1 excludes them) allows in a value only escaped; `+` and
 * `,` never reach here unescaped (they split RDNs and AVAs). OpenSSL escapes them all when it
 * prints a certificate's subject. Refused unescaped, so that a configured "CN=client;O=Example"
 * (RFC 1779 `;` separators) is an error, not a one-attribute DN whose CN is "client;O=Example".
 */
const MUST_ESCAPE = new Set(["\"", ";", "<", ">", "\u0000"]);

/** Unescapes an RFC 4514 / RFC 2253 attribute value. */
function unescapeValue(raw: string): string {
  // Spaces around the value are insignificant unless escaped: trim the unescaped ones only. An
  // escape is a backslash and the character after it, so the scan goes left to right (in "a\\ "
  // the backslash is escaped and the space is not).
  let start = 0;
  while (start < raw.length && raw[start] === " ") start++;
  let end = start;
  for (let i = start; i < raw.length; i++) {
    if (raw[i] === "\\") end = ++i + 1;
    else if (raw[i] !== " ") end = i + 1;
  }
  const s = raw.slice(start, end);
  if (s.startsWith("#")) throw new Error("hex values are not supported");
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== "\\") {
      if (MUST_ESCAPE.has(ch)) throw new Error(`unescaped ${JSON.stringify(ch)} in a value`);
      bytes.push(...Buffer.from(ch, "utf8"));
      continue;
    }
    const next = s.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(next)) {
      bytes.push(parseInt(next, 16));
      i += 2;
    } else if (i + 1 < s.length) {
      bytes.push(...Buffer.from(s[i + 1]!, "utf8"));
      i += 1;
    } else {
      throw new Error("dangling escape");
    }
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
}

function parseRdn(text: string, exactTypes: Readonly<Record<string, string>> = {}): Rdn {
  const avas = splitUnescaped(text, "+").map((ava) => {
    const eq = ava.indexOf("=");
    if (eq <= 0) throw new Error("attribute without type");
    const type = ava.slice(0, eq).trim();
    if (!TYPE.test(type)) throw new Error("bad attribute type");
    return [exactTypes[type] ?? canonicalType(type), unescapeValue(ava.slice(eq + 1))] as const;
  });
  return avas.sort((a, b) => (a[0] + "\u0000" + a[1] < b[0] + "\u0000" + b[1] ? -1 : 1));
}

/** Parses an RFC 4514 string (most specific RDN first); throws an Error on a malformed one. */
export function parseDn(text: string): Rdn[] {
  if (text.trim() === "") throw new Error("empty");
  return splitUnescaped(text, ",").map((rdn) => parseRdn(rdn));
}

/** The problem with a configured DN, or undefined (the schema's check). */
export function dnProblem(text: string): string | undefined {
  try {
    parseDn(text);
    return undefined;
  } catch (e) {
    return `not an RFC 4514 distinguished name (${(e as Error).message})`;
  }
}

/** Parses Node's X509Certificate#subject into RFC 4514 order; undefined when it cannot be read. */
export function certificateSubject(nodeSubject: string): Rdn[] | undefined {
  try {
    if (nodeSubject === "") return [];
    return splitUnescaped(nodeSubject, "\n").map((rdn) => parseRdn(rdn, CERT_EXACT_TYPES)).reverse();
  } catch {
    return undefined;
  }
}

export function sameDn(a: readonly Rdn[], b: readonly Rdn[]): boolean {
  return a.length === b.length && a.every((rdn, i) => {
    const other = b[i]!;
    return rdn.length === other.length && rdn.every(([t, v], j) => other[j]![0] === t && other[j]![1] === v);
  });
}
