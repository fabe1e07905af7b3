import { createHash, createPublicKey, X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { JSONWebKeySet } from "jose";
import type { ClientConfig } from "../config/schema.js";
import { refuse } from "../oauth/errors.js";
import { checkStaticJwks } from "../jwt/keys.js";
import { CLIENT_ASSERTION_ALGORITHMS } from "./assertion-algorithms.js";
import { certificateSubject, parseDn, sameDn, type Rdn } from "./distinguished-name.js";
import { loadClientKeys, type ClientKeyDeps, type ClientKeySet } from "./jwks-uri.js";

/**
 * Mutual-TLS client authentication (RFC 8705 §2) when the bridge terminates TLS itself
 * (server.tls; http/server.ts requests a client certificate without requiring one).
 *
 * - `tls_client_auth` (§2.1, PKI): the handshake's certificate chained to server.tls.clientCaFile
 *   and was within its validity period (OpenSSL's verdict, `socket.authorized`), and it carries
 *   the one value the client is configured with (§2.1.2): its subject DN, or a dNSName, URI,
 *   iPAddress or rfc822Name SAN entry.
 * - `self_signed_tls_client_auth` (§2.2): the certificate is one the client registered (a JWK's
 *   x5c[0], byte for byte) or carries a registered public key (a JWK without x5c). No CA, no
 *   validity period: the registration is the trust, and the handshake proved the private key.
 *
 * The client names itself with `client_id` (§2). Failures answer `client_auth_failed` whatever
 * went wrong (unknown id, another client's certificate, another CA, an expired certificate, a DN
 * or SAN that does not match), so no reason tells a caller which ids exist or use mTLS; only a
 * connection without any certificate gets its own reason, `client_certificate_missing`, which
 * depends on nothing but the caller's own request.
 */

/** The certificate of the request's TLS connection, as the bridge uses it. */
export interface PresentedCertificate {
  readonly cert: X509Certificate;
  /** The chain verified against server.tls.clientCaFile, unexpired (OpenSSL, at the handshake). */
  readonly authorized: boolean;
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate. */
  readonly thumbprint: string;
}

/**
 * Parsed once per request (client authentication and the token endpoint both read it; a parse
 * costs about 0.1–0.4 ms), not per connection: a TLS 1.2 renegotiation can change the certificate.
 */
const perRequest = new WeakMap<IncomingMessage, PresentedCertificate | null>();

/** The client certificate of the request's connection; undefined over plain HTTP or without one. */
export function presentedCertificate(req: IncomingMessage): PresentedCertificate | undefined {
  const socket = req.socket as Partial<TLSSocket> | undefined;
  if (!socket || typeof socket.getPeerX509Certificate !== "function") return undefined;
  const known = perRequest.get(req);
  if (known !== undefined) return known ?? undefined;
  const cert = socket.getPeerX509Certificate();
  // Node sets `authorized` after the first handshake and never clears it; a later handshake (a TLS
  // 1.2 renegotiation, refused by http/server.ts but not by every listener) that fails
  // verification only sets `authorizationError`. So both: never a renegotiated, unverified
  // certificate under the first one's verdict (and a connection that ever failed stays failed).
  const authorized = socket.authorized === true && socket.authorizationError == null;
  const presented = cert ? { cert, authorized, thumbprint: certificateThumbprint(cert) } : null;
  perRequest.set(req, presented);
  return presented ?? undefined;
}

/** RFC 8705 §3.1: `x5t#S256`, the base64url-encoded SHA-256 of the DER certificate. */
export function certificateThumbprint(cert: X509Certificate): string {
  return createHash("sha256").update(cert.raw).digest("base64url");
}

type PkiMatch =
  | { kind: "subjectDn"; dn: Rdn[] }
  | { kind: "sanDns"; value: string }
  | { kind: "sanUri"; value: string }
  | { kind: "sanIp"; value: string }
  | { kind: "sanEmail"; value: string };

type Entry =
  | { client: ClientConfig; method: "tls_client_auth"; match: PkiMatch }
  | { client: ClientConfig; method: "self_signed_tls_client_auth"; keys: ClientKeySet };

export class MtlsVerifier {
  readonly #byId: ReadonlyMap<string, Entry>;

  constructor(clients: readonly ClientConfig[], deps: ClientKeyDeps) {
    const byId = new Map<string, Entry>();
    clients.forEach((client, i) => {
      if (client.tlsClientAuth) {
        byId.set(client.id, { client, method: "tls_client_auth", match: pkiMatch(client.tlsClientAuth) });
      } else if (client.selfSignedTlsClientAuth) {
        const keys = loadClientKeys(client.id, client.selfSignedTlsClientAuth, `clients.${i}.selfSignedTlsClientAuth`, deps, selfSignedSetProblem);
        byId.set(client.id, { client, method: "self_signed_tls_client_auth", keys });
      }
    });
    this.#byId = byId;
  }

  get enabled(): boolean {
    return this.#byId.size > 0;
  }

  /** The RFC 8705 methods some client uses (discovery: token_endpoint_auth_methods_supported). */
  methods(): string[] {
    const used = new Set([...this.#byId.values()].map((e) => e.method));
    return (["tls_client_auth", "self_signed_tls_client_auth"] as const).filter((m) => used.has(m));
  }

  /** Whether some mTLS client gets certificate-bound tokens (discovery, RFC 8705 §3.3). */
  get bindsTokens(): boolean {
    return [...this.#byId.values()].some((e) => e.client.certificateBoundTokens);
  }

  /** Authenticates `clientId` by the connection's certificate, or throws an OAuthError (invalid_client). */
  async verify(clientId: string, presented: PresentedCertificate | undefined): Promise<ClientConfig> {
    if (!presented) throw refuse("client_certificate_missing");
    const entry = this.#byId.get(clientId);
    if (!entry) throw refuse("client_auth_failed");
    if (entry.method === "tls_client_auth") {
      if (!presented.authorized || !pkiMatches(entry.match, presented.cert)) throw refuse("client_auth_failed");
      return entry.client;
    }
    if (registered(await entry.keys.current(), presented.cert)) return entry.client;
    // Maybe the client registered a new certificate: one refetch at most per cooldown (jwks-uri.ts).
    const fresh = await entry.keys.refreshed();
    if (fresh && registered(fresh, presented.cert)) return entry.client;
    throw refuse("client_auth_failed");
  }
}

function pkiMatch(cfg: NonNullable<ClientConfig["tlsClientAuth"]>): PkiMatch {
  if (cfg.subjectDn !== undefined) return { kind: "subjectDn", dn: parseDn(cfg.subjectDn) };
  if (cfg.sanDns !== undefined) return { kind: "sanDns", value: cfg.sanDns.toLowerCase() };
  if (cfg.sanUri !== undefined) return { kind: "sanUri", value: cfg.sanUri };
  if (cfg.sanIp !== undefined) return { kind: "sanIp", value: cfg.sanIp };
  return { kind: "sanEmail", value: cfg.sanEmail! };
}

function pkiMatches(m: PkiMatch, cert: X509Certificate): boolean {
  switch (m.kind) {
    case "subjectDn": {
      const dn = certificateSubject(cert.subject);
      return dn !== undefined && sameDn(dn, m.dn);
    }
    case "sanIp":
      // Compared as addresses (::1 = 0:0:0:0:0:0:0:1); Node checks iPAddress SAN entries only.
      return cert.checkIP(m.value) !== undefined;
    case "sanDns":
      // An exact entry (DNS names are case-insensitive); a wildcard entry is not expanded.
      return sanEntries(cert.subjectAltName).some(([t, v]) => t === "DNS" && v.toLowerCase() === m.value);
    case "sanUri":
      return sanEntries(cert.subjectAltName).some(([t, v]) => t === "URI" && v === m.value);
    case "sanEmail":
      return sanEntries(cert.subjectAltName).some(([t, v]) => t === "email" && sameEmail(v, m.value));
  }
}

/** The local part is compared exactly, the domain case-insensitively (RFC 5321 §2.4). */
function sameEmail(a: string, b: string): boolean {
  const [la, da] = splitEmail(a);
  const [lb, db] = splitEmail(b);
  return la === lb && da.toLowerCase() === db.toLowerCase();
}

function splitEmail(e: string): [string, string] {
  const at = e.lastIndexOf("@");
  return at < 0 ? [e, ""] : [e.slice(0, at), e.slice(at + 1)];
}

/**
 * Parses Node's X509Certificate#subjectAltName ("DNS:a, URI:b, IP Address:c, email:d"): entries
 * are separated by ", ", and Node writes a value holding a comma, quote or other special
 * character as a JSON string, so the split is unambiguous. Unreadable: no entries (no match).
 */
export function sanEntries(san: string | undefined): [string, string][] {
  if (!san) return [];
  const out: [string, string][] = [];
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(":", i);
    if (colon < 0) return [];
    const type = san.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (san[j] === "\"") {
      let k = j + 1;
      while (k < san.length && san[k] !== "\"") k += san[k] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(san.slice(j, k + 1)) as string;
      } catch {
        return [];
      }
      j = k + 1;
    } else {
      const end = san.indexOf(", ", j);
      j = end < 0 ? san.length : end;
      value = san.slice(colon + 1, j);
    }
    out.push([type, value]);
    if (j < san.length) {
      if (!san.startsWith(", ", j)) return [];
      j += 2;
    }
    i = j;
  }
  return out;
}

// ---- self_signed_tls_client_auth ------------------------------------------------------------------

interface Registered {
  /** SHA-256 of each registered certificate (x5c[0]). */
  certs: Set<string>;
  /** SHA-256 of each registered public key without a certificate (SPKI DER). */
  keys: Set<string>;
}

const registeredOf = new WeakMap<JSONWebKeySet, Registered>();
const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("base64url");
const spki = (key: ReturnType<typeof createPublicKey>): Buffer => key.export({ type: "spki", format: "der" });

function registered(set: JSONWebKeySet, cert: X509Certificate): boolean {
  let r = registeredOf.get(set);
  if (!r) {
    r = { certs: new Set(), keys: new Set() };
    for (const jwk of set.keys) {
      // RFC 7517 §4.3: a key whose key_ops leave out "verify" is not one to verify the handshake's
      // CertificateVerify signature with (`use` other than "sig" is refused by checkStaticJwks).
      const ops = (jwk as { key_ops?: unknown }).key_ops;
      if (Array.isArray(ops) && !ops.includes("verify")) continue;
      const x5c = (jwk as { x5c?: unknown }).x5c;
      // Checked when the set was loaded (selfSignedSetProblem): x5c[0] is a certificate of this key.
      if (Array.isArray(x5c) && typeof x5c[0] === "string") r.certs.add(sha256(Buffer.from(x5c[0], "base64")));
      else r.keys.add(sha256(spki(createPublicKey({ key: jwk as never, format: "jwk" }))));
    }
    registeredOf.set(set, r);
  }
  // A registered certificate matches itself only; a registered key matches any certificate of it.
  return r.certs.has(sha256(cert.raw)) || r.keys.has(sha256(spki(cert.publicKey)));
}

/**
 * The problem with a self-signed client's key set (inline or file: at start-up; jwksUri: each
 * fetch), or undefined: public asymmetric keys as for private_key_jwt, and an x5c, when given, a
 * non-empty array of base64 DER certificates whose first holds this very key (RFC 7517 §4.7).
 */
export function selfSignedSetProblem(json: unknown): string | undefined {
  const problem = checkStaticJwks(json, CLIENT_ASSERTION_ALGORITHMS);
  if (problem) return problem;
  for (const [i, jwk] of (json as JSONWebKeySet).keys.entries()) {
    const x5c = (jwk as { x5c?: unknown }).x5c;
    if (x5c === undefined) continue;
    if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === "string" && /^[A-Za-z0-9+/]+={0,2}$/.test(c))) {
      return `keys[${i}]: x5c must be a non-empty array of base64 DER certificates`;
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(x5c[0] as string, "base64"));
    } catch {
      return `keys[${i}]: x5c[0] is not a certificate`;
    }
    if (!spki(cert.publicKey).equals(spki(createPublicKey({ key: jwk as never, format: "jwk" })))) {
      return `keys[${i}]: x5c[0] does not hold this JWK's public key`;
    }
  }
  return undefined;
}
