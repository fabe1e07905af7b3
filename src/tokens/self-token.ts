import { createLocalJWKSet, jwtVerify, type JWTPayload } from "jose";
import { refuse } from "../oauth/errors.js";
import { TOKEN_TYPES, RESERVED_CLAIMS } from "../oauth/constants.js";
import { SELF, type VerifiedSubject } from "../subject/types.js";
import { checkSubjectIdentifier } from "../subject/identifier.js";
import type { SigningKeySet } from "./signing-keys.js";
import { decodeUnverified } from "../jwt/compact.js";
import { joseRefusal } from "../jwt/refusals.js";
import { readActClaim, readMayActClaim } from "../policy/act-chain.js";

/**
 * The bridge's own access tokens as subject or actor tokens (`access_token`), the next hop of a
 * chain: verified against the bridge's own keys only, as RFC 9068 tokens (`typ: at+jwt`, §4),
 * with every time claim required. The subject, claims, scope and IdP carry over unchanged and
 * bound the next token; its `act` chain is kept, to be nested beneath the new actor.
 */
export interface SelfTokenContext {
  issuer: string;
  keys: SigningKeySet;
  skewMs: number;
  maxTokenBytes: number;
}


/**
 * Verifies one of the bridge's own access tokens (exchange and introspection alike): first the one
 * strict compact-JWS decoder every JWT path uses (src/jwt/compact.ts: three canonical base64url
 * segments, no whitespace anywhere, JSON objects without repeated members), then jose, then the
 * claims the next hop relies on: `sub` by the subject-identifier rule, `client_id` a string,
 * `scope` and `idp` strings when present. Throws an OAuthError (refusals.ts) on any failure.
 */
export type OwnTokenVerifier = (token: string, now: number) => Promise<{ payload: JWTPayload; kid: string | undefined }>;

export function ownTokenVerifier(ctx: SelfTokenContext): OwnTokenVerifier {
  const jwks = createLocalJWKSet(ctx.keys.jwks);
  const algorithms = [...new Set(ctx.keys.jwks.keys.map((k) => k.alg!))];
  return async (token, now) => {
    if (token.length > ctx.maxTokenBytes) throw refuse("token_too_large");
    decodeUnverified(token);
    let verified: { payload: JWTPayload; kid: string | undefined };
    try {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: ctx.issuer,
        typ: "at+jwt",
        algorithms,
        requiredClaims: ["exp", "iat", "sub", "jti", "client_id"],
        clockTolerance: ctx.skewMs / 1000,
        currentDate: new Date(now),
      });
      verified = { payload, kid: protectedHeader.kid };
    } catch (e) {
      // Only jose's own verdicts are the token's fault; anything else is a bug and must surface.
      throw joseRefusal(e) ?? e;
    }
    const p = verified.payload;
    checkSubjectIdentifier(p.sub);
    if (typeof p.client_id !== "string" || p.client_id === "") throw refuse("token_invalid");
    if (p.scope !== undefined && typeof p.scope !== "string") throw refuse("token_invalid");
    if (p.idp !== undefined && typeof p.idp !== "string") throw refuse("token_invalid");
    return verified;
  };
}

/** The bridge's own token as a subject or actor: one verification, shared with introspection. */
export function ownTokenAsSubject(verify: OwnTokenVerifier, issuer: string): (token: string, now: number) => Promise<VerifiedSubject> {
  return async (token, now) => {
    const { payload, kid } = await verify(token, now);
    const claims: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(payload)) {
      if (!(RESERVED_CLAIMS as readonly string[]).includes(k)) claims[k] = v;
    }
    const idp = typeof payload.idp === "string" ? payload.idp : issuer;
    return {
      tokenType: TOKEN_TYPES.accessToken,
      source: { id: SELF, issuer: issuer, mapping: undefined },
      subject: payload.sub!,
      nameIdFormat: undefined,
      attributes: [],
      issuedAt: payload.iat! * 1000,
      expiresAt: payload.exp! * 1000,
      // The next hop never outlives this token.
      notAfter: payload.exp! * 1000,
      authTime: typeof payload.auth_time === "number" ? payload.auth_time * 1000 : undefined,
      acr: typeof payload.acr === "string" ? payload.acr : undefined,
      oneTimeUse: undefined,
      act: readActClaim(payload.act),
      mayAct: readMayActClaim(payload.may_act),
      granted: {
        scope: typeof payload.scope === "string" ? payload.scope.split(" ").filter(Boolean) : [],
        claims, idp, clientId: payload.client_id as string,
      },
      keyId: kid,
      ...proxyRestrictionOf(payload.proxy_restriction),
    };
  };
}

/**
 * The SAML ProxyRestriction a token of the bridge carries on (tokens/access-token.ts): it binds the
 * re-exchange (mapping/mapper.ts checkProxyRestriction). Written by the bridge only; any other
 * shape is token_invalid, never ignored.
 */
function proxyRestrictionOf(value: unknown): { proxyCount?: number; proxyAudiences?: readonly string[] } {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw refuse("token_invalid");
  const { count, aud, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw refuse("token_invalid");
  if (count !== undefined && !(Number.isSafeInteger(count) && (count as number) >= 0)) throw refuse("token_invalid");
  if (aud !== undefined && !(Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === "string"))) throw refuse("token_invalid");
  return { ...(count !== undefined ? { proxyCount: count as number } : {}), ...(aud !== undefined ? { proxyAudiences: aud as string[] } : {}) };
}


