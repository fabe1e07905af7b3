/**
 * Self-test of the attack library (test/support/attacks.ts): each transform must produce the
 * structure it claims. Samples are signed here with xml-crypto + a throwaway RSA key.
 */
import { createHash, createHmac, generateKeyPairSync } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import { SignedXml } from "xml-crypto";
import { describe, expect, it } from "vitest";
import {
  ALG,
  EVIL_ASSERTION_ID,
  EVIL_NAME_ID,
  EVIL_RESPONSE_ID,
  NS,
  adviceAssertion,
  appendSecondRoot,
  commentInAttributeValue,
  commentInNameId,
  commentInSignatureValue,
  deepNesting,
  digestValueComment,
  duplicateSignedInfo,
  emptySignatureValue,
  encodingVariant,
  extraReference,
  extraTransform,
  garbageSignatureValue,
  hmacSigned,
  idAttributeConfusion,
  manyNamespaces,
  manyReferences,
  namespaceConfusedSibling,
  oversize,
  parserDifferential,
  prependSecondRoot,
  removeElement,
  setAttr,
  setAttributeValue,
  setDigestMethod,
  setNameId,
  setReferenceUri,
  setSignatureMethod,
  stripSignatures,
  tooManyTransforms,
  unsignedEvilCopy,
  withDoctype,
  wrappedSignedInfo,
  xsltTransform,
  xsw1,
  xsw2,
  xsw3,
  xsw4,
  xsw5,
  xsw6,
  xsw7,
  xsw7Qualified,
  xsw8,
  xsw8Qualified,
  xswBareAssertion,
  type DoctypeKind,
} from "./attacks.js";

// ---------------------------------------------------------------------------------------------
// Sample building and signing
// ---------------------------------------------------------------------------------------------

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const PUBLIC_PEM = publicKey.export({ type: "spki", format: "pem" }).toString();

type Style = "saml" | "default" | "pysaml2";
interface StyleDef {
  p: string; // protocol prefix ("" = default namespace)
  a: string; // assertion prefix
  ds: string; // signature prefix
  nsOnRoot: boolean; // pysaml2 declares every namespace on the root only
}
const STYLES: Record<Style, StyleDef> = {
  saml: { p: "samlp", a: "saml", ds: "ds", nsOnRoot: false },
  default: { p: "", a: "", ds: "", nsOnRoot: false },
  pysaml2: { p: "ns0", a: "ns1", ds: "ns2", nsOnRoot: true },
};

const q = (prefix: string, local: string): string => (prefix ? `${prefix}:${local}` : local);
const decl = (prefix: string, uri: string): string => (prefix ? ` xmlns:${prefix}="${uri}"` : ` xmlns="${uri}"`);
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

function assertionXml(s: StyleDef, opts: { nameId?: string; ownNs: boolean }): string {
  const A = (l: string) => q(s.a, l);
  const nsA = opts.ownNs ? decl(s.a, NS.saml) : "";
  return (
    `<${A("Assertion")}${nsA} ID="_a1" Version="2.0" IssueInstant="${iso(0)}">` +
    `<${A("Issuer")}>https://idp.example.com</${A("Issuer")}>` +
    `<${A("Subject")}><${A("NameID")} Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${opts.nameId ?? "alice@example.com"}</${A("NameID")}>` +
    `<${A("SubjectConfirmation")} Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><${A("SubjectConfirmationData")} Recipient="https://sts.example.com/token" NotOnOrAfter="${iso(300_000)}"/></${A("SubjectConfirmation")}></${A("Subject")}>` +
    `<${A("Conditions")} NotBefore="${iso(-60_000)}" NotOnOrAfter="${iso(300_000)}"><${A("AudienceRestriction")}><${A("Audience")}>https://sts.example.com</${A("Audience")}></${A("AudienceRestriction")}></${A("Conditions")}>` +
    `<${A("AuthnStatement")} AuthnInstant="${iso(0)}"><${A("AuthnContext")}><${A("AuthnContextClassRef")}>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</${A("AuthnContextClassRef")}></${A("AuthnContext")}></${A("AuthnStatement")}>` +
    `<${A("AttributeStatement")}><${A("Attribute")} Name="role"><${A("AttributeValue")}>user</${A("AttributeValue")}></${A("Attribute")}>` +
    `<${A("Attribute")} Name="email"><${A("AttributeValue")}>alice@example.com</${A("AttributeValue")}></${A("Attribute")}></${A("AttributeStatement")}>` +
    `</${A("Assertion")}>`
  );
}

function responseXml(s: StyleDef, assertion: string): string {
  const P = (l: string) => q(s.p, l);
  const rootNs = decl(s.p, NS.samlp) + (s.nsOnRoot || s.a !== "" ? decl(s.a, NS.saml) : "");
  const issuerNs = s.a === "" ? decl("", NS.saml) : "";
  return (
    `<${P("Response")}${rootNs} ID="_resp1" Version="2.0" IssueInstant="${iso(0)}" Destination="https://sts.example.com/token">` +
    `<${q(s.a, "Issuer")}${issuerNs}>https://idp.example.com</${q(s.a, "Issuer")}>` +
    `<${P("Status")}><${P("StatusCode")} Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></${P("Status")}>` +
    assertion +
    `</${P("Response")}>`
  );
}

