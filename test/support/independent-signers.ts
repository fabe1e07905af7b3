// Signs SAML 2.0 test fixtures with INDEPENDENT implementations (none of them our code):
//   - xmlsec1 (libxmlsec1 + OpenSSL) fills a ds:Signature template that we insert;
//   - samlsign (Shibboleth OpenSAML C++ / Santuario) builds the whole ds:Signature itself;
//   - pysaml2 (test/support/pysaml2_idp.py) builds AND signs a full samlp:Response.
// Everything is synchronous (execFileSync); temp files live in a fresh dir under os.tmpdir() that is removed.
// The signed element's bytes are never re-serialized by our code: the template is spliced in as a string and
// samlsign's output for a nested element is spliced back as a string (only the xmlsec1/libxml2 and
// samlsign/Xerces serializers touch the document, and both preserve the infoset).
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  ATTACKER_CERT,
  ATTACKER_KEY,
  BRIDGE_ENTITY_ID,
  IDP1,
  IDP1_CERT,
  IDP1_KEY,
  IDP1_NEXT_CERT,
  IDP1_NEXT_KEY,
  IDP2_CERT,
  IDP2_KEY,
  IDP_EC_CERT,
  IDP_EC_KEY,
  TOKEN_ENDPOINT,
  WEAK1024_CERT,
  WEAK1024_KEY,
} from "./constants.js";

/** Absolute paths to a PEM private key (PKCS#8) and its PEM certificate. */
export interface KeyPair {
  key: string;
  cert: string;
}

export const KEYS: {
  idp1: KeyPair;
  idp1Next: KeyPair;
  idp2: KeyPair;
  attacker: KeyPair;
  idpEc: KeyPair;
  weak1024: KeyPair;
} = {
  idp1: { key: IDP1_KEY, cert: IDP1_CERT },
  idp1Next: { key: IDP1_NEXT_KEY, cert: IDP1_NEXT_CERT },
  idp2: { key: IDP2_KEY, cert: IDP2_CERT },
  attacker: { key: ATTACKER_KEY, cert: ATTACKER_CERT },
  idpEc: { key: IDP_EC_KEY, cert: IDP_EC_CERT },
  weak1024: { key: WEAK1024_KEY, cert: WEAK1024_CERT },
};

export type SigAlg = "rsa-sha256" | "rsa-sha384" | "rsa-sha512" | "rsa-sha1" | "ecdsa-sha256" | "ecdsa-sha384" | "ecdsa-sha512";
export type DigestAlg = "sha256" | "sha1" | "sha384" | "sha512";
/** xmlsec1 only: the canonicalization of SignedInfo and of the Reference (default exc). */
export type C14nAlg = "exc" | "exc-comments" | "inc" | "inc-comments";
export const C14N_ALG_URI: Readonly<Record<C14nAlg, string>> = {
  exc: "http://www.w3.org/2001/10/xml-exc-c14n#",
  "exc-comments": "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
  inc: "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
  "inc-comments": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
};

export interface SignOptions {
  key: KeyPair;
  /** Default: ecdsa-sha256 for an EC key, rsa-sha256 otherwise. */
  alg?: SigAlg;
  /** Default sha256. */
  digest?: DigestAlg;
  /** "cert" (default): KeyInfo/X509Data/X509Certificate (samlsign adds KeyName + X509SubjectName); "none": no KeyInfo. */
  keyInfo?: "cert" | "none";
  /**
   * xmlsec1 only: PrefixList for an ec:InclusiveNamespaces in the exc-c14n Reference transform
   * (default: none, so `xs` used only inside xsi:type values is NOT covered, as with many IdPs).
   * samlsign always computes its own PrefixList (e.g. "xs"); pysaml2 never emits one.
   */
  inclusivePrefixes?: string[];
  /** xmlsec1 only (SAML 2.0): canonicalization of SignedInfo and of the Reference, default exc. */
  c14n?: C14nAlg;
}

