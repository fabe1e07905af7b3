/**
 * Mutation testing (issue 8, docs/mutation-testing.md): shape rules of the enveloped-signature check
 * (src/xml/signature.ts, src/xml/dsig/verify.ts) that no other suite reached, each on a document
 * signed by xmlsec1 (an independent signer) and then edited, checked with both verifiers where
 * both implement the rule. An edit after signing never breaks the refusal under test: each rule
 * refuses before (or independently of) the cryptographic check, and the untouched control verifies.
 */
import { createPrivateKey, createPublicKey, createVerify, sign as cryptoSign } from "node:crypto";
import { readFileSync } from "node:fs";
import { DOMParser } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import { ExclusiveCanonicalization, SignedXml } from "xml-crypto";
import { isOAuthError } from "../../src/oauth/errors.js";
import { parseUntrustedXml } from "../../src/xml/safe-parse.js";
import { signatureOf, verifyEnvelopedSignature } from "../../src/xml/signature.js";
import { IDP1_CERT, IDP1_KEY, IDP1_NEXT_CERT, IDP_EC_CERT, IDP_EC_KEY } from "../support/constants.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { outcome } from "../support/outcome.js";
import { ROOMY, keysFromCerts, verdictOf } from "./verifier-support.js";

const TRUSTED = keysFromCerts(IDP1_NEXT_CERT, IDP1_CERT, IDP_EC_CERT);
const KINDS = ["native", "xml-crypto"] as const;
let n = 0;

function signed(): { id: string; xml: string } {
  const id = `_mk${++n}`;
  return { id, xml: signWithXmlsec1(buildAssertion2({ id }), id, { key: KEYS.idp1 }) };
}

/** Replace exactly one occurrence (fails loudly otherwise, so an edit can never silently miss). */
function edit(xml: string, from: string | RegExp, to: string): string {
  const count = typeof from === "string" ? xml.split(from).length - 1 : [...xml.matchAll(new RegExp(from.source, "g"))].length;
  if (count !== 1) throw new Error(`expected one ${String(from)}, found ${count}`);
  return xml.replace(from, to);
}

function reason(xml: string, kind: (typeof KINDS)[number]): string {
  const v = verdictOf(xml, kind, TRUSTED);
  return v.ok ? "accepted" : v.reason;
}

/** The native verdict with its STRICTER tag: "reason/" when the refusal is untagged (a shape rule, not a parity rule). */
function tagged(xml: string): string {
  const v = verdictOf(xml, "native", TRUSTED);
  return v.ok ? "accepted" : `${v.reason}/${v.tag ?? ""}`;
}

describe("control", () => {
  it("the untouched xmlsec1 signature verifies with both verifiers", () => {
    const { xml } = signed();
    for (const kind of KINDS) expect(reason(xml, kind), kind).toBe("accepted");
  });
});

describe("a second copy of the signature elsewhere in the document (xml-crypto finds its Signature by SignatureValue)", () => {
  it("the assertion's ds:Signature copied into the surrounding Response → signature_invalid", () => {
    const { xml } = signed();
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(xml)![0];
    const resp = buildResponse2(xml, { id: "_mkcopy" }).replace("</samlp:Response>", `${sig}</samlp:Response>`);
    const assertionOf = (d: Document) => d.getElementsByTagNameNS("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion")[0];
    const v = verdictOf(resp, "native", TRUSTED, { pick: assertionOf });
    expect(v.ok ? "accepted" : `${v.reason}/${v.tag ?? ""}`).toBe("signature_invalid/");
    expect(verdictOf(buildResponse2(xml, { id: "_mkcopy2" }), "native", TRUSTED, { pick: assertionOf }).ok).toBe(true);
  });
});

