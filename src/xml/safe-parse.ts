import { DOMParser } from "@xmldom/xmldom";
import { refuse } from "../oauth/errors.js";
import { walkTree } from "./dom.js";
import { PrefixScopes } from "./namespaces.js";
import { checkXmlChars, qnameEnd, referenceEnd } from "./xml-chars.js";

export interface XmlLimits {
  /** Deepest element nesting accepted, the root element being depth 1 (SAML needs about 10; catalogue C6). */
  maxDepth: number;
  /** Most elements accepted in one document (catalogue C8). */
  maxElements: number;
  /**
   * Most nodes of every kind in one document: elements, attributes (namespace declarations
   * included), text runs, CDATA sections, comments, character and entity references and the XML
   * declaration. Each kind costs parser, canonicalization and digest work (issue 9: 15,894 comments
   * held the event loop for 27 s). Default: NODES_PER_ELEMENT × maxElements.
   */
  maxNodes?: number;
  /** Most attributes on one element, namespace declarations included. Default DEFAULT_MAX_ATTRIBUTES_PER_ELEMENT. */
  maxAttributesPerElement?: number;
  /** Most distinct element names (QNames) in one document. Default DEFAULT_MAX_ELEMENT_NAMES. */
  maxElementNames?: number;
}

/**
 * Real SAML carries two to four nodes per element (the element, an attribute or two, the text and
 * the indentation around it: a pretty-printed 128 KB assertion with 1,300 attribute values has
 * about 6,000); five leaves room for attribute-heavy IdPs while bounding the parser's work, which
 * is per node (xmldom: about 1 µs each, and xml-crypto parses the document again).
 */
export const NODES_PER_ELEMENT = 5;
/** A SAML Assertion carries about ten (ID, IssueInstant, Version and namespace declarations). */
export const DEFAULT_MAX_ATTRIBUTES_PER_ELEMENT = 32;
/**
 * xmldom searches the whole text backwards for the last `</name>` once per distinct element name
 * (sax.js fixSelfClosed), so its work is distinct names × document size: 2,000 names in 128 KB
 * cost 250 ms per parse, found by fuzzing (issue 9). A SAML token uses about 40 names (SAML,
 * XML-DSig, XML-Enc, with their prefixes), metadata fewer than 100.
 */
export const DEFAULT_MAX_ELEMENT_NAMES = 128;

function resolveLimits(l: XmlLimits): Required<XmlLimits> {
  return {
    maxDepth: l.maxDepth,
    maxElements: l.maxElements,
    maxNodes: l.maxNodes ?? NODES_PER_ELEMENT * l.maxElements,
    maxAttributesPerElement: l.maxAttributesPerElement ?? DEFAULT_MAX_ATTRIBUTES_PER_ELEMENT,
    maxElementNames: l.maxElementNames ?? DEFAULT_MAX_ELEMENT_NAMES,
  };
}

/** What the pre-scan saw: the DOM xmldom then builds has exactly these elements and this depth. */
export interface XmlShape {
  elements: number;
  /** Deepest element, the root being 1. */
  depth: number;
  /** Every node counted against maxNodes (an upper bound of the DOM's node count). */
  nodes: number;
}

/** XML 1.0 §2.3 S ::= (#x20 | #x9 | #xD | #xA)+ */
const isS = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** XML 1.0 §2.8 XMLDecl, only at the very start (parseUntrustedXml drops a BOM before). */
const XML_DECL = /<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.[0-9]+"|'1\.[0-9]+')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>/y;

const malformed = (): never => {
  throw refuse("xml_malformed");
};

/**
 * A linear well-formedness scan run before the DOM parser, accepting only documents xmldom builds
 * element for element as written, so hostile shapes cost O(n) and never reach xmldom (issue 9).
 *
 * It follows XML 1.0 (Fifth Edition) without a DTD: document ::= XMLDecl? Misc* element Misc*,
 * where Misc is whitespace or a comment (a byte order mark is dropped by the caller first).
 * Refused:
 * - any `<!DOCTYPE`/`<!ENTITY`/other declaration (xml_doctype_forbidden: XXE, entity expansion,
 *   ATTLIST tricks; catalogue B22–B24, C1–C3) and every processing instruction but the XML
 *   declaration at the very start;
 * - end tags that do not close the open element by its exact name (a stack of open names), end
 *   tags with anything after the name (`</>`, quotes, attributes, even whitespace: xmldom ends an
 *   end tag at the first `>` and drops an end tag that closes nothing, so such tags would hide
 *   markup from a scanner that reads them differently), unclosed elements, text or a second
 *   element outside the root;
 * - characters outside the Char production (§2.2: raw C0 controls but TAB/LF/CR, lone surrogates,
 *   U+FFFE/U+FFFF), character references to them (§4.1), entity references other than the five
 *   predefined (§4.6), `<` in attribute values and `]]>` in text (§2.4), `--` inside comments
 *   (§2.5), duplicate attributes (§3.1; by expanded name, Namespaces §6.3, on the DOM in
 *   checkDomBounds), attributes not separated by whitespace;
 * - undeclared prefixes, `xmlns:p=""` and misuse of the reserved xml/xmlns names (Namespaces in
 *   XML 1.0 §3, §5: see namespaces.ts);
 * - more than maxDepth nesting (xml_too_deep), more than maxElements elements, maxNodes nodes of
 *   any kind, maxAttributesPerElement attributes on one element or maxElementNames distinct
 *   element names (xml_too_complex).
 */
