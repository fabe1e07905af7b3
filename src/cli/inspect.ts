import { readFileSync, readSync, statSync } from "node:fs";
import { compactVerify, importJWK, type JWK } from "jose";
import type { LoadedConfig } from "../config/load.js";
import { resolvePath } from "../config/load.js";
import { loadIdps } from "../bootstrap.js";
import { decodeUnverified, JWT_MAX_BYTES } from "../jwt/compact.js";
import { isOAuthError } from "../oauth/errors.js";
import { parseUntrustedXml } from "../xml/safe-parse.js";
import { bytesToXmlText, decodeBase64Token } from "../xml/token-encoding.js";
import { attr, children, childElements, is, NS, text } from "../xml/dom.js";
import { signatureOf } from "../xml/signature.js";
import { verifySignedElement } from "../saml/signed-token.js";
import type { TrustedIdp } from "../saml/idp-registry.js";
import { CliError } from "./errors.js";
import { signingKeysOf } from "./offline.js";

/**
 * `fedbridge inspect`: what a SAML assertion/Response or a JWT says, and which configured key
 * verifies its signature. The input is hostile: it is bounded and parsed by the bridge's own
 * decoders (the hardened XML parser with the config's limits, the strict JWS reader), nothing is
 * fetched, and nothing touches a replay store (the token is not used up). Everything but the
 * `verification` block is read from the unverified token, and says so.
 */

/** The schema defaults of `limits` (src/config/schema.ts), for an inspection without a config. */
const DEFAULT_LIMITS = { maxTokenBytes: 131_072, maxXmlDepth: 48, maxXmlElements: 2_000, maxXmlNodes: 10_000, maxXmlAttributesPerElement: 32 };

export interface Verification {
  verified: boolean;
  /** The samlIdps[].id / jwtIssuers[].id, or "self" for the bridge's own tokens. */
  source?: string;
  /** Certificate fingerprint (SAML) or kid (JWT) of the key that verified it. */
  key?: string;
  /** Why nothing verified (a reason code of the bridge where there is one). */
  reason?: string;
}

export interface Inspection {
  kind: string;
  unverified: Record<string, unknown>;
  verification?: Verification;
}

/** The token text from a file path, `-` (stdin) or the argument itself, bounded before it is read. */
export function readTokenInput(arg: string, maxTextBytes: number): string {
  let raw: string;
  if (arg === "-") {
    raw = readStdin(maxTextBytes);
  } else {
    let size: number | undefined;
    try {
      const st = statSync(arg);
      size = st.isFile() ? st.size : undefined;
    } catch {
      size = undefined;
    }
    if (size !== undefined) {
      if (size > maxTextBytes) throw new CliError("token_too_large", `file larger than ${maxTextBytes} bytes`);
      raw = readFileSync(arg, "utf8");
    } else {
      if (arg.length > maxTextBytes) throw new CliError("token_too_large", `token longer than ${maxTextBytes} characters`);
      raw = arg;
    }
  }
  return raw.trim();
}

/** stdin, read in chunks and refused as soon as it passes the bound (never buffered whole). */
function readStdin(maxBytes: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EOF") break;
      throw e;
    }
    if (n === 0) break;
    total += n;
    if (total > maxBytes) throw new CliError("token_too_large", `input larger than ${maxBytes} bytes`);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function inspect(input: string, loaded: LoadedConfig | undefined, now: number): Promise<Inspection> {
  const limits = loaded?.config.limits ?? DEFAULT_LIMITS;
  try {
    if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(input)) return await inspectJwt(input, loaded, limits.maxTokenBytes, now);
    return inspectSaml(input, loaded, limits);
  } catch (e) {
    // A refusal of the bridge's decoders: its reason code, never the token.
    if (isOAuthError(e)) throw new CliError(e.reason, `not a readable token: ${e.reason}`);
    throw e;
  }
}

// ---- JWT ----

async function inspectJwt(token: string, loaded: LoadedConfig | undefined, maxTokenBytes: number, now: number): Promise<Inspection> {
  // The bridge's JWT bound (src/jwt/verifier.ts): min(limits.maxTokenBytes, 16 KiB), before parsing.
  if (token.length > Math.min(maxTokenBytes, JWT_MAX_BYTES)) throw new CliError("token_too_large", "JWT larger than the bridge accepts");
  const { header, payload } = decodeUnverified(token);
  const time = (v: unknown): string | undefined => (typeof v === "number" && Number.isFinite(v) ? new Date(v * 1000).toISOString() : undefined);
  const unverified = {
    alg: header.alg, kid: header.kid, typ: header.typ,
    issuer: payload.iss, subject: payload.sub, audience: payload.aud,
    conditions: {
      issued_at: time(payload.iat), not_before: time(payload.nbf), expires_at: time(payload.exp),
      expired: typeof payload.exp === "number" ? payload.exp * 1000 <= now : undefined,
    },
    claims: payload,
  };
  const out: Inspection = { kind: "jwt", unverified };
  if (loaded) out.verification = await verifyJwt(token, header, payload, loaded);
  return out;
}

