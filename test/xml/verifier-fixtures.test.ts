/**
 * Differential test over the suite's own fixtures (issue 11): every SAML document the test support
 * builds (SAML 2.0 and 1.1 builders, signed by xmlsec1, samlsign and pysaml2, with and without an
 * InclusiveNamespaces PrefixList) and every attack of test/support/attacks.ts and saml1-attacks.ts
 * applied to them gets the same verdict from the native verifier and from xml-crypto's
 * checkSignature (the oracle), or a listed stricter refusal (./verifier-support.ts).
 */
import { describe, expect, it } from "vitest";
import * as A from "../support/attacks.js";
import * as A1 from "../support/saml1-attacks.js";
import { IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT, IDP_EC_CERT } from "../support/constants.js";
import { KEYS, pysaml2Responses, signSaml11WithSamlsign, signSaml11WithXmlsec1, signWithSamlsign, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { KEYS_IDP11, buildAssertion11, buildResponse11, prettyPrint } from "../support/saml1-builder.js";
import { compareVerifiers, keysFromCerts } from "./verifier-support.js";

const TRUSTED = keysFromCerts(IDP1_NEXT_CERT, IDP1_CERT, IDP2_CERT, IDP_EC_CERT, KEYS_IDP11.cert);
const ATTRS = [
  { name: "role", values: ["user", "a&b <c>"] },
  { name: "mail", values: ["alice@example.com"] },
];

function saml2Seeds(): Record<string, string> {
  const a = (id: string, prefix: "saml" | "saml2" | "" = "saml") => buildAssertion2({ id, attributes: ATTRS, prefix });
  const seeds: Record<string, string> = {};
  seeds.xmlsec1Assertion = signWithXmlsec1(a("_a1"), "_a1", { key: KEYS.idp1 });
  seeds.xmlsec1AssertionPrefixList = signWithXmlsec1(a("_a2"), "_a2", { key: KEYS.idp1, inclusivePrefixes: ["xs", "saml"] });
  seeds.xmlsec1DefaultNs = signWithXmlsec1(a("_a3", ""), "_a3", { key: KEYS.idp1 });
  seeds.samlsignAssertion = signWithSamlsign(a("_a4", "saml2"), "_a4", { key: KEYS.idp1, alg: "rsa-sha512", digest: "sha512" });
  seeds.ecAssertion = signWithXmlsec1(buildAssertion2({ id: "_a5", issuer: "https://idp-ec.test/idp", attributes: ATTRS }), "_a5", { key: KEYS.idpEc });
  seeds.rolloverKey = signWithXmlsec1(a("_a6"), "_a6", { key: KEYS.idp1Next, alg: "rsa-sha384" });
  seeds.attackerKey = signWithXmlsec1(a("_a7"), "_a7", { key: KEYS.attacker });
  seeds.responseSignedAssertion = buildResponse2(signWithXmlsec1(a("_a8"), "_a8", { key: KEYS.idp1 }), { id: "_r8" });
  seeds.responseBothSigned = signWithXmlsec1(buildResponse2(signWithSamlsign(a("_a9"), "_a9", { key: KEYS.idp1 }), { id: "_r9" }), "_r9", { key: KEYS.idp1 });
  seeds.responseOnlySigned = signWithSamlsign(buildResponse2(a("_a10"), { id: "_r10" }), "_r10", { key: KEYS.idp1 });
  const [p1, p2] = pysaml2Responses([
    { signAssertion: true, signResponse: false, attributes: { role: ["user", "admin"] } },
    { signAssertion: true, signResponse: true },
  ]);
  seeds.pysaml2Assertion = p1!;
  seeds.pysaml2Both = p2!;
  return seeds;
}

function saml1Seeds(): Record<string, string> {
  const a = (id: string) => buildAssertion11({ id });
  const seeds: Record<string, string> = {};
  seeds.saml11Assertion = signSaml11WithXmlsec1(a("_s1"), "_s1", { key: KEYS_IDP11 });
  seeds.saml11AssertionSamlsign = signSaml11WithSamlsign(a("_s2"), "_s2", { key: KEYS_IDP11 });
  seeds.saml11Response = signSaml11WithXmlsec1(buildResponse11(a("_s3"), { id: "_s3r" }), "_s3r", { key: KEYS_IDP11 });
  seeds.saml11Pretty = signSaml11WithXmlsec1(prettyPrint(a("_s4")), "_s4", { key: KEYS_IDP11, inclusivePrefixes: ["saml"] });
  return seeds;
}

/** Every attack that applies to a document, by name; an attack that does not fit the seed throws and is skipped. */
function attacked(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  const tries: Record<string, () => string | Buffer> = {
    xsw1: () => A.xsw1(xml), xsw2: () => A.xsw2(xml), xsw3: () => A.xsw3(xml), xsw4: () => A.xsw4(xml),
    xsw5: () => A.xsw5(xml), xsw6: () => A.xsw6(xml), xsw7: () => A.xsw7(xml), xsw7q: () => A.xsw7Qualified(xml),
    xsw8: () => A.xsw8(xml), xsw8q: () => A.xsw8Qualified(xml), advice: () => A.adviceAssertion(xml),
    nsConfused: () => A.namespaceConfusedSibling(xml), evilCopy: () => A.unsignedEvilCopy(xml),
    setNameId: () => A.setNameId(xml, "mallory"), commentNameId: () => A.commentInNameId(xml, 3),
    commentAttr: () => A.commentInAttributeValue(xml, "role", 2), setAttr: () => A.setAttributeValue(xml, "role", "admin"),
    dupSignedInfo: () => A.duplicateSignedInfo(xml), wrappedSignedInfo: () => A.wrappedSignedInfo(xml),
    digestComment: () => A.digestValueComment(xml), emptySigValue: () => A.emptySignatureValue(xml),
    garbageSig: () => A.garbageSignatureValue(xml), commentSig: () => A.commentInSignatureValue(xml),
    idConfusionId: () => A.idAttributeConfusion(xml, "Id"), idConfusionLower: () => A.idAttributeConfusion(xml, "id"),
    idConfusionNs: () => A.idAttributeConfusion(xml, "foo:ID"), idConfusionID: () => A.idAttributeConfusion(xml, "ID"),
    xslt: () => A.xsltTransform(xml), extraTransformC14n: () => A.extraTransform(xml, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"),
    tooManyTransforms: () => A.tooManyTransforms(xml), extraReference: () => A.extraReference(xml, "#x"),
    manyReferences: () => A.manyReferences(xml, 3), refUriEmpty: () => A.setReferenceUri(xml, ""),
    sigMethodSha1: () => A.setSignatureMethod(xml, "http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
    sigMethodPss: () => A.setSignatureMethod(xml, "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"),
    digestSha1: () => A.setDigestMethod(xml, "http://www.w3.org/2000/09/xmldsig#sha1"),
    hmac: () => A.hmacSigned(xml, idOf(xml), "secret"), stripped: () => A.stripSignatures(xml),
    manyNamespaces: () => A.manyNamespaces(xml, 50), deep: () => A.deepNesting(xml, 40),
    saml1NameIds: () => A1.setNameIdentifiers(xml), saml1Attr: () => A1.setAttributeValue11(xml, "role", "admin"),
    saml1Comment: () => A1.commentInNameIdentifier(xml, 2), saml1Advice: () => A1.xswAdvice11(xml),
    saml1RespSibling: () => A1.xswResponse11(xml, "sibling"), saml1RespAdvice: () => A1.xswResponse11(xml, "advice"),
    saml1SignedResp: () => A1.xswSignedResponse11(xml), saml1DupId: () => A1.duplicateId11(xml, "AssertionID"),
    saml1DupSignedInfo: () => A1.duplicateSignedInfo11(xml), saml1Saml2Inside: () => A1.saml2ElementInside(xml),
  };
  for (const [name, f] of Object.entries(tries)) {
    try {
      const r = f();
      out[name] = typeof r === "string" ? r : r.toString("utf8");
    } catch {
      // The attack needs something this seed does not have.
    }
  }
  return out;
}

function idOf(xml: string): string {
  return /\s(?:ID|AssertionID|ResponseID)="([^"]+)"/.exec(xml)![1]!;
}

describe("native verifier vs xml-crypto on the suite's fixtures and attacks", () => {
  const seeds = { ...saml2Seeds(), ...saml1Seeds() };

  it("genuine documents: both accept, with the same canonical bytes and key (the attacker's key: both refuse)", () => {
    for (const [name, xml] of Object.entries(seeds)) {
      const cs = compareVerifiers(xml, TRUSTED);
      expect(cs.length, name).toBeGreaterThan(0);
      for (const c of cs) {
        expect(c.agree, `${name}: ${JSON.stringify({ n: c.native.ok, o: c.oracle.ok })}`).toBe(true);
        expect(c.native.ok, name).toBe(name !== "attackerKey");
      }
    }
  });

  it("every attack: the same verdict, or a listed stricter refusal", () => {
    let compared = 0;
    for (const [seedName, seed] of Object.entries(seeds)) {
      for (const [attack, xml] of Object.entries(attacked(seed))) {
        for (const c of compareVerifiers(xml, TRUSTED)) {
          compared++;
          const v = (x: typeof c.native) => (x.ok ? "ok" : `${x.reason}${x.tag ? `/${x.tag}` : ""}`);
          expect(c.agree, `${seedName} + ${attack}: native ${v(c.native)} vs xml-crypto ${v(c.oracle)}`).toBe(true);
        }
      }
    }
    expect(compared).toBeGreaterThan(200);
  });
});
