import { MetadataError, parseIdpMetadata, type IdpMetadata } from "../saml/metadata.js";
import { parseUntrustedXml } from "../xml/safe-parse.js";
import { verifyEnvelopedSignature, signatureOf, type TrustedKey } from "../xml/signature.js";
import { OAuthError } from "../oauth/errors.js";

/**
 * What new metadata must satisfy before it replaces anything (SAML Metadata §2.3, and the
 * operational rules federation operators learn the hard way):
 *  - a size bound, no DOCTYPE, one IdP entity (or the chosen entity of an aggregate);
 *  - `validUntil`, when present, in the future;
 *  - at least one signing certificate that is valid now;
 *  - when metadata-signing certificates are pinned, an enveloped signature by one of them on the
 *    root element;
 * The rollover guard is not here: it compares with the entity's key history, not with one
 * document (admin/key-history.ts). Every failed rule is reported, each as a stable code.
 */
export interface MetadataCheckInput {
  xml: string;
  entityId: string | undefined;
  now: number;
  maxBytes: number;
  pinned: readonly TrustedKey[];
}

export type MetadataCheck = { ok: true; metadata: IdpMetadata } | { ok: false; reasons: string[] };

export function checkMetadata(input: MetadataCheckInput): MetadataCheck {
  if (Buffer.byteLength(input.xml, "utf8") > input.maxBytes) return { ok: false, reasons: ["metadata_too_large"] };
  let metadata: IdpMetadata;
  try {
    metadata = parseIdpMetadata(input.xml, input.entityId);
  } catch (e) {
    return { ok: false, reasons: [e instanceof MetadataError ? `metadata_invalid: ${e.message}` : "metadata_invalid"] };
  }
  const reasons: string[] = [];
  if (input.pinned.length > 0) reasons.push(...signatureProblems(input.xml, input.pinned));
  if (metadata.validUntil !== undefined && metadata.validUntil <= input.now) reasons.push("metadata_expired");
  const validNow = new Set(
    metadata.certificates
      .filter((c) => Date.parse(c.notBefore) <= input.now && input.now < Date.parse(c.notAfter))
      .map((c) => c.fingerprint),
  );
  if (validNow.size === 0) reasons.push("no_valid_signing_certificate");
  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, metadata };
}

function signatureProblems(xml: string, pinned: readonly TrustedKey[]): string[] {
  try {
    const doc = parseUntrustedXml(xml, { maxDepth: 32, maxElements: 50_000 });
    const root = doc.documentElement!;
    if (!signatureOf(root)) return ["metadata_signature_missing"];
    verifyEnvelopedSignature(xml, root, "ID", pinned, { allowSha1: false });
    return [];
  } catch (e) {
    if (e instanceof OAuthError && e.reason === "signature_missing") return ["metadata_signature_missing"];
    return ["metadata_signature_invalid"];
  }
}