async function verifyJwt(token: string, header: Record<string, unknown>, payload: Record<string, unknown>, loaded: LoadedConfig): Promise<Verification> {
  const { config, baseDir } = loaded;
  const iss = payload.iss;
  let source: string;
  let algorithms: readonly string[];
  let keys: JWK[];
  if (iss === config.issuer) {
    source = "self";
    keys = (await signingKeysOf(loaded)).jwks.keys;
    algorithms = [...new Set(keys.map((k) => k.alg!))];
  } else {
    const issuer = config.jwtIssuers.find((j) => j.issuer === iss);
    if (!issuer) return { verified: false, reason: "issuer_unknown" };
    source = issuer.id;
    algorithms = issuer.algorithms;
    // Offline: only a jwksFile can be tried; remote keys are never fetched by the CLI.
    if (issuer.jwksFile === undefined) return { verified: false, source, reason: "keys_remote_not_fetched" };
    try {
      keys = (JSON.parse(readFileSync(resolvePath(baseDir, issuer.jwksFile), "utf8")) as { keys: JWK[] }).keys;
    } catch {
      return { verified: false, source, reason: "keys_unavailable" };
    }
  }
  // RFC 8725 §3.1: the algorithm comes from the configuration, never from the token alone.
  if (typeof header.alg !== "string" || !algorithms.includes(header.alg)) return { verified: false, source, reason: "algorithm_forbidden" };
  for (const jwk of Array.isArray(keys) ? keys : []) {
    if (header.kid !== undefined && jwk.kid !== header.kid) continue;
    if (jwk.alg !== undefined && jwk.alg !== header.alg) continue;
    try {
      const key = await importJWK(jwk, header.alg);
      await compactVerify(token, key, { algorithms: [header.alg] });
      return { verified: true, source, ...(jwk.kid !== undefined ? { key: jwk.kid } : {}) };
    } catch {
      // Not this key: try the next.
    }
  }
  return { verified: false, source, reason: "signature_invalid" };
}

// ---- SAML ----

type Limits = typeof DEFAULT_LIMITS;

function inspectSaml(input: string, loaded: LoadedConfig | undefined, limits: Limits): Inspection {
  // Raw XML is accepted too (a file saved from a browser trace), under the same byte bound.
  const bytes = input.startsWith("<") ? Buffer.from(input, "utf8") : decodeBase64Token(input, limits.maxTokenBytes);
  if (bytes.length > limits.maxTokenBytes) throw new CliError("token_too_large", "token larger than limits.maxTokenBytes");
  const xml = bytesToXmlText(bytes);
  const xmlLimits = {
    maxDepth: limits.maxXmlDepth, maxElements: limits.maxXmlElements, maxNodes: limits.maxXmlNodes,
    maxAttributesPerElement: limits.maxXmlAttributesPerElement,
  };
  const doc = parseUntrustedXml(xml, xmlLimits);
  const root = doc.documentElement!;
  let response: Element | undefined;
  let assertion: Element | undefined;
  let kind: string;
  if (is(root, NS.samlp2, "Response")) {
    response = root;
    assertion = children(root, NS.saml2, "Assertion")[0];
    kind = "saml2-response";
  } else if (is(root, NS.saml2, "Assertion")) {
    assertion = root;
    kind = "saml2-assertion";
  } else if (is(root, NS.saml1, "Assertion") || is(root, NS.samlp1, "Response")) {
    kind = is(root, NS.saml1, "Assertion") ? "saml1-assertion" : "saml1-response";
    return { kind, unverified: { note: "SAML 1.1: use `fedbridge explain` with --token-type saml1 for its content" } };
  } else {
    throw new CliError("token_unsupported", "neither a SAML 2.0 Assertion/Response nor a JWT");
  }
  const encrypted = response ? children(response, NS.saml2, "EncryptedAssertion").length > 0 : false;
  const unverified: Record<string, unknown> = {
    ...(response ? { response: { id: attr(response, "ID"), destination: attr(response, "Destination"), issue_instant: attr(response, "IssueInstant"), signature: signatureInfo(response) } } : {}),
    ...(assertion ? assertionInfo(assertion) : { encrypted_assertion: encrypted }),
  };
  const out: Inspection = { kind, unverified };
  if (loaded) out.verification = verifySaml(xml, response, assertion, loaded, xmlLimits);
  return out;
}

function safeText(el: Element | undefined): string | undefined {
  if (!el) return undefined;
  try {
    return text(el);
  } catch {
    return "(not plain text)";
  }
}

