/**
 * Issue 9: the pre-scan accepts only what xmldom builds, element by element, and every node kind
 * counts against the limits. Each table row is a shape the pre-scan of the previous build let
 * through (its quote tracking in end tags, its depth counter lowered by any end tag, its silence
 * on node kinds other than elements, characters and references), so each can fail.
 */
import { describe, expect, it } from "vitest";
import { bytesToXmlText } from "../../src/xml/token-encoding.js";
import { parseUntrustedXml, prescanXml, type XmlLimits } from "../../src/xml/safe-parse.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { prettyPrint } from "../support/saml1-builder.js";
import { outcome } from "../support/outcome.js";

const LIMITS: XmlLimits = { maxDepth: 16, maxElements: 200, maxNodes: 1_000, maxAttributesPerElement: 16 };


/**
 * The reason `xml` is refused with, or "accepted". The pre-scan on its own must reach the same
 * verdict as the whole safe path: a shape xmldom happens to refuse must not depend on xmldom.
 */
function verdict(xml: string, limits: XmlLimits = LIMITS): string {
  const alone = outcome(() => prescanXml(xml, limits));
  const whole = outcome(() => parseUntrustedXml(xml, limits));
  return alone === whole ? whole : `pre-scan ${alone}, parse ${whole}`;
}

const nest = (depth: number, inner = ""): string => "<n>".repeat(depth) + inner + "</n>".repeat(depth);

describe("end tags: the pre-scan and xmldom read the same tags", () => {
  it.each([
    ["a quoted `>` in an end tag hides a DOCTYPE from the pre-scan", `<a></x"><!DOCTYPE x>">"></a>`],
    ["a quoted `>` in an end tag hides a processing instruction", `<a></x"><?evil x?>"></a>`],
    ["a quoted `>` in an end tag hides elements", `<a></x'><b/><b/><b/>'></a>`],
    ["`</>` swallows a comment opener and hides a processing instruction", `<a></><!-- ><?evil x?> --></a>`],
    ["`</>` hides elements behind a comment opener", `<a></><!-- ><b/><b/> --></a>`],
    ["a stray end tag closing nothing", `<a><b/></x></a>`],
    ["a stray end tag of the root's own name inside a child", `<a><b></a></b></a>`],
    ["an end tag with an attribute", `<a><b></b c="1"></a>`],
    ["an end tag with a quoted string after the name", `<a><b></b"x"></a>`],
    ["an end tag of another element's name (mismatch)", `<a><b></c></a>`],
    ["end tag names compared exactly (case)", `<a><b></B></a>`],
    ["end tag with a prefix the start tag has not", `<a><b></p:b></a>`],
    ["whitespace before the end tag's name", `<a><b></ b></a>`],
    ["whitespace after the end tag's name (xmldom would read a later `<a>` as empty)", `<a><a></a><a></a ></a>`],
    ["a newline after the end tag's name", `<a><b></b\n></a>`],
  ])("%s → xml_malformed", (_what, xml) => {
    expect(verdict(xml)).toBe("xml_malformed");
  });

  it("stray end tags no longer lower the depth count: nesting past maxDepth is refused", () => {
    // 20 stray end tags then 20 levels: the old counter reached 0, xmldom builds 21 levels.
    const xml = `<a>${"</z>".repeat(20)}${nest(20)}</a>`;
    expect(verdict(xml)).not.toBe("accepted");
  });

  it("stray end tags no longer hide 6,000 levels (a recursive walk would overflow into a 500)", () => {
    const xml = `<a>${"</z>".repeat(6_000)}${nest(6_000)}</a>`;
    expect(verdict(xml, { maxDepth: 48, maxElements: 100_000, maxNodes: 200_000 })).not.toBe("accepted");
  });

  it("elements hidden in quoted end tags no longer bypass maxElements", () => {
    const xml = `<a></x"${"<b/>".repeat(500)}"></a>`;
    expect(verdict(xml)).not.toBe("accepted");
  });

  it.each([
    ["unclosed root", `<a><b></b>`],
    ["unclosed child", `<a><b></a>`],
    ["an end tag outside the root", `</x><a/>`],
    ["an end tag after the root", `<a/></a>`],
  ])("%s → xml_malformed", (_what, xml) => {
    expect(verdict(xml)).toBe("xml_malformed");
  });

  it.each([
    ["prefixed names", `<p:a xmlns:p="urn:x"><p:b/></p:a>`],
    ["`>` and quotes inside attribute values", `<a b="x>y" c='"'></a>`],
  ])("accepted: %s", (_what, xml) => {
    expect(verdict(xml)).toBe("accepted");
  });
});

