/**
 * Issue 9: the limits are checked again on the DOM xmldom built, so a document on which the
 * pre-scan and xmldom disagree can never carry past the bounds. Each DOM here is built by xmldom
 * from a text the pre-scan refuses, i.e. the case where the two parsers disagree.
 */
import { DOMParser } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import { checkDomBounds, prescanXml, type XmlLimits } from "../../src/xml/safe-parse.js";
import { descendantElements, walkTree } from "../../src/xml/dom.js";
import { outcome } from "../support/outcome.js";

const LIMITS: XmlLimits = { maxDepth: 16, maxElements: 200, maxNodes: 1_000, maxAttributesPerElement: 16 };

/** xmldom's own (lenient) reading of the text: what would reach the code if the pre-scan agreed. */
function lenientDom(xml: string): Document {
  return new DOMParser({ errorHandler: { warning: () => {}, error: () => {}, fatalError: () => {} } })
    .parseFromString(xml, "text/xml") as unknown as Document;
}

const reason = outcome;

const nest = (depth: number): string => "<n>".repeat(depth) + "</n>".repeat(depth);

describe("checkDomBounds: the DOM is bounded whatever the pre-scan concluded", () => {
  it.each([
    ["a DOCTYPE hidden in a quoted end tag", `<a></x"><!DOCTYPE x>"></a>`, "xml_doctype_forbidden"],
    ["a processing instruction hidden in a quoted end tag", `<a></x"><?evil x?>"></a>`, "xml_malformed"],
    ["a processing instruction hidden behind `</>`", `<a></><!-- ><?evil x?> --></a>`, "xml_malformed"],
    ["elements hidden in a quoted end tag", `<a></x"${"<b/>".repeat(300)}"></a>`, "xml_too_complex"],
    ["depth hidden by stray end tags", `<a>${"</z>".repeat(20)}${nest(20)}</a>`, "xml_too_deep"],
    ["text beside the root", `<a>x</a>text`, "xml_malformed"],
    ["an undeclared element prefix", `<a><x:b/></a>`, "xml_malformed"],
    ["an undeclared attribute prefix", `<a x:y="1"/>`, "xml_malformed"],
    ["a prefix bound to \"\"", `<a xmlns:p=""><p:b/></a>`, "xml_malformed"],
    ["comments past maxNodes", `<a>${"<!---->".repeat(1_100)}</a>`, "xml_too_complex"],
    ["attributes past maxAttributesPerElement", `<a ${Array.from({ length: 17 }, (_, i) => `b${i}="x"`).join(" ")}/>`, "xml_too_complex"],
    ["distinct element names hidden in a quoted end tag", `<a></x"${Array.from({ length: 130 }, (_, i) => `<n${i}/>`).join("")}"></a>`, "xml_too_complex"],
    ["namespace declarations past maxAttributesPerElement", `<a ${Array.from({ length: 17 }, (_, i) => `xmlns:p${i}="urn:${i}"`).join(" ")}/>`, "xml_too_complex"],
  ])("%s → %s", (_what, xml, expected) => {
    expect(reason(() => prescanXml(xml, LIMITS))).not.toBe("accepted");
    expect(reason(() => checkDomBounds(lenientDom(xml), LIMITS))).toBe(expected);
  });

  it("a 20,000-deep DOM is refused without overflowing the stack", () => {
    const doc = lenientDom(nest(20_000));
    expect(reason(() => checkDomBounds(doc, { maxDepth: 48, maxElements: 100_000 }))).toBe("xml_too_deep");
  });

  it("counts match the pre-scan's on an agreeing document", () => {
    const xml = `<?xml version="1.0"?><!--c--><a x="1"><b y="2">t&amp;u<![CDATA[z]]></b><c/></a>`;
    const scan = prescanXml(xml, LIMITS);
    const dom = checkDomBounds(lenientDom(xml), LIMITS);
    expect(dom.elements).toBe(scan.elements);
    expect(dom.depth).toBe(scan.depth);
    expect(dom.nodes).toBeLessThanOrEqual(scan.nodes);
  });
});

describe("walkTree: iterative, document order", () => {
  it("visits 100,000 levels (a recursive walk overflows) in document order with depths", () => {
    const doc = lenientDom(nest(100_000));
    let count = 0;
    let deepest = 0;
    walkTree(doc.documentElement!, (_n, d) => {
      count++;
      deepest = Math.max(deepest, d);
    });
    expect(count).toBe(100_000);
    expect(deepest).toBe(99_999);
  });

  it("pre-order, and false skips a subtree", () => {
    const doc = lenientDom(`<a><b><c/></b>t<d><e/></d></a>`);
    const seen: string[] = [];
    walkTree(doc.documentElement!, (n, d) => {
      seen.push(`${n.nodeName}@${d}`);
      return n.nodeName !== "d";
    });
    expect(seen).toEqual(["a@0", "b@1", "c@2", "#text@1", "d@1"]);
    expect(descendantElements(doc.documentElement!).map((e) => e.nodeName)).toEqual(["b", "c", "d", "e"]);
  });
});
