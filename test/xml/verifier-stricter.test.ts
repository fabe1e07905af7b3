/**
 * The native verifier's stricter refusals (src/xml/dsig/verify.ts STRICTER): where xml-crypto (the
 * oracle) would read a document differently from a plain reading of XML-DSig, the native path
 * refuses with signature_invalid, tagged with the rule. Several shapes per rule; the base documents
 * are signed by xmlsec1.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { STRICTER } from "../../src/xml/dsig/verify.js";
import { IDP1_CERT, IDP_EC_CERT } from "../support/constants.js";
import { KEYS, signWithXmlsec1, type SignOptions } from "../support/independent-signers.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { keysFromCerts, verdictOf } from "./verifier-support.js";

const TRUSTED = keysFromCerts(IDP1_CERT, IDP_EC_CERT);
let n = 0;
function signed(edit: (unsigned: string) => string = (x) => x, o: Partial<SignOptions> = {}): string {
  const id = `_st${++n}`;
  return signWithXmlsec1(edit(buildAssertion2({ id, attributes: [{ name: "role", values: ["user"] }] })), id, { key: KEYS.idp1, ...o });
}
function refusedWith(xml: string, tag: string, keys = TRUSTED, pick?: (d: Document) => Element | undefined): void {
  const v = verdictOf(xml, "native", keys, pick ? { pick } : {});
  expect(v.ok, JSON.stringify(v).slice(0, 200)).toBe(false);
  if (!v.ok) {
    expect(v.reason).toBe("signature_invalid");
    expect(v.tag).toBe(tag);
  }
}

describe("stricter refusals of the native verifier, each tagged", () => {
  it("control: the untouched documents verify", () => {
    expect(verdictOf(signed(), "native", TRUSTED).ok).toBe(true);
    expect(verdictOf(signed(undefined, { c14n: "inc" }), "native", TRUSTED).ok).toBe(true);
  });

  it("transforms other than [enveloped] or [enveloped, c14n]", () => {
    const s = signed();
    const exc = '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>';
    const env = '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>';
    refusedWith(s.replace(env + exc, exc + env), STRICTER.transformOrder);
    refusedWith(s.replace(env + exc, env + env), STRICTER.transformOrder);
  });

  it("SignatureValue / DigestValue that are not plain text", () => {
    const s = signed();
    refusedWith(s.replace(/(<ds:SignatureValue>)(.{10})/, "$1$2<!---->"), STRICTER.valueText);
    refusedWith(s.replace(/(<ds:SignatureValue>)/, '$1<x xmlns="urn:x"/>'), STRICTER.valueText);
    refusedWith(s.replace(/(<ds:DigestValue>)(.{6})/, "$1$2<!---->"), STRICTER.valueText);
  });

  it("parameters under SignatureMethod", () => {
    const s = signed();
    refusedWith(s.replace(/(<ds:SignatureMethod Algorithm="[^"]+")\/>/, '$1><ds:HMACOutputLength>128</ds:HMACOutputLength></ds:SignatureMethod>'), STRICTER.methodParams);
    refusedWith(s.replace(/(<ds:SignatureMethod Algorithm="[^"]+")\/>/, '$1><p:RSAPSSParams xmlns:p="http://www.w3.org/2007/05/xmldsig-more#"/></ds:SignatureMethod>'), STRICTER.methodParams);
  });

  it("an empty token in SignedInfo's InclusiveNamespaces PrefixList", () => {
    const s = signed();
    for (const list of ["", "ds  saml", " saml"]) {
      refusedWith(s.replace(/(<ds:CanonicalizationMethod Algorithm="[^"]+")\/>/, `$1><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="${list}"/></ds:CanonicalizationMethod>`), STRICTER.prefixListToken);
    }
  });

  it("a CanonicalizationMethod child of the signed element that would give xml-crypto a PrefixList", () => {
    for (const ns of ["http://www.w3.org/2000/09/xmldsig#", "urn:anything"]) {
      const s = signed((x) => x.replace("<saml:Subject>", `<c:CanonicalizationMethod xmlns:c="${ns}"><c:InclusiveNamespaces PrefixList="xs"/></c:CanonicalizationMethod><saml:Subject>`));
      refusedWith(s, STRICTER.elementPrefixList);
    }
  });

  it("an attribute named xmlns… that declares nothing, inside or outside the signed element", () => {
    refusedWith(signed().replace("<saml:Subject>", '<saml:Subject xmlnsfoo="1">'), STRICTER.xmlnsLikeAttribute);
    const resp = buildResponse2(signed(), { id: "_stresp" }).replace("<samlp:Status>", '<samlp:Status xmlnsx="1">');
    refusedWith(resp, STRICTER.xmlnsLikeAttribute);
  });

  it("Reference children other than one ds:Transforms, ds:DigestMethod, ds:DigestValue", () => {
    const s = signed();
    refusedWith(s.replace("<ds:DigestMethod", '<x:DigestMethod xmlns:x="urn:x" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><ds:DigestMethod'), STRICTER.referenceChildren);
    refusedWith(s.replace("<ds:DigestValue>", '<ds:Extra/><ds:DigestValue>'), STRICTER.referenceChildren);
  });

  it("inclusive C14N of a SignedInfo whose namespace context differs from the document's first SignedInfo", () => {
    // Assertion signed (inclusive C14N of SignedInfo), then the Response, whose Signature comes first.
    for (const extra of ['xmlns:extra="urn:extra"', 'xmlns:other="urn:o" xmlns:more="urn:m"']) {
      const a = signed((x) => x.replace("<saml:Assertion ", `<saml:Assertion ${extra} `), { c14n: "inc" });
      const both = signWithXmlsec1(buildResponse2(a, { id: `_stctx${++n}` }), `_stctx${n}`, { key: KEYS.idp1, c14n: "inc" });
      const assertionOf = (d: Document) => d.getElementsByTagNameNS("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion")[0];
      refusedWith(both, STRICTER.signedInfoContext, TRUSTED, assertionOf);
      // The Response's own signature (its SignedInfo is the first) is unaffected.
      expect(verdictOf(both, "native", TRUSTED).ok).toBe(true);
    }
  });

  it("a PKCS#1 v1.5 URI when the only RSA keys are RSASSA-PSS keys", () => {
    const pss = generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).publicKey;
    refusedWith(signed(), STRICTER.keyType, [{ key: pss, fingerprint: "sha256:pss" }]);
    refusedWith(signed(), STRICTER.keyType, [{ key: pss, fingerprint: "sha256:pss" }, ...keysFromCerts(IDP_EC_CERT)]);
  });
});
