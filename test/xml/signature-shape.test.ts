/**
 * ds:Signature holds SignedInfo, SignatureValue and KeyInfo only, with each algorithm named once:
 * xml-crypto looks SignatureMethod, CanonicalizationMethod and SignatureValue up by local name
 * anywhere in the Signature, so a second one elsewhere must not exist (it could make xml-crypto
 * verify with an algorithm other than the one checked, e.g. an RSA URI with an EC key).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(() => bridge.close());

let n = 0;
function signed(): string {
  const id = `_shape${++n}_${Date.now()}`;
  return signWithXmlsec1(buildAssertion2({ id, now: new Date(bridge.clock.now) }), id, { key: KEYS.idp1 });
}
const insertBefore = (xml: string, anchor: RegExp, what: string): string => {
  const m = anchor.exec(xml);
  if (!m) throw new Error("anchor not found");
  return xml.slice(0, m.index) + what + xml.slice(m.index);
};

describe("ds:Signature shape", () => {
  it("control: the untouched signature verifies", async () => {
    expect((await exchange(bridge, { xml: signed() })).status).toBe(200);
  });

  it("a second SignatureMethod before SignedInfo → signature_invalid", async () => {
    const xml = insertBefore(signed(), /<ds:SignedInfo/, '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"/>');
    expectError(await exchange(bridge, { xml }), 400, "invalid_request", "signature_invalid");
  });

  it("a SignatureMethod hidden in KeyInfo → signature_invalid", async () => {
    const xml = insertBefore(signed(), /<\/ds:KeyInfo>/, '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"/>');
    expectError(await exchange(bridge, { xml }), 400, "invalid_request", "signature_invalid");
  });

  it("a second SignatureValue → signature_invalid", async () => {
    const xml = insertBefore(signed(), /<ds:KeyInfo/, "<ds:SignatureValue>AAAA</ds:SignatureValue>");
    expectError(await exchange(bridge, { xml }), 400, "invalid_request", "signature_invalid");
  });

  it("a ds:Object in the Signature → signature_invalid", async () => {
    const xml = insertBefore(signed(), /<\/ds:Signature>/, "<ds:Object/>");
    expectError(await exchange(bridge, { xml }), 400, "invalid_request", "signature_invalid");
  });

  it("an element of another namespace in the Signature → signature_invalid", async () => {
    const xml = insertBefore(signed(), /<\/ds:Signature>/, '<x:Extra xmlns:x="urn:x"/>');
    expectError(await exchange(bridge, { xml }), 400, "invalid_request", "signature_invalid");
  });
});

describe("subject identifiers", () => {
  it.each(["alice\u202e@example.com", "alice\u009b@example.com", "alice\u2028x"])("a NameID with control or bidi characters (%j) → subject_invalid", async (nameId) => {
    const id = `_nid${++n}_${Date.now()}`;
    const xml = signWithXmlsec1(buildAssertion2({ id, nameId, now: new Date(bridge.clock.now) }), id, { key: KEYS.idp1 });
    expectError(await exchange(bridge, { xml }), 400, "invalid_request", "subject_invalid");
  });
});