function sign(xml: string, id: string, dsPrefix: string): string {
  const sx = new SignedXml({
    privateKey: PRIVATE_PEM,
    signatureAlgorithm: ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
  });
  sx.addReference({
    xpath: `//*[@ID='${id}']`,
    transforms: [ALG.envelopedSignature, ALG.excC14n],
    digestAlgorithm: ALG.sha256,
  });
  const location = {
    reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`,
    action: "after" as const,
  };
  sx.computeSignature(xml, dsPrefix ? { prefix: dsPrefix, location } : { location });
  return sx.getSignedXml();
}

function samples(style: Style, nameId?: string) {
  const s = STYLES[style];
  const opt = nameId === undefined ? {} : { nameId };
  const bare = sign(assertionXml(s, { ...opt, ownNs: true }), "_a1", s.ds);
  const innerAssertion = assertionXml(s, { ...opt, ownNs: !s.nsOnRoot && s.a === "" });
  const unsignedResponse = responseXml(s, innerAssertion);
  const responseA = sign(unsignedResponse, "_a1", s.ds); // B-S2R-a
  const responseR = sign(unsignedResponse, "_resp1", s.ds); // B-S2R-r
  const responseAR = sign(responseA, "_resp1", s.ds); // B-S2R-ar
  return { bare, responseA, responseR, responseAR, unsignedResponse };
}

const SAML = samples("saml");

// ---------------------------------------------------------------------------------------------
// Inspection helpers
// ---------------------------------------------------------------------------------------------

function dom(xml: string): Document {
  const fail = (m: unknown) => {
    throw new Error(String(m));
  };
  return new DOMParser({ errorHandler: { warning: fail, error: fail, fatalError: fail } }).parseFromString(
    xml,
    "text/xml",
  );
}
function rootOf(doc: Document): Element {
  const r = doc.documentElement;
  if (!r) throw new Error("no root");
  return r;
}
function kids(el: Element, ns?: string | null, local?: string): Element[] {
  const out: Element[] = [];
  for (let i = 0; i < el.childNodes.length; i++) {
    const c = el.childNodes.item(i);
    if (c && c.nodeType === 1) {
      const e = c as Element;
      if ((ns === undefined || e.namespaceURI === ns) && (local === undefined || e.localName === local)) out.push(e);
    }
  }
  return out;
}
function all(node: Document | Element, ns: string, local: string): Element[] {
  const list = node.getElementsByTagNameNS(ns, local);
  const out: Element[] = [];
  for (let i = 0; i < list.length; i++) {
    const e = list.item(i);
    if (e) out.push(e);
  }
  return out;
}
function one(node: Document | Element, ns: string, local: string): Element {
  const e = all(node, ns, local)[0];
  if (!e) throw new Error(`missing {${ns}}${local}`);
  return e;
}
/**
 * Subject/NameID of the element when it is an Assertion, else of its first Assertion child (not the
 * first NameID in document order: XSW copies can sit in between).
 */
function nameIdOf(el: Element): string {
  const assertion = el.localName === "Assertion" ? el : kids(el, NS.saml, "Assertion")[0];
  const subject = assertion ? kids(assertion, NS.saml, "Subject")[0] : undefined;
  const nameId = subject ? kids(subject, NS.saml, "NameID")[0] : undefined;
  if (!nameId) throw new Error(`no Subject/NameID under ${el.localName}`);
  return nameId.textContent ?? "";
}
/** xmldom reports "no namespace" as null, undefined or "" depending on how the node was made. */
function nsOf(el: Element): string | null {
  return el.namespaceURI || null;
}
function lastKid(el: Element): Element {
  const k = kids(el);
  const l = k[k.length - 1];
  if (!l) throw new Error("no children");
  return l;
}

/** True when every ds:Signature in the document verifies with the sample key (xml-crypto 6.3.2). */
function verifies(xml: string): boolean {
  const sigs = all(dom(xml), NS.ds, "Signature");
  if (sigs.length === 0) return false;
  for (const sig of sigs) {
    try {
      const sx = new SignedXml({ publicCert: PUBLIC_PEM });
      sx.loadSignature(sig);
      if (!sx.checkSignature(xml)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Independent digest check: re-sign `id` (after dropping its existing Signature) with xml-crypto
 * and return the DigestValue xml-crypto computes for it.
 */
function xmlCryptoDigestOf(xml: string, id: string): string {
  const doc = dom(xml);
  const target = all(doc, "*", "*").find((e) => e.getAttribute("ID") === id);
  if (!target) throw new Error(`no element ${id}`);
  for (const s of kids(target, NS.ds, "Signature")) target.removeChild(s);
  const resigned = dom(sign(new XMLSerializer().serializeToString(doc), id, "ds"));
  const el = all(resigned, "*", "*").find((e) => e.getAttribute("ID") === id) as Element;
  return one(kids(el, NS.ds, "Signature")[0] as Element, NS.ds, "DigestValue").textContent ?? "";
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("attack library self-test", () => {
  describe("baseline samples", () => {
    for (const style of Object.keys(STYLES) as Style[]) {
      it(`${style}: bare / a / r / ar samples verify`, () => {
        const s = style === "saml" ? SAML : samples(style);
        expect(verifies(s.bare)).toBe(true);
        expect(verifies(s.responseA)).toBe(true);
        expect(verifies(s.responseR)).toBe(true);
        expect(verifies(s.responseAR)).toBe(true);
      });
    }
    it("tampering breaks the signature (sanity of the verifier)", () => {
      expect(verifies(setNameId(SAML.responseA, EVIL_NAME_ID))).toBe(false);
    });
  });

  describe("A. XSW", () => {
    it("A1 xsw1: evil Response root, clean signed copy inside its Signature", () => {
      const r = rootOf(dom(xsw1(SAML.responseR)));
      expect(r.getAttribute("ID")).toBe(EVIL_RESPONSE_ID);
      expect(nameIdOf(kids(r, NS.saml, "Assertion")[0] as Element)).toBe(EVIL_NAME_ID);
      const sig = kids(r, NS.ds, "Signature")[0] as Element;
      const clean = lastKid(sig);
      expect([nsOf(clean), clean.localName, clean.getAttribute("ID")]).toEqual([NS.samlp, "Response", "_resp1"]);
      expect(kids(clean, NS.ds, "Signature")).toHaveLength(0);
      expect(nameIdOf(clean)).toBe("alice@example.com");
    });

    it("A2 xsw2: clean copy is the preceding sibling of ds:Signature", () => {
      const r = rootOf(dom(xsw2(SAML.responseR, "root@example.com")));
      const k = kids(r);
      const sigIdx = k.findIndex((e) => e.localName === "Signature");
      const prev = k[sigIdx - 1] as Element;
      expect([prev.localName, prev.getAttribute("ID")]).toEqual(["Response", "_resp1"]);
      expect(r.getAttribute("ID")).toBe(EVIL_RESPONSE_ID);
      expect(nameIdOf(kids(r, NS.saml, "Assertion")[0] as Element)).toBe("root@example.com");
    });

    it("xsw1/xsw2 refuse an unsigned Response; xsw3 refuses a bare assertion", () => {
      expect(() => xsw1(SAML.responseA)).toThrow(/not signed/);
      expect(() => xsw2(SAML.unsignedResponse)).toThrow(/not signed/);
      expect(() => xsw3(SAML.bare)).toThrow(/samlp:Response/);
      expect(() => xsw5(SAML.responseR)).toThrow(/no saml:Assertion child carrying/);
    });

    it("A3 xsw3: two Assertion children, evil first", () => {
      const [evil, orig] = kids(rootOf(dom(xsw3(SAML.responseA))), NS.saml, "Assertion") as [Element, Element];
      expect(kids(rootOf(dom(xsw3(SAML.responseA))), NS.saml, "Assertion")).toHaveLength(2);
      expect(evil.getAttribute("ID")).toBe(EVIL_ASSERTION_ID);
      expect(nameIdOf(evil)).toBe(EVIL_NAME_ID);
      expect(kids(evil, NS.ds, "Signature")).toHaveLength(0);
      expect(orig.getAttribute("ID")).toBe("_a1");
      expect(kids(orig, NS.ds, "Signature")).toHaveLength(1);
      expect(nameIdOf(orig)).toBe("alice@example.com");
    });

    it("A4 xsw4: original nested inside the evil assertion", () => {
      const as = kids(rootOf(dom(xsw4(SAML.responseA))), NS.saml, "Assertion");
      expect(as).toHaveLength(1);
      const evil = as[0] as Element;
      expect(evil.getAttribute("ID")).toBe(EVIL_ASSERTION_ID);
      expect(kids(evil, NS.ds, "Signature")).toHaveLength(0);
      const inner = lastKid(evil);
      expect([inner.localName, inner.getAttribute("ID")]).toEqual(["Assertion", "_a1"]);
      expect(kids(inner, NS.ds, "Signature")).toHaveLength(1);
      expect(nameIdOf(evil)).toBe(EVIL_NAME_ID);
    });

    it("A5 xsw5: evil in place keeps Signature, clean copy appended", () => {
      const as = kids(rootOf(dom(xsw5(SAML.responseA))), NS.saml, "Assertion");
      expect(as).toHaveLength(2);
      const [evil, clean] = as as [Element, Element];
      expect(evil.getAttribute("ID")).toBe(EVIL_ASSERTION_ID);
      expect(kids(evil, NS.ds, "Signature")).toHaveLength(1);
      expect(nameIdOf(evil)).toBe(EVIL_NAME_ID);
      expect(clean.getAttribute("ID")).toBe("_a1");
      expect(kids(clean, NS.ds, "Signature")).toHaveLength(0);
      expect(nameIdOf(clean)).toBe("alice@example.com");
    });

    it("A6 xsw6: clean copy inside the evil assertion's Signature", () => {
      const as = kids(rootOf(dom(xsw6(SAML.responseA))), NS.saml, "Assertion");
      expect(as).toHaveLength(1);
      const evil = as[0] as Element;
      expect(evil.getAttribute("ID")).toBe(EVIL_ASSERTION_ID);
      const clean = lastKid(kids(evil, NS.ds, "Signature")[0] as Element);
      expect([clean.localName, clean.getAttribute("ID"), nameIdOf(clean)]).toEqual(["Assertion", "_a1", "alice@example.com"]);
      expect(nameIdOf(evil)).toBe(EVIL_NAME_ID);
    });

    for (const style of Object.keys(STYLES) as Style[]) {
      it(`A7 xsw7 (${style}): unqualified Extensions before the assertion, same-ID evil copy`, () => {
        const s = style === "saml" ? SAML : samples(style);
        const r = rootOf(dom(xsw7(s.responseA)));
        const k = kids(r);
        const extIdx = k.findIndex((e) => e.localName === "Extensions");
        const ext = k[extIdx] as Element;
        expect(nsOf(ext)).toBeNull();
        expect(k[extIdx + 1]?.localName).toBe("Assertion");
        const copy = kids(ext, NS.saml, "Assertion")[0] as Element;
        expect(copy.getAttribute("ID")).toBe("_a1");
        expect(nameIdOf(copy)).toBe(EVIL_NAME_ID);
        expect(kids(copy, NS.ds, "Signature")).toHaveLength(0);
      });

      it(`A7 xsw7Qualified (${style}): samlp:Extensions at schema position`, () => {
        const s = style === "saml" ? SAML : samples(style);
        const r = rootOf(dom(xsw7Qualified(s.responseA)));
        const names = kids(r).map((e) => e.localName);
        expect(names.slice(0, 3)).toEqual(["Issuer", "Extensions", "Status"]);
        const ext = kids(r, NS.samlp, "Extensions")[0] as Element;
        expect(ext.prefix ?? "").toBe(r.prefix ?? "");
        expect(nameIdOf(ext)).toBe(EVIL_NAME_ID);
        expect(one(ext, NS.saml, "Assertion").getAttribute("ID")).toBe("_a1");
      });

      it(`A8 xsw8 / xsw8Qualified (${style}): clean copy in (ds:)Object of the Signature`, () => {
        const s = style === "saml" ? SAML : samples(style);
        for (const [fn, ns] of [
          [xsw8, null],
          [xsw8Qualified, NS.ds],
        ] as const) {
          const assertion = kids(rootOf(dom(fn(s.responseA))), NS.saml, "Assertion")[0] as Element;
          expect(assertion.getAttribute("ID")).toBe("_a1");
          expect(nameIdOf(assertion)).toBe(EVIL_NAME_ID);
          const sig = kids(assertion, NS.ds, "Signature")[0] as Element;
          const obj = lastKid(sig);
          expect([nsOf(obj), obj.localName]).toEqual([ns, "Object"]);
          if (ns) expect(obj.prefix ?? "").toBe(sig.prefix ?? "");
          const clean = kids(obj, NS.saml, "Assertion")[0] as Element;
          expect([clean.getAttribute("ID"), nameIdOf(clean)]).toEqual(["_a1", "alice@example.com"]);
          expect(kids(clean, NS.ds, "Signature")).toHaveLength(0);
        }
      });

      it(`A3 xsw3 (${style}): works regardless of prefixes`, () => {
        const s = style === "saml" ? SAML : samples(style);
        const as = kids(rootOf(dom(xsw3(s.responseA))), NS.saml, "Assertion");
        expect(as.map((a) => a.getAttribute("ID"))).toEqual([EVIL_ASSERTION_ID, "_a1"]);
        expect(as.map((a) => a.prefix ?? "")).toEqual([STYLES[style].a, STYLES[style].a]);
      });
    }

    it("xswBareAssertion: three wrappings of a bare signed assertion", () => {
      const w = xswBareAssertion(SAML.bare);
      const a = rootOf(dom(w.wrapInEvilRoot));
      expect([a.localName, a.getAttribute("ID"), nameIdOf(a)]).toEqual(["Assertion", EVIL_ASSERTION_ID, EVIL_NAME_ID]);
      expect(kids(a, NS.ds, "Signature")).toHaveLength(0);
      const inner = lastKid(a);
      expect([inner.localName, inner.getAttribute("ID")]).toEqual(["Assertion", "_a1"]);
      expect(kids(inner, NS.ds, "Signature")).toHaveLength(1);

      const b = rootOf(dom(w.adviceWrapped));
      expect(b.getAttribute("ID")).toBe(EVIL_ASSERTION_ID);
      expect(kids(b).map((e) => e.localName)).toEqual([
        "Issuer",
        "Subject",
        "Conditions",
        "Advice",
        "AuthnStatement",
        "AttributeStatement",
      ]);
      const adv = kids(b, NS.saml, "Advice")[0] as Element;
      expect(kids(adv, NS.saml, "Assertion")[0]?.getAttribute("ID")).toBe("_a1");

      const c = rootOf(dom(w.objectWrapped));
      expect([c.getAttribute("ID"), nameIdOf(c)]).toEqual([EVIL_ASSERTION_ID, EVIL_NAME_ID]);
      const obj = lastKid(kids(c, NS.ds, "Signature")[0] as Element);
      expect([nsOf(obj), obj.localName]).toEqual([NS.ds, "Object"]);
      const clean = kids(obj, NS.saml, "Assertion")[0] as Element;
      expect([clean.getAttribute("ID"), nameIdOf(clean)]).toEqual(["_a1", "alice@example.com"]);
      expect(() => xswBareAssertion(SAML.responseA)).toThrow(/bare assertion/);
    });

    it("A10 adviceAssertion: evil assertion inside saml:Advice of the signed assertion", () => {
      const doc = dom(adviceAssertion(SAML.responseA));
      const signed = kids(rootOf(doc), NS.saml, "Assertion")[0] as Element;
      expect(kids(signed).map((e) => e.localName).slice(0, 5)).toEqual([
        "Issuer",
        "Signature",
        "Subject",
        "Conditions",
        "Advice",
      ]);
      const inAdvice = kids(kids(signed, NS.saml, "Advice")[0] as Element, NS.saml, "Assertion")[0] as Element;
      expect(nameIdOf(inAdvice)).toBe(EVIL_NAME_ID);
      expect(nameIdOf(signed)).toBe("alice@example.com");
      const custom = unsignedEvilCopy(SAML.bare, "mallory@example.com");
      const doc2 = dom(adviceAssertion(SAML.bare, custom));
      expect(nameIdOf(one(one(doc2, NS.saml, "Advice"), NS.saml, "Assertion"))).toBe("mallory@example.com");
    });

    it("A11 namespaceConfusedSibling: evil:Assertion sibling before the signed one", () => {
      const r = rootOf(dom(namespaceConfusedSibling(SAML.responseA)));
      const k = kids(r);
      const i = k.findIndex((e) => e.namespaceURI === NS.evil);
      const evil = k[i] as Element;
      expect([evil.localName, evil.prefix, evil.getAttribute("ID")]).toEqual(["Assertion", "evil", "_e"]);
      expect(nameIdOf(evil)).toBe(EVIL_NAME_ID);
      expect(k[i + 1]?.namespaceURI).toBe(NS.saml);
      expect(k[i + 1]?.getAttribute("ID")).toBe("_a1");
    });
  });

  describe("B. XML-DSig", () => {
    it("B1 stripSignatures / setNameId / setAttributeValue", () => {
      const stripped = stripSignatures(SAML.responseAR);
      expect(all(dom(stripped), NS.ds, "Signature")).toHaveLength(0);
      expect(() => stripSignatures(SAML.unsignedResponse)).toThrow(/no ds:Signature/);
      expect(nameIdOf(rootOf(dom(setNameId(SAML.bare, "x@y"))))).toBe("x@y");
      const v = setAttributeValue(SAML.bare, "role", "admin");
      expect(one(dom(v), NS.saml, "AttributeValue").textContent).toBe("admin");
      expect(verifies(v)).toBe(false);
      expect(() => setAttributeValue(SAML.bare, "nope", "x")).toThrow(/Name="nope"/);
    });

    it("B12 commentInNameId: comment splits the NameID and the signature stays valid", () => {
      const s = samples("saml", "alice@example.com.evil.com");
      const out = commentInNameId(s.responseA, "alice@example.com".length);
      expect(out).toContain(">alice@example.com<!---->.evil.com</saml:NameID>");
      expect(nameIdOf(rootOf(dom(out)))).toBe("alice@example.com.evil.com");
      expect(verifies(out)).toBe(true);
      const out2 = commentInAttributeValue(s.bare, "email", 5);
      expect(out2).toContain(">alice<!---->@example.com</saml:AttributeValue>");
      expect(verifies(out2)).toBe(true);
      expect(() => commentInNameId(s.bare, 999)).toThrow(/outside/);
    });

    it("B7 duplicateSignedInfo: second SignedInfo with a correct digest of the forged assertion", () => {
      const out = duplicateSignedInfo(SAML.responseA);
      const doc = dom(out);
      const r = rootOf(doc);
      const forged = kids(r, NS.saml, "Assertion")[0] as Element;
      expect([forged.getAttribute("ID"), nameIdOf(forged)]).toEqual([EVIL_ASSERTION_ID, EVIL_NAME_ID]);
      const sig = kids(forged, NS.ds, "Signature")[0] as Element;
      const sis = kids(sig, NS.ds, "SignedInfo");
      expect(sis).toHaveLength(2);
      const origSi = one(dom(SAML.responseA), NS.ds, "SignedInfo");
      expect((sis[0] as Element).toString()).toBe(origSi.toString());
      const ref2 = one(sis[1] as Element, NS.ds, "Reference");
      expect(ref2.getAttribute("URI")).toBe(`#${EVIL_ASSERTION_ID}`);
      const holder = lastKid(r);
      expect([nsOf(holder), holder.localName]).toEqual([null, "a"]);
      const genuine = kids(holder, NS.saml, "Assertion")[0] as Element;
      expect([genuine.getAttribute("ID"), nameIdOf(genuine)]).toEqual(["_a1", "alice@example.com"]);
      expect(one(ref2, NS.ds, "DigestValue").textContent).toBe(xmlCryptoDigestOf(out, EVIL_ASSERTION_ID));
    });

    it("B7 wrappedSignedInfo: extra SignedInfo wrapped in an unknown element before the real one", () => {
      const out = wrappedSignedInfo(SAML.responseA);
      const sig = one(dom(out), NS.ds, "Signature");
      const k = kids(sig);
      expect(k.map((e) => e.localName).slice(0, 2)).toEqual(["WRAPPER", "SignedInfo"]);
      expect(nsOf(k[0] as Element)).toBeNull();
      expect(kids(k[0] as Element, NS.ds, "SignedInfo")).toHaveLength(1);
      expect(kids(sig, NS.ds, "SignedInfo")).toHaveLength(1);
    });

    it("B7 works for a default-namespace bare assertion too", () => {
      const s = samples("default");
      const out = duplicateSignedInfo(s.bare);
      const r = rootOf(dom(out));
      expect(r.getAttribute("ID")).toBe(EVIL_ASSERTION_ID);
      const holder = lastKid(r);
      expect([nsOf(holder), holder.localName]).toEqual([null, "a"]);
      expect(kids(one(dom(out), NS.ds, "Signature"), NS.ds, "SignedInfo")).toHaveLength(2);
      const ref2 = one(kids(one(dom(out), NS.ds, "Signature"), NS.ds, "SignedInfo")[1] as Element, NS.ds, "Reference");
      expect(one(ref2, NS.ds, "DigestValue").textContent).toBe(xmlCryptoDigestOf(out, EVIL_ASSERTION_ID));
    });

    it("B8 digestValueComment: comment inside DigestValue", () => {
      const original = one(dom(SAML.responseA), NS.ds, "DigestValue").textContent ?? "";
      const out = digestValueComment(SAML.responseA);
      expect(out).toMatch(/<ds:DigestValue><!--[^<]+-->[^<]+<\/ds:DigestValue>/);
      const dv = one(dom(out), NS.ds, "DigestValue");
      expect(dv.firstChild?.nodeType).toBe(8);
      expect(dv.firstChild?.nodeValue).toBe(original);
      const forged = dv.lastChild?.nodeValue ?? "";
      expect(forged).not.toBe(original);
      expect(forged).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(forged).toBe(xmlCryptoDigestOf(out, "_a1"));
      expect(nameIdOf(rootOf(dom(out)))).toBe(EVIL_NAME_ID);

      const rev = one(dom(digestValueComment(SAML.responseA, { order: "forged-in-comment" })), NS.ds, "DigestValue");
      expect(rev.lastChild?.nodeValue).toBe(original);
      expect(rev.firstChild?.nodeType).toBe(8);

      const cdata = digestValueComment(SAML.responseA, { order: "cdata-split" });
      expect(cdata).toContain("<![CDATA[");
      expect(one(dom(cdata), NS.ds, "DigestValue").textContent).toBe(original);
    });

    it("B2 empty / garbage / commented SignatureValue", () => {
      expect(emptySignatureValue(SAML.bare)).toMatch(/<ds:SignatureValue\/>|<ds:SignatureValue><\/ds:SignatureValue>/);
      expect(one(dom(garbageSignatureValue(SAML.bare)), NS.ds, "SignatureValue").textContent).toBe("AAAA");
      const sv = one(dom(commentInSignatureValue(SAML.bare)), NS.ds, "SignatureValue");
      expect(sv.firstChild?.nodeType).toBe(8);
      expect(sv.lastChild?.nodeValue).toBe("AAAA");
    });

    it("B11 appendSecondRoot / prependSecondRoot produce two root elements", () => {
      const evil = unsignedEvilCopy(SAML.responseA);
      const app = appendSecondRoot(SAML.responseA, evil);
      expect(app.match(/<samlp:Response /g)).toHaveLength(2);
      expect(app.indexOf("alice@example.com")).toBeLessThan(app.indexOf(EVIL_NAME_ID));
      expect(() => dom(app)).toThrow(/Only one element/);
      const pre = prependSecondRoot(`<?xml version="1.0"?>\n${SAML.responseA}`, evil);
      expect(pre.startsWith('<?xml version="1.0"?>')).toBe(true);
      expect(pre.indexOf(EVIL_NAME_ID)).toBeLessThan(pre.indexOf("alice@example.com"));
      expect(() => dom(pre)).toThrow();
    });

    const kinds: DoctypeKind[] = [
      "xxe-file",
      "xxe-http",
      "parameter-entity",
      "billion-laughs",
      "empty-doctype",
      "attlist-namespace",
      "entity-built-id",
    ];
    for (const kind of kinds) {
      it(`C1-C4/B23/B24 withDoctype("${kind}") starts with a DOCTYPE`, () => {
        const out = withDoctype(SAML.responseA, kind);
        expect(out.startsWith("<!DOCTYPE ")).toBe(true);
        expect(out.match(/<!DOCTYPE/g)).toHaveLength(1);
      });
    }

    it("withDoctype payload details", () => {
      expect(withDoctype(SAML.responseA, "xxe-file")).toMatch(
        /^<!DOCTYPE samlp:Response \[<!ENTITY xxe SYSTEM "file:\/\/\/etc\/passwd">\]>[\s\S]*<saml:NameID[^>]*>&xxe;<\/saml:NameID>/,
      );
      expect(withDoctype(SAML.bare, "xxe-http", "http://canary.test/x")).toContain('SYSTEM "http://canary.test/x"');
      expect(withDoctype(SAML.bare, "parameter-entity")).toMatch(/<!ENTITY % xxe SYSTEM "[^"]+"> %xxe;/);
      const bl = withDoctype(SAML.bare, "billion-laughs");
      expect(bl).toContain(`<!ENTITY lol9 "${"&lol8;".repeat(10)}">`);
      expect(bl).toMatch(/>&lol9;<\/saml:NameID>/);
      const empty = withDoctype(SAML.responseA, "empty-doctype");
      expect(empty.startsWith("<!DOCTYPE samlp:Response>\n<samlp:Response")).toBe(true);
      expect(verifies(empty)).toBe(true); // no entities: the signature still verifies, only a DOCTYPE ban stops it
      const withDecl = withDoctype(`<?xml version="1.0" encoding="UTF-8"?>\n${SAML.bare}`, "empty-doctype");
      expect(withDecl).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE saml:Assertion>/);

      const att = withDoctype(SAML.responseA, "attlist-namespace");
      expect(att).toContain(
        '<!DOCTYPE Response [<!ATTLIST Signature xmlns CDATA #FIXED "http://www.w3.org/2000/09/xmldsig#" xmlns CDATA "block">]>',
      );
      expect(att).toMatch(/<samlp:StatusDetail><Signature>/);
      expect(att).toContain('xmlns:example="http://example.com\u0080"');
      expect(att).toContain(`<ds:DigestValue>${createHash("sha256").update("").digest("base64")}</ds:DigestValue>`);

      const ent = withDoctype(SAML.responseA, "entity-built-id");
      expect(ent).toMatch(/^<!DOCTYPE response \[\n<!ENTITY idViaEntity "_a1">\n<!ENTITY BypassIDUniqueness "&#x50;">\n\]>/);
      expect(ent).toContain('ID="&idViaEntity;"');
      expect(ent).toContain('ID="&BypassIDUniqueness;_a1"');
      expect(ent).toContain('ID="_a1ffff"');
      expect(ent).toMatch(/<ds:Object><saml:Assertion/);
    });

    it("B22 parserDifferential", () => {
      const out = parserDifferential(SAML.responseA, unsignedEvilCopy(SAML.responseA));
      expect(out.startsWith(`<!DOCTYPE response SYSTEM 'x"><!--'>\n<samlp:Response`)).toBe(true);
      expect(out.endsWith("<!--]]>-->\n</samlp:Response>")).toBe(true);
      const cdataAt = out.indexOf("<![CDATA[-->");
      expect(cdataAt).toBeGreaterThan(out.indexOf(EVIL_NAME_ID));
      expect(out.indexOf("<ds:SignatureValue>")).toBeGreaterThan(cdataAt);
    });

    for (const attr of ["Id", "id", "ID", "foo:ID"] as const) {
      it(`B19 idAttributeConfusion(${attr})`, () => {
        const doc = dom(idAttributeConfusion(SAML.responseA, attr));
        const carriers = all(doc, "*", "*").filter((e) =>
          attr === "foo:ID" ? e.getAttributeNS("urn:foo", "ID") === "_a1" : e.getAttribute(attr) === "_a1",
        );
        const evil = carriers.find((e) => kids(e, NS.ds, "Signature").length === 0) as Element;
        expect(evil).toBeDefined();
        expect(nameIdOf(evil)).toBe(EVIL_NAME_ID);
        expect(all(doc, NS.saml, "Assertion").filter((e) => e.getAttribute("ID") === "_a1")).toHaveLength(
          attr === "ID" ? 2 : 1,
        );
      });
    }

    it("B14 xsltTransform: first Transform is XSLT with a canary fetch", () => {
      const ts = all(dom(xsltTransform(SAML.bare, "http://canary.test/c")), NS.ds, "Transform");
      expect(ts[0]?.getAttribute("Algorithm")).toBe(ALG.xslt);
      expect(ts).toHaveLength(3);
      expect(one(ts[0] as Element, NS.xsl, "value-of").getAttribute("select")).toBe("unparsed-text('http://canary.test/c')");
    });

    it("B15/B16 transforms and references", () => {
      const ext = all(dom(extraTransform(SAML.bare, ALG.c14n11)), NS.ds, "Transform");
      expect(ext.map((t) => t.getAttribute("Algorithm"))).toEqual([ALG.envelopedSignature, ALG.excC14n, ALG.c14n11]);
      expect(all(dom(tooManyTransforms(SAML.bare)), NS.ds, "Transform")).toHaveLength(3);
      expect(all(dom(tooManyTransforms(SAML.bare, 5)), NS.ds, "Transform")).toHaveLength(5);
      const refs = all(dom(extraReference(SAML.responseA, "#_resp1")), NS.ds, "Reference");
      expect(refs.map((r) => r.getAttribute("URI"))).toEqual(["#_a1", "#_resp1"]);
      const many = all(dom(manyReferences(SAML.bare, 1000)), NS.ds, "Reference");
      expect(many).toHaveLength(1000);
      expect(new Set(many.map((r) => r.getAttribute("URI")))).toEqual(new Set(["#_a1"]));
      expect(one(dom(setReferenceUri(SAML.bare, "")), NS.ds, "Reference").getAttribute("URI")).toBe("");
      expect(one(dom(setSignatureMethod(SAML.bare, ALG.rsaSha1)), NS.ds, "SignatureMethod").getAttribute("Algorithm")).toBe(
        ALG.rsaSha1,
      );
      expect(one(dom(setDigestMethod(SAML.bare, ALG.md5)), NS.ds, "DigestMethod").getAttribute("Algorithm")).toBe(ALG.md5);
    });

    it("B16/B7 target the assertion signature when both Response and Assertion are signed", () => {
      const doc = dom(setReferenceUri(SAML.responseAR, "#x"));
      const assertion = one(doc, NS.saml, "Assertion");
      expect(one(assertion, NS.ds, "Reference").getAttribute("URI")).toBe("#x");
      expect(one(kids(rootOf(doc), NS.ds, "Signature")[0] as Element, NS.ds, "Reference").getAttribute("URI")).toBe(
        "#_resp1",
      );
    });

    it("B6 hmacSigned: HMAC signature keyed with the given bytes", () => {
      const key = PUBLIC_PEM;
      const out = hmacSigned(setNameId(SAML.bare, EVIL_NAME_ID), "_a1", key);
      const doc = dom(out);
      const sigs = all(doc, NS.ds, "Signature");
      expect(sigs).toHaveLength(1);
      const sig = sigs[0] as Element;
      expect((sig.parentNode as Element).getAttribute("ID")).toBe("_a1");
      expect((sig.previousSibling as Element).localName).toBe("Issuer");
      expect(one(sig, NS.ds, "SignatureMethod").getAttribute("Algorithm")).toBe(ALG.hmacSha256);
      const canonSi = new SignedXml().getCanonXml([ALG.excC14n], one(sig, NS.ds, "SignedInfo"));
      expect(one(sig, NS.ds, "SignatureValue").textContent).toBe(createHmac("sha256", key).update(canonSi).digest("base64"));
      expect(verifies(out)).toBe(false); // RSA verifier rejects it

      // HMAC-SHA1 variant checked with xml-crypto's own (attacker-enabled) HMAC verifier.
      const der = Buffer.from("not-a-real-der-but-bytes");
      const out1 = hmacSigned(SAML.responseA, "_a1", der, ALG.hmacSha1);
      const v = new SignedXml({ publicCert: der });
      v.enableHMAC();
      v.loadSignature(one(dom(out1), NS.ds, "Signature"));
      expect(v.checkSignature(out1)).toBe(true);
      expect(() => hmacSigned(SAML.bare, "_nope", key)).toThrow(/no element/);
    });
  });

  describe("C. parser / DoS", () => {
    it("C6 deepNesting: nested <x> in unsigned samlp:Extensions; assertion signature intact", () => {
      const out = deepNesting(SAML.responseA, 500);
      const ext = kids(rootOf(dom(out)), NS.samlp, "Extensions")[0] as Element;
      expect(ext).toBeDefined();
      let depth = 0;
      let cur: Element | undefined = ext;
      while (cur) {
        cur = kids(cur, undefined, "x")[0];
        if (cur) depth++;
      }
      expect(depth).toBe(500);
      expect(verifies(out)).toBe(true);
      const big = deepNesting(SAML.responseA, 100_000);
      expect(big.split("<x>").length - 1).toBe(100_000);
      const bare = deepNesting(SAML.bare, 3);
      expect(bare).toMatch(/<x><x><x><\/x><\/x><\/x><\/saml:Assertion>$/);
      const dflt = deepNesting(samples("default").responseA, 2);
      expect(dflt).toContain('<x xmlns=""><x></x></x>');
    });

    it("C7 oversize: exact byte size, signature intact", () => {
      const out = oversize(SAML.responseA, 200_000);
      expect(Buffer.byteLength(out)).toBe(200_000);
      expect(verifies(out)).toBe(true);
      expect(Buffer.byteLength(oversize(SAML.bare, 5 * 1024 * 1024))).toBe(5 * 1024 * 1024);
      expect(() => oversize(SAML.bare, 10)).toThrow(/not larger/);
    });

    it("C8 manyNamespaces: n unused declarations on the signed element, signature intact", () => {
      const out = manyNamespaces(SAML.responseA, 2000);
      expect(out.match(/xmlns:fbns\d+=/g)).toHaveLength(2000);
      const a = one(dom(out), NS.saml, "Assertion");
      expect(a.getAttribute("xmlns:fbns1999")).toBe("urn:fedbridge:ns:1999");
      expect(verifies(out)).toBe(true);
    });

    it("C5/C10 encodingVariant", () => {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${SAML.bare}`;
      const u16 = encodingVariant(xml, "utf16le-bom");
      expect([...u16.subarray(0, 2)]).toEqual([0xff, 0xfe]);
      expect(u16.subarray(2).toString("utf16le")).toMatch(/^<\?xml version="1.0" encoding="UTF-16"\?>/);
      const l1 = encodingVariant(SAML.bare, "latin1-decl");
      expect(l1.toString("latin1")).toMatch(/^<\?xml version="1.0" encoding="ISO-8859-1"\?>\n<saml:Assertion/);
      expect([...encodingVariant(SAML.bare, "utf8-bom").subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const nul = encodingVariant(SAML.bare, "nul-byte");
      expect(nul.includes(Buffer.from("alice@example.com\u0000</saml:NameID>", "utf8"))).toBe(true);
      expect(encodingVariant(SAML.bare, "stylesheet-pi").toString()).toMatch(/^<\?xml-stylesheet type="text\/xsl" href="[^"]+"\?>\n<saml:Assertion/);
      expect(inflateRawSync(encodingVariant(SAML.bare, "deflated")).toString("utf8")).toBe(SAML.bare);
      expect(encodingVariant(xml, "utf16-decl").toString("utf8")).toMatch(/^<\?xml version="1.0" encoding="UTF-16"\?>/);
      const ol = encodingVariant(SAML.bare, "overlong-utf8");
      expect(ol.includes(Buffer.from([0x61, 0x6c, 0x69, 0x63, 0x65, 0xc1, 0x80]))).toBe(true);
    });
  });

  describe("generic helpers", () => {
    it("removeElement / setAttr", () => {
      const noCond = removeElement(SAML.bare, NS.saml, "Conditions");
      expect(all(dom(noCond), NS.saml, "Conditions")).toHaveLength(0);
      expect(() => removeElement(SAML.bare, NS.saml, "Nope")).toThrow(/no \{urn:oasis:names:tc:SAML:2.0:assertion\}Nope/);
      const far = setAttr(SAML.bare, NS.saml, "Conditions", "NotOnOrAfter", "9999-12-31T23:59:59Z");
      expect(one(dom(far), NS.saml, "Conditions").getAttribute("NotOnOrAfter")).toBe("9999-12-31T23:59:59Z");
      const none = setAttr(SAML.bare, NS.saml, "Conditions", "NotBefore", null);
      expect(one(dom(none), NS.saml, "Conditions").hasAttribute("NotBefore")).toBe(false);
      expect(() => setNameId("<a><b></a>", "x")).toThrow(/not well-formed/);
    });
  });
});
