/**
 * Namespace-exact DOM helpers. Elements are always chosen by namespace URI and local name, never
 * by prefix and never with descendant searches (`//`): identity must come from a fixed position
 * in the signed element (catalogue A10, A11).
 */
export const NS = {
  saml2: "urn:oasis:names:tc:SAML:2.0:assertion",
  samlp2: "urn:oasis:names:tc:SAML:2.0:protocol",
  saml1: "urn:oasis:names:tc:SAML:1.0:assertion",
  samlp1: "urn:oasis:names:tc:SAML:1.0:protocol",
  md: "urn:oasis:names:tc:SAML:2.0:metadata",
  ds: "http://www.w3.org/2000/09/xmldsig#",
  xenc: "http://www.w3.org/2001/04/xmlenc#",
} as const;

export function isElement(node: Node | null | undefined): node is Element {
  return !!node && node.nodeType === 1;
}

export function is(el: Element, ns: string, localName: string): boolean {
  return el.namespaceURI === ns && el.localName === localName;
}

export function childElements(parent: Element): Element[] {
  const out: Element[] = [];
  for (let c = parent.firstChild; c; c = c.nextSibling) if (isElement(c)) out.push(c);
  return out;
}

export function children(parent: Element, ns: string, localName: string): Element[] {
  return childElements(parent).filter((c) => is(c, ns, localName));
}

/** The single child of that name, or undefined; more than one is reported as "many". */
export function onlyChild(parent: Element, ns: string, localName: string): Element | undefined | "many" {
  const found = children(parent, ns, localName);
  if (found.length > 1) return "many";
  return found[0];
}

/** An element read as text has content that is not text (see `text`). */
export class NotTextError extends Error {
  override name = "NotTextError";
}

/**
 * Text content of an element whose schema type is simple (a string, URI, QName…): its text and
 * CDATA children concatenated, comments skipped. Never `firstChild.nodeValue`, which a comment
 * splits (catalogue B12, CVE-2017-11427 family): `a<!---->b` reads as "ab", the value the signer's
 * XML infoset holds (comments are not part of the canonical form the signature covers either).
 *
 * An element child (or a processing instruction) is never flattened into the value: `textContent`
 * would join the text of nested markup into one string of the signer's choosing, so a field read
 * as text that has element content throws `NotTextError`, which callers turn into their reason
 * (SAML: `attribute_value_invalid` for an AttributeValue, `saml_text_invalid` otherwise). Only
 * direct children are looked at: any element child is refused, so there is nothing deeper to walk.
 */
export function text(el: Element): string {
  let out = "";
  for (let c = el.firstChild; c; c = c.nextSibling) {
    const type = c.nodeType;
    if (type === 3 || type === 4) out += c.nodeValue ?? ""; // TEXT_NODE, CDATA_SECTION_NODE
    else if (type !== 8) throw new NotTextError(); // not a COMMENT_NODE: element, PI, entity reference
  }
  return out;
}

export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name) ?? undefined : undefined;
}

/**
 * Visits `root` and every node below it in document order (pre-order) with an explicit stack:
 * never recursion, whose depth the document's author would choose (a deep enough document
 * overflows the call stack into a 500; issue 9). `visit` receives the node and its depth below
 * `root` (root = 0); returning false skips that node's descendants. Throwing from `visit` stops
 * the walk, which is how callers bound it.
 */
export function walkTree(root: Node, visit: (node: Node, depth: number) => boolean | void): void {
  const nodes: Node[] = [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (visit(node, depth) === false) continue;
    for (let c = node.lastChild; c; c = c.previousSibling) {
      nodes.push(c);
      depths.push(depth + 1);
    }
  }
}

/** `root`'s descendant elements in document order (root excluded), found with walkTree. */
export function descendantElements(root: Element): Element[] {
  const out: Element[] = [];
  walkTree(root, (node, depth) => {
    if (!isElement(node)) return false;
    if (depth > 0) out.push(node);
    return true;
  });
  return out;
}
