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

/**
 * Text content of an element: every text and CDATA descendant concatenated, comments skipped.
 * Never `firstChild.nodeValue`, which a comment splits (catalogue B12, CVE-2017-11427 family).
 */
export function text(el: Element): string {
  return el.textContent ?? "";
}

export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name) ?? undefined : undefined;
}
