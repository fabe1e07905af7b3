import { describe, expect, it } from "vitest";
import { parseUntrustedXml } from "../../src/xml/safe-parse.js";

const L = { maxDepth: 20, maxElements: 100 };
const XSI = "http://www.w3.org/2001/XMLSchema-instance";

function reason(xml: string): string {
  try {
    parseUntrustedXml(xml, L);
    return "accepted";
  } catch (e) {
    return (e as { reason?: string }).reason ?? String(e);
  }
}

/**
 * Namespaces in XML 1.0 §6.3: an element must not carry two attributes with the same expanded name
 * (namespace URI + local name). xmldom keeps both and getAttributeNS answers with one of them (the
 * SAML rules read xsi:nil that way); another parser may answer with the other or refuse.
 */
describe("review: attributes with one expanded name under two prefixes", () => {
  it.each([
    ["two prefixes, one URI, on the root", `<a xmlns:p="urn:x" xmlns:q="urn:x" p:b="1" q:b="2"/>`],
    ["xsi:nil twice through an alias prefix", `<r xmlns:xsi="${XSI}"><v xmlns:i="${XSI}" xsi:nil="false" i:nil="true">x</v></r>`],
    ["alias declared on an ancestor", `<r xmlns:p="urn:x"><c xmlns:q="urn:x" q:b="1" p:b="2"/></r>`],
    ["alias spelled with a character reference", `<a xmlns:p="urn:x" xmlns:q="urn:&#120;" p:b="1" q:b="2"/>`],
    ["xml: prefix and an alias bound to the XML namespace", `<a xml:lang="en" xmlns:x="http://www.w3.org/XML/1998/namespace" x:lang="de"/>`],
  ])("%s is refused", (_name, xml) => {
    expect(reason(xml)).toBe("xml_malformed");
  });

  it.each([
    ["same local name in two namespaces", `<a xmlns:p="urn:x" xmlns:q="urn:y" p:b="1" q:b="2"/>`],
    ["an unprefixed attribute beside a prefixed one of the same local name", `<a xmlns:p="urn:x" b="1" p:b="2"/>`],
    ["the same attribute on two elements", `<a xmlns:p="urn:x" p:b="1"><c xmlns:q="urn:x" q:b="2"/></a>`],
  ])("%s is still accepted", (_name, xml) => {
    expect(reason(xml)).toBe("accepted");
  });
});