describe("ds:Signature children", () => {
  it("two ds:Signature children of the signed element → signature_invalid (signatureOf)", () => {
    const { xml } = signed();
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(xml)![0];
    const twice = edit(xml, sig, sig + sig);
    for (const kind of KINDS) expect(reason(twice, kind), kind).toBe("signature_invalid");
    const el = parseUntrustedXml(twice, ROOMY).documentElement!;
    expect(outcome(() => signatureOf(el))).toBe("signature_invalid");
  });

  it("SignedInfo not the first child (after SignatureValue): refused, though the value still verifies over it", () => {
    const { xml } = signed();
    const si = /<ds:SignedInfo>[\s\S]*<\/ds:SignedInfo>/.exec(xml)![0];
    const moved = edit(xml, si, "").replace("</ds:SignatureValue>", `</ds:SignatureValue>${si}`);
    for (const kind of KINDS) expect(reason(moved, kind), kind).toBe("signature_invalid");
  });

  it("an empty ds:Signature → signature_invalid, never a crash", () => {
    const { xml } = signed();
    const empty = edit(xml, /<ds:Signature [^>]*>[\s\S]*<\/ds:Signature>/, '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>');
    for (const kind of KINDS) expect(reason(empty, kind), kind).toBe("signature_invalid");
  });

  it("a KeyInfo of another namespace in place of ds:KeyInfo → signature_invalid", () => {
    const { xml } = signed();
    const foreign = edit(xml, /<ds:KeyInfo>[\s\S]*<\/ds:KeyInfo>/, '<x:KeyInfo xmlns:x="urn:x"/>');
    for (const kind of KINDS) expect(reason(foreign, kind), kind).toBe("signature_invalid");
  });

  it("two KeyInfo → signature_invalid", () => {
    const { xml } = signed();
    const twice = edit(xml, "</ds:Signature>", "<ds:KeyInfo><ds:KeyName>k</ds:KeyName></ds:KeyInfo></ds:Signature>");
    for (const kind of KINDS) expect(reason(twice, kind), kind).toBe("signature_invalid");
  });

  it("one KeyInfo, or none, is fine", () => {
    const { xml } = signed();
    const none = edit(xml, /<ds:KeyInfo>[\s\S]*<\/ds:KeyInfo>/, "");
    for (const kind of KINDS) expect(reason(none, kind), kind).toBe("accepted");
  });
});

describe("Reference transforms", () => {
  it("a Reference without ds:Transforms → signature_invalid (the enveloped transform is required), never a crash", () => {
    const { xml } = signed();
    const bare = edit(xml, /<ds:Transforms>[\s\S]*?<\/ds:Transforms>/, "");
    for (const kind of KINDS) expect(reason(bare, kind), kind).toBe("signature_invalid");
    // refused by the shape rule (signature.ts), before the native verifier's transform-order parity rule
    expect(tagged(bare)).toBe("signature_invalid/");
  });

  it("Transforms without the enveloped transform → signature_invalid", () => {
    const { xml } = signed();
    const noEnveloped = edit(xml, '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>', "");
    for (const kind of KINDS) expect(reason(noEnveloped, kind), kind).toBe("signature_invalid");
    expect(tagged(noEnveloped)).toBe("signature_invalid/");
    // enveloped present but second: refused by the native verifier's transform-order rule instead
    const exc = '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>';
    const env = '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>';
    expect(tagged(edit(xml, env + exc, exc + env))).toBe("signature_invalid/stricter:transform-order");
  });

  it("an empty ds:Transforms → signature_invalid", () => {
    const { xml } = signed();
    const empty = edit(xml, /<ds:Transforms>[\s\S]*?<\/ds:Transforms>/, "<ds:Transforms></ds:Transforms>");
    for (const kind of KINDS) expect(reason(empty, kind), kind).toBe("signature_invalid");
    expect(tagged(empty)).toBe("signature_invalid/");
  });
});

