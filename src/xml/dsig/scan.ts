import { NS } from "../dom.js";

/** Every attribute name that some XML-DSig stack treats as an ID (xml-crypto: Id/ID/id). */
export const ID_LIKE = new Set(["ID", "Id", "id", "AssertionID", "ResponseID"]);

/** What the verifiers need to know about the whole document, gathered in one walk. */
export interface DocumentScan {
  /** ID value → number of elements carrying it under any ID-like attribute name (local name, any namespace). */
  ids: ReadonlyMap<string, number>;
  /** The first element named SignedInfo (any namespace) in document order. */
  firstSignedInfo: Element | undefined;
  /** Every ds:Signature element. */
  signatures: Element[];
  /** Some attribute is named xmlns… without being a namespace declaration (`xmlnsfoo`). */
  xmlnsLike: boolean;
}

/**
 * One scan per parsed document, shared by every signature checked in it (a Response and its
 * assertion): documents are never modified after the hardened parse, so the scan stays true.
 */
const scans = new WeakMap<Document, DocumentScan>();

export function scanDocument(doc: Document): DocumentScan {
  let scan = scans.get(doc);
  if (!scan) scans.set(doc, (scan = walk(doc)));
  return scan;
}

/**
 * One iterative pre-order walk (document order) over every element of `doc`: O(elements +
 * attributes), no XPath, no recursion. XML-DSig §4.4.3.3 resolves a same-document URI by ID, and
 * the ID must be unique across every ID-like name (catalogue B19).
 */
function walk(doc: Document): DocumentScan {
  const ids = new Map<string, number>();
  const scan: DocumentScan = { ids, firstSignedInfo: undefined, signatures: [], xmlnsLike: false };
  const root = doc.documentElement;
  if (!root) return scan;
  const held = new Set<string>();
  let node: Node | null = root;
  while (node) {
    if (node.nodeType === 1) {
      const el = node as Element;
      if (el.localName === "SignedInfo" && !scan.firstSignedInfo) scan.firstSignedInfo = el;
      if (el.localName === "Signature" && el.namespaceURI === NS.ds) scan.signatures.push(el);
      const attrs = el.attributes;
      held.clear();
      for (let i = 0; i < attrs.length; i++) {
        const a = attrs.item(i)!;
        // An element holding one value under two ID-like names counts once (xml-crypto's rule).
        if (ID_LIKE.has(a.localName ?? a.name) && !held.has(a.value)) {
          held.add(a.value);
          ids.set(a.value, (ids.get(a.value) ?? 0) + 1);
        }
        const n = a.name;
        if (n.startsWith("xmlns") && n !== "xmlns" && !n.startsWith("xmlns:")) scan.xmlnsLike = true;
      }
      if (el.firstChild) {
        node = el.firstChild;
        continue;
      }
    }
    // Next in document order: a sibling, or the sibling of the nearest ancestor that has one.
    while (node && !node.nextSibling) {
      node = node.parentNode;
      if (node === root || !node || node.nodeType !== 1) {
        node = null;
        break;
      }
    }
    if (node) node = node.nextSibling;
  }
  return scan;
}
