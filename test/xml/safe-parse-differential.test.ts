/**
 * Issue 9 differential test: generated documents, well-formed and mutated (stray and mismatched
 * end tags, quotes in end tags, comments, CDATA, processing instructions, deep nesting,
 * attributes, references, control characters), go to the pre-scan and to xmldom's strict parse.
 * Whenever the pre-scan accepts, xmldom must build a document with exactly the elements and depth
 * the pre-scan counted (and no more nodes); well-formed generated documents must be accepted.
 *
 * Runs: FUZZ_RUNS (default 2,000 per property; `npm run fuzz -- --runs N` for a long run).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOAuthError } from "../../src/oauth/errors.js";
import { checkDomBounds, parseXmlStrict, prescanXml, type XmlLimits, type XmlShape } from "../../src/xml/safe-parse.js";
import { walkTree } from "../../src/xml/dom.js";
import { fuzzRuns } from "../fuzz/runs.js";

const ROOMY: XmlLimits = { maxDepth: 64, maxElements: 10_000, maxNodes: 100_000, maxAttributesPerElement: 16 };
const TIGHT: XmlLimits = { maxDepth: 6, maxElements: 12, maxNodes: 40, maxAttributesPerElement: 3, maxElementNames: 4 };
const RUNS = fuzzRuns(2_000);

// ---------------------------------------------------------------------------------------------
// Well-formed documents
// ---------------------------------------------------------------------------------------------

const NAMES = ["a", "b", "p:c", "x-y.z", "_u", "é", "q:d"];
const ATTR_NAMES = ["i", "j", "k", "p:l", "xml:lang", "xmlns", "xmlns:p", "xmlns:r", "ID"];
const TEXT_PIECES = ["x", "yz", " ", "\t", "\n", "\r\n", ">", '"', "'", "]x", "é", "😀", "&lt;", "&gt;", "&amp;", "&quot;", "&apos;", "&#65;", "&#x1F600;", "&#x9;", "-"];
const ATTR_VALUE_PIECES = TEXT_PIECES.filter((p) => p !== '"');

// No piece ends in "]", so no concatenation of text runs forms "]]>" (§2.4).
const text = fc.array(fc.constantFrom(...TEXT_PIECES), { minLength: 1, maxLength: 6 }).map((a) => a.join(""));
const attrValue = fc.array(fc.constantFrom(...ATTR_VALUE_PIECES), { maxLength: 5 }).map((a) => a.join(""));
const space = fc.constantFrom(" ", "\n", "\t", "  ", "\r\n");
const attributes = fc.uniqueArray(fc.constantFrom(...ATTR_NAMES), { maxLength: 4 })
  .chain((names) => fc.tuple(...names.map((n) => fc.tuple(fc.constant(n), attrValue, space, fc.boolean()))))
  // A prefix is never bound to "" (Namespaces in XML 1.0 §3): declarations get a non-empty value.
  .map((list) => list.map(([n, v, s, padEq]) => `${s}${n}${padEq ? " = " : "="}"${n.startsWith("xmlns:") ? `urn:${v}` : v}"`).join(""));

const { element } = fc.letrec<{ element: string; node: string }>((tie) => ({
  element: fc.tuple(fc.constantFrom(...NAMES), attributes, fc.array(tie("node"), { maxLength: 5 }), fc.boolean(), space)
    .map(([name, attrs, kids, selfClose, tagSpace]) =>
      kids.length === 0 && selfClose ? `<${name}${attrs}${tagSpace}/>` : `<${name}${attrs}>${kids.join("")}</${name}>`),
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    text,
    tie("element"),
    fc.constantFrom("<!---->", "<!-- c -->", "<!-- > < & -->", "<![CDATA[]]>", "<![CDATA[<x> & ]] >]]>"),
  ),
}));

const prolog = fc.constantFrom("", `<?xml version="1.0"?>`, `<?xml version="1.0" encoding="UTF-8"?>\n`, "<!-- head -->\n", "\n");
const epilog = fc.constantFrom("", "\n", "<!-- tail -->", " \n<!---->");
/** The root declares the prefixes the generated names use (p, q), so every name has a namespace. */
const wellFormed = fc.tuple(prolog, element, epilog).map(([p, e, t]) => `${p}<root xmlns:p="urn:p" xmlns:q="urn:q">${e}</root>${t}`);

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