describe("outside the root: whitespace and comments only", () => {
  it.each([
    ["text after the root", `<a>x</a>text`],
    ["text before the root", `text<a>x</a>`],
    ["a character reference after the root", `<a/>&#65;`],
    ["CDATA after the root", `<a/><![CDATA[x]]>`],
    ["an XML declaration without a version", `<?xml encoding="UTF-8"?><a/>`],
    ["an empty document", ``],
    ["only a comment", `<!-- x -->`],
  ])("%s → xml_malformed", (_what, xml) => {
    expect(verdict(xml)).toBe("xml_malformed");
  });

  it("accepted: BOM, declaration, comments and whitespace around the root", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<!-- c -->\n<a/>\n<!-- d -->\n`;
    expect(verdict(xml)).toBe("accepted");
    // parseUntrustedXml drops a leading BOM (an encoding signature) before both parsers.
    expect(outcome(() => parseUntrustedXml(`\uFEFF${xml}`, LIMITS))).toBe("accepted");
  });
});

describe("one byte order mark at most (XML 1.0 §4.3.3: a signature, not content)", () => {
  const doc = `<?xml version="1.0" encoding="UTF-8"?><a>x</a>`;
  it.each([
    ["two BOMs", `\uFEFF\uFEFF${doc}`],
    ["two BOMs before a bare root", `\uFEFF\uFEFF<a/>`],
    ["a BOM, white space, a BOM", `\uFEFF \uFEFF<a/>`],
    ["a BOM after the declaration's place, before the root", `\uFEFF\n\uFEFF<a/>`],
    ["three BOMs", `\uFEFF\uFEFF\uFEFF<a/>`],
  ])("text: %s → xml_malformed", (_what, text) => {
    expect(outcome(() => parseUntrustedXml(text, LIMITS))).toBe("xml_malformed");
  });

  it.each([
    ["two UTF-8 BOMs", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from(doc)])],
    ["a BOM and an encoded U+FEFF after white space", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(" \uFEFF<a/>")])],
  ])("bytes: %s → refused before any parser", (_what, bytes) => {
    expect(outcome(() => parseUntrustedXml(bytesToXmlText(bytes), LIMITS))).toBe("xml_malformed");
  });

  it("one BOM, as bytes or as text, is still accepted", () => {
    expect(outcome(() => parseUntrustedXml(bytesToXmlText(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc)])), LIMITS))).toBe("accepted");
    expect(outcome(() => parseUntrustedXml(`\uFEFF${doc}`, LIMITS))).toBe("accepted");
  });
});

describe("every node kind counts against the limits", () => {
  const small: XmlLimits = { maxDepth: 16, maxElements: 50, maxNodes: 200, maxAttributesPerElement: 8 };
  it.each([
    ["comments", `<a>${"<!---->".repeat(300)}</a>`],
    ["comments with text between them (text nodes)", `<a>${"x<!---->".repeat(150)}</a>`],
    ["CDATA sections", `<a>${"<![CDATA[x]]>".repeat(300)}</a>`],
    ["character references", `<a>${"&#65;".repeat(300)}</a>`],
    ["entity references", `<a>${"&amp;".repeat(300)}</a>`],
    ["references in attribute values", `<a b="${"&lt;".repeat(300)}"/>`],
    ["attributes across elements", `<a>${'<b c="1" d="2" e="3" f="4" g="5"/>'.repeat(40)}</a>`],
    ["comments after the root", `<a/>${"<!---->".repeat(300)}`],
  ])("%s over maxNodes → xml_too_complex", (_what, xml) => {
    expect(verdict(xml, small)).toBe("xml_too_complex");
  });

  it.each([
    ["attributes", `<a ${Array.from({ length: 9 }, (_, i) => `b${i}="x"`).join(" ")}/>`],
    ["namespace declarations", `<a ${Array.from({ length: 9 }, (_, i) => `xmlns:p${i}="urn:${i}"`).join(" ")}/>`],
    ["attributes and declarations together", `<a xmlns="urn:d" ${Array.from({ length: 4 }, (_, i) => `xmlns:p${i}="urn:${i}" b${i}="x"`).join(" ")}/>`],
  ])("more %s on one element than maxAttributesPerElement → xml_too_complex", (_what, xml) => {
    expect(verdict(xml, small)).toBe("xml_too_complex");
  });

  it.each([
    ["200 distinct empty-content names", `<a>${Array.from({ length: 200 }, (_, i) => `<n${i}></n${i}>`).join("")}</a>`],
    ["129 distinct self-closed names", `<a>${Array.from({ length: 128 }, (_, i) => `<n${i}/>`).join("")}</a>`],
    ["129 names told apart by their prefix only", `<a xmlns:p="urn:p">${Array.from({ length: 128 }, (_, i) => `<p${i}:n xmlns:p${i}="urn:x"/>`).join("")}</a>`],
  ])("%s (xmldom's work is distinct names × bytes) → xml_too_complex", (_what, xml) => {
    expect(verdict(xml, { maxDepth: 16, maxElements: 1_000, maxNodes: 10_000, maxAttributesPerElement: 16 })).toBe("xml_too_complex");
  });

  it("128 distinct names are accepted (a SAML token uses about 40)", () => {
    const xml = `<a>${Array.from({ length: 127 }, (_, i) => `<n${i}>x</n${i}>`).join("")}</a>`;
    expect(verdict(xml, { maxDepth: 16, maxElements: 1_000, maxNodes: 10_000, maxAttributesPerElement: 16 })).toBe("accepted");
  });

  it("a self-closing element past maxDepth counts as a level → xml_too_deep", () => {
    expect(verdict(nest(16, "<e/>"))).toBe("xml_too_deep");
    expect(verdict(nest(16))).toBe("accepted");
  });

  it("without maxNodes / maxAttributesPerElement the defaults still bound every kind", () => {
    const limits = { maxDepth: 16, maxElements: 10 };
    expect(verdict(`<a>${"<!---->".repeat(81)}</a>`, limits)).toBe("xml_too_complex");
    expect(verdict(`<a ${Array.from({ length: 33 }, (_, i) => `b${i}="x"`).join(" ")}/>`, limits)).toBe("xml_too_complex");
  });
});

describe("characters (XML 1.0 §2.2 Char) and references (§4.1, §4.6)", () => {
  it.each([
    ["\\x04 as an attribute separator", `<a b="1"\x04c="2"/>`],
    ["\\x04 after the element name", `<a\x04b="1"/>`],
    ["\\x01 in text", `<a>x\x01y</a>`],
    ["\\x1F in an attribute value", `<a b="\x1F"/>`],
    ["\\x0B (vertical tab) in text", `<a>\x0B</a>`],
    ["\\x0C (form feed) between attributes", `<a b="1"\x0Cc="2"/>`],
    ["\\x08 in a comment", `<a><!-- \x08 --></a>`],
    ["\\x7F is allowed, \\x1B is not", `<a>\x7F\x1B</a>`],
    ["a raw U+FFFE", `<a>\uFFFE</a>`],
    ["a raw U+FFFF", `<a>\uFFFF</a>`],
    ["a raw lone high surrogate", `<a>\uD800</a>`],
    ["a raw lone low surrogate in an attribute", `<a b="\uDC00"/>`],
  ])("raw %s → xml_malformed", (_what, xml) => {
    expect(verdict(xml)).toBe("xml_malformed");
  });

  it.each([
    "&#0;", "&#x0;", "&#x1;", "&#31;", "&#xB;", "&#xD800;", "&#xDFFF;", "&#55296;", "&#xFFFE;", "&#xFFFF;",
    "&#x110000;", "&#1114112;", "&#99999999999;", "&#x00000000041;", "&#X41;", "&#x;", "&#;", "&#x41", "&#65 ;",
  ])("character reference %s in text → xml_malformed", (ref) => {
    expect(verdict(`<a>${ref}</a>`)).toBe("xml_malformed");
  });

  it.each(["&#0;", "&#x1;", "&#xD800;", "&#xFFFF;", "&#x110000;"])("character reference %s in an attribute value → xml_malformed", (ref) => {
    expect(verdict(`<a b="${ref}"/>`)).toBe("xml_malformed");
  });

  it.each([
    ["a bare ampersand in text", `<a>a & b</a>`],
    ["a bare ampersand in an attribute", `<a b="a & b"/>`],
    ["a predefined entity without its semicolon", `<a>&lt</a>`],
    ["an undeclared entity", `<a>&nbsp;</a>`],
    ["an undeclared entity in an attribute", `<a b="&foo;"/>`],
    ["an upper-case predefined name", `<a>&LT;</a>`],
    ["`]]>` in text (§2.4)", `<a>x]]>y</a>`],
    ["`<` in an attribute value (§3.1)", `<a b="<"/>`],
    ["`--` inside a comment (§2.5)", `<a><!-- a -- b --></a>`],
    ["a comment ending in `--->`", `<a><!-- a ---></a>`],
    ["attributes without whitespace between them", `<a b="1"c="2"/>`],
    ["a duplicated attribute", `<a b="1" b="2"/>`],
  ])("%s → xml_malformed", (_what, xml) => {
    expect(verdict(xml)).toBe("xml_malformed");
  });

  it("accepted: every legal reference and raw TAB/LF/CR, astral and BMP characters", () => {
    expect(verdict(`<a b="&#x9;&#xA;&#xD;&quot;&apos;">\t\r\n&#x9;&#10;&#13;&#65;&#x1F600;&#x10FFFF;&#xE000;&#xFFFD;&lt;&gt;&amp;&quot;&apos;😀\u00A0\u0080</a>`)).toBe("accepted");
  });
});

