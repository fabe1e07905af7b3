import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import type { ActiveSigningKey } from "./signing-keys.js";
import { RESERVED_CLAIMS } from "../config/schema.js";

/** RFC 8693 §4.1: the `act` claim; nested `act` records earlier actors of a chain. */
export interface ActClaim {
  sub: string;
  iss?: string;
  act?: ActClaim;
}

export interface AccessTokenContent {
  issuer: string;
  sub: string;
  audiences: readonly string[];
  clientId: string;
  scope: readonly string[];
  act: ActClaim | undefined;
  /** RFC 8693 §4.4: the only party that may act with this token in a next exchange. */
  mayAct: { sub: string; iss: string } | undefined;
  /** The subject's identity provider (entity ID). */
  idp: string;
  authTime: number | undefined;
  acr: string | undefined;
  /** Mapped claims; the config guarantees they never name a reserved claim. */
  claims: Readonly<Record<string, unknown>>;
  issuedAt: number;
  expiresAt: number;
}

export interface IssuedToken {
  token: string;
  jti: string;
}

/**
 * An RFC 9068 JWT access token: header `typ: at+jwt` (§2.1) and `kid`; claims iss, sub, aud, exp,
 * iat, jti, client_id, scope (§2.2) and act (RFC 8693 §4.1). Mapped claims are written first so
 * the bridge's own claims always win.
 */
export async function signAccessToken(content: AccessTokenContent, key: ActiveSigningKey): Promise<IssuedToken> {
  const jti = randomUUID();
  const seconds = (ms: number): number => Math.floor(ms / 1000);
  // Mapped claims never carry a reserved name (the config refuses them); drop any anyway, so no
  // path (a hand-edited record store, a future source) can ever set scope, act or may_act here.
  const mapped = Object.fromEntries(Object.entries(content.claims).filter(([k]) => !(RESERVED_CLAIMS as readonly string[]).includes(k)));
  const payload: Record<string, unknown> = {
    ...mapped,
    client_id: content.clientId,
    idp: content.idp,
    ...(content.scope.length > 0 ? { scope: content.scope.join(" ") } : {}),
    ...(content.act ? { act: content.act } : {}),
    ...(content.mayAct ? { may_act: content.mayAct } : {}),
    ...(content.authTime !== undefined ? { auth_time: seconds(content.authTime) } : {}),
    ...(content.acr !== undefined ? { acr: content.acr } : {}),
  };
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: "at+jwt", kid: key.kid })
    .setIssuer(content.issuer)
    .setSubject(content.sub)
    .setAudience(content.audiences.length === 1 ? content.audiences[0]! : [...content.audiences])
    .setIssuedAt(seconds(content.issuedAt))
    .setExpirationTime(seconds(content.expiresAt))
    .setJti(jti)
    .sign(key.privateKey);
  return { token, jti };
}
