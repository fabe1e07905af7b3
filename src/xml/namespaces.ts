import { refuse } from "../oauth/errors.js";

/**
 * The Namespaces in XML 1.0 (Third Edition) constraints the pre-scan enforces, element by element,
 * so that every name the signature code and the SAML rules compare by namespace URI has one:
 * - §5 NSC Prefix Declared: a prefixed element or attribute name uses a prefix declared on it or
 *   an ancestor (`xml` is always bound); xmldom would leave its namespace undefined;
 * - §3 NSC No Prefix Undeclaring: `xmlns:p=""` is not allowed in XML 1.0 (xmldom binds p to "",
 *   and canonicalizers disagree about such a binding);
 * - §3 NSC Reserved Prefixes and Namespace Names: `xmlns` is never declared, `xml` only to its own
 *   name, and neither name is bound to another prefix or as the default namespace.
 * Lookups walk the open elements (at most maxDepth), so a start tag costs O(depth + attributes).
 */
const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

const malformed = (): never => {
  throw refuse("xml_malformed");
};

const prefixOf = (qname: string): string | undefined => {
  const colon = qname.indexOf(":");
  return colon < 0 ? undefined : qname.slice(0, colon);
};

export class PrefixScopes {
  /** Prefixes declared on each open element (undefined: none), innermost last. */
  readonly #frames: (string[] | undefined)[] = [];

  /**
   * Checks one start tag given its name and attributes (raw values; a declaration's value is
   * compared as written) and returns the prefixes it declares, to `push` if it stays open.
   */
  check(name: string, attributes: readonly { name: string; value: string }[]): string[] | undefined {
    let own: string[] | undefined;
    for (const a of attributes) {
      if (a.name === "xmlns") {
        if (a.value === XML_NS || a.value === XMLNS_NS) malformed();
      } else if (a.name.startsWith("xmlns:")) {
        const p = a.name.slice(6);
        if (a.value === "" || p === "xmlns") malformed();
        if ((p === "xml") !== (a.value === XML_NS) || a.value === XMLNS_NS) malformed();
        (own ??= []).push(p);
      }
    }
    const element = prefixOf(name);
    if (element !== undefined && !this.#declared(element, own)) malformed();
    for (const a of attributes) {
      const p = prefixOf(a.name);
      if (p !== undefined && p !== "xmlns" && !this.#declared(p, own)) malformed();
    }
    return own;
  }

  push(frame: string[] | undefined): void {
    this.#frames.push(frame);
  }

  pop(): void {
    this.#frames.pop();
  }

  #declared(prefix: string, own: readonly string[] | undefined): boolean {
    if (prefix === "xml" || own?.includes(prefix)) return true;
    for (let k = this.#frames.length - 1; k >= 0; k--) if (this.#frames[k]?.includes(prefix)) return true;
    return false;
  }
}
