import { X509Certificate } from "node:crypto";
import { parseUntrustedXml } from "../xml/safe-parse.js";
import { NS, attr, children, childElements, is, text } from "../xml/dom.js";

/**
 * What an admin checks before onboarding a SAML IdP (SAML Metadata §2.4.3 IDPSSODescriptor): the
 * SingleSignOnService endpoints and, for each signing certificate, subject CN, issuer, key type
 * and size, validity and days to expiry. Read-only, from the same bounded parse as the checks.
 */
export interface CertificateDetail {
  fingerprint: string;
  subject: string;
  subjectCN: string | undefined;
  issuer: string;
  selfSigned: boolean;
  keyType: string;
  keyBits: number | undefined;
  curve: string | undefined;
  notBefore: string;
  notAfter: string;
  expiresInDays: number;
}

export interface MetadataDetail {
  ssoEndpoints: { binding: string; location: string }[];
  certificates: CertificateDetail[];
}

const LIMITS = { maxDepth: 32, maxElements: 50_000 };
const MAX_ITEMS = 64;

export function metadataDetail(xml: string, entityId: string, now: number): MetadataDetail {
  const doc = parseUntrustedXml(xml, LIMITS);
  // An explicit stack over EntitiesDescriptor nesting (depth is bounded by the parse, but a walk
  // never recurses on document depth).
  const stack: Element[] = [doc.documentElement!];
  let entity: Element | undefined;
  while (stack.length > 0 && !entity) {
    const el = stack.pop()!;
    if (is(el, NS.md, "EntityDescriptor") && attr(el, "entityID") === entityId) entity = el;
    else if (is(el, NS.md, "EntitiesDescriptor")) stack.push(...childElements(el));
  }
  const out: MetadataDetail = { ssoEndpoints: [], certificates: [] };
  if (!entity) return out;
  const seen = new Set<string>();
  for (const role of children(entity, NS.md, "IDPSSODescriptor")) {
    for (const sso of children(role, NS.md, "SingleSignOnService").slice(0, MAX_ITEMS)) {
      out.ssoEndpoints.push({ binding: attr(sso, "Binding") ?? "", location: attr(sso, "Location") ?? "" });
    }
    for (const kd of children(role, NS.md, "KeyDescriptor")) {
      const use = attr(kd, "use");
      if (use !== undefined && use !== "signing") continue;
      for (const ki of children(kd, NS.ds, "KeyInfo")) {
        for (const xd of children(ki, NS.ds, "X509Data")) {
          for (const c of children(xd, NS.ds, "X509Certificate")) {
            if (out.certificates.length >= MAX_ITEMS) break;
            const detail = certificateDetail(text(c), now);
            if (detail && !seen.has(detail.fingerprint)) {
              seen.add(detail.fingerprint);
              out.certificates.push(detail);
            }
          }
        }
      }
    }
  }
  return out;
}

function certificateDetail(b64: string, now: number): CertificateDetail | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(b64.replace(/\s+/g, ""), "base64"));
  } catch {
    return undefined;
  }
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails;
  const notAfter = new Date(cert.validTo).toISOString();
  return {
    fingerprint: cert.fingerprint256.replaceAll(":", "").toLowerCase(),
    subject: cert.subject.replaceAll("\n", ", "),
    subjectCN: /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1],
    issuer: cert.issuer.replaceAll("\n", ", "),
    selfSigned: cert.subject === cert.issuer,
    keyType: key.asymmetricKeyType ?? "unknown",
    keyBits: details?.modulusLength,
    curve: details?.namedCurve,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter,
    expiresInDays: Math.floor((Date.parse(notAfter) - now) / 86_400_000),
  };
}