describe("namespaces (Namespaces in XML 1.0 §3, §5)", () => {
  it.each([
    ["an undeclared element prefix", `<x:a/>`],
    ["an undeclared prefix on a child", `<a xmlns:p="urn:p"><q:b/></a>`],
    ["a prefix declared on a sibling only", `<a><b xmlns:p="urn:p"/><p:c/></a>`],
    ["a prefix used after its declaring element closed", `<a><b xmlns:p="urn:p"></b><p:c/></a>`],
    ["an undeclared attribute prefix", `<a x:y="1"/>`],
    ["prefix undeclaring (xmlns:p=\"\")", `<a xmlns:saml=""><saml:b/></a>`],
    ["prefix undeclaring on an unused prefix", `<a xmlns:p=""/>`],
    ["declaring the xmlns prefix", `<a xmlns:xmlns="urn:x"/>`],
    ["binding xml to another name", `<a xmlns:xml="urn:x"/>`],
    ["binding another prefix to the xml name", `<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>`],
    ["the xmlns name as the default namespace", `<a xmlns="http://www.w3.org/2000/xmlns/"/>`],
  ])("%s → xml_malformed", (_what, xml) => {
    expect(verdict(xml)).toBe("xml_malformed");
  });

  it.each([
    ["xml:lang without a declaration", `<a xml:lang="en"/>`],
    ["a prefix declared on the element itself", `<p:a xmlns:p="urn:p" p:b="1"/>`],
    ["a prefix declared on an ancestor", `<a xmlns:p="urn:p"><b><p:c p:d="1"/></b></a>`],
    ["undeclaring the default namespace", `<a xmlns="urn:d"><b xmlns=""/></a>`],
    ["xml bound to its own name", `<a xmlns:xml="http://www.w3.org/XML/1998/namespace"/>`],
  ])("accepted: %s", (_what, xml) => {
    expect(verdict(xml)).toBe("accepted");
  });
});

