import { randomUUID } from "node:crypto";
import { RESERVED_CLAIMS } from "../oauth/constants.js";
import type { ActiveSigningKey } from "../tokens/signing-keys.js";
import type { IssuedToken } from "../tokens/access-token.js";
import { ID_JAG_CLAIMS, ID_JAG_TYP } from "./constants.js";

/** What an issued ID-JAG says (draft-ietf-oauth-identity-assertion-authz-grant-04 §3.1). */
export interface IdJagContent {
  /** The bridge's issuer: the IdP authorization server. */
  issuer: string;
  sub: string;
  /** The resource authorization server's issuer identifier. */
  audience: string;
  /** The client's identifier at that server (draft §5), not its id at the bridge. */
  clientId: string;
  resources: readonly string[];
  scope: readonly string[];
  authTime: number | undefined;
  acr: string | undefined;
  amr: readonly string[] | undefined;
  /** The subject's mapped identity claims (email…: draft §3.1 recommends them for account resolution). */
  claims: Readonly<Record<string, unknown>>;
  issuedAt: number;
  expiresAt: number;
}

/**
 * The claims of the grant: iss, sub, aud (one string: draft §4.4.1), client_id, jti, exp, iat,
 * and resource (a string for one, an array for several), scope, auth_time, acr, amr where known.
 * Mapped claims never carry a name the bridge or the draft defines (dropped here whatever the
 * config says). `jti` is added when signing.
 */
export function idJagClaims(c: IdJagContent): Record<string, unknown> {
  const seconds = (ms: number): number => Math.floor(ms / 1000);
  const reserved = new Set<string>([...RESERVED_CLAIMS, ...ID_JAG_CLAIMS]);
  const mapped = Object.fromEntries(Object.entries(c.claims).filter(([k]) => !reserved.has(k)));
  return {
    ...mapped,
    iss: c.issuer,
    sub: c.sub,
    aud: c.audience,
    client_id: c.clientId,
    iat: seconds(c.issuedAt),
    exp: seconds(c.expiresAt),
    ...(c.resources.length === 1 ? { resource: c.resources[0] } : c.resources.length > 1 ? { resource: [...c.resources] } : {}),
    ...(c.scope.length > 0 ? { scope: c.scope.join(" ") } : {}),
    ...(c.authTime !== undefined ? { auth_time: seconds(c.authTime) } : {}),
    ...(c.acr !== undefined ? { acr: c.acr } : {}),
    ...(c.amr !== undefined && c.amr.length > 0 ? { amr: [...c.amr] } : {}),
  };
}

/** Signed with the bridge's active key, header `typ: oauth-id-jag+jwt` (draft §3.1, RFC 8725 §3.11). */
export async function signIdJag(content: IdJagContent, key: ActiveSigningKey): Promise<IssuedToken> {
  const jti = randomUUID();
  return { token: await key.signCompact(ID_JAG_TYP, { ...idJagClaims(content), jti }), jti };
}
