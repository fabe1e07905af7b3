/**
 * SAML 2.0 attack suite (attack catalogue sections A, B and C) against POST /token.
 *
 * Every base fixture is built fresh (current bridge clock, unique IDs: replay protection is on) and
 * signed by an INDEPENDENT implementation (xmlsec1 or OpenSAML's samlsign), then attacked with the
 * transforms in test/support/attacks.ts and sent over HTTP to the real Express app. Each refusal is
 * asserted with its exact reason code, and above all: no token is ever issued for the evil identity.
 * Positive controls prove each untouched baseline is accepted, so a refusal is caused by the attack.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, exchange, expectError, type TestBridge, startBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId, type Assertion2Options } from "../support/saml-builder.js";
import { KEYS, signWithSamlsign, signWithXmlsec1, type SignOptions } from "../support/independent-signers.js";
import { IDP1_CERT, SAML2_ASSERTION_NS } from "../support/constants.js";
import * as atk from "../support/attacks.js";
import { ALG, EVIL_NAME_ID, NS } from "../support/attacks.js";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

type Signer = "xmlsec1" | "samlsign";
const SIGNERS: readonly Signer[] = ["xmlsec1", "samlsign"];
const ALICE = "alice@example.com";

function sign(xml: string, id: string, signer: Signer, o: Partial<SignOptions> = {}): string {
  const opts: SignOptions = { key: KEYS.idp1, ...o };
  return signer === "xmlsec1" ? signWithXmlsec1(xml, id, opts) : signWithSamlsign(xml, id, opts);
}

const nowOf = (b: TestBridge): Date => new Date(b.clock.now);

interface Fixture {
  /** Assertion ID. */
  id: string;
  /** Response ID (Response fixtures only). */
  rid: string;
  xml: string;
}

/** B-S2: a bare assertion signed by `signer`. */
function bareSigned(b: TestBridge, signer: Signer = "xmlsec1", o: Assertion2Options = {}, s: Partial<SignOptions> = {}): Fixture {
  const id = randomSamlId("_a");
  return { id, rid: "", xml: sign(buildAssertion2({ now: nowOf(b), ...o, id }), id, signer, s) };
}

/** B-S2R-a: a Response around an assertion signed by `signer` (Response unsigned). */
function responseAssertionSigned(b: TestBridge, signer: Signer = "xmlsec1", o: Assertion2Options = {}): Fixture {
  const a = bareSigned(b, signer, o);
  const rid = randomSamlId("_r");
  return { id: a.id, rid, xml: buildResponse2(a.xml, { id: rid, now: nowOf(b) }) };
}

/** B-S2R-r: a Response signed by `signer` around an unsigned assertion. */
function responseSigned(b: TestBridge, signer: Signer = "xmlsec1"): Fixture {
  const id = randomSamlId("_a");
  const rid = randomSamlId("_r");
  const unsigned = buildResponse2(buildAssertion2({ now: nowOf(b), id }), { id: rid, now: nowOf(b) });
  return { id, rid, xml: sign(unsigned, rid, signer) };
}

/** B-S2R-ar: assertion and Response both signed. */
function responseBothSigned(b: TestBridge, signer: Signer = "xmlsec1"): Fixture {
  const a = bareSigned(b, signer);
  const rid = randomSamlId("_r");
  return { id: a.id, rid, xml: sign(buildResponse2(a.xml, { id: rid, now: nowOf(b) }), rid, signer) };
}

// ---------------------------------------------------------------------------------------------
// Assertions on responses
// ---------------------------------------------------------------------------------------------

type Res = { status: number; body: any; headers: Record<string, any>; text?: string };

/** No token at all, and nothing of the evil identity (or a leaked file) in the answer. */
function expectNoToken(res: Res): void {
  expect(res.body?.access_token).toBeUndefined();
  const raw = JSON.stringify(res.body ?? null) + (res.text ?? "");
  expect(raw).not.toContain(EVIL_NAME_ID);
  expect(raw).not.toContain("root:x:");
}

/** 400 invalid_request with exactly this reason code, and no token. */
function expectRefused(res: Res, reason: string): void {
  expectError(res, 400, "invalid_request", reason);
  expectNoToken(res);
}

function expectIssuedFor(res: Res, sub: string): Record<string, any> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const { payload } = decodeJwt(res.body.access_token);
  expect(payload.sub).toBe(sub);
  return payload;
}

function b64url(buf: Buffer): string {
  return buf.toString("base64url");
}

