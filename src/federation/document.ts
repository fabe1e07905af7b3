import { parseUntrustedXml, type XmlLimits } from "../xml/safe-parse.js";
import { NS, attr, children, is, text } from "../xml/dom.js";
import { signatureOf, verifyEnvelopedSignature, type SignatureVerifierKind, type TrustedKey } from "../xml/signature.js";
import { isOAuthError } from "../oauth/errors.js";
import { MetadataError, idpEntityScopes, idpMetadataOf, parseDuration, type IdpMetadata } from "../saml/metadata.js";
import { parseSamlInstant } from "../saml/time.js";

/**
 * A federation metadata document (SAML Metadata §2.3: an md:EntitiesDescriptor aggregate, or one
 * md:EntityDescriptor from an MDQ responder) verified with the same hardened parser and XML-DSig
 * code as tokens (xml/safe-parse.ts, xml/signature.ts), under its own, larger, configured bounds.
 *
 * Order, as for a token: size bound → hardened parse → enveloped signature on the root by a pinned
 * key → re-parse of the signed canonical bytes, from which alone entities are then read (the rule
 * of signed-token.ts, node-saml CVE-2025-54419). Nothing is read from the received DOM.
 */

/** Stable codes of a refused document, for logs and tests (never carries document content). */
export type FederationProblem =
  | "metadata_too_large" | "metadata_too_complex" | "metadata_malformed" | "metadata_root_invalid" | "metadata_too_many_entities"
  | "metadata_signature_missing" | "metadata_signature_invalid" | "metadata_valid_until_missing"
  | "metadata_expired" | "metadata_wrong_entity" | "metadata_no_entity";

export class FederationError extends Error {
  override name = "FederationError";
  constructor(readonly problem: FederationProblem | string) {
    super(problem);
  }
}

export interface DocumentBounds {
  maxBytes: number;
  maxEntities: number;
  maxElementsPerEntity: number;
  maxElementNames: number;
}

/**
 * The parser bounds of an aggregate: the token bounds (limits.maxXml*) would refuse any real
 * federation, so they are derived from the source's own configured entity count. Depth stays that
 * of metadata (32): aggregates are wide, not deep.
 */
export function documentLimits(b: DocumentBounds): XmlLimits {
  // The root's own children (Extensions, the Signature: a few dozen elements) on top.
  const maxElements = b.maxEntities * b.maxElementsPerEntity + 64;
  return { maxDepth: 32, maxElements, maxNodes: maxElements * 5, maxAttributesPerElement: 64, maxElementNames: b.maxElementNames };
}

export interface VerifyOptions {
  pinned: readonly TrustedKey[];
  bounds: DocumentBounds;
  verifier?: SignatureVerifierKind | undefined;
}

/** The signed root element, re-parsed from the bytes the pinned signature covers. */
export function verifiedRoot(xml: string, o: VerifyOptions): Element {
  const limits = documentLimits(o.bounds);
  // The received DOM is unreachable once signedBytes returns: at most one big DOM at a time.
  const signedXml = signedBytes(xml, o, limits);
  try {
    return parseUntrustedXml(signedXml, limits).documentElement!;
  } catch {
    throw new FederationError("metadata_malformed");
  }
}

function signedBytes(xml: string, o: VerifyOptions, limits: XmlLimits): string {
  if (Buffer.byteLength(xml, "utf8") > o.bounds.maxBytes) throw new FederationError("metadata_too_large");
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml, limits);
  } catch (e) {
    throw new FederationError(isOAuthError(e) && (e.reason === "xml_too_complex" || e.reason === "xml_too_deep") ? "metadata_too_complex" : "metadata_malformed");
  }
  const root = doc.documentElement!;
  if (!is(root, NS.md, "EntitiesDescriptor") && !is(root, NS.md, "EntityDescriptor")) throw new FederationError("metadata_root_invalid");
  // Counted before the signature work: every EntityDescriptor, whatever its roles.
  if (doc.getElementsByTagNameNS(NS.md, "EntityDescriptor").length > o.bounds.maxEntities) throw new FederationError("metadata_too_many_entities");
  if (!signatureOf(root)) throw new FederationError("metadata_signature_missing");
  try {
    // SHA-1 never: a federation operator signs with today's algorithms (and the pinned key only).
    return verifyEnvelopedSignature(xml, root, "ID", o.pinned, { allowSha1: false, verifier: o.verifier }).signedXml;
  } catch (e) {
    if (isOAuthError(e) && e.reason === "signature_missing") throw new FederationError("metadata_signature_missing");
    throw new FederationError("metadata_signature_invalid");
  }
}

/** What selection looks at (read from signed bytes, like the keys). */
export interface EntityLabels {
  entityId: string;
  /** mdrpi:RegistrationInfo@registrationAuthority of the entity, or of the nearest enclosing EntitiesDescriptor. */
  registrationAuthority: string | undefined;
  /** mdattr:EntityAttributes of the entity and of every enclosing EntitiesDescriptor. */
  entityAttributes: readonly EntityAttribute[];
}

export interface EntityFacts extends EntityLabels {
  metadata: IdpMetadata;
}

export interface EntityAttribute {
  name: string;
  nameFormat: string | undefined;
  values: readonly string[];
}

