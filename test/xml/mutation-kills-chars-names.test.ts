/**
 * Mutation testing (issue 8, docs/mutation-testing.md): the character rules (src/xml/xml-chars.ts)
 * and the namespace constraints (src/xml/namespaces.ts) of the pre-scan, called directly at each
 * range boundary, so that a moved bound or a dropped alternative fails here rather than only in a
 * differential run's random draw.
 */
import { describe, expect, it } from "vitest";
import { checkXmlChars, isXmlChar, qnameEnd, referenceEnd } from "../../src/xml/xml-chars.js";
import { PrefixScopes } from "../../src/xml/namespaces.js";
import { outcome } from "../support/outcome.js";

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

describe("isXmlChar: XML 1.0 §2.2 Char, every range edge", () => {
  it.each([
    [0x0, false], [0x8, false], [0x9, true], [0xa, true], [0xb, false], [0xc, false], [0xd, true], [0xe, false],
    [0x1f, false], [0x20, true], [0x7f, true], [0xd7ff, true], [0xd800, false], [0xdfff, false], [0xe000, true],
    [0xfffd, true], [0xfffe, false], [0xffff, false], [0x10000, true], [0x10ffff, true], [0x110000, false], [-1, false],
  ])("U+%s → %s", (cp, expected) => {
    expect(isXmlChar(cp)).toBe(expected);
  });
});

describe("checkXmlChars: raw characters of the document", () => {
  it.each([
    ["TAB, LF, CR", "a\t\n\rb"], ["space and tilde", " ~"], ["U+007F..U+009F (allowed by §2.2)", "\u007f\u0085\u009f"],
    ["U+D7FF", "\ud7ff"], ["U+E000", "\ue000"], ["U+FFFD", "\ufffd"], ["a surrogate pair (U+1F600)", "😀"],
    ["U+10000", "\u{10000}"], ["U+10FFFF", "\u{10ffff}"], ["empty", ""],
  ])("accepts %s", (_what, text) => {
    expect(outcome(() => checkXmlChars(`<a>${text}</a>`))).toBe("accepted");
  });
  it.each([
    ["NUL", "\u0000"], ["U+0008", "\u0008"], ["U+000B", "\u000b"], ["U+000C", "\u000c"], ["U+000E", "\u000e"], ["U+001F", "\u001f"],
    ["a lone high surrogate", "\ud800"], ["a lone low surrogate", "\udfff"], ["U+FFFE", "\ufffe"], ["U+FFFF", "\uffff"],
  ])("refuses %s anywhere in the text", (_what, ch) => {
    expect(outcome(() => checkXmlChars(`<a>${ch}</a>`))).toBe("xml_malformed");
    expect(outcome(() => checkXmlChars(`<a b="x"/>${"y".repeat(100)}${ch}`))).toBe("xml_malformed");
  });
});

describe("qnameEnd: a QName starting exactly at i (sticky), at most one colon, neither first nor last", () => {
  it.each([
    ["abc", 0, 3], ["p:a", 0, 3], ["a:b:c", 0, 3], ["a:", 0, 1], [":a", 0, -1], ["1a", 0, -1], ["a1", 0, 2],
    ["a-b.c_d", 0, 7], ["-a", 0, -1], [".a", 0, -1], ["_a", 0, 2], ["é", 0, 1], ["a\u00b7", 0, 2], ["\u00b7a", 0, -1],
    ["a\u0300", 0, 2], ["\u0300a", 0, -1], ["a b", 0, 1], [" ab", 0, -1], ["<ab>", 1, 3], ["<p:ab c", 1, 5], ["ab", 2, -1],
    ["x y", 1, -1], ["a\u00d7", 0, 1], ["\u00d7", 0, -1], ["\u00c0", 0, 1], ["a:\u00b7", 0, 1], ["p:1", 0, 1],
  ])("%j from %i → %i", (text, i, end) => {
    expect(qnameEnd(text, i)).toBe(end);
  });
});

describe("referenceEnd: character references name a legal Char; only the five predefined entities", () => {
  it.each([
    ["&#65;", 0, 5], ["&#x41;", 0, 6], ["&#xa;", 0, 5], ["&#xA;", 0, 5], ["&#x4a;", 0, 6], ["&#x4A;", 0, 6], ["&#9;", 0, 4],
    ["&#32;", 0, 5], ["&#x1F600;", 0, 9], ["&#x1f600;", 0, 9], ["&#00000065;", 0, 11], ["&#x0010FFFF;", 0, 12],
    ["&#1114111;", 0, 10], ["&#xFFFD;", 0, 8], ["&#xE000;", 0, 8], ["&#xD7FF;", 0, 8], ["&#x10000;", 0, 9],
    ["&lt;", 0, 4], ["&gt;", 0, 4], ["&amp;", 0, 5], ["&quot;", 0, 6], ["&apos;", 0, 6], ["x&lt;y", 1, 5], ["ab&#65;", 2, 7],
    ["&#x20;", 0, 6], ["&#xd;", 0, 5], ["&#13;", 0, 5], ["&#10;", 0, 5],
  ])("%j at %i → %i", (text, i, end) => {
    expect(referenceEnd(text, i)).toBe(end);
  });
  it.each([
    "&#;", "&#x;", "&#65", "&#x41", "&#X41;", "&#6a;", "&#xG;", "&# 65;", "&#000000065;", "&#x000000041;", "&#x00110000;",
    "&#1114112;", "&#0;", "&#x0;", "&#8;", "&#x1f;", "&#31;", "&#xD800;", "&#xdfff;", "&#55296;", "&#xFFFE;", "&#xfffe;",
    "&#65534;", "&#xFFFF;", "&#11;", "&#xB;", "&#xC;", "&#14;",
    // a letter past f/F after a real hex digit (read as 16+ it would make a legal code point: 0x2g → 48)
    "&#x2g;", "&#x2G;", "&#x4z;", "&#x4Z;", "&#x2`;", "&#x2@;",
    "&nbsp;", "&lt", "&Lt;", "&LT;", "&a;", "&ltx;", "&amp", "&;", "&", "&lt ;", "& lt;", "&quotx;", "&aposx;",
  ])("%j → xml_malformed", (text) => {
    expect(outcome(() => referenceEnd(text, 0))).toBe("xml_malformed");
  });
  it("reads from i, not from the start of the text", () => {
    expect(referenceEnd("&nbsp;&amp;", 6)).toBe(11);
    expect(outcome(() => referenceEnd("&amp;&nbsp;", 5))).toBe("xml_malformed");
    expect(referenceEnd("&#X;&#65;", 4)).toBe(9);
  });
});

