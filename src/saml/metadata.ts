import { X509Certificate, createHash } from "node:crypto";
import { parseUntrustedXml } from "../xml/safe-parse.js";
import { NS, attr, children, childElements, is, text } from "../xml/dom.js";
import { parseSamlInstant } from "./time.js";
import type { TrustedKey } from "../xml/signature.js";

/**
 * IdP metadata (SAML 2.0 Metadata §2.3, §2.4.1): the only source of trust. Signing keys are the
 * KeyDescriptors with use="signing" or no use (§2.4.1.1); encryption-only keys never verify a
 * signature (catalogue D22b). RSA keys under 2048 bits are refused at load (catalogue B18d).
 */
export interface IdpMetadata {
  entityId: string;
  signingKeys: TrustedKey[];
  /** Earliest validUntil on the chosen EntityDescriptor or any enclosing EntitiesDescriptor. */
  validUntil: number | undefined;
  protocols: string[];
  /** Certificate validity, for operators; SAML trust does not depend on it (metadata is the anchor). */
  certificates: { fingerprint: string; notBefore: string; notAfter: string }[];
  /** Shortest cacheDuration on the chosen entity or an enclosing EntitiesDescriptor (ms). */
  cacheDurationMs: number | undefined;
}

export class MetadataError extends Error {
  override name = "MetadataError";
}

/**
 * Bounds for metadata documents (files, admin uploads, fetched URLs): larger than a token's, as a
 * metadata file may aggregate a federation's entities; every node kind counts (issue 9).
 */
export const METADATA_LIMITS = { maxDepth: 32, maxElements: 50_000, maxNodes: 400_000, maxAttributesPerElement: 64 };
const MIN_RSA_BITS = 2048;

export function parseIdpMetadata(xml: string, wantedEntityId?: string): IdpMetadata {
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml, METADATA_LIMITS);
  } catch {
    throw new MetadataError("metadata is not well-formed XML (or has a DOCTYPE)");
  }
  const root = doc.documentElement!;
  if (!is(root, NS.md, "EntitiesDescriptor") && !is(root, NS.md, "EntityDescriptor")) {
    throw new MetadataError("root is neither md:EntityDescriptor nor md:EntitiesDescriptor");
  }
  const found = idpEntityScopes(root);
  const candidates = wantedEntityId === undefined ? found : found.filter((f) => attr(f.el, "entityID") === wantedEntityId);
  if (candidates.length === 0) {
    throw new MetadataError(wantedEntityId ? `no IdP entity "${wantedEntityId}" in metadata` : "no IdP (IDPSSODescriptor) in metadata");
  }
  if (candidates.length > 1) throw new MetadataError("metadata holds several IdPs: set entityId to choose one");
  return idpMetadataOf(candidates[0]!);
}

/** An IdP EntityDescriptor with the validUntil and cacheDuration inherited along its path. */
export interface EntityScope { el: Element; validUntil: number | undefined; cacheMs: number | undefined }

/**
 * Every EntityDescriptor with an IDPSSODescriptor under `root` (itself one, or an
 * EntitiesDescriptor), in document order. Also used for federation aggregates (src/federation).
 */
export function idpEntityScopes(root: Element): EntityScope[] {
  // Nested EntitiesDescriptors, walked with an explicit stack (never recursion: issue 9), in
  // document order; validUntil and cacheDuration are inherited as the minimum along the path.
  type Scope = EntityScope;
  const found: Scope[] = [];
  const stack: Scope[] = [{ el: root, validUntil: undefined, cacheMs: undefined }];
  while (stack.length > 0) {
    const { el, validUntil: inherited, cacheMs: inheritedCache } = stack.pop()!;
    const own = attr(el, "validUntil");
    let validUntil = inherited;
    let cacheMs = inheritedCache;
    const cache = attr(el, "cacheDuration");
    if (cache !== undefined) {
      const ms = parseDuration(cache);
      if (ms === undefined) throw new MetadataError("cacheDuration is not an xs:duration");
      cacheMs = cacheMs === undefined ? ms : Math.min(cacheMs, ms);
    }
    if (own !== undefined) {
      let t: number;
      try {
        t = parseSamlInstant(own);
      } catch {
        throw new MetadataError("validUntil is not an xs:dateTime in UTC");
      }
      validUntil = validUntil === undefined ? t : Math.min(validUntil, t);
    }
    if (is(el, NS.md, "EntitiesDescriptor")) {
      const nested = childElements(el).filter((c) => is(c, NS.md, "EntitiesDescriptor") || is(c, NS.md, "EntityDescriptor"));
      for (let i = nested.length - 1; i >= 0; i--) stack.push({ el: nested[i]!, validUntil, cacheMs });
    } else if (is(el, NS.md, "EntityDescriptor")) {
      if (children(el, NS.md, "IDPSSODescriptor").length > 0) found.push({ el, validUntil, cacheMs });
    }
  }
  return found;
}

