import type { TrustedIdp } from "../saml/idp-registry.js";

export interface SamlAttribute {
  name: string;
  friendlyName: string | undefined;
  nameFormat: string | undefined;
  values: string[];
}

/**
 * What a verified subject token yields, whatever its format: only values read from signed bytes
 * and already checked against every rule. The mapping and policy steps consume this.
 */
export interface VerifiedSubject {
  tokenType: string;
  idp: TrustedIdp;
  /** The token's own identifier (assertion ID), the replay key together with the IdP. */
  tokenId: string;
  nameId: string;
  nameIdFormat: string | undefined;
  attributes: SamlAttribute[];
  issuedAt: number;
  /** The instant after which the token may no longer be used (ms since epoch). */
  expiresAt: number;
  authTime: number | undefined;
  acr: string | undefined;
  /** The IdP session end (SessionNotOnOrAfter), which bounds the issued token's lifetime. */
  sessionNotOnOrAfter: number | undefined;
  keyFingerprint: string;
}
