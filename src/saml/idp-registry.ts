import type { MappingConfig } from "../config/schema.js";
import type { IdpMetadata } from "./metadata.js";

export interface SamlIdpPolicy {
  allowSha1: boolean;
  requireSignedAssertion: boolean;
  /** A bearer confirmation's Recipient (and a Response's Destination, if any) must be one of these. */
  recipients: readonly string[];
  maxAssertionAgeMs: number;
}

/** An IdP the bridge trusts: its metadata (keys), its policy knobs and its mapping. */
export interface TrustedIdp {
  id: string;
  metadata: IdpMetadata;
  policy: SamlIdpPolicy;
  mapping: MappingConfig;
}

/** Looks IdPs up by entityID: the Issuer of an assertion selects whose keys may verify it. */
export class IdpRegistry {
  readonly #byEntityId = new Map<string, TrustedIdp>();

  constructor(idps: readonly TrustedIdp[]) {
    for (const idp of idps) {
      if (this.#byEntityId.has(idp.metadata.entityId)) {
        throw new Error(`two IdPs share the entityID ${idp.metadata.entityId}`);
      }
      this.#byEntityId.set(idp.metadata.entityId, idp);
    }
  }

  byEntityId(entityId: string): TrustedIdp | undefined {
    return this.#byEntityId.get(entityId);
  }

  all(): TrustedIdp[] {
    return [...this.#byEntityId.values()];
  }
}