describe("PrefixScopes: Namespaces in XML 1.0 §3 and §5", () => {
  const a = (name: string, value: string) => ({ name, value });
  const check = (s: PrefixScopes, name: string, attrs: { name: string; value: string }[] = []) => outcome(() => s.check(name, attrs));

  it.each([
    ["a default namespace", [a("xmlns", "urn:x")]],
    ["undeclaring the default namespace", [a("xmlns", "")]],
    ["xml bound to its own name", [a("xmlns:xml", XML_NS)]],
    ["a prefix", [a("xmlns:p", "urn:x")]],
    ["an ordinary attribute", [a("b", "1")]],
    ["xml:lang (xml is always bound)", [a("xml:lang", "en")]],
  ])("accepts %s", (_what, attrs) => {
    expect(check(new PrefixScopes(), "e", attrs)).toBe("accepted");
  });

  it.each([
    ["the XML namespace as default", [a("xmlns", XML_NS)]],
    ["the xmlns namespace as default", [a("xmlns", XMLNS_NS)]],
    ["undeclaring a prefix", [a("xmlns:p", "")]],
    ["declaring xmlns", [a("xmlns:xmlns", "urn:x")]],
    ["declaring xmlns to its own name", [a("xmlns:xmlns", XMLNS_NS)]],
    ["xml bound elsewhere", [a("xmlns:xml", "urn:x")]],
    ["another prefix bound to the XML namespace", [a("xmlns:p", XML_NS)]],
    ["a prefix bound to the xmlns namespace", [a("xmlns:p", XMLNS_NS)]],
    ["an attribute with an undeclared prefix", [a("p:b", "1")]],
    ["an attribute with an undeclared prefix after a declaration of another", [a("xmlns:q", "urn:q"), a("p:b", "1")]],
  ])("refuses %s", (_what, attrs) => {
    expect(check(new PrefixScopes(), "e", attrs)).toBe("xml_malformed");
  });

  it("returns the prefixes declared (in order), or undefined when none", () => {
    const s = new PrefixScopes();
    expect(s.check("e", [a("xmlns:p", "urn:p"), a("b", "1"), a("xmlns", "urn:d"), a("xmlns:q", "urn:q")])).toEqual(["p", "q"]);
    expect(s.check("e", [a("b", "1"), a("xmlns", "urn:d")])).toBeUndefined();
    expect(s.check("e", [])).toBeUndefined();
  });

  it("a prefixed element name needs its prefix declared on itself or an open ancestor", () => {
    const s = new PrefixScopes();
    expect(check(s, "p:e")).toBe("xml_malformed");
    expect(check(s, "p:e", [a("xmlns:p", "urn:p")])).toBe("accepted");
    expect(check(s, "xml:e")).toBe("accepted");
    expect(check(s, "xmlns:e")).toBe("xml_malformed");
    s.push(["p"]);
    s.push(undefined);
    s.push(["q", "r"]);
    expect(check(s, "p:e")).toBe("accepted"); // outermost frame (index 0)
    expect(check(s, "r:e", [a("p:x", "1"), a("q:y", "2")])).toBe("accepted");
    expect(check(s, "s:e")).toBe("xml_malformed");
    s.pop();
    expect(check(s, "q:e")).toBe("xml_malformed");
    expect(check(s, "p:e")).toBe("accepted");
    s.pop();
    s.pop();
    expect(check(s, "p:e")).toBe("xml_malformed");
  });

  it("a name starting with a colon has the empty prefix, which nothing declares (the pre-scan's QName rule refuses it first)", () => {
    expect(check(new PrefixScopes(), ":e")).toBe("xml_malformed");
    expect(check(new PrefixScopes(), "e", [a(":b", "1")])).toBe("xml_malformed");
  });

  it("a declaration on the element covers its own attributes, and a sibling's declaration does not carry over", () => {
    const s = new PrefixScopes();
    s.push(s.check("root", []));
    expect(check(s, "e", [a("p:b", "1"), a("xmlns:p", "urn:p")])).toBe("accepted");
    expect(check(s, "f", [a("p:b", "1")])).toBe("xml_malformed");
  });
});
