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

/**
 * Enveloped RSA-SHA256 / exc-c14n signature over the root assertion. SAML 2.0 places it right after
 * the Issuer (SAML Core §5.4.1) and references `ID`; SAML 1.1 appends it as the last child and
 * references `AssertionID` (its schema).
 */
function sign(assertionXml: string, privateKeyPem: string, version: "2.0" | "1.1"): string {
  const sig = new SignedXml({
    privateKey: privateKeyPem,
    ...(version === "1.1" ? { idAttribute: "AssertionID" } : {}),
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
  });
  sig.addReference({
    xpath: "/*[local-name(.)='Assertion']",
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
    transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"],
  });
  sig.computeSignature(assertionXml, {
    location: version === "1.1" ? { reference: "/*", action: "append" } : { reference: "/*/*[local-name(.)='Issuer']", action: "after" },
  });
  return sig.getSignedXml();
}

export function signAssertion(assertionXml: string, privateKeyPem: string): string {
  return sign(assertionXml, privateKeyPem, "2.0");
}

/**
 * The same assertion as SAML 1.1 (token type `saml1`): a saml:Assertion in the SAML 1.0 assertion
 * namespace, MajorVersion 1 / MinorVersion 1, the Issuer as an attribute, a bearer Subject in each
 * statement, and the attributes as (AttributeNamespace, AttributeName) pairs. A bare SAML 1.1
 * assertion names no recipient, so `recipient` is not used.
 */
export function buildExampleAssertion11(o: ExampleAssertion): string {
  const at = (seconds: number): string => new Date(o.now + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const id = `_${randomBytes(16).toString("hex")}`;
  const ns = "urn:mace:shibboleth:1.0:attributeNamespace:uri";
  const subject = `<saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(o.nameId)}</saml:NameIdentifier>`
    + `<saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject>`;
  const groups = o.groups.length === 0 ? ""
    : `<saml:Attribute AttributeName="groups" AttributeNamespace="${ns}">${o.groups.map((g) => `<saml:AttributeValue>${esc(g)}</saml:AttributeValue>`).join("")}</saml:Attribute>`;
  return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="${id}" Issuer="${esc(o.issuer)}" IssueInstant="${at(0)}">`
    + `<saml:Conditions NotBefore="${at(-60)}" NotOnOrAfter="${at(o.lifetime)}"><saml:AudienceRestrictionCondition><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>`
    + `<saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="${at(-30)}">${subject}</saml:AuthenticationStatement>`
    + `<saml:AttributeStatement>${subject}`
    + `<saml:Attribute AttributeName="urn:oid:0.9.2342.19200300.100.1.3" AttributeNamespace="${ns}"><saml:AttributeValue>${esc(o.nameId)}</saml:AttributeValue></saml:Attribute>`
    + groups
    + `</saml:AttributeStatement></saml:Assertion>`;
}

export function signAssertion11(assertionXml: string, privateKeyPem: string): string {
  return sign(assertionXml, privateKeyPem, "1.1");
}
