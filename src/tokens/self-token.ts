import { createLocalJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { refuse } from "../oauth/errors.js";
import { TOKEN_TYPES, RESERVED_CLAIMS } from "../oauth/constants.js";
import { SELF, type VerifiedSubject } from "../subject/types.js";
import type { SigningKeySet } from "./signing-keys.js";
import { parseAct, parseMayAct } from "../oauth/claims.js";

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


/** Verifies one of the bridge's own access tokens; throws token_expired / token_invalid. */
export type OwnTokenVerifier = (token: string, now: number) => Promise<{ payload: JWTPayload; kid: string | undefined }>;

export function ownTokenVerifier(ctx: SelfTokenContext): OwnTokenVerifier {
  const jwks = createLocalJWKSet(ctx.keys.jwks);
  const algorithms = [...new Set(ctx.keys.jwks.keys.map((k) => k.alg!))];
  return async (token, now) => {
    if (token.length > ctx.maxTokenBytes) throw refuse("token_too_large");
    try {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: ctx.issuer,
        typ: "at+jwt",
        algorithms,
        requiredClaims: ["exp", "iat", "sub", "jti", "client_id"],
        clockTolerance: ctx.skewMs / 1000,
        currentDate: new Date(now),
      });
      return { payload, kid: protectedHeader.kid };
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw refuse("token_expired");
      // Only jose's own verdicts are the token's fault; anything else is a bug and must surface.
      if (e instanceof errors.JOSEError) throw refuse("token_invalid");
      throw e;
    }
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
      act: parseAct(payload.act),
      mayAct: parseMayAct(payload.may_act),
      granted: {
        scope: typeof payload.scope === "string" ? payload.scope.split(" ").filter(Boolean) : [],
        claims, idp, clientId: String(payload.client_id),
      },
      keyId: kid,
    };
  };
}