describe("SignedInfo shape and allow-lists (checkSignatureShape), both verifiers", () => {
  const ENV = '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>';
  it.each([
    ["a second Reference", (x: string) => edit(x, "</ds:SignedInfo>", '<ds:Reference URI="#x"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>'), "signature_invalid"],
    ["a Reference to another ID", (x: string) => x.replace(/<ds:Reference URI="#[^"]+"/, '<ds:Reference URI="#_elsewhere"'), "signature_invalid"],
    ["the signed ID carried twice (Id on another element)", (x: string) => edit(x, "<saml:Subject>", `<saml:Subject Id="${/ ID="([^"]+)"/.exec(x)![1]}">`), "signature_invalid"],
    ["an unknown CanonicalizationMethod", (x: string) => edit(x, 'CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"', 'CanonicalizationMethod Algorithm="urn:unknown-c14n"'), "signature_algorithm_forbidden"],
    ["rsa-sha1 without the IdP's SHA-1 policy", (x: string) => x.replace(/SignatureMethod Algorithm="[^"]+"/, 'SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"'), "signature_algorithm_forbidden"],
    ["a sha1 digest without the IdP's SHA-1 policy", (x: string) => x.replace(/DigestMethod Algorithm="[^"]+"/, 'DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"'), "signature_algorithm_forbidden"],
    ["three transforms", (x: string) => edit(x, ENV, ENV + ENV), "signature_algorithm_forbidden"],
    ["a non-Transform element inside Transforms", (x: string) => edit(x, ENV, `${ENV}<ds:Other/>`), "signature_algorithm_forbidden"],
    ["an XSLT transform", (x: string) => edit(x, '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>', '<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>'), "signature_algorithm_forbidden"],
    ["a Transform without Algorithm", (x: string) => edit(x, '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>', "<ds:Transform/>"), "signature_algorithm_forbidden"],
  ])("%s → %s", (_what, change, expected) => {
    const changed = change(signed().xml);
    for (const kind of KINDS) expect(reason(changed, kind), kind).toBe(expected);
  });
});

describe("DigestValue (native verifier)", () => {
  it("a Reference without DigestValue → signature_invalid", () => {
    const { xml } = signed();
    const none = edit(xml, /<ds:DigestValue>[^<]*<\/ds:DigestValue>/, "");
    expect(reason(none, "native")).toBe("signature_invalid");
  });

  it("an empty DigestValue → signature_invalid", () => {
    const { xml } = signed();
    const empty = edit(xml, /<ds:DigestValue>[^<]*<\/ds:DigestValue>/, "<ds:DigestValue></ds:DigestValue>");
    expect(reason(empty, "native")).toBe("signature_invalid");
  });
});

describe("canonicalization refusals are refusals, not verifier faults", () => {
  // The hardened parse never yields these nodes (an empty CDATA section makes no node, processing
  // instructions are refused by the pre-scan), so they are added through the DOM: the mapping of
  // C14nUnsupported to signature_invalid (xml-crypto throws on both) is what is pinned here.
  it.each([
    ["an empty text node", (d: Document) => d.createTextNode("")],
    ["an empty CDATA node", (d: Document) => d.createCDATASection("")],
    ["a processing instruction", (d: Document) => d.createProcessingInstruction("pi", "x")],
  ])("%s inside the signed element → signature_invalid with the c14n reason, never signature_verifier_failed", (_what, node) => {
    const { xml } = signed();
    const doc = parseUntrustedXml(xml, ROOMY);
    const el = doc.documentElement!;
    const nameId = el.getElementsByTagNameNS("urn:oasis:names:tc:SAML:2.0:assertion", "NameID")[0]!;
    nameId.appendChild(node(doc));
    try {
      verifyEnvelopedSignature(xml, el, "ID", TRUSTED, { allowSha1: false });
      expect.unreachable("accepted");
    } catch (e) {
      expect(isOAuthError(e) && e.reason).toBe("signature_invalid");
      expect(isOAuthError(e) && typeof e.cause === "string" && /empty text node|node type 7/.test(e.cause)).toBe(true);
    }
  });
});

describe("verifyEnvelopedSignature called directly", () => {
  const call = (xml: string, keys = TRUSTED, idAttribute = "ID") => {
    const el = parseUntrustedXml(xml, ROOMY).documentElement!;
    try {
      verifyEnvelopedSignature(xml, el, idAttribute, keys, { allowSha1: false });
      return "accepted";
    } catch (e) {
      if (isOAuthError(e)) return e.reason;
      throw e;
    }
  };

  it("an element without a signature → signature_missing", () => {
    expect(call(buildAssertion2({ id: "_nosig" }))).toBe("signature_missing");
  });

  it("no trusted keys → signature_invalid (checked before any verifier runs)", () => {
    expect(call(signed().xml, [])).toBe("signature_invalid");
    expect(call(signed().xml)).toBe("accepted");
  });

  it.each([
    ["an ID starting with a digit", (id: string) => `1${id}`],
    ["an ID with a space", (id: string) => `${id} x`],
    ["an ID with a colon", (id: string) => `p:${id.slice(1)}`],
    ["an empty ID", () => ""],
  ])("%s → assertion_id_missing", (_what, bad) => {
    const { id, xml } = signed();
    expect(call(edit(xml, `ID="${id}"`, `ID="${bad(id)}"`))).toBe("assertion_id_missing");
  });

  it("an ID attribute of another name than the one asked for → assertion_id_missing", () => {
    expect(call(signed().xml, TRUSTED, "AssertionID")).toBe("assertion_id_missing");
  });
});

describe("the xml-crypto path (saml.signatureVerifier: xml-crypto)", () => {
  it("an RSA URI never verifies with an EC key: an ECDSA (DER) value over a SignedInfo that says rsa-sha256 → signature_invalid", () => {
    const { xml } = signed();
    const si = new DOMParser().parseFromString(xml, "text/xml").getElementsByTagNameNS("http://www.w3.org/2000/09/xmldsig#", "SignedInfo")[0]!;
    const material = new ExclusiveCanonicalization().process(si as never, {}).toString();
    const ecKey = createPrivateKey(readFileSync(IDP_EC_KEY));
    const value = cryptoSign("sha256", Buffer.from(material), ecKey); // DER, what node's "RSA-SHA256" verifier takes from an EC key
    // Not vacuous: node:crypto's RSA-SHA256 verifier does accept this value with the EC public key.
    expect(createVerify("RSA-SHA256").update(material).verify(createPublicKey(ecKey), value)).toBe(true);
    const confused = xml.replace(/(<ds:SignatureValue>)[^<]*/, `$1${value.toString("base64")}`);
    const ecOnly = keysFromCerts(IDP_EC_CERT);
    for (const kind of KINDS) {
      const v = verdictOf(confused, kind, ecOnly);
      expect(v.ok ? "accepted" : v.reason, kind).toBe("signature_invalid");
    }
  });

  it("a key that does not verify is skipped and the next one tried (rollover, wrong key first)", () => {
    const { xml } = signed();
    const v = verdictOf(xml, "xml-crypto", keysFromCerts(IDP1_NEXT_CERT, IDP1_CERT));
    expect(v.ok, JSON.stringify(v).slice(0, 200)).toBe(true);
  });

  it("CRLF line ends are normalised to LF before xml-crypto reads the document (XML 1.0 §2.11)", () => {
    const id = `_mkcrlf${++n}`;
    const lf = buildAssertion2({ id }).replace("<saml:Subject>", "\n<saml:Subject>").replace("<saml:Conditions", "\n  <saml:Conditions");
    // xmlsec1 writes LF; CRLF put in afterwards is the same infoset once line ends are normalised
    const xml = signWithXmlsec1(lf, id, { key: KEYS.idp1 }).replace(/\n/g, "\r\n");
    expect(xml).toContain("\r\n  <saml:Conditions");
    for (const kind of KINDS) expect(reason(xml, kind), kind).toBe("accepted");
  });
});

describe("native verifier: which refusal, when no key fits or the element carries a CanonicalizationMethod", () => {
  it("an RSA signature with only an EC key trusted: plain signature_invalid (the key-type tag is for RSASSA-PSS keys only)", () => {
    const { xml } = signed();
    const v = verdictOf(xml, "native", keysFromCerts(IDP_EC_CERT));
    expect(v.ok ? "accepted" : `${v.reason}/${v.tag ?? ""}`).toBe("signature_invalid/");
  });

  it.each([
    ["an empty CanonicalizationMethod child", '<c:CanonicalizationMethod xmlns:c="urn:x"/>'],
    ["a CanonicalizationMethod child holding something else", '<c:CanonicalizationMethod xmlns:c="urn:x"><c:Other/></c:CanonicalizationMethod>'],
  ])("%s of the signed element gives xml-crypto no PrefixList: accepted by both", (_what, quirk) => {
    const id = `_mkq${++n}`;
    const xml = signWithXmlsec1(buildAssertion2({ id }).replace("<saml:Subject>", `${quirk}<saml:Subject>`), id, { key: KEYS.idp1 });
    for (const kind of KINDS) expect(reason(xml, kind), kind).toBe("accepted");
  });
});

describe("wrapping: the signature stays valid, only the ID rules refuse", () => {
  const assertionById = (id: string) => (d: Document) => {
    const list = d.getElementsByTagNameNS("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion");
    for (let i = 0; i < list.length; i++) if (list.item(i)!.getAttribute("ID") === id) return list.item(i)!;
    return undefined;
  };

  it("the signed assertion's ID carried again by a decoy element elsewhere in the document → signature_invalid", () => {
    const { id, xml } = signed();
    const resp = buildResponse2(xml, { id: "_mkwrap1" }).replace("<samlp:Status>", `<x:Decoy xmlns:x="urn:x" ID="${id}"/><samlp:Status>`);
    for (const kind of KINDS) {
      const v = verdictOf(resp, kind, TRUSTED, { pick: assertionById(id) });
      expect(v.ok ? "accepted" : v.reason, kind).toBe("signature_invalid");
    }
    // control: without the decoy the same assertion verifies in the Response
    expect(verdictOf(buildResponse2(xml, { id: "_mkwrap2" }), "native", TRUSTED, { pick: assertionById(id) }).ok).toBe(true);
  });

  it("the original Signature moved into an evil copy with another ID (its Reference still names the original) → signature_invalid", () => {
    const { id, xml } = signed();
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(xml)![0];
    const unsignedOriginal = xml.replace(sig, "");
    const evil = unsignedOriginal.replace(`ID="${id}"`, 'ID="_evil"').replace("alice@example.com", "mallory@example.com").replace("</saml:Issuer>", `</saml:Issuer>${sig}`);
    const resp = buildResponse2([evil, unsignedOriginal], { id: "_mkwrap3" });
    for (const kind of KINDS) {
      const v = verdictOf(resp, kind, TRUSTED, { pick: assertionById("_evil") });
      expect(v.ok ? "accepted" : v.reason, kind).toBe("signature_invalid");
    }
  });
});

describe("exactly one Reference, in a validly signed SignedInfo", () => {
  it("a SignedInfo with two valid References (signed by xml-crypto: the assertion and its Subject) → signature_invalid from both verifiers", () => {
    const id = `_mkrefs${++n}`;
    const xml = buildAssertion2({ id }).replace("<saml:Subject>", '<saml:Subject ID="_mksub">');
    const EXC = "http://www.w3.org/2001/10/xml-exc-c14n#";
    const sx = new SignedXml({ privateKey: readFileSync(IDP1_KEY, "utf8"), signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", canonicalizationAlgorithm: EXC });
    const transforms = ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", EXC];
    sx.addReference({ xpath: `//*[@ID='${id}']`, transforms, digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256" });
    sx.addReference({ xpath: "//*[@ID='_mksub']", transforms: [EXC], digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256" });
    sx.computeSignature(xml, { prefix: "ds", location: { reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`, action: "after" } });
    const twoRefs = sx.getSignedXml();
    expect(twoRefs.split("<ds:Reference ").length - 1).toBe(2);
    for (const kind of KINDS) expect(reason(twoRefs, kind), kind).toBe("signature_invalid");
  });
});