function signatureInfo(el: Element): Record<string, unknown> | null {
  const sig = children(el, NS.ds, "Signature")[0];
  if (!sig) return null;
  const signedInfo = children(sig, NS.ds, "SignedInfo")[0];
  const method = signedInfo ? children(signedInfo, NS.ds, "SignatureMethod")[0] : undefined;
  const reference = signedInfo ? children(signedInfo, NS.ds, "Reference")[0] : undefined;
  const digest = reference ? children(reference, NS.ds, "DigestMethod")[0] : undefined;
  return {
    algorithm: method ? attr(method, "Algorithm") : undefined,
    digest_algorithm: digest ? attr(digest, "Algorithm") : undefined,
    reference: reference ? attr(reference, "URI") : undefined,
  };
}

function assertionInfo(a: Element): Record<string, unknown> {
  const subject = children(a, NS.saml2, "Subject")[0];
  const nameId = subject ? children(subject, NS.saml2, "NameID")[0] : undefined;
  const conditions = children(a, NS.saml2, "Conditions")[0];
  const audiences = conditions
    ? children(conditions, NS.saml2, "AudienceRestriction").flatMap((r) => children(r, NS.saml2, "Audience").map((x) => safeText(x)))
    : [];
  const confirmations = subject ? children(subject, NS.saml2, "SubjectConfirmation").map((c) => {
    const data = children(c, NS.saml2, "SubjectConfirmationData")[0];
    return { method: attr(c, "Method"), recipient: data ? attr(data, "Recipient") : undefined, not_on_or_after: data ? attr(data, "NotOnOrAfter") : undefined };
  }) : [];
  const attributes = children(a, NS.saml2, "AttributeStatement").flatMap((s) => children(s, NS.saml2, "Attribute").map((at) => ({
    name: attr(at, "Name"), friendly_name: attr(at, "FriendlyName"),
    values: children(at, NS.saml2, "AttributeValue").map((v) => safeText(v)),
  })));
  const authn = children(a, NS.saml2, "AuthnStatement")[0];
  return {
    assertion_id: attr(a, "ID"),
    issue_instant: attr(a, "IssueInstant"),
    issuer: safeText(children(a, NS.saml2, "Issuer")[0]),
    subject: nameId ? { name_id: safeText(nameId), format: attr(nameId, "Format") } : null,
    subject_confirmations: confirmations,
    conditions: conditions ? { not_before: attr(conditions, "NotBefore"), not_on_or_after: attr(conditions, "NotOnOrAfter"), audiences, one_time_use: children(conditions, NS.saml2, "OneTimeUse").length > 0 } : null,
    authn: authn ? { authn_instant: attr(authn, "AuthnInstant"), session_not_on_or_after: attr(authn, "SessionNotOnOrAfter") } : null,
    attributes,
    signature: signatureInfo(a),
    elements: childElements(a).length,
  };
}

/**
 * The signature checked with the metadata keys of the IdP its Issuer names (config samlIdps; IdPs
 * added through the admin API live in the bridge's admin store and are not seen here), by the
 * bridge's own verifier and policy (SHA-1 refused unless allowed). Only the signature: time,
 * audience and recipient are the exchange's checks (`fedbridge explain`).
 */
function verifySaml(xml: string, response: Element | undefined, assertion: Element | undefined, loaded: LoadedConfig, xmlLimits: Parameters<typeof verifySignedElement>[4]): Verification {
  const issuerEl = (assertion && children(assertion, NS.saml2, "Issuer")[0]) ?? (response && children(response, NS.saml2, "Issuer")[0]);
  const claimed = safeText(issuerEl);
  const idp: TrustedIdp | undefined = claimed === undefined ? undefined : loadIdps(loaded.config, loaded.baseDir).find((i) => i.metadata.entityId === claimed);
  if (!idp) return { verified: false, reason: "issuer_unknown" };
  const limits = { ...xmlLimits, signatureVerifier: loaded.config.saml.signatureVerifier };
  const candidates: Element[] = [];
  if (assertion && signatureOf(assertion)) candidates.push(assertion);
  if (response && signatureOf(response)) candidates.push(response);
  if (candidates.length === 0) return { verified: false, source: idp.id, reason: "signature_missing" };
  let reason = "signature_invalid";
  for (const el of candidates) {
    try {
      const v = verifySignedElement(xml, el, "ID", idp, limits);
      return { verified: true, source: idp.id, key: v.keyFingerprint, ...(el === response ? { signed_element: "Response" } : { signed_element: "Assertion" }) } as Verification;
    } catch (e) {
      if (!isOAuthError(e)) throw e;
      reason = e.reason;
    }
  }
  return { verified: false, source: idp.id, reason };
}