describe("real SAML passes the default limits", () => {
  const DEFAULTS: XmlLimits = { maxDepth: 48, maxElements: 2_000, maxNodes: 10_000, maxAttributesPerElement: 32 };
  it("an xmlsec1-signed assertion with 100 attribute values", () => {
    const attributes = Array.from({ length: 100 }, (_, i) => ({ name: `group${i}`, values: [`CN=Group ${i},OU=Groups,DC=corp,DC=example,DC=com`] }));
    const xml = signWithXmlsec1(buildAssertion2({ id: "_big", attributes }), "_big", { key: KEYS.idp1 });
    expect(verdict(xml, DEFAULTS)).toBe("accepted");
  });

  it("a pretty-printed, signed 128 KB assertion (870 typed attribute values) stays well under maxNodes", () => {
    const attributes = Array.from({ length: 29 }, (_, i) => ({
      name: `http://schemas.xmlsoap.org/claims/attr${i}`,
      values: Array.from({ length: 30 }, (_, j) => `CN=Group ${i}-${j},OU=Application Groups,OU=Corp,DC=corp,DC=example,DC=com`),
    }));
    const xml = signWithXmlsec1(prettyPrint(buildAssertion2({ id: "_huge", attributes })), "_huge", { key: KEYS.idp1 });
    expect(Buffer.byteLength(xml)).toBeGreaterThan(100_000);
    expect(Buffer.byteLength(xml)).toBeLessThan(131_072);
    expect(verdict(xml, DEFAULTS)).toBe("accepted");
    const shape = prescanXml(xml, DEFAULTS);
    expect(shape.nodes).toBeLessThan(DEFAULTS.maxNodes! * 0.75);
  });
});