export function prescanXml(text: string, limits: XmlLimits): XmlShape {
  const max = resolveLimits(limits);
  checkXmlChars(text);
  const n = text.length;
  const open: string[] = [];
  const scopes = new PrefixScopes();
  const names = new Set<string>();
  let elements = 0;
  let nodes = 0;
  let deepest = 0;
  let rootSeen = false;
  const node = (): void => {
    if (++nodes > max.maxNodes) throw refuse("xml_too_complex");
  };

  let i = 0;
  if (text.startsWith("<?xml") && (isS(text.charCodeAt(5)) || text.charCodeAt(5) === 0x3f)) {
    XML_DECL.lastIndex = 0;
    if (!XML_DECL.test(text)) malformed();
    i = XML_DECL.lastIndex;
    node();
  }

  while (i < n) {
    if (text.charCodeAt(i) !== 0x3c /* < */) {
      if (open.length === 0) {
        // Outside the root element only whitespace may appear (§2.8 Misc).
        while (i < n && isS(text.charCodeAt(i))) i++;
        if (i < n && text.charCodeAt(i) !== 0x3c) malformed();
      } else {
        i = charDataEnd(text, i, node);
      }
      node();
      continue;
    }
    const next = text.charCodeAt(i + 1);
    if (next === 0x21 /* ! */) {
      if (text.startsWith("<!--", i)) {
        // §2.5: no "--" inside a comment, so the first "--" must be the one of "-->".
        const dashes = text.indexOf("--", i + 4);
        if (dashes < 0 || text.charCodeAt(dashes + 2) !== 0x3e) malformed();
        i = dashes + 3;
      } else if (text.startsWith("<![CDATA[", i)) {
        if (open.length === 0) malformed();
        const end = text.indexOf("]]>", i + 9);
        if (end < 0) malformed();
        i = end + 3;
      } else {
        throw refuse("xml_doctype_forbidden");
      }
      node();
      continue;
    }
    if (next === 0x3f /* ? */) malformed(); // a processing instruction (the declaration was read above)
    if (next === 0x2f /* / */) {
      // ETag ::= '</' Name S? '>' (§3.1), closing the innermost open element by its exact name,
      // and without the optional S: xmldom decides whether an element is closed at all by
      // searching the text for the last `</name>` (sax.js fixSelfClosed), so `</name >` can make
      // it read a later element as empty. Serializers never write that space.
      const nameEnd = qnameEnd(text, i + 2);
      if (nameEnd < 0 || text.charCodeAt(nameEnd) !== 0x3e) malformed();
      if (open.pop() !== text.slice(i + 2, nameEnd)) malformed();
      scopes.pop();
      i = nameEnd + 1;
      continue;
    }

    // STag / EmptyElemTag ::= '<' Name (S Attribute)* S? ('>' | '/>') (§3.1)
    const nameEnd = qnameEnd(text, i + 1);
    if (nameEnd < 0) malformed();
    if (open.length === 0) {
      if (rootSeen) malformed(); // a second root element
      rootSeen = true;
    }
    if (++elements > max.maxElements) throw refuse("xml_too_complex");
    node();
    const depth = open.length + 1;
    if (depth > max.maxDepth) throw refuse("xml_too_deep");
    if (depth > deepest) deepest = depth;
    const name = text.slice(i + 1, nameEnd);
    if (!names.has(name)) {
      names.add(name);
      if (names.size > max.maxElementNames) throw refuse("xml_too_complex");
    }
    let j = nameEnd;
    const attributes: { name: string; value: string }[] = [];
    for (;;) {
      const spaceAt = j;
      while (j < n && isS(text.charCodeAt(j))) j++;
      const c = text.charCodeAt(j);
      if (c === 0x3e /* > */) {
        scopes.push(scopes.check(name, attributes));
        open.push(name);
        j++;
        break;
      }
      if (c === 0x2f /* / */) {
        if (text.charCodeAt(j + 1) !== 0x3e) malformed();
        scopes.check(name, attributes);
        j += 2;
        break;
      }
      if (j === spaceAt) malformed(); // attributes are separated by whitespace
      const attrEnd = qnameEnd(text, j);
      if (attrEnd < 0) malformed();
      const attribute = text.slice(j, attrEnd);
      if (attributes.length >= max.maxAttributesPerElement) throw refuse("xml_too_complex");
      if (attributes.some((a) => a.name === attribute)) malformed(); // §3.1 WFC: Unique Att Spec
      node();
      j = attrEnd;
      while (j < n && isS(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 0x3d /* = */) malformed();
      j++;
      while (j < n && isS(text.charCodeAt(j))) j++;
      const quote = text.charCodeAt(j);
      if (quote !== 0x22 && quote !== 0x27) malformed();
      const valueStart = j + 1;
      // AttValue ::= '"' ([^<&"] | Reference)* '"' | "'" ([^<&'] | Reference)* "'"
      for (j++; ; j++) {
        if (j >= n) malformed();
        const v = text.charCodeAt(j);
        if (v === quote) break;
        if (v === 0x3c) malformed();
        if (v === 0x26 /* & */) {
          j = referenceEnd(text, j) - 1;
          node();
        }
      }
      attributes.push({ name: attribute, value: text.slice(valueStart, j) });
      j++;
    }
    i = j;
  }
  if (!rootSeen || open.length > 0) malformed();
  return { elements, depth: deepest, nodes };
}

/** CharData and References up to the next `<` (§2.4, §4.1); returns that index. */
function charDataEnd(text: string, i: number, node: () => void): number {
  const n = text.length;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3c) break;
    if (c === 0x26) {
      i = referenceEnd(text, i) - 1;
      node();
    } else if (c === 0x5d /* ] */ && text.startsWith("]]>", i)) {
      malformed();
    }
  }
  return i;
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

