import { DOMParser } from "@xmldom/xmldom";
import { refuse } from "../oauth/errors.js";

export interface XmlLimits {
  /** Deepest element nesting accepted (SAML needs about 10; catalogue C6). */
  maxDepth: number;
  /** Most elements accepted in one document (catalogue C8). */
  maxElements: number;
}

/**
 * A linear pre-scan run before the DOM parser, so hostile shapes cost O(n) and never reach xmldom:
 * any DOCTYPE (XXE, entity expansion, ATTLIST namespace tricks, parser differentials: catalogue
 * B22–B24, C1–C3), processing instructions other than the XML declaration, excessive depth and
 * element count. It tracks quotes inside tags, comments and CDATA, so a `>` in an attribute value
 * cannot desynchronise it.
 */
export function prescanXml(text: string, limits: XmlLimits): void {
  let depth = 0;
  let elements = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf("<", i);
    if (lt < 0) break;
    const next = text[lt + 1];
    if (next === "!") {
      if (text.startsWith("<!--", lt)) {
        const end = text.indexOf("-->", lt + 4);
        if (end < 0) throw refuse("xml_malformed");
        i = end + 3;
        continue;
      }
      if (text.startsWith("<![CDATA[", lt)) {
        const end = text.indexOf("]]>", lt + 9);
        if (end < 0) throw refuse("xml_malformed");
        i = end + 3;
        continue;
      }
      // <!DOCTYPE, <!ENTITY, <!ATTLIST or anything else declarative.
      throw refuse("xml_doctype_forbidden");
    }
    if (next === "?") {
      const end = text.indexOf("?>", lt + 2);
      if (end < 0) throw refuse("xml_malformed");
      // Only the XML declaration, and only at the very start (after an optional BOM).
      const atStart = text.slice(0, lt).replace(/^\uFEFF/, "") === "";
      if (!atStart || !/^<\?xml[\s?]/.test(text.slice(lt, lt + 6))) throw refuse("xml_malformed");
      i = end + 2;
      continue;
    }
    // Element start or end tag: find its '>' outside quotes.
    let j = lt + 1;
    let quote: string | null = null;
    for (; j < n; j++) {
      const c = text[j];
      if (quote) {
        if (c === quote) quote = null;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (c === ">") {
        break;
      }
    }
    if (j >= n) throw refuse("xml_malformed");
    if (next === "/") {
      depth--;
    } else if (text[j - 1] !== "/") {
      depth++;
      elements++;
      if (depth > limits.maxDepth) throw refuse("xml_too_deep");
    } else {
      elements++;
    }
    if (elements > limits.maxElements) throw refuse("xml_too_complex");
    i = j + 1;
  }
}

/**
 * Parse with xmldom such that every warning, error and fatal error throws (catalogue B11: a
 * second root element must be an error, not a warning that leaves half a document).
 */
export function parseXmlStrict(text: string): Document {
  const fail = (): never => {
    throw refuse("xml_malformed");
  };
  let doc: Document;
  try {
    doc = new DOMParser({
      locator: {},
      errorHandler: { warning: fail, error: fail, fatalError: fail },
    }).parseFromString(text, "text/xml") as unknown as Document;
  } catch {
    throw refuse("xml_malformed");
  }
  const root = doc?.documentElement;
  if (!root) throw refuse("xml_malformed");
  // Exactly one root element; no stray text/elements beside it.
  for (let c = doc.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 1 && c !== root) throw refuse("xml_malformed");
    if (c.nodeType === 10) throw refuse("xml_doctype_forbidden");
  }
  return doc;
}

/** The whole safe path: limits first, then the strict parser. */
export function parseUntrustedXml(text: string, limits: XmlLimits): Document {
  prescanXml(text, limits);
  return parseXmlStrict(text);
}
