import { createHash, X509Certificate } from "node:crypto";
import { generateServiceProviderMetadata } from "@node-saml/node-saml";
import { XMLSerializer } from "@xmldom/xmldom";
import { NS, attr, children, is } from "../xml/dom.js";
import { parseXmlStrict } from "../xml/safe-parse.js";

/**
 * The bridge's own SAML SP metadata (SAML 2.0 Metadata §2.4.4), served at GET /saml/metadata so
 * an IdP admin can register the bridge in one step: its entity ID, its encryption certificates,
 * the protocols it accepts.
 *
 * node-saml's `generateServiceProviderMetadata` builds the document. It can say only part of what
 * the bridge needs, so its output is then edited as a DOM (never as text), for these reasons:
 *
 *  - it takes one `decryptionCert`; during rollover every configured certificate is published,
 *    each as its own `KeyDescriptor use="encryption"` (a copy of node-saml's), in config order;
 *  - it always writes `protocolSupportEnumeration` = SAML 2.0; when the bridge verifies SAML 1.1
 *    tokens, the 1.1 protocol is added, with a SAML 1.1 browser/POST AssertionConsumerService
 *    (what SAML 1.1 IdPs look for);
 *  - its `EncryptionMethod`s name only the data algorithms; the key transports the bridge accepts
 *    are added with their parameters pinned (xmlenc11 rsa-oaep with SHA-256 digest and MGF1, and
 *    rsa-oaep-mgf1p with SHA-1), so an IdP never picks a combination the bridge refuses;
 *  - it wants the private key (`decryptionPvk`) only as a flag that the SP decrypts; it is given a
 *    placeholder, so no private key ever reaches the metadata code.
 *
 * AssertionConsumerService: the schema requires one and node-saml requires its `callbackUrl`. The
 * bridge has no browser endpoint; its Location is the token endpoint, because IdPs copy the ACS
 * URL into SubjectConfirmationData/@Recipient (and Response/@Destination), and RFC 7522 §3 (and
 * the bridge's default `recipients`) want exactly the token endpoint there. The HTTP-POST binding
 * is the nearest SAML has; no browser ever posts to it.
 */

export interface SpMetadataOptions {
  entityId: string;
  /** Location of the AssertionConsumerService: the token endpoint (see above). */
  tokenEndpoint: string;
  /** PEM certificates of `saml.decryptionKeys`, in config order. */
  encryptionCertificates: readonly string[];
  /** Advertise SAML 1.1 (the bridge verifies `urn:ietf:params:oauth:token-type:saml1`). */
  saml11: boolean;
}

export const SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol";
export const SAML11_PROTOCOL = "urn:oasis:names:tc:SAML:1.1:protocol";
const SAML1_BROWSER_POST = "urn:oasis:names:tc:SAML:1.0:profiles:browser-post";
const XENC11 = "http://www.w3.org/2009/xmlenc11#";

