/**
 * The Reference digest is what binds the signed element's CONTENT to the signature (XML-DSig §3.2.1
 * core validation: reference validation, then signature validation). The signature over SignedInfo
 * stays valid when only the content changes, so these edits are caught by the digest alone: found
 * by mutation testing (verify.ts: the digest comparison turned off survived the whole mutation set).
 * Each edit is made AFTER an independent signer (xmlsec1 / samlsign) signed the document, and each
 * must be refused with signature_invalid, never issue a token for the edited identity.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId } from "../support/saml-builder.js";
import { KEYS, signWithSamlsign, signWithXmlsec1 } from "../support/independent-signers.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(async () => {
  await bridge?.close();
});

const now = (): Date => new Date(bridge.clock.now);
type Signer = "xmlsec1" | "samlsign";
const sign = (xml: string, id: string, signer: Signer): string =>
  signer === "xmlsec1" ? signWithXmlsec1(xml, id, { key: KEYS.idp1 }) : signWithSamlsign(xml, id, { key: KEYS.idp1 });

/** Edits of the signed content that keep the document well-formed and the SignedInfo untouched. */
const EDITS: [string, (xml: string) => string][] = [
  ["NameID text", (x) => x.replace(/alice@example\.com/g, "mallory@example.com")],
  ["attribute value", (x) => x.replace(/>user</, ">admin<")],
  ["Audience", (x) => x.replace(/(<(?:saml:)?Audience>)([^<]*)</, "$1$2x<")],
  ["Conditions NotOnOrAfter pushed later", (x) => x.replace(/NotOnOrAfter="(\d{4})/, (_m, y: string) => `NotOnOrAfter="${Number(y) + 1}`)],
  ["one character of whitespace inside the NameID", (x) => x.replace(/alice@example\.com/, " alice@example.com")],
];

describe("content edited after signing is refused by the digest (signature_invalid)", () => {
  for (const signer of ["xmlsec1", "samlsign"] as const) {
    for (const [name, edit] of EDITS) {
      it(`${signer}, bare assertion: ${name}`, async () => {
        const id = randomSamlId("_a");
        const signed = sign(buildAssertion2({ id, now: now() }), id, signer);
        const edited = edit(signed);
        expect(edited, "the edit changed the document").not.toBe(signed);
        expectError(await exchange(bridge, { xml: edited, scope: "read" }), 400, "invalid_request", "signature_invalid");
      });
    }
  }

  for (const [name, edit] of EDITS) {
    it(`xmlsec1, an unsigned Response around the signed assertion: ${name}`, async () => {
      const id = randomSamlId("_a");
      const rid = randomSamlId("_r");
      const signed = buildResponse2(sign(buildAssertion2({ id, now: now() }), id, "xmlsec1"), { id: rid, now: now() });
      const edited = edit(signed);
      expect(edited).not.toBe(signed);
      expectError(await exchange(bridge, { xml: edited, scope: "read" }), 400, "invalid_request", "signature_invalid");
    });
  }

  it("control: the unedited documents are accepted (so the refusals above come from the edits)", async () => {
    const id = randomSamlId("_a");
    expect((await exchange(bridge, { xml: sign(buildAssertion2({ id, now: now() }), id, "samlsign"), scope: "read" })).status).toBe(200);
    const id2 = randomSamlId("_a");
    const rid = randomSamlId("_r");
    expect((await exchange(bridge, { xml: buildResponse2(sign(buildAssertion2({ id: id2, now: now() }), id2, "xmlsec1"), { id: rid, now: now() }), scope: "read" })).status).toBe(200);
  });
});