/** The trust an IdP entity carries: its entityID, signing keys (§2.4.1.1) and protocols. */
export function idpMetadataOf({ el, validUntil, cacheMs }: EntityScope): IdpMetadata {
  const entityId = attr(el, "entityID");
  if (!entityId) throw new MetadataError("EntityDescriptor has no entityID");

  const signingKeys: TrustedKey[] = [];
  const certificates: IdpMetadata["certificates"] = [];
  const protocols = new Set<string>();
  for (const role of children(el, NS.md, "IDPSSODescriptor")) {
    for (const p of (attr(role, "protocolSupportEnumeration") ?? "").split(/\s+/)) if (p) protocols.add(p);
    for (const kd of children(role, NS.md, "KeyDescriptor")) {
      const use = attr(kd, "use");
      if (use !== undefined && use !== "signing") continue;
      for (const keyInfo of children(kd, NS.ds, "KeyInfo")) {
        for (const x509Data of children(keyInfo, NS.ds, "X509Data")) {
          for (const certEl of children(x509Data, NS.ds, "X509Certificate")) {
            const { key, fingerprint, notBefore, notAfter } = loadCertificate(certificateText(certEl));
            if (!signingKeys.some((k) => k.fingerprint === fingerprint)) {
              signingKeys.push({ key, fingerprint });
              certificates.push({ fingerprint, notBefore, notAfter });
            }
          }
        }
      }
    }
  }
  if (signingKeys.length === 0) throw new MetadataError("IdP has no signing certificate");
  return { entityId, signingKeys, validUntil, protocols: [...protocols], certificates, cacheDurationMs: cacheMs };
}

/** X509Certificate is base64 text: element content is refused, never flattened (dom.ts `text`). */
function certificateText(el: Element): string {
  try {
    return text(el);
  } catch {
    throw new MetadataError("X509Certificate has element content");
  }
}

function loadCertificate(b64: string): { key: TrustedKey["key"]; fingerprint: string; notBefore: string; notAfter: string } {
  const der = Buffer.from(b64.replace(/\s+/g, ""), "base64");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new MetadataError("an X509Certificate does not parse");
  }
  const key = cert.publicKey;
  const type = key.asymmetricKeyType;
  if (type === "rsa" || type === "rsa-pss") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new MetadataError(`RSA signing key of ${bits} bits (minimum ${MIN_RSA_BITS})`);
  } else if (type !== "ec") {
    throw new MetadataError(`unsupported signing key type ${type ?? "unknown"}`);
  }
  const fingerprint = createHash("sha256").update(der).digest("hex");
  return { key, fingerprint, notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString() };
}

/** xs:duration (e.g. PT6H, P1DT12H, PT30M) to milliseconds; years and months count as 365 and 30 days. */
export function parseDuration(value: string): number | undefined {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value);
  if (!m || value === "P" || value.endsWith("T")) return undefined;
  const [, y, mo, d, h, mi, sec] = m;
  const days = Number(y ?? 0) * 365 + Number(mo ?? 0) * 30 + Number(d ?? 0);
  return ((days * 24 + Number(h ?? 0)) * 60 + Number(mi ?? 0)) * 60_000 + Math.round(Number(sec ?? 0) * 1000);
}

/** Certificate PEM/base64 to a trusted key (for pinned metadata-signing certificates). */
export function trustedKeyFromCertificate(pemOrBase64: string): TrustedKey {
  const b64 = pemOrBase64.replace(/-----[^-]+-----/g, "");
  const { key, fingerprint } = loadCertificate(b64);
  return { key, fingerprint };
}