export const SIG_ALG_URI: Readonly<Record<SigAlg, string>> = {
  "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  "rsa-sha384": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
  "rsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
  "rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
  "ecdsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
  "ecdsa-sha384": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
  "ecdsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
};
export const DIGEST_ALG_URI: Readonly<Record<DigestAlg, string>> = {
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
  sha1: "http://www.w3.org/2000/09/xmldsig#sha1",
  sha384: "http://www.w3.org/2001/04/xmldsig-more#sha384",
  sha512: "http://www.w3.org/2001/04/xmlenc#sha512",
};

const DS_NS = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const XMLSEC1 = "/usr/bin/xmlsec1";
const SAMLSIGN = "/usr/bin/samlsign";
const PYTHON = "/usr/bin/python3"; // Debian's python3 (has pysaml2); the pyenv one on PATH does not
const PYSAML2_IDP = path.join(path.dirname(fileURLToPath(import.meta.url)), "pysaml2_idp.py");
const ID_ATTRS = [
  "--id-attr:ID",
  "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
  "--id-attr:ID",
  "urn:oasis:names:tc:SAML:2.0:protocol:Response",
];

// ---------------------------------------------------------------------------------------------------------
// xmlsec1

/** Inserts a ds:Signature template after the Issuer of the element with this ID, and has xmlsec1 fill it in. */
export function signWithXmlsec1(xml: string, id: string, o: SignOptions): string {
  const { alg, digest } = algorithms(o);
  const target = findElementById(xml, id);
  if (directSignatureChild(xml, target)) throw new Error(`signWithXmlsec1: element ID="${id}" already has a ds:Signature`);

  const inclusive =
    o.inclusivePrefixes && o.inclusivePrefixes.length > 0
      ? `<ec:InclusiveNamespaces xmlns:ec="${EXC_C14N}" PrefixList="${o.inclusivePrefixes.join(" ")}"/>`
      : "";
  const keyInfo = (o.keyInfo ?? "cert") === "cert" ? "<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>" : "";
  const c14n = C14N_ALG_URI[o.c14n ?? "exc"];
  const template =
    `<ds:Signature xmlns:ds="${DS_NS}"><ds:SignedInfo>` +
    `<ds:CanonicalizationMethod Algorithm="${c14n}"/>` +
    `<ds:SignatureMethod Algorithm="${SIG_ALG_URI[alg]}"/>` +
    `<ds:Reference URI="#${id}"><ds:Transforms>` +
    `<ds:Transform Algorithm="${ENVELOPED}"/>` +
    (inclusive === "" ? `<ds:Transform Algorithm="${c14n}"/>` : `<ds:Transform Algorithm="${c14n}">${inclusive}</ds:Transform>`) +
    `</ds:Transforms><ds:DigestMethod Algorithm="${DIGEST_ALG_URI[digest]}"/><ds:DigestValue></ds:DigestValue></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>${keyInfo}</ds:Signature>`;
  const withTemplate = xml.slice(0, target.signatureAt) + template + xml.slice(target.signatureAt);

  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    const output = path.join(dir, "out.xml");
    writeFileSync(input, withTemplate);
    const keySpec = (o.keyInfo ?? "cert") === "cert" ? `${o.key.key},${o.key.cert}` : o.key.key;
    run("xmlsec1", XMLSEC1, [
      "--sign",
      "--privkey-pem",
      keySpec,
      ...ID_ATTRS,
      "--node-xpath",
      signatureXPath(id),
      "--output",
      output,
      input,
    ]);
    const signed = readFileSync(output, "utf8");
    // libxml2 always writes an XML declaration (and a trailing newline): keep the caller's choice.
    return hasXmlDecl(xml) ? signed : signed.replace(/^<\?xml[^?]*\?>\s*/, "").replace(/\n$/, "");
  });
}