export interface DocumentEntities {
  entities: EntityFacts[];
  /** The root's validUntil (ms), when it has one. */
  validUntil: number | undefined;
  /** The root's cacheDuration (ms), when it has one. */
  cacheDurationMs: number | undefined;
  /** IdP entities left out, by cause (no signing key, a weak key, expired, duplicated entityID). */
  skipped: Record<string, number>;
}

const MDRPI = "urn:oasis:names:tc:SAML:metadata:rpi";
const MDATTR = "urn:oasis:names:tc:SAML:metadata:attribute";

/**
 * The IdP entities of a verified root. The root's validUntil is required unless the source says
 * otherwise, and must be in the future; an entity whose own (inherited) validUntil passed is left
 * out, as is one whose keys are unusable (one bad entity does not cost the federation its others).
 */
export function entitiesOf(
  root: Element, now: number,
  o: { requireValidUntil: boolean; want?: ((labels: EntityLabels) => boolean) | undefined },
): DocumentEntities {
  const rootValidUntil = instant(attr(root, "validUntil"));
  if (rootValidUntil === undefined && o.requireValidUntil) throw new FederationError("metadata_valid_until_missing");
  if (rootValidUntil !== undefined && now >= rootValidUntil) throw new FederationError("metadata_expired");
  let scopes;
  try {
    scopes = idpEntityScopes(root);
  } catch (e) {
    if (e instanceof MetadataError) throw new FederationError("metadata_malformed");
    throw e;
  }
  const skipped: Record<string, number> = {};
  const skip = (why: string): void => {
    skipped[why] = (skipped[why] ?? 0) + 1;
  };
  const byId = new Map<string, EntityFacts>();
  const duplicated = new Set<string>();
  const extensionsMemo = new Map<Element, { ra: string | undefined; attrs: EntityAttribute[] }>();
  // One entityID twice in one signed document: which one is meant is unknowable, so neither.
  const seen = new Set<string>();
  for (const scope of scopes) {
    const entityId = attr(scope.el, "entityID");
    if (entityId !== undefined && seen.has(entityId)) duplicated.add(entityId);
    if (entityId !== undefined) seen.add(entityId);
  }
  for (const scope of scopes) {
    const entityId = attr(scope.el, "entityID");
    if (!entityId) {
      skip("no_entity_id");
      continue;
    }
    if (duplicated.has(entityId)) {
      skip("duplicated");
      continue;
    }
    let registrationAuthority: string | undefined;
    const entityAttributes: EntityAttribute[] = [];
    for (let n: Node | null = scope.el; n && n.nodeType === 1; n = n.parentNode) {
      const facts = extensionFacts(n as Element, extensionsMemo);
      registrationAuthority ??= facts.ra;
      entityAttributes.push(...facts.attrs);
    }
    const labels: EntityLabels = { entityId, registrationAuthority, entityAttributes };
    // Selection first: the keys of an entity that is not trusted are never even parsed.
    if (o.want && !o.want(labels)) continue;
    let metadata: IdpMetadata;
    try {
      metadata = idpMetadataOf(scope);
    } catch {
      skip("unusable_keys");
      continue;
    }
    if (metadata.validUntil !== undefined && now >= metadata.validUntil) {
      skip("expired");
      continue;
    }
    byId.set(entityId, { ...labels, metadata });
  }
  return {
    entities: [...byId.values()],
    validUntil: rootValidUntil,
    cacheDurationMs: rootCacheMs(root),
    skipped,
  };
}

function rootCacheMs(root: Element): number | undefined {
  const v = attr(root, "cacheDuration");
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined) throw new FederationError("metadata_malformed");
  return ms;
}

function instant(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseSamlInstant(v);
  } catch {
    throw new FederationError("metadata_malformed");
  }
}

/** RegistrationInfo and EntityAttributes in one element's md:Extensions (MDRPI §2.1, MDAttr §2.1). */
function extensionFacts(el: Element, memo: Map<Element, { ra: string | undefined; attrs: EntityAttribute[] }>): { ra: string | undefined; attrs: EntityAttribute[] } {
  const known = memo.get(el);
  if (known) return known;
  let ra: string | undefined;
  const attrs: EntityAttribute[] = [];
  for (const ext of children(el, NS.md, "Extensions")) {
    for (const ri of children(ext, MDRPI, "RegistrationInfo")) ra ??= attr(ri, "registrationAuthority");
    for (const ea of children(ext, MDATTR, "EntityAttributes")) {
      for (const a of children(ea, NS.saml2, "Attribute")) {
        const name = attr(a, "Name");
        if (!name) continue;
        const values: string[] = [];
        for (const v of children(a, NS.saml2, "AttributeValue")) {
          try {
            values.push(text(v).trim());
          } catch {
            // element content: not a value (dom.ts `text`), never flattened
          }
        }
        attrs.push({ name, nameFormat: attr(a, "NameFormat"), values });
      }
    }
  }
  const facts = { ra, attrs };
  // Only enclosing EntitiesDescriptors are shared between entities: memoizing them suffices.
  if (is(el, NS.md, "EntitiesDescriptor")) memo.set(el, facts);
  return facts;
}