/**
 * The limits and node kinds checked again on the DOM xmldom built, with an iterative walk, so that
 * any disagreement between the pre-scan and xmldom can never carry a document past the bounds
 * (issue 9). Stops at the first node over a limit, so the walk itself is bounded.
 */
export function checkDomBounds(doc: Document, limits: XmlLimits): XmlShape {
  const max = resolveLimits(limits);
  const names = new Set<string>();
  let elements = 0;
  let nodes = 0;
  let deepest = 0;
  walkTree(doc, (node, depth) => {
    if (depth === 0) return; // the Document itself
    if (++nodes > max.maxNodes) throw refuse("xml_too_complex");
    switch (node.nodeType) {
      case 1: {
        if (depth > max.maxDepth) throw refuse("xml_too_deep");
        if (++elements > max.maxElements) throw refuse("xml_too_complex");
        if (depth > deepest) deepest = depth;
        names.add((node as Element).tagName);
        if (names.size > max.maxElementNames) throw refuse("xml_too_complex");
        const el = node as Element;
        const attributes = el.attributes.length;
        if (attributes > max.maxAttributesPerElement) throw refuse("xml_too_complex");
        nodes += attributes;
        if (nodes > max.maxNodes) throw refuse("xml_too_complex");
        // Namespaces in XML 1.0 §5 NSC Prefix Declared (an undeclared or "" binding leaves none).
        if (el.prefix && !el.namespaceURI) throw refuse("xml_malformed");
        // Namespaces in XML 1.0 §6.3: no two attributes with the same expanded name. `p:b` and
        // `q:b` with p and q bound to one URI pass the pre-scan's QName check; xmldom keeps both
        // and getAttributeNS answers with one of them, another parser with the other.
        const expanded = new Set<string>();
        for (let k = 0; k < attributes; k++) {
          const a = el.attributes.item(k)!;
          if (a.prefix && a.prefix !== "xmlns" && !a.namespaceURI) throw refuse("xml_malformed");
          if (!a.namespaceURI) continue; // unprefixed: unique by name already (§3.1)
          const key = `${a.namespaceURI} ${a.localName}`;
          if (expanded.has(key)) throw refuse("xml_malformed");
          expanded.add(key);
        }
        return;
      }
      case 3: // text: beside the root only whitespace
        if (depth === 1 && !/^[ \t\r\n]*$/.test(node.nodeValue ?? "")) throw refuse("xml_malformed");
        return;
      case 8: // comment
        return;
      case 4: // CDATA section, only inside the root
        if (depth === 1) throw refuse("xml_malformed");
        return;
      case 7: // only the XML declaration, first in the document
        if (depth !== 1 || node !== doc.firstChild || (node as ProcessingInstruction).target !== "xml") throw refuse("xml_malformed");
        return;
      case 10:
        throw refuse("xml_doctype_forbidden");
      default: // entity references, entities, notations, fragments: never built without a DTD
        throw refuse("xml_malformed");
    }
  });
  return { elements, depth: deepest, nodes };
}

/**
 * The whole safe path: the pre-scan, the strict parser, then the same bounds on the DOM it built.
 * A leading byte order mark is an encoding signature (XML 1.0 §4.3.3), not content: it is dropped
 * here, where xmldom would otherwise build a text node beside the root.
 */
export function parseUntrustedXml(text: string, limits: XmlLimits): Document {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // One signature only: a second U+FEFF is content before the root (XML 1.0 §2.1, §4.3.3).
  if (text.charCodeAt(0) === 0xfeff) throw refuse("xml_malformed");
  prescanXml(text, limits);
  const doc = parseXmlStrict(text);
  checkDomBounds(doc, limits);
  return doc;
}
