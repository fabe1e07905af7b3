import type { MappingConfig } from "../config/schema.js";
import type { IdpMetadata } from "./metadata.js";

export interface SamlIdpPolicy {
  allowSha1: boolean;
  requireSignedAssertion: boolean;
  /** A bearer confirmation's Recipient (and a Response's Destination, if any) must be one of these. */
  recipients: readonly string[];
  maxAssertionAgeMs: number;
  /** Decrypt tripledes-cbc content from this IdP (pysaml2 sends nothing else); off by default. */
  allowTripleDesCbc: boolean;
}

/** The IdP fields of the config and of an admin record alike (src/config/schema.ts `samlIdp`). */
export interface IdpSettings {
  allowSha1: boolean;
  requireSignedAssertion: boolean;
  recipients?: readonly string[] | undefined;
  maxAssertionAgeSeconds: number;
  /** Absent (an admin record written before the setting existed): false. */
  allowTripleDesCbc?: boolean | undefined;
  mapping: MappingConfig;
}

/**
 * Builds a trusted IdP from its metadata and settings, the same way for config-file and
 * admin-managed IdPs. RFC 7522 §3: the Recipient MUST match the token endpoint, so that is the
 * default; an IdP whose assertions were addressed elsewhere (a legacy app's ACS) lists others.
 */
export function trustedIdp(id: string, metadata: IdpMetadata, s: IdpSettings, tokenEndpoint: string): TrustedIdp {
  return {
    id,
    metadata,
    policy: {
      allowSha1: s.allowSha1,
      requireSignedAssertion: s.requireSignedAssertion,
      recipients: s.recipients ?? [tokenEndpoint],
      maxAssertionAgeMs: s.maxAssertionAgeSeconds * 1000,
      allowTripleDesCbc: s.allowTripleDesCbc ?? false,
    },
    mapping: s.mapping,
  };
}

/** An IdP the bridge trusts: its metadata (keys), its policy knobs and its mapping. */
export interface TrustedIdp {
  id: string;
  metadata: IdpMetadata;
  policy: SamlIdpPolicy;
  mapping: MappingConfig;
}

/**
 * Looks IdPs up by entityID: the Issuer of an assertion selects whose keys may verify it. The
 * admin API replaces the whole set at once (`replaceAll`): a new map is built off to the side and
 * swapped in one assignment, so a lookup sees either the old set or the new one, never a mix.
 */
/**
 * IdPs trusted through a federation source (src/federation: a signed metadata aggregate or an MDQ
 * responder), looked up after the local map. `summary` stands for the whole source in `all()`
 * (its id, the protocols and largest assertion age of its entities, no certificates), so that
 * callers iterating `all()` per request never pay for thousands of entities.
 */
export interface IdpSource {
  byEntityId(entityId: string): TrustedIdp | undefined;
  summary(): TrustedIdp;
}

export class IdpRegistry {
  #byEntityId = new Map<string, TrustedIdp>();
  #sources: readonly IdpSource[] = [];

  constructor(idps: readonly TrustedIdp[]) {
    this.replaceAll(idps);
  }

  replaceAll(idps: readonly TrustedIdp[]): void {
    const next = new Map<string, TrustedIdp>();
    for (const idp of idps) {
      if (next.has(idp.metadata.entityId)) {
        throw new Error(`two IdPs share the entityID ${idp.metadata.entityId}`);
      }
      next.set(idp.metadata.entityId, idp);
    }
    this.#byEntityId = next;
  }

  /** A federation source, consulted (in the order added) when no local IdP has the entityID. */
  addSource(source: IdpSource): void {
    this.#sources = [...this.#sources, source];
  }

  byEntityId(entityId: string): TrustedIdp | undefined {
    const local = this.#byEntityId.get(entityId);
    if (local !== undefined) return local;
    for (const source of this.#sources) {
      const idp = source.byEntityId(entityId);
      if (idp !== undefined) return idp;
    }
    return undefined;
  }

  all(): TrustedIdp[] {
    return [...this.#byEntityId.values(), ...this.#sources.map((s) => s.summary())];
  }
}
