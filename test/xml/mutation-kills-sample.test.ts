/**
 * Mutation testing (issue 8, docs/mutation-testing.md, "Sampled runs"): the no-coverage mutants of
 * the sampled src/xml run (scripts/mutation-sample.mjs, seed 20261205, 15 %), called directly.
 */
import { DOMParser } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import { ancestorNamespaces, canonicalize } from "../../src/xml/dsig/c14n.js";
import { checkDomBounds, parseUntrustedXml, parseXmlStrict, prescanXml } from "../../src/xml/safe-parse.js";
import { outcome } from "../support/outcome.js";

const LIMITS = { maxDepth: 48, maxElements: 2000 };
const lax = (xml: string): Document => new DOMParser().parseFromString(xml, "text/xml") as unknown as Document;
const byLocalName = (doc: Document, name: string): Element => doc.getElementsByTagNameNS("*", name)[0]! as Element;

describe("c14n.ts:305 ancestorNamespaces: an undeclaration (xmlns=\"\") is never a binding, and hides the farther default", () => {
  it.each([
    ['<r xmlns="urn:a"><m xmlns=""><p:e xmlns:p="urn:p"/></m></r>', []],
    ['<r xmlns="urn:a" xmlns:q="urn:q"><m xmlns=""><p:e xmlns:p="urn:p"/></m></r>', [{ prefix: "q", namespaceURI: "urn:q" }]],
    ['<m xmlns=""><p:e xmlns:p="urn:p"/></m>', []],
    // Control: without the undeclaration the default namespace is inherited.
    ['<r xmlns="urn:a"><m><p:e xmlns:p="urn:p"/></m></r>', [{ prefix: "", namespaceURI: "urn:a" }]],
  ])("%s → %j", (xml, expected) => {
    expect(ancestorNamespaces(byLocalName(lax(xml), "e"))).toEqual(expected);
  });
});

describe("safe-parse.ts:268, :332 a DOCTYPE that reaches the DOM checks is xml_doctype_forbidden (not xml_malformed)", () => {
  it("parseXmlStrict (the pre-scan refuses a DOCTYPE first on the token path; the strict parser on its own too)", () => {
    expect(outcome(() => parseXmlStrict("<!DOCTYPE x><x/>"))).toBe("xml_doctype_forbidden");
    expect(outcome(() => parseXmlStrict('<?xml version="1.0"?>\n<!DOCTYPE x [<!ELEMENT x ANY>]>\n<x/>'))).toBe("xml_doctype_forbidden");
    expect(outcome(() => parseXmlStrict("<x/>"))).toBe("accepted");
  });

  it("checkDomBounds on a DOM another parser built with a DOCTYPE", () => {
    expect(outcome(() => checkDomBounds(lax("<!DOCTYPE x><x/>"), LIMITS))).toBe("xml_doctype_forbidden");
    expect(outcome(() => checkDomBounds(lax("<x/>"), LIMITS))).toBe("accepted");
  });
});

describe("safe-parse.ts:268 a document without a root element is xml_malformed (xmldom reports nothing for these)", () => {
  it.each([" ", "\n", "<!-- only a comment -->", '<?xml version="1.0"?>', "text", '<?xml version="1.0"?><!-- c -->'])("%j → xml_malformed", (text) => {
    expect(outcome(() => parseXmlStrict(text))).toBe("xml_malformed");
  });
});

describe("safe-parse.ts:332 checkDomBounds: a node kind the strict parser never builds is xml_malformed", () => {
  it("an entity reference node in a DOM built elsewhere", () => {
    const doc = lax("<x><y/></x>");
    (doc.documentElement!.firstChild as Element).appendChild((doc as unknown as { createEntityReference(n: string): Node }).createEntityReference("ent"));
    expect(outcome(() => checkDomBounds(doc, LIMITS))).toBe("xml_malformed");
    expect(outcome(() => checkDomBounds(lax("<x><y/></x>"), LIMITS))).toBe("accepted");
  });
});

describe("safe-parse.ts:142 the pre-scan: a CDATA section that never ends is xml_malformed", () => {
  it.each(["<a><![CDATA[x</a>", "<a>text<![CDATA[</a>", "<a><b/><![CDATA[]]</a>", "<a><![CDATA["])("%j → xml_malformed", (text) => {
    expect(outcome(() => prescanXml(text, LIMITS))).toBe("xml_malformed");
    expect(outcome(() => parseUntrustedXml(text, LIMITS))).toBe("xml_malformed");
  });

  it("control: a closed one, also containing \"]]\" and \"<\"", () => {
    expect(outcome(() => parseUntrustedXml("<a><![CDATA[x]] < y]]></a>", LIMITS))).toBe("accepted");
  });
});

describe("c14n.ts:292/:301 ancestorNamespaces: the element's own default declaration; only xmlns attributes are declarations", () => {
  it.each([
    ['<r xmlns="urn:a"><p:e xmlns:p="urn:p" xmlns="urn:b"/></r>', []],
    ['<r xmlns:q="urn:q" myxmlns="urn:x" data-xmlns:y="urn:y" xmlns:d="urn:d"><e/></r>', [{ prefix: "q", namespaceURI: "urn:q" }, { prefix: "d", namespaceURI: "urn:d" }]],
  ])("%s → %j", (xml, expected) => {
    expect(ancestorNamespaces(byLocalName(lax(xml), "e"))).toEqual(expected);
  });
});

describe("c14n.ts:66 a prefix redeclared in a child is bound again to the outer URI after the child closes", () => {
  it("inclusive C14N: <p:d> after </b> needs no declaration of its own", () => {
    const doc = lax('<a xmlns:p="urn:one"><b xmlns:p="urn:two"><p:c/></b><p:d/></a>');
    const out = canonicalize(doc.documentElement!, { mode: "inclusive", withComments: false });
    expect(out).toContain('<p:d></p:d>');
    expect(out.match(/xmlns:p="urn:one"/g)).toHaveLength(1);
  });
});