const NASTY = [
  "</x>", "</a>", "</b>", "</>", `</x">`, `</x"`, `">`, `"`, "'", "</a '>", "</b c='1'>", "<!--", "-->", "<!-- ", "<![CDATA[", "]]>",
  "<?pi x?>", "<?xml version=\"1.0\"?>", "<!DOCTYPE a>", "<!ENTITY e 'x'>", "&#0;", "&#xD800;", "&#xFFFE;", "&#x110000;", "&foo;", "&", "&#", "&lt",
  "\x04", "\x01", "\x1F", "\uFFFF", "\uD800", "<", ">", "/>", "=", ` b="1"`, " b=1", "<a>", "<b/>", "<p:c>", "</p:c>", "<x:y xmlns:x=''>",
  "\uFEFF", "--", "-", "/", "\r", "<:a>", "<a:>", "<a::b>", "</a >", "</b\n>",
];

type Mutation = (s: string) => string;
const at = (s: string, f: number): number => Math.floor(f * (s.length + 1));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom(...NASTY))
    .map(([f, tok]): Mutation => (s) => s.slice(0, at(s, f)) + tok + s.slice(at(s, f))),
  fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 12 }))
    .map(([f, len]): Mutation => (s) => s.slice(0, at(s, f)) + s.slice(at(s, f) + len)),
  fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 20 }))
    .map(([f, g, len]): Mutation => (s) => s.slice(0, at(s, f)) + s.slice(at(s, g), at(s, g) + len) + s.slice(at(s, f))),
  fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 90 }), fc.boolean())
    .map(([f, depth, stray]): Mutation => (s) => s.slice(0, at(s, f)) + (stray ? "</n>".repeat(depth) : "") + "<n>".repeat(depth) + "</n>".repeat(depth) + s.slice(at(s, f))),
);
const mutated = fc.tuple(wellFormed, fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([doc, ms]) => ms.reduce((s, m) => m(s), doc));

// ---------------------------------------------------------------------------------------------
// Oracles
// ---------------------------------------------------------------------------------------------

function scan(xml: string, limits: XmlLimits): XmlShape | string {
  try {
    return prescanXml(xml, limits);
  } catch (e) {
    if (isOAuthError(e)) return e.reason;
    throw e;
  }
}

/** Elements, depth and nodes (attributes included) of the DOM xmldom built. */
function domShape(doc: Document): XmlShape {
  let elements = 0;
  let depth = 0;
  let nodes = 0;
  walkTree(doc, (n, d) => {
    if (d === 0) return;
    nodes++;
    if (n.nodeType === 1) {
      elements++;
      depth = Math.max(depth, d);
      nodes += (n as Element).attributes.length;
    }
  });
  return { elements, depth, nodes };
}

/** The property: the pre-scan refuses, or xmldom's strict parse builds exactly what it counted. */
function agree(xml: string, limits: XmlLimits): void {
  const shape = scan(xml, limits);
  if (typeof shape === "string") {
    expect(["xml_malformed", "xml_doctype_forbidden", "xml_too_deep", "xml_too_complex"]).toContain(shape);
    return;
  }
  const doc = parseXmlStrict(xml); // throws (fails the property) if xmldom disagrees on well-formedness
  const dom = domShape(doc);
  expect(dom.elements).toBe(shape.elements);
  expect(dom.depth).toBe(shape.depth);
  expect(dom.nodes).toBeLessThanOrEqual(shape.nodes);
  checkDomBounds(doc, limits); // the DOM passes the same limits
}

describe("pre-scan vs xmldom (fast-check differential)", () => {
  it("well-formed generated documents are accepted, and xmldom builds exactly what the pre-scan counted", () => {
    fc.assert(fc.property(wellFormed, (xml) => {
      const shape = scan(xml, ROOMY);
      expect(typeof shape === "string" ? shape : "accepted").toBe("accepted");
      agree(xml, ROOMY);
    }), { numRuns: RUNS });
  });

  it("mutated documents: the pre-scan refuses or agrees with xmldom (roomy limits)", () => {
    fc.assert(fc.property(mutated, (xml) => agree(xml, ROOMY)), { numRuns: RUNS });
  });

  it("mutated documents under tight limits: whatever the pre-scan lets through stays within them on the DOM", () => {
    fc.assert(fc.property(fc.oneof(mutated, wellFormed), (xml) => agree(xml, TIGHT)), { numRuns: RUNS });
  });

  it("the mutations do reach both verdicts (the generator is not vacuous)", () => {
    const verdicts = new Set<string>();
    fc.assert(fc.property(mutated, (xml) => {
      const s = scan(xml, ROOMY);
      verdicts.add(typeof s === "string" ? s : "accepted");
    }), { numRuns: 2_000 });
    expect([...verdicts]).toEqual(expect.arrayContaining(["accepted", "xml_malformed", "xml_doctype_forbidden", "xml_too_deep"]));
  });
});
