/**
 * SAML 1.1 attack suite: the SAML 1.1 rows of the attack catalogue (section E: E1–E3, and the B/C rows
 * that name B-S11), against POST /token with subject_token_type saml1. The rule rows E4–E7 and E10 are
 * in saml11-rules.test.ts, E9 in saml11-interop.test.ts.
 *
 * Base fixtures are fresh (bridge clock, unique AssertionIDs: replay protection is on) and signed by
 * xmlsec1 or OpenSAML's samlsign, then attacked (test/support/saml1-attacks.ts for SAML 1.1 names,
 * test/support/attacks.ts for generic ds:Signature tampering). Each refusal is asserted with its
 * reason code, and above all: no token is ever issued for the evil identity.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { KEYS } from "../support/independent-signers.js";
import * as atk from "../support/attacks.js";
import { ALG, EVIL_NAME_ID } from "../support/attacks.js";
import * as atk11 from "../support/saml1-attacks.js";
import { buildAssertion11, randomSaml11Id } from "../support/saml1-builder.js";
import { assertion11, response11, send11, sign11, withIdp11, type Signer11 } from "../support/saml1-bridge.js";

const SIGNERS: readonly Signer11[] = ["xmlsec1", "samlsign"];
const ALICE = "alice@example.com";

type Res = { status: number; body: any; headers: Record<string, any>; text?: string };

function expectNoToken(res: Res): void {
  expect(res.body?.access_token).toBeUndefined();
  const raw = JSON.stringify(res.body ?? null) + (res.text ?? "");
  expect(raw).not.toContain(EVIL_NAME_ID);
  expect(raw).not.toContain("root:x:");
}

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

/** Default: idp11 requires signed assertions. */
let bridge: TestBridge;
/** idp11 with requireSignedAssertion: false (a signed Response around an unsigned assertion is legitimate). */
let respOnly: TestBridge;

beforeAll(async () => {
  bridge = await startBridge({ patch: (c) => withIdp11(c) });
  respOnly = await startBridge({ patch: (c) => withIdp11(c, { requireSignedAssertion: false }) });
});
afterAll(async () => {
  await Promise.all([bridge, respOnly].filter(Boolean).map((b) => b.close()));
});

// ---------------------------------------------------------------------------------------------
// E1 — baselines and AssertionID / ResponseID resolution
// ---------------------------------------------------------------------------------------------

describe("E1 positive baselines (AssertionID / ResponseID resolve)", () => {
  it.each(SIGNERS)("B-S11 bare assertion signed by %s → 200 alice", async (s) => {
    expectIssuedFor(await send11(bridge, assertion11(bridge, { signer: s }).xml), ALICE);
  });
  it.each(SIGNERS)("Response signed by %s (ResponseID), assertion unsigned, requireSignedAssertion=false → 200 alice", async (s) => {
    expectIssuedFor(await send11(respOnly, response11(respOnly, { assertion: { signer: null }, signer: s }).xml), ALICE);
  });
});

// ---------------------------------------------------------------------------------------------
// E3 — XML Signature Wrapping
// ---------------------------------------------------------------------------------------------

