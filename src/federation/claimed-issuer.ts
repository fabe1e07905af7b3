import { NS, attr, children, is } from "../xml/dom.js";
import { samlText } from "../saml/rules.js";
import { decodeSamlToken, type SamlLimits } from "../saml/signed-token.js";

/**
 * The entityIDs a SAML token CLAIMS to come from, read without any verification, for one purpose
 * only: deciding which MDQ metadata to fetch before the (synchronous) verifier runs. The claim
 * selects a document; trust still comes only from that document's pinned signature, and the
 * verifier afterwards reads the Issuer again, verifies the token against the fetched keys and reads
 * the Issuer from the signed bytes (saml/signed-token.ts). A lying Issuer can only make the bridge
 * ask its MDQ responder about another (or a non-existent) entity, as an authenticated client
 * (client authentication runs first), bounded by the negative cache, the failure cooldown and
 * maxConcurrentFetches.
 *
 * The places read are those the verifiers choose the IdP from: the Response's and the Assertion's
 * saml2:Issuer (SAML 2.0), the Assertion's Issuer attribute (SAML 1.1). At most two names; a token
 * that does not decode yields none (the verifier then refuses it with the precise reason).
 */
export function claimedIssuers(token: string, limits: SamlLimits): string[] {
  let root: Element;
  try {
    root = decodeSamlToken(token, limits).doc.documentElement!;
  } catch {
    return [];
  }
  const out = new Set<string>();
  const saml2Issuer = (el: Element): void => {
    const issuers = children(el, NS.saml2, "Issuer");
    if (issuers.length !== 1) return;
    try {
      const v = samlText(issuers[0]!);
      if (v) out.add(v);
    } catch {
      // element content: the verifier refuses it (saml_text_invalid)
    }
  };
  if (is(root, NS.saml2, "Assertion")) saml2Issuer(root);
  if (is(root, NS.samlp2, "Response")) {
    saml2Issuer(root);
    const assertions = children(root, NS.saml2, "Assertion");
    if (assertions.length === 1) saml2Issuer(assertions[0]!);
  }
  const saml1Issuer = (el: Element): void => {
    const v = attr(el, "Issuer");
    if (v) out.add(v);
  };
  if (is(root, NS.saml1, "Assertion")) saml1Issuer(root);
  if (is(root, NS.samlp1, "Response")) {
    const assertions = children(root, NS.saml1, "Assertion");
    if (assertions.length === 1) saml1Issuer(assertions[0]!);
  }
  return [...out].slice(0, 2);
}
