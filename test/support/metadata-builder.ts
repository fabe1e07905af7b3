/** Builds IdP metadata documents from certificate files (for the admin API tests). */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function metadataFor(entityId: string, certFiles: string[], o: { validUntil?: Date; cacheDuration?: string; protocols?: string; id?: string } = {}): string {
  const keys = certFiles
    .map((f) => readFileSync(f, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""))
    .map((b64) => `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
    .join("");
  const attrs = [
    o.validUntil ? ` validUntil="${o.validUntil.toISOString()}"` : "",
    o.cacheDuration ? ` cacheDuration="${o.cacheDuration}"` : "",
    o.id ? ` ID="${o.id}"` : "",
  ].join("");
  return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}"${attrs}>`
    + `<md:IDPSSODescriptor protocolSupportEnumeration="${o.protocols ?? "urn:oasis:names:tc:SAML:2.0:protocol"}">${keys}</md:IDPSSODescriptor></md:EntityDescriptor>`;
}

/**
 * Signs an EntityDescriptor with xmlsec1 (an independent implementation): enveloped, exc-c14n,
 * RSA-SHA256, the Signature as the first child (SAML Metadata §2.3.2). The root needs an ID.
 */
export function signMetadataWithXmlsec1(xml: string, id: string, key: { key: string; cert: string }): string {
  const ds = "http://www.w3.org/2000/09/xmldsig#";
  const exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
  const template = `<ds:Signature xmlns:ds="${ds}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${exc}"/>`
    + `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#${id}"><ds:Transforms>`
    + `<ds:Transform Algorithm="${ds}enveloped-signature"/><ds:Transform Algorithm="${exc}"/></ds:Transforms>`
    + `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>`
    + `<ds:SignatureValue/></ds:Signature>`;
  const open = xml.indexOf(">", xml.indexOf("<md:EntityDescriptor")) + 1;
  const withTemplate = xml.slice(0, open) + template + xml.slice(open);
  const dir = mkdtempSync(join(tmpdir(), "fedbridge-mdsign-"));
  try {
    const input = join(dir, "in.xml");
    writeFileSync(input, withTemplate);
    return execFileSync("/usr/bin/xmlsec1", [
      "--sign", "--privkey-pem", `${key.key},${key.cert}`,
      "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
      "--output", "-", input,
    ], { encoding: "utf8" }).replace(/^<\?xml[^?]*\?>\s*/, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