describe("E3 / A — signature wrapping of SAML 1.1", () => {
  describe.each(SIGNERS)("bare assertion signed by %s", (s) => {
    it("E3 forged root, the real signed assertion nested in saml:Advice → signature_missing", async () => {
      const xml = atk11.xswAdvice11(assertion11(bridge, { signer: s }).xml, "unsigned-root");
      expect(xml).toContain("Advice");
      expectRefused(await send11(bridge, xml), "signature_missing");
    });
    it("E3 variant: the real Signature moved onto the forged root (its Reference names the nested one) → signature_invalid", async () => {
      expectRefused(await send11(bridge, atk11.xswAdvice11(assertion11(bridge, { signer: s }).xml, "moved-signature")), "signature_invalid");
    });
    it("E3 variant: forged root carrying the SAME AssertionID as the nested signed one → signature_missing", async () => {
      expectRefused(await send11(bridge, atk11.xswAdvice11(assertion11(bridge, { signer: s }).xml, "same-id")), "signature_missing");
    });
    it("E3 variant: same AssertionID and the real Signature on the forged root → signature_invalid", async () => {
      // The ID is then carried twice (catalogue B19), and the digest would not match anyway.
      expectRefused(await send11(bridge, atk11.xswAdvice11(assertion11(bridge, { signer: s }).xml, "same-id-moved-signature")), "signature_invalid");
    });
  });

  describe.each(SIGNERS)("Response with an assertion signed by %s", (s) => {
    it("A3: an unsigned evil assertion before the signed one → saml_shape_invalid", async () => {
      expectRefused(await send11(bridge, atk11.xswResponse11(response11(bridge, { assertion: { signer: s }, signer: null }).xml, "sibling")), "saml_shape_invalid");
    });
    it("A4/E3: the signed assertion moved into the Advice of an evil one → signature_missing", async () => {
      expectRefused(await send11(bridge, atk11.xswResponse11(response11(bridge, { assertion: { signer: s }, signer: null }).xml, "advice")), "signature_missing");
    });
  });

  describe.each(SIGNERS)("Response signed by %s (requireSignedAssertion=false)", (s) => {
    it("A1: evil Response outside, clean signed copy hidden in ds:Object → signature_invalid", async () => {
      const f = response11(respOnly, { assertion: { signer: null }, signer: s });
      expectRefused(await send11(respOnly, atk11.xswSignedResponse11(f.xml)), "signature_invalid");
    });
    it("an evil sibling assertion added under the Response signature → saml_shape_invalid", async () => {
      const f = response11(respOnly, { assertion: { signer: null }, signer: s });
      expectRefused(await send11(respOnly, atk11.xswResponse11(f.xml, "sibling")), "saml_shape_invalid");
    });
    it("the unsigned assertion moved into an evil one's Advice (Response signature broken) → signature_invalid", async () => {
      const f = response11(respOnly, { assertion: { signer: null }, signer: s });
      expectRefused(await send11(respOnly, atk11.xswResponse11(f.xml, "advice")), "signature_invalid");
    });
  });

  it("an evil assertion in the Advice of the signed one, signed together (A10 for 1.1) → 200 for alice, nothing read from Advice", async () => {
    const evil = buildAssertion11({ id: randomSaml11Id("_evil"), now: new Date(bridge.clock.now), subject: { nameId: EVIL_NAME_ID }, attributes: [{ name: "role", values: ["admin"] }] });
    const id = randomSaml11Id("_a");
    const unsigned = buildAssertion11({ id, now: new Date(bridge.clock.now) }).replace("</saml:Conditions>", `</saml:Conditions><saml:Advice>${evil}</saml:Advice>`);
    const res = await send11(bridge, sign11(unsigned, id));
    const payload = expectIssuedFor(res, ALICE);
    expect(payload.role).toEqual(["user"]);
    expect(JSON.stringify(payload)).not.toMatch(/admin/);
  });
});

// ---------------------------------------------------------------------------------------------
// E2 / B19 — ID confusion
// ---------------------------------------------------------------------------------------------

describe("E2 / B19 — ID confusion", () => {
  it.each(["ID", "Id", "id"])("the AssertionID value also as %s on a NameIdentifier, signed that way by the IdP → signature_invalid", async (attr) => {
    // Signed WITH the duplicate: only the uniqueness rule (not a digest) can refuse it.
    const xml = assertion11(bridge, {
      mutate: (x) => x.replace("<saml:NameIdentifier ", `<saml:NameIdentifier ${attr}="${/AssertionID="([^"]+)"/.exec(x)![1]}" `),
    }).xml;
    expectRefused(await send11(bridge, xml), "signature_invalid");
  });

  it.each(["ID", "AssertionID", "ResponseID"])("the signed assertion's ID as %s on the (unsigned) Response's Status → signature_invalid", async (attr) => {
    const xml = atk11.duplicateId11(response11(bridge, { signer: null }).xml, attr, "Status");
    expectRefused(await send11(bridge, xml), "signature_invalid");
  });

  it("the Response's ID as AssertionID on its (unsigned) assertion, Response signed → signature_invalid", async () => {
    const f = response11(respOnly, { assertion: { signer: null }, signer: "xmlsec1" });
    const xml = f.xml.replace(`AssertionID="${f.id}"`, `AssertionID="${f.rid}"`);
    expectRefused(await send11(respOnly, xml), "signature_invalid");
  });
});

