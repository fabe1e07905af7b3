/** Builds IdP metadata documents from certificate files (for the admin API tests). */
import { readFileSync } from "node:fs";

export function metadataFor(entityId: string, certFiles: string[], o: { validUntil?: Date; cacheDuration?: string; protocols?: string } = {}): string {
  const keys = certFiles
    .map((f) => readFileSync(f, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""))
    .map((b64) => `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
    .join("");
  const attrs = [
    o.validUntil ? ` validUntil="${o.validUntil.toISOString()}"` : "",
    o.cacheDuration ? ` cacheDuration="${o.cacheDuration}"` : "",
  ].join("");
  return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}"${attrs}>`
    + `<md:IDPSSODescriptor protocolSupportEnumeration="${o.protocols ?? "urn:oasis:names:tc:SAML:2.0:protocol"}">${keys}</md:IDPSSODescriptor></md:EntityDescriptor>`;
}
