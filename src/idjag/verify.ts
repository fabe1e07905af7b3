import { jwtVerify, type JWTPayload } from "jose";
import { refuse } from "../oauth/errors.js";
import { checkSubjectIdentifier } from "../subject/identifier.js";
import type { VerifiedSubject } from "../subject/types.js";
import { JWT_MAX_BYTES, decodeUnverified } from "../jwt/compact.js";
import { joseRefusal } from "../jwt/refusals.js";
import type { JwtIssuerRegistry } from "../jwt/registry.js";
import { readActClaim, readMayActClaim } from "../policy/act-chain.js";
import { attributesOf } from "../jwt/verifier.js";
import { checkLifetime } from "../jwt/time-checks.js";
import { SCOPE_TOKEN } from "../oauth/constants.js";
import { ID_JAG_TYP, TOKEN_TYPE_ID_JAG } from "./constants.js";

/**
 * The resource authorization server's check of an Identity Assertion JWT Authorization Grant
 * (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.4.1, which applies RFC 7521 §5.2 and
 * RFC 7523 §3), each failure with its reason code:
 *
 * 1. size ≤ min(limits.maxTokenBytes, 16 KiB) (token_too_large); the one strict compact-JWS
 *    decoder (token_invalid);
 * 2. header `typ` exactly `oauth-id-jag+jwt` (RFC 7515 §4.1.9: "application/" prefix optional,
 *    case-insensitive; draft §4.4.1, RFC 8725 §3.11): an ID token, a plain JWT or an access token
 *    is token_type_mismatch; no `cty`; `alg` one of the issuer's; `kid` bounded;
 * 3. `iss` selects a jwtIssuers entry by exact match (issuer_missing / issuer_invalid /
 *    issuer_unknown); that entry must carry `idJag` (id_jag_issuer_not_trusted): an OIDC
 *    provider trusted for ID tokens is not thereby trusted to grant access. The bridge's own issuer
 *    is never one (config), so the bridge never takes an ID-JAG it issued (draft §8.3);
 * 4. signature with that issuer's keys, `iss`, `aud` the bridge's issuer, `exp` not passed, `iat`
 *    not in the future, all with the clock skew; required: iss, sub, aud, client_id, jti, exp,
 *    iat (draft §3.1);
 * 5. `aud` a string, or an array of exactly one element, equal to the bridge's issuer (draft
 *    §4.4.1: audience injection) (id_jag_claim_invalid); `exp` after `iat`, `exp − iat` ≤
 *    idJag.maxLifetimeSeconds (token_lifetime_too_long; jwt/time-checks.ts); `sub` by the subject-identifier rule;
 *    `client_id` a non-empty string (the grant step compares it with the authenticated client);
 *    `jti` a non-empty string of at most 1024 characters, used once (replay step);
 * 6. `resource` a URI string or a non-empty array of them, `scope` a string, `auth_time` a number,
 *    `acr` a string, `amr` an array of strings (id_jag_claim_invalid); a `cnf` key binding is
 *    refused (id_jag_pop_unsupported: the draft §8.6 requires proof of possession, which this
 *    bridge does not implement).
 */
export interface IdJagContext {
  issuers: JwtIssuerRegistry;
  /** The bridge's issuer: the only accepted `aud`. */
  audience: string;
  skewSeconds: number;
  maxTokenBytes: number;
}

/** An ID-JAG's authorization content, beyond what a VerifiedSubject carries. */
export interface IdJagGrant {
  clientId: string;
  resource: string[] | undefined;
  scope: string[] | undefined;
}

export type IdJagVerifier = (token: string, now: number) => Promise<{ subject: VerifiedSubject; grant: IdJagGrant }>;

const MAX_KID_LENGTH = 256;
const MAX_JTI_LENGTH = 1024;
const MAX_RESOURCES = 32;

/** RFC 7515 §4.1.9: the media type, "application/" optional, compared case-insensitively. */
export function isIdJagTyp(typ: unknown): boolean {
  if (typeof typ !== "string") return false;
  const t = typ.toLowerCase();
  return t === ID_JAG_TYP || t === `application/${ID_JAG_TYP}`;
}

