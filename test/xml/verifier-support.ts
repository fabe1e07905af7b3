// Test support for the signature verifier tests: run one document through both verifiers (native and
// the xml-crypto oracle) and compare their verdicts. Never imported from src/.
import { readFileSync } from "node:fs";
import { isOAuthError } from "../../src/oauth/errors.js";
import { trustedKeyFromCertificate } from "../../src/saml/metadata.js";
import { parseUntrustedXml } from "../../src/xml/safe-parse.js";
import { verifyEnvelopedSignature, type SignatureVerifierKind, type TrustedKey } from "../../src/xml/signature.js";
import { STRICTER } from "../../src/xml/dsig/verify.js";

export const ROOMY = { maxDepth: 256, maxElements: 100_000 };
const DS = "http://www.w3.org/2000/09/xmldsig#";
const ID_ATTRS = ["ID", "AssertionID", "ResponseID"];

export function keysFromCerts(...certFiles: string[]): TrustedKey[] {
  return certFiles.map((f) => trustedKeyFromCertificate(readFileSync(f, "utf8")));
}

export type Verdict =
  | { ok: true; signedXml: string; keyFingerprint: string }
  | { ok: false; reason: string; tag?: string | undefined };

/** The verdict of one verifier on the signature of the element `pick` chooses in the parsed document. */
export function verdictOf(
  xml: string, kind: SignatureVerifierKind, keys: readonly TrustedKey[], o: { allowSha1?: boolean; pick?: (doc: Document) => Element | undefined } = {},
): Verdict {
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml, ROOMY);
  } catch (e) {
    if (isOAuthError(e)) return { ok: false, reason: e.reason };
    throw e;
  }
  const el = (o.pick ?? signedElementOf)(doc);
  if (!el) return { ok: false, reason: "no-signed-element" };
  const idAttribute = ID_ATTRS.find((a) => el.hasAttribute(a)) ?? "ID";
  try {
    const v = verifyEnvelopedSignature(xml, el, idAttribute, keys, { allowSha1: o.allowSha1 ?? false, verifier: kind });
    return { ok: true, ...v };
  } catch (e) {
    if (isOAuthError(e)) return { ok: false, reason: e.reason, tag: typeof e.cause === "string" ? e.cause : undefined };
    throw e;
  }
}

/** The root when it has a ds:Signature child; else the first child element that has one. */
export function signedElementOf(doc: Document): Element | undefined {
  const root = doc.documentElement!;
  const hasSig = (e: Element): boolean => {
    for (let c = e.firstChild; c; c = c.nextSibling) if (c.nodeType === 1 && (c as Element).localName === "Signature" && (c as Element).namespaceURI === DS) return true;
    return false;
  };
  if (hasSig(root)) return root;
  for (let c = root.firstChild; c; c = c.nextSibling) if (c.nodeType === 1 && hasSig(c as Element)) return c as Element;
  return undefined;
}

/** Every element (root first, then its direct children) that carries a ds:Signature child. */
export function signedElementsOf(doc: Document): Element[] {
  const out: Element[] = [];
  const root = doc.documentElement!;
  const cands: Element[] = [root];
  for (let c = root.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) cands.push(c as Element);
  for (const e of cands) {
    for (let c = e.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 1 && (c as Element).localName === "Signature" && (c as Element).namespaceURI === DS) {
        out.push(e);
        break;
      }
    }
  }
  return out;
}

/**
 * Stricter refusals of the native verifier that the differential tests accept, each with why
 * (src/xml/dsig/verify.ts STRICTER): xml-crypto would read these documents in a way that differs
 * from a plain reading of XML-DSig, so the native path refuses rather than guess.
 */
export const ACCEPTED_STRICTER: ReadonlySet<string> = new Set(Object.values(STRICTER));

export interface Comparison {
  agree: boolean;
  native: Verdict;
  oracle: Verdict;
}

/** Both verifiers on every signed element of `xml`; agreement = same acceptance and same bytes, or a listed stricter refusal. */
export function compareVerifiers(xml: string, keys: readonly TrustedKey[], o: { allowSha1?: boolean } = {}): Comparison[] {
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml, ROOMY);
  } catch {
    return [];
  }
  const out: Comparison[] = [];
  const count = signedElementsOf(doc).length;
  for (let i = 0; i < count; i++) {
    const pick = (d: Document): Element | undefined => signedElementsOf(d)[i];
    const native = verdictOf(xml, "native", keys, { ...o, pick });
    const oracle = verdictOf(xml, "xml-crypto", keys, { ...o, pick });
    let agree: boolean;
    // A fault of the native verifier (signature_verifier_failed) is never agreement, whatever the oracle says.
    if (!native.ok && native.reason === "signature_verifier_failed") agree = false;
    else if (native.ok && oracle.ok) agree = native.signedXml === oracle.signedXml && native.keyFingerprint === oracle.keyFingerprint;
    else if (!native.ok && !oracle.ok) agree = true;
    else if (!native.ok && oracle.ok) agree = native.tag !== undefined && ACCEPTED_STRICTER.has(native.tag);
    else agree = false;
    out.push({ agree, native, oracle });
  }
  return out;
}
