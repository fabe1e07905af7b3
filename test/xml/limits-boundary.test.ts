// The node bound is "at most maxNodes" (safe-parse.ts: refuse when a count goes past the limit):
// a document of exactly maxNodes nodes parses, one more is xml_too_complex. Counted by hand:
// one element plus k comments, k text nodes or k attributes.
import { describe, expect, it } from "vitest";
import { parseUntrustedXml, type XmlLimits } from "../../src/xml/safe-parse.js";
import { outcome } from "../support/outcome.js";

const limits = (maxNodes: number): XmlLimits => ({ maxDepth: 16, maxElements: 1_000, maxNodes, maxAttributesPerElement: 64 });

describe("maxNodes is inclusive", () => {
  it.each([
    ["an element and 40 comments", `<a>${"<!---->".repeat(40)}</a>`, 41],
    ["an element and 40 attributes", `<a ${Array.from({ length: 40 }, (_, i) => `b${i}="x"`).join(" ")}/>`, 41],
    ["21 elements", `<a>${"<b/>".repeat(20)}</a>`, 21],
  ])("%s: exactly the limit parses, one node less is refused", (_what, xml, count) => {
    expect(outcome(() => parseUntrustedXml(xml, limits(count)))).toBe("accepted");
    expect(outcome(() => parseUntrustedXml(xml, limits(count - 1)))).toBe("xml_too_complex");
  });
});
