import { randomUUID } from "node:crypto";
import type { ActiveSigningKey } from "./signing-keys.js";
import type { ActClaim, MayAct } from "../oauth/claims.js";
import { RESERVED_CLAIMS } from "../oauth/constants.js";


export interface AccessTokenContent {
  issuer: string;
  sub: string;
  audiences: readonly string[];
  clientId: string;
  scope: readonly string[];
  act: ActClaim | undefined;
  /** RFC 8693 §4.4: the only party that may act with this token in a next exchange. */
  mayAct: MayAct | undefined;
  /** The subject's identity provider (entity ID). */
  idp: string;
  authTime: number | undefined;
  acr: string | undefined;
  /** Mapped claims; the config guarantees they never name a reserved claim. */
  claims: Readonly<Record<string, unknown>>;
  issuedAt: number;
  expiresAt: number;
  /**
   * A SAML ProxyRestriction (SAML Core §2.5.1.6) carried on: "A SAML relying party acting as an
   * asserting party MUST NOT issue an assertion that itself violates the restrictions specified in
   * this condition on the basis of an assertion containing such a condition." The issued token is
   * such an assertion, and a re-exchange of it is a further one: `count` is how many more may be
   * issued on its basis, `aud` the only audiences they may have (claim `proxy_restriction`).
   */
  proxyRestriction?: { count?: number; aud?: readonly string[] } | undefined;
  /** RFC 7800 `cnf`: the key (DPoP, RFC 9449 §6.1) or certificate (RFC 8705 §3.1) the token is bound to. */
  cnf?: { jkt?: string; "x5t#S256"?: string } | undefined;
}

export interface IssuedToken {
  token: string;
  jti: string;
}

/**
 * The claims of an RFC 9068 access token (§2.2): iss, sub, aud, exp, iat, client_id, scope, and act /
 * may_act (RFC 8693 §4.1, §4.4), over the mapped claims. Mapped claims never carry a reserved name
 * (the config refuses them); any that did are dropped here anyway, so no path (a hand-edited record
 * store, a future source) can set scope, act or may_act. `jti` is added when signing.
 */
export function accessTokenClaims(content: AccessTokenContent): Record<string, unknown> {
  const seconds = (ms: number): number => Math.floor(ms / 1000);
  const mapped = Object.fromEntries(Object.entries(content.claims).filter(([k]) => !(RESERVED_CLAIMS as readonly string[]).includes(k)));
  return {
    ...mapped,
    iss: content.issuer,
    sub: content.sub,
    aud: content.audiences.length === 1 ? content.audiences[0]! : [...content.audiences],
    iat: seconds(content.issuedAt),
    exp: seconds(content.expiresAt),
    client_id: content.clientId,
    idp: content.idp,
    ...(content.scope.length > 0 ? { scope: content.scope.join(" ") } : {}),
    ...(content.act ? { act: content.act } : {}),
    ...(content.mayAct ? { may_act: content.mayAct } : {}),
    ...(content.authTime !== undefined ? { auth_time: seconds(content.authTime) } : {}),
    ...(content.acr !== undefined ? { acr: content.acr } : {}),
    ...(content.proxyRestriction ? { proxy_restriction: { ...content.proxyRestriction } } : {}),
    ...(content.cnf && Object.keys(content.cnf).length > 0 ? { cnf: { ...content.cnf } } : {}),
  };
}

/**
 * Signs those claims as a JWT with header `typ: at+jwt` (RFC 9068 §2.1) and `kid`, with the key's
 * cached signer (signing-keys.ts compactSigner: no per-token key import or header encoding).
 */
export async function signAccessToken(content: AccessTokenContent, key: ActiveSigningKey): Promise<IssuedToken> {
  const jti = randomUUID();
  return { token: await key.signCompact("at+jwt", { ...accessTokenClaims(content), jti }), jti };
}
