/**
 * Mutation testing (issue 8, docs/mutation-testing.md): the SignedInfo namespace-context rule of the
 * native verifier (src/xml/dsig/verify.ts `sameBindings`, STRICTER.signedInfoContext) and SignedInfo's
 * own InclusiveNamespaces PrefixList (`signedInfoPrefixList`), from the ACCEPTING side: the existing
 * suites only showed refusals, so a mutant that refused every second signature or every SignedInfo
 * PrefixList survived. Positive fixtures come from independent signers: xmlsec1 (inclusive C14N, two
 * signatures) and xml-crypto (the differential tests' oracle; xmlsec1's template here has no
 * SignedInfo PrefixList).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SignedXml } from "xml-crypto";
import { STRICTER } from "../../src/xml/dsig/verify.js";
import { IDP1_CERT, IDP1_KEY, IDP_EC_CERT } from "../support/constants.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { keysFromCerts, verdictOf, type Verdict } from "./verifier-support.js";

const TRUSTED = keysFromCerts(IDP1_CERT, IDP_EC_CERT);
const SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol";
const XS = "http://www.w3.org/2001/XMLSchema";
const XSI = "http://www.w3.org/2001/XMLSchema-instance";
const EXC = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
let n = 0;

const assertionOf = (d: Document) => d.getElementsByTagNameNS("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion")[0];
const show = (v: Verdict) => JSON.stringify(v).slice(0, 200);

/**
 * A Response and its assertion, each signed by xmlsec1 with inclusive C14N. `assertionNs` /
 * `responseNs` are extra declarations on each; the assertion also declares samlp (and the Response xs,
 * xsi), so both SignedInfo elements see the same bindings unless the extras differ.
 */
function bothSignedInclusive(assertionNs = "", responseNs = ""): string {
  const aid = `_ctxa${++n}`;
  const rid = `_ctxr${n}`;
  const a = buildAssertion2({ id: aid }).replace("<saml:Assertion ", `<saml:Assertion xmlns:samlp="${SAMLP}" ${assertionNs} `);
  const signedA = signWithXmlsec1(a, aid, { key: KEYS.idp1, c14n: "inc" });
  const r = buildResponse2(signedA, { id: rid }).replace("<samlp:Response ", `<samlp:Response xmlns:xs="${XS}" xmlns:xsi="${XSI}" ${responseNs} `);
  return signWithXmlsec1(r, rid, { key: KEYS.idp1, c14n: "inc" });
}

describe("a second signature whose SignedInfo sees the same namespace context as the first (inclusive C14N)", () => {
  it("both signatures verify, with both verifiers", () => {
    const xml = bothSignedInclusive();
    for (const kind of ["native", "xml-crypto"] as const) {
      const response = verdictOf(xml, kind, TRUSTED);
      const assertion = verdictOf(xml, kind, TRUSTED, { pick: assertionOf });
      expect(response.ok, `${kind} response ${show(response)}`).toBe(true);
      expect(assertion.ok, `${kind} assertion ${show(assertion)}`).toBe(true);
    }
  });

  it("the same prefixes bound to other URIs (same number of bindings) → the tagged stricter refusal", () => {
    const xml = bothSignedInclusive('xmlns:extra="urn:assertion-side"', 'xmlns:extra="urn:response-side"');
    const v = verdictOf(xml, "native", TRUSTED, { pick: assertionOf });
    expect(v.ok, show(v)).toBe(false);
    if (!v.ok) expect(v.tag).toBe(STRICTER.signedInfoContext);
    expect(verdictOf(xml, "native", TRUSTED).ok).toBe(true); // the first SignedInfo (the Response's) is unaffected
  });
});

/** An assertion signed by xml-crypto with exclusive C14N of SignedInfo and an InclusiveNamespaces PrefixList on it. */
function signedInfoPrefixList(prefixes: string[], id = `_sipl${++n}`): string {
  const xml = buildAssertion2({ id });
  const sx = new SignedXml({
    privateKey: readFileSync(IDP1_KEY, "utf8"),
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: EXC,
    inclusiveNamespacesPrefixList: prefixes,
  });
  const xpath = `//*[@ID='${id}']`;
  sx.addReference({ xpath, transforms: [ENVELOPED, EXC], digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256" });
  sx.computeSignature(xml, { prefix: "ds", location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: "after" } });
  return sx.getSignedXml();
}

describe("SignedInfo's own InclusiveNamespaces PrefixList (exclusive C14N)", () => {
  it.each([[["saml"]], [["saml", "xs"]], [["xsi"]]])("PrefixList %j: accepted by both verifiers", (prefixes) => {
    const xml = signedInfoPrefixList(prefixes);
    expect(xml).toContain(`PrefixList="${prefixes.join(" ")}"`);
    for (const kind of ["native", "xml-crypto"] as const) {
      const v = verdictOf(xml, kind, TRUSTED);
      expect(v.ok, `${kind} ${show(v)}`).toBe(true);
    }
  });

  it("a listed prefix changes the canonical SignedInfo: removing the list after signing breaks the signature", () => {
    const xml = signedInfoPrefixList(["saml"]);
    const stripped = xml.replace(/<InclusiveNamespaces [^>]*\/>/, "");
    expect(stripped).not.toBe(xml);
    const v = verdictOf(stripped, "native", TRUSTED);
    expect(v.ok ? "accepted" : v.reason).toBe("signature_invalid");
  });
});

describe("the namespace-context comparison under exclusive C14N looks only at the SignedInfo PrefixList's prefixes", () => {
  it("a second signature (xml-crypto, PrefixList saml) inside a Response signed by xmlsec1: the contexts differ only in unlisted prefixes → accepted", () => {
    const aid = `_siplr${++n}`;
    const rid = `_siplrr${n}`;
    const xml = signWithXmlsec1(buildResponse2(signedInfoPrefixList(["saml"], aid), { id: rid }), rid, { key: KEYS.idp1 });
    for (const kind of ["native", "xml-crypto"] as const) {
      const assertion = verdictOf(xml, kind, TRUSTED, { pick: assertionOf });
      expect(assertion.ok, `${kind} ${show(assertion)}`).toBe(true);
      expect(verdictOf(xml, kind, TRUSTED).ok, kind).toBe(true);
    }
  });
});

describe("only an InclusiveNamespaces child of CanonicalizationMethod is a PrefixList", () => {
  it("another child element (with an empty PrefixList attribute) is not read as one: no prefix-list-token refusal", () => {
    const xml = signedInfoPrefixList(["saml"]).replace(/(<ds:CanonicalizationMethod [^>]*>)/, '$1<x:Other xmlns:x="urn:x" PrefixList=""/>');
    expect(xml).toContain("<x:Other");
    const v = verdictOf(xml, "native", TRUSTED);
    // SignedInfo changed after signing: refused by the signature check itself, untagged
    expect(v.ok ? "accepted" : `${v.reason}/${v.tag ?? ""}`).toBe("signature_invalid/");
  });
});