/** Key transports the bridge accepts, as md:EncryptionMethod with pinned parameters (decrypt.ts). */
const KEY_TRANSPORTS: readonly { algorithm: string; digest: string; mgf?: string }[] = [
  { algorithm: `${XENC11}rsa-oaep`, digest: "http://www.w3.org/2001/04/xmlenc#sha256", mgf: `${XENC11}mgf1sha256` },
  { algorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", digest: "http://www.w3.org/2000/09/xmldsig#sha1" },
];

export function buildSpMetadata(o: SpMetadataOptions): string {
  const certificates = o.encryptionCertificates.map(base64Der);
  // The same document on every instance and every restart: the ID is derived from the content.
  const id = `_${createHash("sha256").update([o.entityId, o.tokenEndpoint, String(o.saml11), ...certificates].join("\n")).digest("hex").slice(0, 40)}`;
  const generated = generateServiceProviderMetadata({
    issuer: o.entityId,
    callbackUrl: o.tokenEndpoint,
    ...(certificates.length > 0 ? { decryptionPvk: "(not needed to describe the SP)", decryptionCert: certificates[0]! } : {}),
    // Any NameID format is accepted (the IdP's mapping decides what `sub` is): name none.
    identifierFormat: null,
    wantAssertionsSigned: true,
    generateUniqueId: () => id,
  });

  const doc = parseXmlStrict(generated);
  const entity = doc.documentElement!;
  const sp = children(entity, NS.md, "SPSSODescriptor")[0];
  if (!is(entity, NS.md, "EntityDescriptor") || !sp) throw new Error("node-saml metadata has an unexpected shape");

  const keyDescriptors = children(sp, NS.md, "KeyDescriptor").filter((k) => attr(k, "use") === "encryption");
  if (keyDescriptors.length !== (certificates.length > 0 ? 1 : 0)) throw new Error("node-saml metadata has an unexpected shape");
  const first = keyDescriptors[0];
  if (first) {
    // node-saml pretty-prints; the added elements keep its indentation.
    const last = first.lastChild;
    for (const t of KEY_TRANSPORTS) {
      first.insertBefore(doc.createTextNode("\n      "), last);
      first.insertBefore(encryptionMethod(doc, t), last);
    }
    let previous = first;
    for (const cert of certificates.slice(1)) {
      const copy = first.cloneNode(true) as Element;
      setCertificate(copy, cert);
      sp.insertBefore(doc.createTextNode("\n    "), previous.nextSibling);
      sp.insertBefore(copy, previous.nextSibling!.nextSibling);
      previous = copy;
    }
  }

  if (o.saml11) {
    sp.setAttribute("protocolSupportEnumeration", `${SAML2_PROTOCOL} ${SAML11_PROTOCOL}`);
    const acs = children(sp, NS.md, "AssertionConsumerService");
    const saml2Acs = acs[0];
    if (acs.length !== 1 || !saml2Acs) throw new Error("node-saml metadata has an unexpected shape");
    const saml1Acs = doc.createElementNS(NS.md, "AssertionConsumerService");
    saml1Acs.setAttribute("index", "2");
    saml1Acs.setAttribute("Binding", SAML1_BROWSER_POST);
    saml1Acs.setAttribute("Location", o.tokenEndpoint);
    sp.insertBefore(doc.createTextNode("\n    "), saml2Acs.nextSibling);
    sp.insertBefore(saml1Acs, saml2Acs.nextSibling!.nextSibling);
  }
  return new XMLSerializer().serializeToString(doc as unknown as Node);
}

function encryptionMethod(doc: Document, t: (typeof KEY_TRANSPORTS)[number]): Element {
  const method = doc.createElementNS(NS.md, "EncryptionMethod");
  method.setAttribute("Algorithm", t.algorithm);
  const digest = doc.createElementNS(NS.ds, "ds:DigestMethod");
  digest.setAttribute("Algorithm", t.digest);
  method.appendChild(digest);
  if (t.mgf) {
    const mgf = doc.createElementNS(XENC11, "xenc11:MGF");
    mgf.setAttribute("Algorithm", t.mgf);
    method.appendChild(mgf);
  }
  return method;
}

function setCertificate(keyDescriptor: Element, b64: string): void {
  const keyInfo = children(keyDescriptor, NS.ds, "KeyInfo")[0];
  const x509Data = keyInfo && children(keyInfo, NS.ds, "X509Data")[0];
  const certEl = x509Data && children(x509Data, NS.ds, "X509Certificate")[0];
  if (!certEl) throw new Error("node-saml metadata has an unexpected shape");
  while (certEl.firstChild) certEl.removeChild(certEl.firstChild);
  certEl.appendChild(keyDescriptor.ownerDocument.createTextNode(b64));
}

/** PEM → one-line base64 DER, after checking it is a certificate (never a key). */
function base64Der(pem: string): string {
  return new X509Certificate(pem).raw.toString("base64");
}

/** A decryption key as the metadata sees it: its certificate and the IdPs it is bound to. */
export interface SpMetadataKey {
  certificatePem: string;
  /** `saml.decryptionKeys[].idps`; undefined: usable by every IdP. */
  idps?: readonly string[] | undefined;
}

/**
 * The metadata for `GET /saml/metadata[?idp=<id>]`: without an IdP, every certificate (as
 * `buildSpMetadata`); for an IdP, only the certificates of the keys it may use (shared keys and
 * those bound to it, `saml.decryptionKeys[].idps`), so that IdP encrypts only to a key the bridge
 * will use for its ciphertext. Undefined for an IdP id the bridge does not know (`knows`: config
 * and admin-managed IdPs, read on each call). Documents are built once per distinct key set.
 */
export function spMetadataSource(
  o: Omit<SpMetadataOptions, "encryptionCertificates"> & { keys: readonly SpMetadataKey[]; knows: (idpId: string) => boolean },
): (idpId: string | undefined) => string | undefined {
  const built = new Map<string, string>();
  const forKeys = (keys: readonly SpMetadataKey[]): string => {
    const certificates = keys.map((k) => k.certificatePem);
    const cacheKey = certificates.join("\n");
    let xml = built.get(cacheKey);
    if (xml === undefined) {
      xml = buildSpMetadata({ entityId: o.entityId, tokenEndpoint: o.tokenEndpoint, saml11: o.saml11, encryptionCertificates: certificates });
      // At most one document per subset of the configured keys that some IdP can see.
      built.set(cacheKey, xml);
    }
    return xml;
  };
  const all = forKeys(o.keys);
  return (idpId) => {
    if (idpId === undefined) return all;
    if (!o.knows(idpId)) return undefined;
    return forKeys(o.keys.filter((k) => k.idps === undefined || k.idps.includes(idpId)));
  };
}
