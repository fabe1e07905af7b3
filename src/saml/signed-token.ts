import { refuse } from "../oauth/errors.js";
import { parseUntrustedXml, type XmlLimits } from "../xml/safe-parse.js";
import { bytesToXmlText, decodeBase64Token } from "../xml/token-encoding.js";
import { signatureOf, verifyEnvelopedSignature, type SignatureVerifierKind } from "../xml/signature.js";
import type { IdpRegistry, TrustedIdp } from "./idp-registry.js";

/**
 * The sequence every SAML subject token goes through, whatever its version (SAML 1.1 or 2.0):
 * decode → hardened parse → choose the IdP by the (untrusted) Issuer → verify a signature with that
 * IdP's metadata keys only → re-parse the signed bytes, from which alone identity is then read.
 */

/** What a SAML verifier is given (both versions). */
export interface SamlVerifyContext {
  /** Current time, ms since epoch (injected). */
  now: number;
  skewMs: number;
  /** The bridge's entity ID and any aliases an audience restriction may name. */
  acceptedAudiences: ReadonlySet<string>;
  limits: SamlLimits;
  idps: IdpRegistry;
}

/**
 * The input bounds of a SAML token, plus which signature verifier runs (`saml.signatureVerifier`,
 * default native): it travels with the limits because every SAML entry point already hands those
 * down to the signature check.
 */
export type SamlLimits = XmlLimits & { maxTokenBytes: number; signatureVerifier?: SignatureVerifierKind | undefined };

/** base64url/base64 → UTF-8 XML text → DOM, with every input limit (README "How … is checked" 1). */
export function decodeSamlToken(value: string, limits: SamlVerifyContext["limits"]): { xml: string; doc: Document } {
  const xml = bytesToXmlText(decodeBase64Token(value, limits.maxTokenBytes));
  return { xml, doc: parseUntrustedXml(xml, limits) };
}

/**
 * The IdP whose metadata entityID equals the claimed Issuer. The claim only chooses whose keys to
 * try; the Issuer is read again from the signed bytes and compared by the caller.
 */
export function trustedIdpFor(claimedIssuer: string, ctx: Pick<SamlVerifyContext, "idps" | "now">): TrustedIdp {
  const idp = ctx.idps.byEntityId(claimedIssuer);
  if (!idp) throw refuse("issuer_unknown");
  const validUntil = idp.metadata.validUntil;
  if (validUntil !== undefined && ctx.now >= validUntil) throw refuse("metadata_expired");
  return idp;
}

export interface TrustedElement {
  /** The signed element, re-parsed from the canonical bytes the signature covers. */
  element: Element;
  /** Which metadata key verified it. */
  keyFingerprint: string;
  /**
   * The same element in the received document. Values are never read from it; it only supplies the
   * namespace declarations in scope where exclusive canonicalization dropped them, for QName-valued
   * content (status codes, xsi:type) whose value comes from `element`.
   */
  received: Element;
}

/**
 * Verify the enveloped signature of `el` (a direct child ds:Signature whose one Reference is
 * "#" + the value of `idAttribute`: `ID` in SAML 2.0, `AssertionID`/`ResponseID` in SAML 1.1)
 * with the IdP's metadata keys and SHA-1 policy, and return the signed element re-parsed from the
 * signed bytes.
 */
export function verifySignedElement(
  documentText: string,
  el: Element,
  idAttribute: string,
  idp: TrustedIdp,
  limits: XmlLimits & { signatureVerifier?: SignatureVerifierKind | undefined },
): TrustedElement {
  const verified = verifyEnvelopedSignature(documentText, el, idAttribute, idp.metadata.signingKeys, {
    allowSha1: idp.policy.allowSha1,
    verifier: limits.signatureVerifier,
  });
  return { element: parseUntrustedXml(verified.signedXml, limits).documentElement!, keyFingerprint: verified.keyFingerprint, received: el };
}

/**
 * Which signature vouches for the assertion, the same rule for SAML 2.0 and 1.1: its own when it
 * has one (RFC 7522 §3: the assertion MUST be signed); otherwise the Response's, only when that one
 * was verified and the IdP's policy accepts a signed Response around an unsigned assertion, and then
 * the assertion is read from the Response's signed bytes (`fromSignedResponse`).
 */
export function trustedAssertion(o: {
  documentText: string;
  assertion: Element;
  idAttribute: string;
  response: TrustedElement | undefined;
  fromSignedResponse: (signedResponse: Element) => Element;
  idp: TrustedIdp;
  limits: XmlLimits;
}): TrustedElement {
  if (signatureOf(o.assertion)) return verifySignedElement(o.documentText, o.assertion, o.idAttribute, o.idp, o.limits);
  if (o.response && !o.idp.policy.requireSignedAssertion) {
    return { element: o.fromSignedResponse(o.response.element), keyFingerprint: o.response.keyFingerprint, received: o.assertion };
  }
  throw refuse("signature_missing");
}