// ---------------------------------------------------------------------------------------------
// B — XML-DSig processing on the SAML 1.1 path
// ---------------------------------------------------------------------------------------------

describe("B — XML-DSig on SAML 1.1", () => {
  it("B1 signatures stripped, evil NameIdentifier (bare) → signature_missing", async () => {
    const xml = atk11.setNameIdentifiers(atk.stripSignatures(assertion11(bridge).xml));
    expectRefused(await send11(bridge, xml), "signature_missing");
  });
  it("B1 signatures stripped, evil NameIdentifier (Response, both signed) → signature_missing", async () => {
    const xml = atk11.setNameIdentifiers(atk.stripSignatures(response11(bridge).xml));
    expectRefused(await send11(bridge, xml), "signature_missing");
  });
  it("B1 stripped, Response-signed config (requireSignedAssertion=false) → signature_missing", async () => {
    const xml = atk11.setNameIdentifiers(atk.stripSignatures(response11(respOnly, { assertion: { signer: null } }).xml));
    expectRefused(await send11(respOnly, xml), "signature_missing");
  });
  it.each(SIGNERS)("tamper under a genuine %s signature: evil NameIdentifier → signature_invalid", async (s) => {
    expectRefused(await send11(bridge, atk11.setNameIdentifiers(assertion11(bridge, { signer: s }).xml)), "signature_invalid");
  });
  it("tamper: AttributeValue role=admin → signature_invalid", async () => {
    expectRefused(await send11(bridge, atk11.setAttributeValue11(assertion11(bridge).xml, "role", "admin")), "signature_invalid");
  });

  it.each([
    ["empty SignatureValue", atk.emptySignatureValue],
    ["garbage SignatureValue", (x: string) => atk.garbageSignatureValue(x)],
    ["comment holding the original + garbage", (x: string) => atk.commentInSignatureValue(x)],
  ])("B2 %s → signature_invalid", async (_n, attack) => {
    expectRefused(await send11(bridge, attack(assertion11(bridge).xml)), "signature_invalid");
  });

  it.each(SIGNERS)("B3 evil assertion re-signed by %s with the attacker key (cert clones idp1's DN) in KeyInfo → signature_invalid", async (s) => {
    const f = assertion11(bridge, { signer: s, o: { subject: { nameId: EVIL_NAME_ID } }, sign: { key: KEYS.attacker } });
    expect(f.xml).toContain("X509Certificate");
    expectRefused(await send11(bridge, f.xml), "signature_invalid");
  });

  it.each([ALG.hmacSha1, ALG.hmacSha256])("B6 HMAC SignatureMethod %s → signature_algorithm_forbidden", async (uri) => {
    expectRefused(await send11(bridge, atk.setSignatureMethod(assertion11(bridge).xml, uri)), "signature_algorithm_forbidden");
  });

  it("B7 a second SignedInfo referencing a forged assertion → signature_invalid", async () => {
    expectRefused(await send11(bridge, atk11.duplicateSignedInfo11(assertion11(bridge).xml)), "signature_invalid");
  });

  it("B12 comment inside the NameIdentifier: the whole signed value, never a truncated one", async () => {
    const f = assertion11(bridge, { o: { subject: { nameId: "alice@example.com.evil.com" } } });
    const xml = atk11.commentInNameIdentifier(f.xml, "alice@example.com".length);
    expect(xml).toContain("alice@example.com<!---->.evil.com");
    expectIssuedFor(await send11(bridge, xml), "alice@example.com.evil.com");
  });

  it.each([
    ["B14 XSLT transform", (x: string) => atk.xsltTransform(x)],
    ["B15 XPath transform", (x: string) => atk.extraTransform(x, ALG.xpath)],
    ["B15 XPath Filter 2.0", (x: string) => atk.extraTransform(x, ALG.xpathFilter2)],
    ["B15 base64 transform", (x: string) => atk.extraTransform(x, ALG.base64)],
    ["B15 c14n 1.1", (x: string) => atk.extraTransform(x, ALG.c14n11)],
    ["B16 three transforms", (x: string) => atk.tooManyTransforms(x, 3)],
  ])("%s → signature_algorithm_forbidden", async (_n, attack) => {
    expectRefused(await send11(bridge, attack(assertion11(bridge).xml)), "signature_algorithm_forbidden");
  });

  it.each([
    ["B16 a second Reference to the same AssertionID", (x: string, id: string) => atk.extraReference(x, `#${id}`)],
    ["B16 100 References", (x: string) => atk.manyReferences(x, 100)],
    ["B17 URI=\"\" (whole document)", (x: string) => atk.setReferenceUri(x, "")],
    ["B17 #xpointer(/)", (x: string) => atk.setReferenceUri(x, "#xpointer(/)")],
    ["B17 external URI", (x: string) => atk.setReferenceUri(x, "http://canary.invalid/x")],
    ["B17 quote injection", (x: string, id: string) => atk.setReferenceUri(x, `#${id}' or '1'='1`)],
  ])("%s → signature_invalid", async (_n, attack) => {
    const f = assertion11(bridge);
    expectRefused(await send11(bridge, attack(f.xml, f.id)), "signature_invalid");
  });

  it("B18 rsa-sha256 signature with a sha1 digest → signature_algorithm_forbidden", async () => {
    expectRefused(await send11(bridge, assertion11(bridge, { sign: { digest: "sha1" } }).xml), "signature_algorithm_forbidden");
  });
});

