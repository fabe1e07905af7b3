import type { MappingConfig } from "../config/schema.js";
import type { ActClaim, MayAct } from "../oauth/claims.js";

/** An attribute (SAML) or claim (JWT), as name + string values. */
export interface Attribute {
  name: string;
  /** SAML 2.0 FriendlyName. */
  friendlyName: string | undefined;
  /** SAML 2.0 NameFormat, or SAML 1.1 AttributeNamespace. */
  nameFormat: string | undefined;
  values: string[];
}
/** @deprecated name kept for the SAML modules; same shape as Attribute. */
export type SamlAttribute = Attribute;

/** Where a verified token came from and how it is governed. */
export interface TokenSource {
  /** Config id: a SAML IdP id, a JWT issuer id, or SELF for the bridge's own access tokens. */
  id: string;
  /** The issuer's identifier: SAML entity ID or JWT `iss`. */
  issuer: string;
  /** The mapping to apply; undefined for the bridge's own tokens, whose claims carry over. */
  mapping: MappingConfig | undefined;
  /**
   * JWT issuers only: how a token's party (`azp` / `client_id`) binds to the presenting client
   * (src/policy/client-binding.ts). Undefined for SAML IdPs and the bridge's own tokens.
   */
  binding?: PartyBinding | undefined;
}

/** A JWT issuer's party-binding settings (config: jwtIssuers[].actorBinding, bindSubjectTokens). */
export interface PartyBinding {
  actor: "azp" | "sub" | "none";
  subject: boolean;
}

/**
 * The party a JWT names as the one it was issued to (OIDC Core §2 `azp`, RFC 8693 §4.3 /
 * RFC 9068 §2.2 `client_id`): none, exactly one string (both claims agreeing if both are there),
 * or malformed (non-string, empty, or the two claims disagreeing).
 */
export type PartyClaim = { kind: "none" } | { kind: "named"; id: string } | { kind: "invalid" };

/** The source id of the bridge's own access tokens. */
export const SELF = "self";


/**
 * What a verified subject (or actor) token yields, whatever its format: only values read from
 * signed bytes and already checked against every rule of its format. The policy steps consume it.
 */
export interface VerifiedSubject {
  tokenType: string;
  source: TokenSource;
  /** The subject identifier: NameID / NameIdentifier / `sub`. */
  subject: string;
  nameIdFormat: string | undefined;
  attributes: Attribute[];
  issuedAt: number;
  /** The instant after which the token itself may no longer be presented (ms since epoch). */
  expiresAt: number;
  /** The issued token must not outlive this (IdP session end, or the subject token's own expiry). */
  notAfter: number | undefined;
  authTime: number | undefined;
  acr: string | undefined;
  /**
   * One-time use: the token's ID (scoped by the source's issuer in the replay key) and until when
   * the mark must be kept (the last instant the token could still pass the time checks).
   * Undefined: the token may be presented repeatedly (e.g. the bridge's own tokens in a fan-out).
   */
  oneTimeUse: { id: string; keepUntil: number } | undefined;
  /** A delegation chain the token already records (`act`), to be nested under the new actor. */
  act: ActClaim | undefined;
  /** The token's `may_act`, a hard constraint on who may act (RFC 8693 §4.4). */
  mayAct: MayAct | undefined;
  /** For the bridge's own tokens: what the earlier hop granted, the ceiling of the next one. */
  granted: { scope: readonly string[]; claims: Readonly<Record<string, unknown>>; idp: string; clientId: string } | undefined;
  /** Which metadata/JWKS key verified the token (for logs and explanations). */
  keyId: string | undefined;
  /** JWTs from trusted issuers: the party the token names (azp / client_id). */
  party?: PartyClaim | undefined;
  /**
   * SAML 2.0 ProxyRestriction Audiences (SAML Core §2.5.1.6): the only audiences a token issued on
   * the basis of this assertion may have. Undefined: no such restriction.
   */
  proxyAudiences?: readonly string[] | undefined;
  /**
   * SAML 2.0 ProxyRestriction Count (SAML Core §2.5.1.6), carried on by the bridge's own tokens
   * (claim `proxy_restriction`): how many more tokens may still be issued, one after the other, on
   * the basis of this one. Issuing one uses one; 0 forbids it. Undefined: no limit.
   */
  proxyCount?: number | undefined;
}
