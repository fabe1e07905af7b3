import type { MappingConfig, SamlFederationConfig } from "../config/schema.js";
import { trustedIdp, type TrustedIdp } from "../saml/idp-registry.js";
import type { EntityFacts, EntityLabels } from "./document.js";

/**
 * Which entities of a federation source are trusted, and how: selection (entityIDs, patterns,
 * registration authority, entity attributes), the source's policy and mapping with per-entity
 * overrides, and each entity's subject namespace (src/policy/subject-namespace.ts).
 */

type Select = SamlFederationConfig["select"];

/** `*` matches any run of characters, everything else is literal; linear-time, no RegExp built from config. */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = v;
    } else if (star >= 0) {
      p = star + 1;
      v = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Whether an entityID can be selected at all (MDQ asks only for those: no fetch for the rest). */
export function entityIdSelected(select: Select, entityId: string): boolean {
  if (select.entityIds === undefined && select.entityIdPatterns === undefined) return true;
  return (select.entityIds?.includes(entityId) ?? false) || (select.entityIdPatterns?.some((p) => globMatch(p, entityId)) ?? false);
}

/** Every configured criterion must hold (entityIDs and patterns count as one: either matches). */
export function selected(select: Select, e: EntityLabels): boolean {
  if (!entityIdSelected(select, e.entityId)) return false;
  if (select.registrationAuthorities !== undefined) {
    if (e.registrationAuthority === undefined || !select.registrationAuthorities.includes(e.registrationAuthority)) return false;
  }
  for (const rule of select.entityAttributes ?? []) {
    const holds = e.entityAttributes.some((a) => a.name === rule.name
      && (rule.nameFormat === undefined || a.nameFormat === rule.nameFormat)
      && a.values.some((v) => rule.anyOf.includes(v)));
    if (!holds) return false;
  }
  return true;
}

/**
 * The entity's own subject namespace (entityId mode): the source's prefix, then the entityID with
 * `%` and `!` percent-encoded, then `!` (the separator Shibboleth's persistent IDs use). As no
 * encoded entityID contains `!`, no entity's prefix is a prefix of another's: two entities asserting
 * one identifier never yield one `sub` (RFC 7519 §4.1.2), whatever their entityIDs.
 */
export function entityPrefix(sourcePrefix: string | undefined, entityId: string): string {
  return `${sourcePrefix ?? ""}${entityId.replace(/%/g, "%25").replace(/!/g, "%21")}!`;
}

/** A copy of `s` that shares no memory with the string it was cut from. */
const flat = (s: string): string => Buffer.from(s, "utf8").toString("utf8");

export interface TrustBuilder {
  /** The trusted IdP for a selected entity, or undefined when the entity is not selected. */
  (e: EntityFacts): TrustedIdp | undefined;
}

export function trustBuilder(source: SamlFederationConfig, tokenEndpoint: string, bridgeIssuer: string): TrustBuilder {
  const overrides = new Map(source.entities.map((o) => [o.entityId, o]));
  return (e) => {
    const entityId = e.metadata.entityId;
    // The bridge's issuer names its clients and its own tokens: no IdP may share it (bootstrap.ts).
    if (entityId === bridgeIssuer || !selected(source.select, e)) return undefined;
    const o = overrides.get(entityId);
    const base: MappingConfig = o?.mapping ?? source.mapping;
    const mapping: MappingConfig = source.subjectNamespace === "entityId"
      ? { ...base, subjectPrefix: flat(entityPrefix(source.mapping.subjectPrefix, entityId)), userDirectory: undefined }
      : { ...base, subjectPrefix: source.mapping.subjectPrefix, userDirectory: source.mapping.userDirectory };
    // Strings read from the DOM are slices of the whole document's text (V8 sliced strings): kept
    // as they are, every trusted entity would keep the entire aggregate alive. Copies are flat.
    const metadata = { ...e.metadata, entityId: flat(entityId), protocols: e.metadata.protocols.map(flat) };
    return trustedIdp(source.id, metadata, {
      allowSha1: o?.allowSha1 ?? source.allowSha1,
      requireSignedAssertion: o?.requireSignedAssertion ?? source.requireSignedAssertion,
      recipients: o?.recipients ?? source.recipients,
      maxAssertionAgeSeconds: o?.maxAssertionAgeSeconds ?? source.maxAssertionAgeSeconds,
      allowTripleDesCbc: o?.allowTripleDesCbc ?? source.allowTripleDesCbc,
      mapping,
    }, tokenEndpoint);
  };
}

/** The IdpRegistry stand-in for a whole source (IdpRegistry.all()): no per-entity cost per request. */
export function sourceSummary(source: SamlFederationConfig, tokenEndpoint: string, protocols: readonly string[]): TrustedIdp {
  const maxAgeSeconds = Math.max(source.maxAssertionAgeSeconds, ...source.entities.map((o) => o.maxAssertionAgeSeconds ?? 0));
  return trustedIdp(source.id, {
    entityId: `federation:${source.id}`, signingKeys: [], validUntil: undefined, protocols: [...protocols], certificates: [], cacheDurationMs: undefined,
  }, { ...source, maxAssertionAgeSeconds: maxAgeSeconds }, tokenEndpoint);
}