/**
 * Verifies the ds:Signature that is a direct child of the element with this ID, with xmlsec1, against `cert` only
 * (`--enabled-key-data key-name`, so no key carried in the document's KeyInfo is trusted). Also requires that
 * signature's single Reference to be URI="#id" (xmlsec1 itself does not check what the Reference points at).
 * For the self-test; the bridge must not rely on this.
 */
export function verifyWithXmlsec1(xml: string, id: string, cert: string): boolean {
  return referencesOnly(xml, id) && xmlsec1Verifies(xml, cert, ID_ATTRS, signatureXPath(id));
}

/** xmlsec1 --verify of the signature at `signatureXPath`, with `cert` as the only key (never one from KeyInfo). */
function xmlsec1Verifies(xml: string, cert: string, idAttrs: readonly string[], signaturePath: string): boolean {
  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    writeFileSync(input, xml);
    try {
      execFileSync(
        XMLSEC1,
        ["--verify", "--enabled-key-data", "key-name", "--pubkey-cert-pem", cert, ...idAttrs, "--node-xpath", signaturePath, input],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      return true;
    } catch {
      return false;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// samlsign (OpenSAML)

/**
 * Signs the element with this ID with OpenSAML's samlsign (absolute paths, explicit -alg/-dig). samlsign places
 * the Signature after Issuer itself, adds an InclusiveNamespaces PrefixList for xsi:type prefixes, wraps base64 at
 * 64 columns, may re-order attributes and may add namespace declarations to the signed element. For a nested
 * element, samlsign prints only that element; it is spliced back into the original string in place.
 */
export function signWithSamlsign(xml: string, id: string, o: SignOptions): string {
  const { alg, digest } = algorithms(o);
  const target = findElementById(xml, id);
  if (directSignatureChild(xml, target)) throw new Error(`signWithSamlsign: element ID="${id}" already has a ds:Signature`);
  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    writeFileSync(input, xml);
    const args = ["-s", "-k", path.resolve(o.key.key)];
    if ((o.keyInfo ?? "cert") === "cert") args.push("-c", path.resolve(o.key.cert)); // without -c: no KeyInfo
    args.push("-alg", SIG_ALG_URI[alg], "-dig", DIGEST_ALG_URI[digest], "-f", input, "-id", id);
    const signed = run("samlsign", SAMLSIGN, args);
    if (!/^\s*</.test(signed)) throw new Error(`samlsign produced no XML:\n${signed}`);
    return xml.slice(0, target.start) + signed.trim() + xml.slice(target.end);
  });
}

/** Verifies the element with this ID with samlsign against `cert` (`samlsign -c CERT -id ID`). For the self-test. */
export function verifyWithSamlsign(xml: string, id: string, cert: string): boolean {
  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    writeFileSync(input, xml);
    try {
      execFileSync(SAMLSIGN, ["-c", path.resolve(cert), "-f", input, "-id", id], { stdio: ["ignore", "pipe", "pipe"] });
      return true;
    } catch {
      return false;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// pysaml2

export interface Pysaml2Options {
  /** IdP entity ID, used as Response and Assertion Issuer (default IDP1). */
  issuer?: string;
  /** NameID (emailAddress format), default alice@example.com. */
  nameId?: string;
  /** SP entity ID -> Audience (default BRIDGE_ENTITY_ID). */
  audience?: string;
  /** Response/@Destination and SubjectConfirmationData/@Recipient (default TOKEN_ENDPOINT). */
  recipient?: string;
  /** Default { role: ["user"] }. pysaml2's identity converter lower-cases the names; NameFormat is ...:attrname-format:uri. */
  attributes?: Record<string, string[]>;
  signAssertion: boolean;
  signResponse: boolean;
  /** Default KEYS.idp1 (RSA only: pysaml2 is asked for rsa-sha256 + sha256). */
  key?: KeyPair;
  /** Conditions/@NotOnOrAfter and SubjectConfirmationData/@NotOnOrAfter = now + this (default 300). NotBefore = IssueInstant = now. */
  lifetimeSeconds?: number;
  /** PEM certificate path: pysaml2 encrypts the assertion for it (always tripledes-cbc + rsa-oaep-mgf1p). */
  encryptFor?: string;
}

/** A full samlp:Response built AND signed by pysaml2's Server (IdP). Output verbatim (XML declaration, ns0:/ns1:/ns2: prefixes). */
export function pysaml2Response(o: Pysaml2Options): string {
  return run("pysaml2", PYTHON, [PYSAML2_IDP], JSON.stringify(pysaml2Request(o)));
}

/** Several pysaml2Response()s from ONE Python process (importing pysaml2 alone costs ~1 s; each Response then ~0.1 s). */
export function pysaml2Responses(list: Pysaml2Options[]): string[] {
  if (list.length === 0) return [];
  const out: unknown = JSON.parse(run("pysaml2", PYTHON, [PYSAML2_IDP], JSON.stringify(list.map(pysaml2Request))));
  if (!Array.isArray(out) || out.length !== list.length || !out.every((x) => typeof x === "string")) {
    throw new Error("pysaml2: unexpected batch output");
  }
  return out;
}

function pysaml2Request(o: Pysaml2Options): Record<string, unknown> {
  const key = o.key ?? KEYS.idp1;
  const keyType = createPrivateKey(readFileSync(key.key)).asymmetricKeyType;
  if (keyType !== "rsa") throw new Error(`pysaml2Response: RSA keys only (rsa-sha256 + sha256), got a ${keyType} key`);
  return {
    issuer: o.issuer ?? IDP1,
    nameId: o.nameId ?? "alice@example.com",
    audience: o.audience ?? BRIDGE_ENTITY_ID,
    recipient: o.recipient ?? TOKEN_ENDPOINT,
    attributes: o.attributes ?? { role: ["user"] },
    signAssertion: o.signAssertion,
    signResponse: o.signResponse,
    keyFile: path.resolve(key.key),
    certFile: path.resolve(key.cert),
    lifetimeSeconds: o.lifetimeSeconds ?? 300,
    ...(o.encryptFor !== undefined ? { encryptCertFile: path.resolve(o.encryptFor) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// helpers

export function toBase64Url(xml: string): string {
  return Buffer.from(xml, "utf8").toString("base64url");
}

interface ElementSpan {
  /** offset of "<" of the start tag */
  start: number;
  /** offset just after the start tag's ">" */
  startTagEnd: number;
  /** offset just after the end tag */
  end: number;
  /** qualified name, e.g. "saml:Assertion" */
  qname: string;
  /** where a Signature goes: after the first child Issuer's end tag, else right after the start tag */
  signatureAt: number;
}

const NAME = "[A-Za-z_][\\w.-]*";

/**
 * Finds the element carrying ID="id" by scanning the string (no re-serialization). Enough for the SAML this
 * tooling handles: no comments/CDATA containing markup, no ">" inside attribute values of the target's start tag.
 */
function findElementById(xml: string, id: string): ElementSpan {
  if (!new RegExp(`^${NAME}$`).test(id)) throw new Error(`not an NCName ID: ${JSON.stringify(id)}`);
  const startRe = new RegExp(`<((?:${NAME}:)?${NAME})\\b[^<>]*?\\sID\\s*=\\s*(["'])${escapeRe(id)}\\2[^<>]*>`, "g");
  const matches = [...xml.matchAll(startRe)];
  if (matches.length !== 1) throw new Error(`expected exactly one element with ID="${id}", found ${matches.length}`);
  const m = matches[0]!;
  const qname = m[1]!;
  const start = m.index;
  const startTagEnd = start + m[0].length;
  if (m[0].endsWith("/>")) throw new Error(`element ID="${id}" is empty`);

  // matching end tag: count nested elements of the same qname
  const tagRe = new RegExp(`<(/?)${escapeRe(qname)}(?=[\\s/>])[^<>]*>`, "g");
  tagRe.lastIndex = startTagEnd;
  let depth = 1;
  let end = -1;
  for (let t = tagRe.exec(xml); t; t = tagRe.exec(xml)) {
    if (t[1] === "/") depth--;
    else if (!t[0].endsWith("/>")) depth++;
    if (depth === 0) {
      end = t.index + t[0].length;
      break;
    }
  }
  if (end < 0) throw new Error(`no end tag for element ID="${id}"`);

  const issuer = new RegExp(`^\\s*<((?:${NAME}:)?Issuer)(?=[\\s/>])[^<>]*>`).exec(xml.slice(startTagEnd));
  let signatureAt = startTagEnd;
  if (issuer) {
    const close = `</${issuer[1]!}>`;
    const at = xml.indexOf(close, startTagEnd);
    if (at < 0 || at > end) throw new Error(`no end tag for the Issuer of ID="${id}"`);
    signatureAt = at + close.length;
  }
  return { start, startTagEnd, end, qname, signatureAt };
}

/** Whether the element already has a ds:Signature child right where a signature would go. */
function directSignatureChild(xml: string, t: ElementSpan): boolean {
  return new RegExp(`^\\s*<(?:${NAME}:)?Signature(?=[\\s/>])`).test(xml.slice(t.signatureAt, t.end));
}

/** Selects the ds:Signature that is a direct child of the element with this ID. */
function signatureXPath(id: string): string {
  return `//*[@ID='${id}']/*[local-name()='Signature' and namespace-uri()='${DS_NS}']`;
}

/** The element with this ID has a direct ds:Signature child with exactly one Reference, and its URI is "#id". */
function referencesOnly(xml: string, id: string): boolean {
  let t: ElementSpan;
  try {
    t = findElementById(xml, id);
  } catch {
    return false;
  }
  const body = xml.slice(t.signatureAt, t.end);
  const sig = new RegExp(`^\\s*<(${NAME}:)?Signature(?=[\\s/>])`).exec(body);
  if (!sig) return false;
  const sigEnd = body.indexOf(`</${sig[1] ?? ""}Signature>`);
  if (sigEnd < 0) return false;
  const refs = [...body.slice(0, sigEnd).matchAll(new RegExp(`<(?:${NAME}:)?Reference\\b[^<>]*?\\sURI\\s*=\\s*(["'])([^"']*)\\1`, "g"))];
  return refs.length === 1 && refs[0]![2] === `#${id}`;
}

function algorithms(o: SignOptions): { alg: SigAlg; digest: DigestAlg } {
  const keyType = createPrivateKey(readFileSync(o.key.key)).asymmetricKeyType;
  const alg = o.alg ?? (keyType === "ec" ? "ecdsa-sha256" : "rsa-sha256");
  if (alg.startsWith("ecdsa-") !== (keyType === "ec")) throw new Error(`signature algorithm ${alg} does not fit a ${keyType} key`);
  return { alg, digest: o.digest ?? "sha256" };
}

function hasXmlDecl(xml: string): boolean {
  return /^\uFEFF?\s*<\?xml\s/.test(xml);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fedbridge-sign-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a tool; returns stdout; throws with the tool's stderr (and exit status) on failure. */
function run(tool: string, file: string, args: string[], input?: string): string {
  try {
    return execFileSync(file, args, {
      encoding: "utf8",
      input: input ?? "",
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e: unknown) {
    const err = e as { status?: number | null; signal?: string | null; stderr?: string | Buffer; stdout?: string | Buffer; message?: string };
    const stderr = String(err.stderr ?? "").trim();
    const stdout = String(err.stdout ?? "").trim();
    const how = err.status != null ? `exit ${err.status}` : err.signal ? `signal ${err.signal}` : (err.message ?? "spawn failed");
    throw new Error(`${tool} failed (${how}): ${stderr || stdout || err.message || ""}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// SAML 1.1: the ID attribute is AssertionID (saml:Assertion) or ResponseID (samlp:Response), and the
// ds:Signature is the LAST child of an Assertion but the FIRST child of a Response (SAML 1.1 schemas).
// xmlsec1 resolves those IDs only when told (interop-notes.md); samlsign knows them itself.

const SAML11_ID_ATTRS = [
  "--id-attr:AssertionID",
  "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
  "--id-attr:ResponseID",
  "urn:oasis:names:tc:SAML:1.0:protocol:Response",
];

/** Signs the SAML 1.1 Assertion (AssertionID) or Response (ResponseID) with this ID with xmlsec1, from a template we insert. */
export function signSaml11WithXmlsec1(xml: string, id: string, o: SignOptions): string {
  const { alg, digest } = algorithms(o);
  const target = findSaml11ElementById(xml, id);
  if (target.signed) throw new Error(`signSaml11WithXmlsec1: element ${target.idAttr}="${id}" already has a ds:Signature`);
  const inclusive =
    o.inclusivePrefixes && o.inclusivePrefixes.length > 0
      ? `<ec:InclusiveNamespaces xmlns:ec="${EXC_C14N}" PrefixList="${o.inclusivePrefixes.join(" ")}"/>`
      : "";
  const keyInfo = (o.keyInfo ?? "cert") === "cert" ? "<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>" : "";
  const template =
    `<ds:Signature xmlns:ds="${DS_NS}"><ds:SignedInfo>` +
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"/>` +
    `<ds:SignatureMethod Algorithm="${SIG_ALG_URI[alg]}"/>` +
    `<ds:Reference URI="#${id}"><ds:Transforms>` +
    `<ds:Transform Algorithm="${ENVELOPED}"/>` +
    (inclusive === "" ? `<ds:Transform Algorithm="${EXC_C14N}"/>` : `<ds:Transform Algorithm="${EXC_C14N}">${inclusive}</ds:Transform>`) +
    `</ds:Transforms><ds:DigestMethod Algorithm="${DIGEST_ALG_URI[digest]}"/><ds:DigestValue></ds:DigestValue></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>${keyInfo}</ds:Signature>`;
  const withTemplate = xml.slice(0, target.signatureAt) + template + xml.slice(target.signatureAt);
  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    const output = path.join(dir, "out.xml");
    writeFileSync(input, withTemplate);
    const keySpec = (o.keyInfo ?? "cert") === "cert" ? `${o.key.key},${o.key.cert}` : o.key.key;
    run("xmlsec1", XMLSEC1, ["--sign", "--privkey-pem", keySpec, ...SAML11_ID_ATTRS, "--node-xpath", saml11SignatureXPath(id), "--output", output, input]);
    const signed = readFileSync(output, "utf8");
    return hasXmlDecl(xml) ? signed : signed.replace(/^<\?xml[^?]*\?>\s*/, "").replace(/\n$/, "");
  });
}

/** Verifies the direct ds:Signature of the SAML 1.1 element with this ID with xmlsec1 against `cert` only (self-test). */
export function verifySaml11WithXmlsec1(xml: string, id: string, cert: string): boolean {
  return xmlsec1Verifies(xml, cert, SAML11_ID_ATTRS, saml11SignatureXPath(id));
}

/**
 * Signs the SAML 1.1 element with this ID with OpenSAML's samlsign (which places the Signature where the
 * SAML 1.1 schema says, re-orders attributes and wraps base64). A nested element is spliced back in place.
 */
export function signSaml11WithSamlsign(xml: string, id: string, o: SignOptions): string {
  const { alg, digest } = algorithms(o);
  const target = findSaml11ElementById(xml, id);
  if (target.signed) throw new Error(`signSaml11WithSamlsign: element ${target.idAttr}="${id}" already has a ds:Signature`);
  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    writeFileSync(input, xml);
    const args = ["-s", "-k", path.resolve(o.key.key)];
    if ((o.keyInfo ?? "cert") === "cert") args.push("-c", path.resolve(o.key.cert));
    args.push("-alg", SIG_ALG_URI[alg], "-dig", DIGEST_ALG_URI[digest], "-f", input, "-id", id);
    const signed = run("samlsign", SAMLSIGN, args);
    if (!/^\s*</.test(signed)) throw new Error(`samlsign produced no XML:\n${signed}`);
    return xml.slice(0, target.start) + signed.trim() + xml.slice(target.end);
  });
}

interface Saml11Span {
  start: number;
  end: number;
  idAttr: "AssertionID" | "ResponseID";
  /** Where the Signature goes: before the end tag (Assertion) or right after the start tag (Response). */
  signatureAt: number;
  /** Whether that place already holds a ds:Signature. */
  signed: boolean;
}

function findSaml11ElementById(xml: string, id: string): Saml11Span {
  if (!new RegExp(`^${NAME}$`).test(id)) throw new Error(`not an NCName ID: ${JSON.stringify(id)}`);
  const startRe = new RegExp(`<((?:${NAME}:)?${NAME})\\b[^<>]*?\\s(AssertionID|ResponseID)\\s*=\\s*(["'])${escapeRe(id)}\\3[^<>]*>`, "g");
  const matches = [...xml.matchAll(startRe)];
  if (matches.length !== 1) throw new Error(`expected exactly one element with AssertionID/ResponseID="${id}", found ${matches.length}`);
  const m = matches[0]!;
  const qname = m[1]!;
  const idAttr = m[2] as Saml11Span["idAttr"];
  const start = m.index;
  const startTagEnd = start + m[0].length;
  if (m[0].endsWith("/>")) throw new Error(`element ${idAttr}="${id}" is empty`);
  const tagRe = new RegExp(`<(/?)${escapeRe(qname)}(?=[\\s/>])[^<>]*>`, "g");
  tagRe.lastIndex = startTagEnd;
  let depth = 1;
  let endTagStart = -1;
  let end = -1;
  for (let t = tagRe.exec(xml); t; t = tagRe.exec(xml)) {
    if (t[1] === "/") depth--;
    else if (!t[0].endsWith("/>")) depth++;
    if (depth === 0) {
      endTagStart = t.index;
      end = t.index + t[0].length;
      break;
    }
  }
  if (end < 0) throw new Error(`no end tag for element ${idAttr}="${id}"`);
  if (idAttr === "AssertionID") {
    const before = xml.slice(startTagEnd, endTagStart).trimEnd();
    return { start, end, idAttr, signatureAt: endTagStart, signed: new RegExp(`</(?:${NAME}:)?Signature>$`).test(before) };
  }
  return { start, end, idAttr, signatureAt: startTagEnd, signed: new RegExp(`^\\s*<(?:${NAME}:)?Signature(?=[\\s/>])`).test(xml.slice(startTagEnd)) };
}

function saml11SignatureXPath(id: string): string {
  return `//*[@AssertionID='${id}' or @ResponseID='${id}']/*[local-name()='Signature' and namespace-uri()='${DS_NS}']`;
}

// ---------------------------------------------------------------------------------------------------------
// The JDK's XML-DSig (Apache Santuario inside OpenJDK): for RSA-PSS, which xmlsec1 1.2.37 and samlsign
// cannot sign. Enveloped + the given c14n (SignedInfo and Reference), placed after the Issuer.

const JAVA = "/usr/bin/java";
const JAVA_SIGNER = path.join(path.dirname(fileURLToPath(import.meta.url)), "JavaDsigSign.java");

export function signWithJavaDsig(xml: string, id: string, o: { key: KeyPair; signatureMethod: string; digest: DigestAlg; c14n?: C14nAlg }): string {
  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    const output = path.join(dir, "out.xml");
    writeFileSync(input, xml);
    run("java", JAVA, [JAVA_SIGNER, input, output, path.resolve(o.key.key), id, o.signatureMethod, DIGEST_ALG_URI[o.digest], C14N_ALG_URI[o.c14n ?? "exc"]]);
    return readFileSync(output, "utf8");
  });
}
