/**
 * The example IdP: prints a freshly signed SAML 2.0 assertion, base64url-encoded (RFC 8693 §3),
 * ready to paste as `subject_token`. It signs with certs/example-idp.key, created by
 * `npm run dev-keys`; the bundled example config trusts it through metadata/example-idp.xml.
 *
 *   npm run example-assertion -- [--sub alice@example.org] [--groups staff,orders-admin]
 *                                [--audience https://bridge.example.org/saml] [--xml]
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SignedXml } from "xml-crypto";

const EXAMPLE_IDP_ENTITY_ID = "https://idp.example.org/saml";
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "alice@example.org" },
    groups: { type: "string", default: "staff" },
    audience: { type: "string", default: "https://bridge.example.org/saml" },
    recipient: { type: "string", default: "http://127.0.0.1:8080/token" },
    lifetime: { type: "string", default: "300" },
    xml: { type: "boolean", default: false },
  },
});

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const now = new Date();
const at = (seconds: number): string => new Date(now.getTime() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const lifetime = Number(values.lifetime);
const id = `_${randomBytes(16).toString("hex")}`;
const groups = values.groups.split(",").filter(Boolean);

const assertion = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${at(0)}">`
  + `<saml:Issuer>${EXAMPLE_IDP_ENTITY_ID}</saml:Issuer>`
  + `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(values.sub)}</saml:NameID>`
  + `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">`
  + `<saml:SubjectConfirmationData NotOnOrAfter="${at(lifetime)}" Recipient="${esc(values.recipient)}"/>`
  + `</saml:SubjectConfirmation></saml:Subject>`
  + `<saml:Conditions NotBefore="${at(-60)}" NotOnOrAfter="${at(lifetime)}"><saml:AudienceRestriction><saml:Audience>${esc(values.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
  + `<saml:AuthnStatement AuthnInstant="${at(-30)}" SessionNotOnOrAfter="${at(3600)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
  + `<saml:AttributeStatement>`
  + `<saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail"><saml:AttributeValue>${esc(values.sub)}</saml:AttributeValue></saml:Attribute>`
  + `<saml:Attribute Name="groups">${groups.map((g) => `<saml:AttributeValue>${esc(g)}</saml:AttributeValue>`).join("")}</saml:Attribute>`
  + `</saml:AttributeStatement></saml:Assertion>`;

let key: string;
try {
  key = readFileSync(join(root, "certs", "example-idp.key"), "utf8");
} catch {
  process.stderr.write("certs/example-idp.key is missing: run `npm run dev-keys` (or `npm start` once) first\n");
  process.exit(2);
}
const sig = new SignedXml({
  privateKey: key,
  signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
});
sig.addReference({
  xpath: "/*[local-name(.)='Assertion']",
  digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
  transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"],
});
// SAML Core §5.4.1: the Signature goes right after the Issuer.
sig.computeSignature(assertion, { location: { reference: "/*/*[local-name(.)='Issuer']", action: "after" } });
const signed = sig.getSignedXml();
process.stdout.write(values.xml ? `${signed}\n` : `${Buffer.from(signed, "utf8").toString("base64url")}\n`);