// ---------------------------------------------------------------------------------------------
// B11 / C — parser hardening on the SAML 1.1 path
// ---------------------------------------------------------------------------------------------

describe("B11 / C — parser hardening on SAML 1.1", () => {
  it("B11 a second root (an unsigned evil assertion) after the signed one → xml_malformed", async () => {
    const signed = assertion11(bridge).xml;
    const evil = atk11.setNameIdentifiers(atk.stripSignatures(signed));
    expectRefused(await send11(bridge, atk.appendSecondRoot(signed, evil)), "xml_malformed");
    expectRefused(await send11(bridge, atk.prependSecondRoot(assertion11(bridge).xml, evil)), "xml_malformed");
  });

  it.each(["empty-doctype", "parameter-entity"] as const)("DOCTYPE (%s) → xml_doctype_forbidden", async (kind) => {
    expectRefused(await send11(bridge, atk.withDoctype(assertion11(bridge).xml, kind)), "xml_doctype_forbidden");
  });

  it("an internal entity used in the NameIdentifier (C1/C3) → xml_doctype_forbidden", async () => {
    const signed = assertion11(bridge).xml;
    const xml = `<!DOCTYPE saml:Assertion [<!ENTITY e "${EVIL_NAME_ID}">]>` + signed.replace(/(<saml:NameIdentifier[^>]*>)[^<]*/, "$1&e;");
    expectRefused(await send11(bridge, xml), "xml_doctype_forbidden");
  });

  it("C6 nesting deeper than limits.maxXmlDepth → xml_too_deep", async () => {
    const signed = assertion11(bridge).xml;
    const deep = "<x>".repeat(60) + "</x>".repeat(60);
    expectRefused(await send11(bridge, signed.replace(/<\/saml:Assertion>$/, `<saml:Advice>${deep}</saml:Advice></saml:Assertion>`)), "xml_too_deep");
  });

  it("a processing instruction before the root → xml_malformed", async () => {
    expectRefused(await send11(bridge, `<?xml-stylesheet href="http://canary.invalid/x.xsl"?>${assertion11(bridge).xml}`), "xml_malformed");
  });
});