/** Runs `fn` and returns its result with the elapsed wall-clock time. */
async function timed<T>(fn: () => PromiseLike<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

const idpCertPem = (): string => readFileSync(IDP1_CERT, "utf8");
const pemBody = (pem: string): string => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
const EMPTY_SHA256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

// ---------------------------------------------------------------------------------------------
// Bridges
// ---------------------------------------------------------------------------------------------

/** Default config (idp1 requires signed assertions). */
let bridge: TestBridge;
/** idp1 with requireSignedAssertion: false, so a signed Response around an unsigned assertion is legitimate. */
let respOnly: TestBridge;
/** Raised size / element limits, so the signature checks themselves see very large inputs. */
let roomy: TestBridge;

beforeAll(async () => {
  bridge = await startBridge();
  respOnly = await startBridge({
    patch: (c) => {
      c.samlIdps.find((i: { id: string }) => i.id === "idp1").requireSignedAssertion = false;
    },
  });
  roomy = await startBridge({
    patch: (c) => {
      c.limits = { maxBodyBytes: 4 * 1024 * 1024, maxTokenBytes: 1024 * 1024, maxXmlDepth: 48, maxXmlElements: 100_000, maxXmlNodes: 500_000, maxTargets: 5 };
    },
  });
});
afterAll(async () => {
  await Promise.all([bridge, respOnly, roomy].filter(Boolean).map((b) => b.close()));
});

// ---------------------------------------------------------------------------------------------
// Positive controls: every baseline the attacks start from is accepted as alice
// ---------------------------------------------------------------------------------------------

describe("baselines (positive controls)", () => {
  it.each(SIGNERS)("bare assertion signed by %s → 200 alice", async (s) => {
    expectIssuedFor(await exchange(bridge, { xml: bareSigned(bridge, s).xml, scope: "read" }), ALICE);
  });
  it.each(SIGNERS)("Response with assertion signed by %s → 200 alice", async (s) => {
    expectIssuedFor(await exchange(bridge, { xml: responseAssertionSigned(bridge, s).xml, scope: "read" }), ALICE);
  });
  it.each(SIGNERS)("Response signed by %s, assertion unsigned (requireSignedAssertion=false) → 200 alice", async (s) => {
    expectIssuedFor(await exchange(respOnly, { xml: responseSigned(respOnly, s).xml, scope: "read" }), ALICE);
  });
  it("Response signed by xmlsec1, assertion unsigned, default config → signature_missing", async () => {
    expectRefused(await exchange(bridge, { xml: responseSigned(bridge).xml }), "signature_missing");
  });
  it("Response and assertion both signed → 200 alice", async () => {
    expectIssuedFor(await exchange(bridge, { xml: responseBothSigned(bridge).xml, scope: "read" }), ALICE);
  });
});

// ---------------------------------------------------------------------------------------------
// A. XML Signature Wrapping
// ---------------------------------------------------------------------------------------------

describe("A. XML Signature Wrapping", () => {
  describe.each(SIGNERS)("Response-signed (B-S2R-r), signed by %s", (s) => {
    it("A1 XSW1: clean copy inside ds:Signature, evil Response outside → signature_invalid", async () => {
      const f = responseSigned(respOnly, s);
      expectRefused(await exchange(respOnly, { xml: atk.xsw1(f.xml) }), "signature_invalid");
    });
    it("A2 XSW2: clean copy as preceding sibling of ds:Signature → signature_invalid", async () => {
      const f = responseSigned(respOnly, s);
      expectRefused(await exchange(respOnly, { xml: atk.xsw2(f.xml) }), "signature_invalid");
    });
  });

  describe("Response- and assertion-signed (B-S2R-ar)", () => {
    it("A1 XSW1 → signature_invalid", async () => {
      expectRefused(await exchange(bridge, { xml: atk.xsw1(responseBothSigned(bridge).xml) }), "signature_invalid");
    });
    it("A2 XSW2 → signature_invalid", async () => {
      expectRefused(await exchange(bridge, { xml: atk.xsw2(responseBothSigned(bridge).xml) }), "signature_invalid");
    });
  });

  describe.each(SIGNERS)("assertion-signed Response (B-S2R-a), signed by %s", (s) => {
    const cases: ReadonlyArray<[string, (xml: string) => string, string]> = [
      ["A3 XSW3: evil sibling assertion before the signed one", atk.xsw3, "saml_shape_invalid"],
      ["A4 XSW4: signed assertion nested inside the evil one", atk.xsw4, "signature_missing"],
      ["A5 XSW5: evil edited in place, clean copy appended", atk.xsw5, "saml_shape_invalid"],
      ["A6 XSW6: clean copy inside the evil assertion's ds:Signature", atk.xsw6, "signature_invalid"],
      ["A7 XSW7: unqualified <Extensions> holding a same-ID evil copy", atk.xsw7, "signature_invalid"],
      ["A7 XSW7 (qualified samlp:Extensions)", atk.xsw7Qualified, "signature_invalid"],
      ["A8 XSW8: unqualified <Object> in ds:Signature holding the clean copy", atk.xsw8, "signature_invalid"],
      ["A8 XSW8 (qualified ds:Object)", atk.xsw8Qualified, "signature_invalid"],
      ["A11 namespace-confused sibling <evil:Assertion>", atk.namespaceConfusedSibling, "saml_shape_invalid"],
    ];
    it.each(cases)("%s → %s", async (_name, attack, reason) => {
      const f = responseAssertionSigned(bridge, s);
      expectRefused(await exchange(bridge, { xml: attack(f.xml) }), reason);
    });
  });

  describe.each(SIGNERS)("bare signed assertion (B-S2), signed by %s", (s) => {
    it("A4 (bare) xswBareAssertion.wrapInEvilRoot → signature_missing", async () => {
      const w = atk.xswBareAssertion(bareSigned(bridge, s).xml);
      expectRefused(await exchange(bridge, { xml: w.wrapInEvilRoot }), "signature_missing");
    });
    it("A4/E3 (bare) xswBareAssertion.adviceWrapped → signature_missing", async () => {
      const w = atk.xswBareAssertion(bareSigned(bridge, s).xml);
      expectRefused(await exchange(bridge, { xml: w.adviceWrapped }), "signature_missing");
    });
    it("A8b (bare) xswBareAssertion.objectWrapped → signature_invalid", async () => {
      const w = atk.xswBareAssertion(bareSigned(bridge, s).xml);
      expectRefused(await exchange(bridge, { xml: w.objectWrapped }), "signature_invalid");
    });
  });

  describe("A10 Advice-nested evil assertion, signed together with the legit one", () => {
    /** The evil assertion is put into Advice BEFORE signing: the outer signature is genuine. */
    function adviceFixture(s: Signer): string {
      const id = randomSamlId("_a");
      const evil = buildAssertion2({
        id: randomSamlId("_evil"),
        now: nowOf(bridge),
        nameId: EVIL_NAME_ID,
        attributes: [
          { name: "role", values: ["admin"] },
          { name: "evilattr", values: ["pwned"] },
        ],
      });
      const unsigned = atk.adviceAssertion(buildAssertion2({ id, now: nowOf(bridge) }), evil);
      expect(unsigned).toContain("Advice");
      return sign(unsigned, id, s);
    }
    it.each(SIGNERS)("signed by %s → 200 for alice only, nothing read from Advice", async (s) => {
      const res = await exchange(bridge, { xml: adviceFixture(s), scope: "read" });
      const payload = expectIssuedFor(res, ALICE);
      expect(payload.role).toEqual(["user"]);
      expect(payload.scope).toBe("read");
      const json = JSON.stringify(payload);
      expect(json).not.toContain(EVIL_NAME_ID);
      expect(json).not.toContain("admin");
      expect(json).not.toContain("pwned");
    });
    it("the Advice's role=admin grants nothing: scope write → invalid_scope scope_not_allowed", async () => {
      const res = await exchange(bridge, { xml: adviceFixture("xmlsec1"), scope: "write" });
      expectError(res, 400, "invalid_scope", "scope_not_allowed");
      expectNoToken(res);
    });
  });

  describe("A11 namespace confusion", () => {
    it("A11 sibling <evil:Assertion> in a Response (xmlsec1) → saml_shape_invalid", async () => {
      const f = responseAssertionSigned(bridge);
      expectRefused(await exchange(bridge, { xml: atk.namespaceConfusedSibling(f.xml) }), "saml_shape_invalid");
    });
    it("A11 reverse: signed assertion whose root is in a non-SAML namespace → saml_shape_invalid", async () => {
      const f = bareSigned(bridge);
      const xml = f.xml.replace(`xmlns:saml="${SAML2_ASSERTION_NS}"`, `xmlns:saml="urn:evil"`);
      expect(xml).not.toBe(f.xml);
      expectRefused(await exchange(bridge, { xml }), "saml_shape_invalid");
    });
  });
});

// ---------------------------------------------------------------------------------------------
// B. XML-DSig processing
// ---------------------------------------------------------------------------------------------

describe("B. XML-DSig processing", () => {
  describe("B1 signature exclusion", () => {
    it("B1 bare assertion, signatures stripped, evil NameID → signature_missing", async () => {
      const xml = atk.setNameId(atk.stripSignatures(bareSigned(bridge).xml), EVIL_NAME_ID);
      expectRefused(await exchange(bridge, { xml }), "signature_missing");
    });
    it("B1 assertion-signed Response, stripped, evil NameID → signature_missing", async () => {
      const xml = atk.setNameId(atk.stripSignatures(responseAssertionSigned(bridge, "samlsign").xml), EVIL_NAME_ID);
      expectRefused(await exchange(bridge, { xml }), "signature_missing");
    });
    it("B1 Response+assertion signed, stripped, evil NameID → signature_missing", async () => {
      const xml = atk.setNameId(atk.stripSignatures(responseBothSigned(bridge).xml), EVIL_NAME_ID);
      expectRefused(await exchange(bridge, { xml }), "signature_missing");
    });
    it("B1 Response-signed (requireSignedAssertion=false), stripped, evil NameID → signature_missing", async () => {
      const xml = atk.setNameId(atk.stripSignatures(responseSigned(respOnly).xml), EVIL_NAME_ID);
      expectRefused(await exchange(respOnly, { xml }), "signature_missing");
    });
    it("B1 tamper without stripping: evil NameID under the genuine signature → signature_invalid", async () => {
      const xml = atk.setNameId(bareSigned(bridge).xml, EVIL_NAME_ID);
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
  });

  describe("B2 empty / garbage SignatureValue", () => {
    const cases: ReadonlyArray<[string, (xml: string) => string]> = [
      ["empty SignatureValue", atk.emptySignatureValue],
      ["garbage SignatureValue AAAA", (x) => atk.garbageSignatureValue(x)],
      ["non-base64 garbage SignatureValue", (x) => atk.garbageSignatureValue(x, "!!not base64!!")],
      ["comment holding the original + garbage text", (x) => atk.commentInSignatureValue(x)],
    ];
    it.each(cases)("B2 %s → signature_invalid", async (_n, attack) => {
      expectRefused(await exchange(bridge, { xml: attack(bareSigned(bridge).xml) }), "signature_invalid");
    });
  });

  describe("B3/B4 key trust", () => {
    it.each(SIGNERS)("B3 evil assertion re-signed by %s with the attacker key (cert clones idp1's DN) → signature_invalid", async (s) => {
      const f = bareSigned(bridge, s, { nameId: EVIL_NAME_ID }, { key: KEYS.attacker });
      expect(f.xml).toContain("X509Certificate");
      expectRefused(await exchange(bridge, { xml: f.xml }), "signature_invalid");
    });
    it("B3 attacker-signed, no KeyInfo → signature_invalid", async () => {
      const f = bareSigned(bridge, "xmlsec1", { nameId: EVIL_NAME_ID }, { key: KEYS.attacker, keyInfo: "none" });
      expectRefused(await exchange(bridge, { xml: f.xml }), "signature_invalid");
    });
    it("B3 evil Response signed with the attacker key (requireSignedAssertion=false) → signature_invalid", async () => {
      const id = randomSamlId("_a");
      const rid = randomSamlId("_r");
      const unsigned = buildResponse2(buildAssertion2({ id, now: nowOf(respOnly), nameId: EVIL_NAME_ID }), { id: rid, now: nowOf(respOnly) });
      const xml = sign(unsigned, rid, "xmlsec1", { key: KEYS.attacker });
      expectRefused(await exchange(respOnly, { xml }), "signature_invalid");
    });
    it("B4 (control) genuine signature, KeyInfo cert swapped for the attacker's → 200 alice (KeyInfo ignored)", async () => {
      const f = bareSigned(bridge);
      const attackerCert = pemBody(readFileSync(KEYS.attacker.cert, "utf8"));
      const xml = f.xml.replace(/(<ds:X509Certificate>)[^<]*(<\/ds:X509Certificate>)/, `$1${attackerCert}$2`);
      expect(xml).not.toBe(f.xml);
      expectIssuedFor(await exchange(bridge, { xml, scope: "read" }), ALICE);
    });
  });

  describe("B6 HMAC key confusion (key = the IdP's public certificate)", () => {
    const cases: ReadonlyArray<[string, atk.HmacAlgorithm, () => string | Buffer]> = [
      ["hmac-sha256, cert PEM text", ALG.hmacSha256, idpCertPem],
      ["hmac-sha1, cert PEM text", ALG.hmacSha1, idpCertPem],
      ["hmac-sha512, cert PEM text", ALG.hmacSha512, idpCertPem],
      ["hmac-sha256, cert DER bytes", ALG.hmacSha256, () => Buffer.from(pemBody(idpCertPem()), "base64")],
    ];
    it.each(cases)("B6 %s → signature_algorithm_forbidden", async (_n, alg, key) => {
      const f = bareSigned(bridge);
      const xml = atk.hmacSigned(atk.setNameId(f.xml, EVIL_NAME_ID), f.id, key(), alg);
      expect(xml).toContain(alg);
      expectRefused(await exchange(bridge, { xml }), "signature_algorithm_forbidden");
    });
  });

  describe("B7 multiple SignedInfo (SAMLStorm, CVE-2025-29774)", () => {
    it("B7 bare: second SignedInfo with a fresh digest of the forged assertion → signature_invalid", async () => {
      expectRefused(await exchange(bridge, { xml: atk.duplicateSignedInfo(bareSigned(bridge).xml) }), "signature_invalid");
    });
    it("B7 bare, wrapped in an unknown <WRAPPER> → signature_invalid", async () => {
      expectRefused(await exchange(bridge, { xml: atk.wrappedSignedInfo(bareSigned(bridge).xml) }), "signature_invalid");
    });
    it("B7 assertion-signed Response (samlsign) → signature_invalid", async () => {
      const f = responseAssertionSigned(bridge, "samlsign");
      expectRefused(await exchange(bridge, { xml: atk.duplicateSignedInfo(f.xml) }), "signature_invalid");
    });
    it("B7 assertion-signed Response, wrapped → signature_invalid", async () => {
      const f = responseAssertionSigned(bridge);
      expectRefused(await exchange(bridge, { xml: atk.wrappedSignedInfo(f.xml) }), "signature_invalid");
    });
  });

  describe("B8 DigestValue comment (CVE-2025-29775)", () => {
    it.each(["original-in-comment", "forged-in-comment"] as const)("B8 %s, forged NameID → signature_invalid", async (order) => {
      const xml = atk.digestValueComment(bareSigned(bridge).xml, { order });
      expect(xml).toContain(EVIL_NAME_ID);
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
    it("B8 CDATA-split DigestValue, nothing forged → no evil identity (infoset-equal: 200 alice)", async () => {
      const xml = atk.digestValueComment(bareSigned(bridge).xml, { order: "cdata-split" });
      expect(xml).toContain("<![CDATA[");
      expectIssuedFor(await exchange(bridge, { xml, scope: "read" }), ALICE);
    });
    it("B8 original-in-comment on an assertion-signed Response (samlsign) → signature_invalid", async () => {
      const xml = atk.digestValueComment(responseAssertionSigned(bridge, "samlsign").xml);
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
  });

  describe("B11 multiple root elements", () => {
    it("B11 evil unsigned assertion appended after the signed one → xml_malformed", async () => {
      const signed = bareSigned(bridge).xml;
      expectRefused(await exchange(bridge, { xml: atk.appendSecondRoot(signed, atk.unsignedEvilCopy(signed)) }), "xml_malformed");
    });
    it("B11 evil unsigned assertion prepended (signed one second) → xml_malformed", async () => {
      const signed = bareSigned(bridge).xml;
      expectRefused(await exchange(bridge, { xml: atk.prependSecondRoot(signed, atk.unsignedEvilCopy(signed)) }), "xml_malformed");
    });
    it("B11 evil Response appended after a signed Response → xml_malformed", async () => {
      const signed = responseAssertionSigned(bridge).xml;
      expectRefused(await exchange(bridge, { xml: atk.appendSecondRoot(signed, atk.unsignedEvilCopy(signed)) }), "xml_malformed");
    });
  });

  describe("B12 comment-split NameID / values (CVE-2017-11427 family)", () => {
    const REGISTERED = "alice@example.com.evil.com";
    /** 200 with exactly `full`, or a 400: never the truncated prefix. */
    function expectFullOrRefused(res: Res, claim: (p: Record<string, any>) => unknown, full: unknown): void {
      if (res.status === 200) {
        const p = decodeJwt(res.body.access_token).payload;
        expect(claim(p)).toEqual(full);
      } else {
        expect(res.status).toBe(400);
        expectNoToken(res);
      }
    }
    it.each(SIGNERS)("B12 IdP (%s) signs alice@example.com.evil.com, attacker inserts <!----> → sub is the full value", async (s) => {
      const f = bareSigned(bridge, s, { nameId: REGISTERED });
      const xml = atk.commentInNameId(f.xml, ALICE.length);
      expect(xml).toContain(`${ALICE}<!---->.evil.com`);
      const res = await exchange(bridge, { xml, scope: "read" });
      // Catalogue: 200 with the full value, or 400; never the truncated alice@example.com.
      expectFullOrRefused(res, (p) => p.sub, REGISTERED);
      // What this bridge does: identity comes from the signed canonical bytes (comments dropped).
      expect(res.status).toBe(200);
    });
    it("B12 comment inside an AttributeValue (role us<!---->er) → role claim is the full value", async () => {
      const xml = atk.commentInAttributeValue(bareSigned(bridge).xml, "role", 2);
      expect(xml).toContain("us<!---->er");
      const res = await exchange(bridge, { xml, scope: "read" });
      expectFullOrRefused(res, (p) => p.role, ["user"]);
      expect(res.status).toBe(200);
    });
    it("B12 comment inside the Issuer → Issuer read as the full value", async () => {
      const f = bareSigned(bridge);
      const xml = f.xml.replace("<saml:Issuer>https://idp1.test/idp</saml:Issuer>", "<saml:Issuer>https://idp1.test<!---->/idp</saml:Issuer>");
      expect(xml).toContain("<!---->/idp");
      const res = await exchange(bridge, { xml, scope: "read" });
      expectFullOrRefused(res, (p) => p.sub, ALICE);
      expect(res.status).toBe(200);
    });
  });

  describe("B14–B16 transforms and references", () => {
    it("B14 XSLT transform (canary stylesheet) → signature_algorithm_forbidden", async () => {
      const xml = atk.xsltTransform(bareSigned(bridge).xml);
      expect(xml).toContain(ALG.xslt);
      expectRefused(await exchange(bridge, { xml }), "signature_algorithm_forbidden");
    });
    it("B14 XSLT transform replacing the enveloped transform (2 transforms) → signature_algorithm_forbidden", async () => {
      const xml = atk.setAttr(bareSigned(bridge).xml, NS.ds, "Transform", "Algorithm", ALG.xslt);
      expectRefused(await exchange(bridge, { xml }), "signature_algorithm_forbidden");
    });

    const others: ReadonlyArray<[string, string]> = [
      ["XPath", ALG.xpath],
      ["XPath Filter 2.0", ALG.xpathFilter2],
      ["c14n 1.1", ALG.c14n11],
      ["base64", ALG.base64],
      ["unknown URI", "urn:fedbridge:unknown-transform"],
    ];
    it.each(others)("B15 %s appended as a third transform → signature_algorithm_forbidden", async (_n, uri) => {
      expectRefused(await exchange(bridge, { xml: atk.extraTransform(bareSigned(bridge).xml, uri) }), "signature_algorithm_forbidden");
    });
    it.each(others)("B15 %s replacing the enveloped transform → signature_algorithm_forbidden", async (_n, uri) => {
      const xml = atk.setAttr(bareSigned(bridge).xml, NS.ds, "Transform", "Algorithm", uri);
      expectRefused(await exchange(bridge, { xml }), "signature_algorithm_forbidden");
    });
    it.each(others)("B15 %s as CanonicalizationMethod → signature_algorithm_forbidden", async (_n, uri) => {
      const xml = atk.setAttr(bareSigned(bridge).xml, NS.ds, "CanonicalizationMethod", "Algorithm", uri);
      expectRefused(await exchange(bridge, { xml }), "signature_algorithm_forbidden");
    });

    it("B16 three transforms (exc-c14n repeated) → signature_algorithm_forbidden", async () => {
      expectRefused(await exchange(bridge, { xml: atk.tooManyTransforms(bareSigned(bridge).xml, 3) }), "signature_algorithm_forbidden");
    });
    it("B16 50 transforms → signature_algorithm_forbidden", async () => {
      expectRefused(await exchange(bridge, { xml: atk.tooManyTransforms(bareSigned(bridge).xml, 50) }), "signature_algorithm_forbidden");
    });
    it("B16 two References, both to the signed assertion → signature_invalid", async () => {
      const f = bareSigned(bridge);
      expectRefused(await exchange(bridge, { xml: atk.extraReference(f.xml, `#${f.id}`) }), "signature_invalid");
    });
    it("B16 two References, the second to the Response → signature_invalid", async () => {
      const f = responseAssertionSigned(bridge);
      expectRefused(await exchange(bridge, { xml: atk.extraReference(f.xml, `#${f.rid}`) }), "signature_invalid");
    });
    it("B16 1,000 References, default limits → refused by the body limit (413 body_too_large), quickly", async () => {
      const xml = atk.manyReferences(bareSigned(bridge).xml, 1000);
      const { value: res, ms } = await timed(() => exchange(bridge, { xml }));
      expectError(res, 413, "invalid_request", "body_too_large");
      expectNoToken(res);
      expect(ms).toBeLessThan(1000);
    });
    it("B16 1,000 References under raised limits → signature_invalid before any digest, quickly", async () => {
      const xml = atk.manyReferences(bareSigned(roomy).xml, 1000);
      const { value: res, ms } = await timed(() => exchange(roomy, { xml }));
      expectRefused(res, "signature_invalid");
      expect(ms).toBeLessThan(1000);
    });
  });

  describe("B17 Reference URI tricks", () => {
    const uris: ReadonlyArray<[string, (id: string) => string]> = [
      ["empty URI (whole document)", () => ""],
      ["#xpointer(/)", () => "#xpointer(/)"],
      ["#xpointer(id('…'))", (id) => `#xpointer(id('${id}'))`],
      ["external http canary", () => "http://canary.invalid/x"],
      ["file:///etc/passwd", () => "file:///etc/passwd"],
      ["quote injection", (id) => `#${id}' or '1'='1`],
      ["id without #", (id) => id],
    ];
    it.each(uris)("B17 %s → signature_invalid", async (_n, uri) => {
      const f = bareSigned(bridge);
      const xml = atk.setReferenceUri(f.xml, uri(f.id));
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
    it("B17 URI pointing at the (unsigned) Response of an assertion-signed Response → signature_invalid", async () => {
      const f = responseAssertionSigned(bridge);
      expectRefused(await exchange(bridge, { xml: atk.setReferenceUri(f.xml, `#${f.rid}`) }), "signature_invalid");
    });
  });

  describe("B18 algorithm downgrade", () => {
    const tampered: ReadonlyArray<[string, (xml: string) => string, string]> = [
      ["SignatureMethod → rsa-sha1", (x) => atk.setSignatureMethod(x, ALG.rsaSha1), "signature_algorithm_forbidden"],
      ["SignatureMethod → rsa-md5", (x) => atk.setSignatureMethod(x, ALG.rsaMd5), "signature_algorithm_forbidden"],
      ["SignatureMethod → hmac-sha1", (x) => atk.setSignatureMethod(x, ALG.hmacSha1), "signature_algorithm_forbidden"],
      ["SignatureMethod → rsa-sha512 (allowed, but not what was signed)", (x) => atk.setSignatureMethod(x, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"), "signature_invalid"],
      ["SignatureMethod → ecdsa-sha256 (wrong key type for idp1's RSA key)", (x) => atk.setSignatureMethod(x, "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"), "signature_invalid"],
      ["DigestMethod → sha1", (x) => atk.setDigestMethod(x, ALG.sha1), "signature_algorithm_forbidden"],
      ["DigestMethod → md5", (x) => atk.setDigestMethod(x, ALG.md5), "signature_algorithm_forbidden"],
      ["DigestMethod → sha512 (allowed, digest no longer matches)", (x) => atk.setDigestMethod(x, ALG.sha512), "signature_invalid"],
    ];
    it.each(tampered)("B18 tamper %s → %s", async (_n, attack, reason) => {
      expectRefused(await exchange(bridge, { xml: attack(bareSigned(bridge).xml) }), reason);
    });
    it.each([
      ["hmac-sha1", ALG.hmacSha1],
      ["rsa-sha1", ALG.rsaSha1],
    ])("B18 differential: rogue non-ds <x:SignatureMethod Algorithm=%s> before ds:SignedInfo → signature_invalid", async (_n, uri) => {
      const f = bareSigned(bridge);
      const xml = f.xml.replace("<ds:SignedInfo>", `<x:SignatureMethod xmlns:x="urn:x" Algorithm="${uri}"/><ds:SignedInfo>`);
      expect(xml).toContain("<x:SignatureMethod");
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
    it.each(SIGNERS)("B18 genuinely signed by %s with rsa-sha1 + sha1 (allowSha1=false) → signature_algorithm_forbidden", async (s) => {
      const f = bareSigned(bridge, s, {}, { alg: "rsa-sha1", digest: "sha1" });
      expectRefused(await exchange(bridge, { xml: f.xml }), "signature_algorithm_forbidden");
    });
    it("B18 genuinely signed with rsa-sha256 + sha1 digest → signature_algorithm_forbidden", async () => {
      const f = bareSigned(bridge, "xmlsec1", {}, { digest: "sha1" });
      expectRefused(await exchange(bridge, { xml: f.xml }), "signature_algorithm_forbidden");
    });
  });

  describe("B19 ID attribute confusion", () => {
    it.each(["Id", "id", "ID", "foo:ID"] as const)("B19 evil copy inside a bare assertion carrying the signed ID as %s → signature_invalid", async (attr) => {
      expectRefused(await exchange(bridge, { xml: atk.idAttributeConfusion(bareSigned(bridge).xml, attr) }), "signature_invalid");
    });
    it("B19 evil sibling with Id= in an assertion-signed Response → saml_shape_invalid", async () => {
      const f = responseAssertionSigned(bridge);
      expectRefused(await exchange(bridge, { xml: atk.idAttributeConfusion(f.xml, "Id") }), "saml_shape_invalid");
    });
    it.each(["ID", "Id", "id"])("B19 the signed assertion's ID as %s on another element (samlp:Status) → signature_invalid", async (attr) => {
      const f = responseAssertionSigned(bridge);
      const xml = atk.setAttr(f.xml, NS.samlp, "Status", attr, f.id);
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
  });

  describe("B21 void digest (CVE-2025-66568)", () => {
    const voidDigest = (xml: string): string => xml.replace(/(<ds:DigestValue>)[^<]*(<\/ds:DigestValue>)/, `$1${EMPTY_SHA256}$2`);
    it("B21 DigestValue = sha256(\"\") on the genuine assertion → signature_invalid", async () => {
      const f = bareSigned(bridge);
      const xml = voidDigest(f.xml);
      expect(xml).toContain(EMPTY_SHA256);
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
    it("B21 DigestValue = sha256(\"\") with an evil NameID → signature_invalid", async () => {
      const xml = voidDigest(atk.setNameId(bareSigned(bridge).xml, EVIL_NAME_ID));
      expectRefused(await exchange(bridge, { xml }), "signature_invalid");
    });
  });

  describe("B22–B24 DTD-based differentials", () => {
    it("B22 DOCTYPE/comment/CDATA parser differential (CVE-2025-25291) → xml_doctype_forbidden", async () => {
      const signed = responseAssertionSigned(bridge).xml;
      const xml = atk.parserDifferential(signed, atk.unsignedEvilCopy(signed));
      expectRefused(await exchange(bridge, { xml }), "xml_doctype_forbidden");
    });
    it("B23 ATTLIST default-namespace confusion (CVE-2025-25292) → xml_doctype_forbidden", async () => {
      const xml = atk.withDoctype(responseAssertionSigned(bridge).xml, "attlist-namespace");
      expect(xml).toContain("<!ATTLIST");
      expectRefused(await exchange(bridge, { xml }), "xml_doctype_forbidden");
    });
    it("B24 entity-built IDs (CVE-2025-23369) → xml_doctype_forbidden", async () => {
      const xml = atk.withDoctype(responseAssertionSigned(bridge).xml, "entity-built-id");
      expect(xml).toContain("&idViaEntity;");
      expectRefused(await exchange(bridge, { xml }), "xml_doctype_forbidden");
    });
  });
});

// ---------------------------------------------------------------------------------------------
// C. Parser hardening and denial of service
// ---------------------------------------------------------------------------------------------

describe("C. parser hardening and DoS", () => {
  describe("C1–C4 DOCTYPEs", () => {
    const kinds: ReadonlyArray<[string, atk.DoctypeKind]> = [
      ["C1 XXE file:///etc/passwd in NameID", "xxe-file"],
      ["C1 XXE http canary in NameID", "xxe-http"],
      ["C2 parameter entity (out-of-band)", "parameter-entity"],
      ["C4 empty DOCTYPE (no entities, signature still valid)", "empty-doctype"],
    ];
    it.each(kinds)("%s → xml_doctype_forbidden", async (_n, kind) => {
      const xml = atk.withDoctype(bareSigned(bridge).xml, kind);
      expectRefused(await exchange(bridge, { xml }), "xml_doctype_forbidden");
    });
    it("C1 XXE in a Response with an XML declaration → xml_doctype_forbidden", async () => {
      const xml = atk.withDoctype(`<?xml version="1.0" encoding="UTF-8"?>\n${responseAssertionSigned(bridge).xml}`, "xxe-file");
      expectRefused(await exchange(bridge, { xml }), "xml_doctype_forbidden");
    });
    it("C3 billion laughs → xml_doctype_forbidden in < 1 s", async () => {
      const xml = atk.withDoctype(bareSigned(bridge).xml, "billion-laughs");
      const { value: res, ms } = await timed(() => exchange(bridge, { xml }));
      expectRefused(res, "xml_doctype_forbidden");
      expect(ms).toBeLessThan(1000);
    });
  });

  describe("C5 encodings (rawToken = base64url of the bytes)", () => {
    const refused: ReadonlyArray<[atk.EncodingKind, string]> = [
      ["utf16le-bom", "token_encoding_invalid"],
      ["utf16-decl", "token_encoding_invalid"],
      ["latin1-decl", "token_encoding_invalid"],
      ["nul-byte", "token_encoding_invalid"],
      ["overlong-utf8", "token_encoding_invalid"],
      ["stylesheet-pi", "xml_malformed"],
    ];
    it.each(refused)("C5 %s → %s", async (kind, reason) => {
      const bytes = atk.encodingVariant(bareSigned(bridge).xml, kind);
      expectRefused(await exchange(bridge, { rawToken: b64url(bytes) }), reason);
    });
    it("C5 latin1 declaration on a Response with a declaration → token_encoding_invalid", async () => {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>${responseAssertionSigned(bridge).xml}`;
      expectRefused(await exchange(bridge, { rawToken: b64url(atk.encodingVariant(xml, "latin1-decl")) }), "token_encoding_invalid");
    });
    it("C5 UTF-8 BOM before a valid assertion → accepted (the BOM is dropped), 200 alice", async () => {
      const bytes = atk.encodingVariant(bareSigned(bridge).xml, "utf8-bom");
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      expectIssuedFor(await exchange(bridge, { rawToken: b64url(bytes), scope: "read" }), ALICE);
    });
    it("C5 explicit encoding=\"UTF-8\" declaration → 200 alice (control)", async () => {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${bareSigned(bridge).xml}`;
      expectIssuedFor(await exchange(bridge, { xml, scope: "read" }), ALICE);
    });
  });

  describe("C6 deep nesting", () => {
    it("C6 10,000 levels inside a bare assertion → xml_too_deep, fast", async () => {
      const xml = atk.deepNesting(bareSigned(bridge).xml, 10_000);
      const { value: res, ms } = await timed(() => exchange(bridge, { xml }));
      expectRefused(res, "xml_too_deep");
      expect(ms).toBeLessThan(1000);
    });
    it("C6 10,000 levels in samlp:Extensions of an assertion-signed Response → xml_too_deep, fast", async () => {
      const xml = atk.deepNesting(responseAssertionSigned(bridge).xml, 10_000);
      expect(xml).toContain("Extensions");
      const { value: res, ms } = await timed(() => exchange(bridge, { xml }));
      expectRefused(res, "xml_too_deep");
      expect(ms).toBeLessThan(1000);
    });
  });

  describe("C7 oversized token", () => {
    it("C7 5 MB token → 413 body_too_large (never 500), fast", async () => {
      const xml = atk.oversize(bareSigned(bridge).xml, 5 * 1024 * 1024);
      const { value: res, ms } = await timed(() => exchange(bridge, { xml }));
      expect(res.status).not.toBe(500);
      expectError(res, 413, "invalid_request", "body_too_large");
      expectNoToken(res);
      expect(ms).toBeLessThan(3000);
    });
    it("C7 150 KB token (body within limits, token over maxTokenBytes) → token_too_large", async () => {
      const xml = atk.oversize(bareSigned(bridge).xml, 150 * 1024);
      expectRefused(await exchange(bridge, { xml }), "token_too_large");
    });
  });

  describe("C8 canonicalization cost", () => {
    it("C8 1,000 unused namespace declarations on the signed assertion → xml_too_complex (limits.maxXmlAttributesPerElement, issue 9), fast", async () => {
      const xml = atk.manyNamespaces(bareSigned(bridge).xml, 1000);
      const { value: res, ms } = await timed(() => exchange(bridge, { xml, scope: "read" }));
      expectRefused(res, "xml_too_complex");
      expect(ms).toBeLessThan(2000);
    });
    it("C8 (control) 20 unused namespace declarations on the signed assertion (within limits) → 200 alice", async () => {
      const xml = atk.manyNamespaces(bareSigned(bridge).xml, 20);
      expectIssuedFor(await exchange(bridge, { xml, scope: "read" }), ALICE);
    });
  });

  describe("C8 element count", () => {
    it("C8 5,000 empty elements in samlp:Extensions of an assertion-signed Response → xml_too_complex, fast", async () => {
      const f = responseAssertionSigned(bridge);
      const xml = f.xml.replace("<samlp:Status>", `<samlp:Extensions>${"<x/>".repeat(5000)}</samlp:Extensions><samlp:Status>`);
      expect(xml).toContain("<samlp:Extensions><x/>");
      const { value: res, ms } = await timed(() => exchange(bridge, { xml }));
      expectRefused(res, "xml_too_complex");
      expect(ms).toBeLessThan(1000);
    });
    it("C8 (control) 100 empty elements in samlp:Extensions, within limits → 200 alice", async () => {
      const f = responseAssertionSigned(bridge);
      const xml = f.xml.replace("<samlp:Status>", `<samlp:Extensions>${"<x/>".repeat(100)}</samlp:Extensions><samlp:Status>`);
      expectIssuedFor(await exchange(bridge, { xml, scope: "read" }), ALICE);
    });
  });

  describe("C10 deflated input", () => {
    it("C10 raw-DEFLATE of a valid signed assertion → token_encoding_invalid (never inflated)", async () => {
      const bytes = atk.encodingVariant(bareSigned(bridge).xml, "deflated");
      expectRefused(await exchange(bridge, { rawToken: b64url(bytes) }), "token_encoding_invalid");
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Whole-suite invariant
// ---------------------------------------------------------------------------------------------

describe("invariant", () => {
  it("no bridge ever issued a token for the evil identity", () => {
    for (const b of [bridge, respOnly, roomy]) {
      const issued = b.logs.filter((e) => e.event === "token_exchange" && e.outcome === "issued");
      for (const e of issued) expect(e.sub).not.toBe(EVIL_NAME_ID);
      expect(issued.every((e) => e.sub === ALICE || e.sub === "alice@example.com.evil.com")).toBe(true);
    }
  });
});
