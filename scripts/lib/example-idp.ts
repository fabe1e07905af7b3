import { randomBytes } from "node:crypto";
import { SignedXml } from "xml-crypto";

/**
 * The example IdP's assertions, shared by `npm run example-assertion` and the benchmark. Signed
 * with xml-crypto here, which is fine for a demo and a load generator; the test suite's positive
 * fixtures come from independent implementations instead (test/support/independent-signers.ts).
 */
export interface ExampleAssertion {
  issuer: string;
  audience: string;
  recipient: string;
  nameId: string;
  groups: readonly string[];
  /** Seconds the assertion stays valid. */
  lifetime: number;
  /** Seconds until the IdP session ends (SessionNotOnOrAfter); omitted when undefined. */
  session?: number;
  now: number;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function buildExampleAssertion(o: ExampleAssertion): string {
  const at = (seconds: number): string => new Date(o.now + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const id = `_${randomBytes(16).toString("hex")}`;
  const session = o.session === undefined ? "" : ` SessionNotOnOrAfter="${at(o.session)}"`;
  return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${at(0)}">`
    + `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>`
    + `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(o.nameId)}</saml:NameID>`
    + `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">`
    + `<saml:SubjectConfirmationData NotOnOrAfter="${at(o.lifetime)}" Recipient="${esc(o.recipient)}"/>`
    + `</saml:SubjectConfirmation></saml:Subject>`
    + `<saml:Conditions NotBefore="${at(-60)}" NotOnOrAfter="${at(o.lifetime)}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${at(-30)}"${session}><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
    + `<saml:AttributeStatement>`
    + `<saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail"><saml:AttributeValue>${esc(o.nameId)}</saml:AttributeValue></saml:Attribute>`
    + `<saml:Attribute Name="groups">${o.groups.map((g) => `<saml:AttributeValue>${esc(g)}</saml:AttributeValue>`).join("")}</saml:Attribute>`
    + `</saml:AttributeStatement></saml:Assertion>`;
}

/** Enveloped RSA-SHA256 / exc-c14n signature, placed right after the Issuer (SAML Core §5.4.1). */
export function signAssertion(assertionXml: string, privateKeyPem: string): string {
  const sig = new SignedXml({
    privateKey: privateKeyPem,
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
  });
  sig.addReference({
    xpath: "/*[local-name(.)='Assertion']",
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
    transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"],
  });
  sig.computeSignature(assertionXml, { location: { reference: "/*/*[local-name(.)='Issuer']", action: "after" } });
  return sig.getSignedXml();
}