export function idJagVerifier(ctx: IdJagContext): IdJagVerifier {
  const maxBytes = Math.min(ctx.maxTokenBytes, JWT_MAX_BYTES);
  return async (token, now) => {
    if (token.length > maxBytes) throw refuse("token_too_large");
    const { header, payload: unverified } = decodeUnverified(token);
    if (!isIdJagTyp(header.typ)) throw refuse("token_type_mismatch");
    if (header.cty !== undefined) throw refuse("token_invalid");

    const claimedIss = unverified.iss;
    if (claimedIss === undefined) throw refuse("issuer_missing");
    if (typeof claimedIss !== "string" || claimedIss === "") throw refuse("issuer_invalid");
    const issuer = ctx.issuers.byIssuer(claimedIss);
    if (!issuer) throw refuse("issuer_unknown");
    if (issuer.idJag === undefined) throw refuse("id_jag_issuer_not_trusted");
    if (typeof header.alg !== "string" || !issuer.algorithms.includes(header.alg)) throw refuse("signature_algorithm_forbidden");
    if (header.kid !== undefined && (typeof header.kid !== "string" || header.kid.length > MAX_KID_LENGTH)) throw refuse("token_invalid");

    let payload: JWTPayload;
    let kid: string | undefined;
    try {
      const verified = await jwtVerify(token, issuer.keys, {
        algorithms: [...issuer.algorithms],
        issuer: issuer.issuer,
        audience: ctx.audience,
        typ: ID_JAG_TYP,
        requiredClaims: ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"],
        clockTolerance: ctx.skewSeconds,
        currentDate: new Date(now),
        // jose checks `iat` against the clock only with a maximum age: a grant is never older than its longest life.
        maxTokenAge: issuer.idJag.maxLifetimeSeconds,
      });
      payload = verified.payload;
      kid = verified.protectedHeader.kid;
    } catch (e) {
      throw joseRefusal(e) ?? refuse("token_invalid");
    }

    const aud = payload.aud;
    if (!(aud === ctx.audience || (Array.isArray(aud) && aud.length === 1 && aud[0] === ctx.audience))) throw refuse("id_jag_claim_invalid");
    const iat = payload.iat!;
    const exp = payload.exp!;
    if (iat > now / 1000 + ctx.skewSeconds) throw refuse("assertion_not_yet_valid");
    checkLifetime(iat, exp, issuer.idJag.maxLifetimeSeconds);
    const sub = checkSubjectIdentifier(payload.sub);
    const clientId = payload.client_id;
    if (typeof clientId !== "string" || clientId === "" || clientId.length > 1024) throw refuse("id_jag_claim_invalid");
    const jti = payload.jti;
    if (typeof jti !== "string" || jti === "" || jti.length > MAX_JTI_LENGTH) throw refuse("jti_invalid");
    if (payload.cnf !== undefined) throw refuse("id_jag_pop_unsupported");

    const grant: IdJagGrant = { clientId, resource: resourcesOf(payload.resource), scope: scopeOf(payload.scope) };
    if (payload.auth_time !== undefined && !(typeof payload.auth_time === "number" && Number.isFinite(payload.auth_time))) throw refuse("id_jag_claim_invalid");
    if (payload.acr !== undefined && typeof payload.acr !== "string") throw refuse("id_jag_claim_invalid");
    if (payload.amr !== undefined && !(Array.isArray(payload.amr) && payload.amr.every((a) => typeof a === "string"))) throw refuse("id_jag_claim_invalid");

    const subject: VerifiedSubject = {
      tokenType: TOKEN_TYPE_ID_JAG,
      // No party binding: the grant's client_id is compared with the caller directly (draft §4.4.1).
      source: { id: issuer.id, issuer: issuer.issuer, mapping: issuer.mapping, binding: undefined },
      subject: sub,
      nameIdFormat: undefined,
      attributes: attributesOf(payload),
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
      // The access token never outlives the grant it was issued for.
      notAfter: exp * 1000,
      authTime: typeof payload.auth_time === "number" ? payload.auth_time * 1000 : undefined,
      acr: typeof payload.acr === "string" ? payload.acr : undefined,
      // RFC 7523 §3 item 7 lets the server keep used `jti`s; here each grant is good for one token.
      oneTimeUse: { id: jti, keepUntil: (exp + ctx.skewSeconds) * 1000 },
      act: readActClaim(payload.act),
      mayAct: readMayActClaim(payload.may_act),
      granted: undefined,
      keyId: kid,
    };
    return { subject, grant };
  };
}

/** Draft §3.1 `resource`: one URI or an array of them (RFC 8707 §2: absolute, no fragment). */
function resourcesOf(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RESOURCES) throw refuse("id_jag_claim_invalid");
  for (const r of list) {
    if (typeof r !== "string" || r.includes("#") || !URL.canParse(r)) throw refuse("id_jag_claim_invalid");
  }
  return [...new Set(list as string[])];
}

/** Draft §3.1 `scope`: a space-separated string (RFC 6749 §3.3). */
function scopeOf(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw refuse("id_jag_claim_invalid");
  const parts = value.split(" ");
  if (parts.some((p) => !SCOPE_TOKEN.test(p))) throw refuse("id_jag_claim_invalid");
  return [...new Set(parts)];
}
