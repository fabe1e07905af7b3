import { checkSubjectIdentifier } from "../subject/identifier.js";
import { errors, type CryptoKey, type JWTPayload, type JWTVerifyOptions } from "jose";
import { refuse } from "../oauth/errors.js";
import { TOKEN_TYPES } from "../oauth/constants.js";
import { readActClaim, readMayActClaim } from "../policy/act-chain.js";
import { partyOf } from "../policy/client-binding.js";
import type { Attribute, VerifiedSubject } from "../subject/types.js";
import { JWT_MAX_BYTES, decodeUnverified, isPlainJwtTyp } from "./compact.js";
import { verifyCompactJwt } from "./jws-verify.js";
import { joseRefusal } from "./refusals.js";
import type { JwtIssuerRegistry, TrustedJwtIssuer } from "./registry.js";
import { checkLifetime } from "./time-checks.js";

/**
 * OIDC ID tokens (`…:token-type:id_token`) and JWTs (`…:token-type:jwt`) from trusted issuers,
 * as subject or actor tokens (RFC 8693 §3). The rules are RFC 8725 (JWT BCP), RFC 7519 §7.2 and
 * OIDC Core §3.1.3.7, each failure with its reason code:
 *
 * 1. size ≤ min(limits.maxTokenBytes, 16 KiB), before any parsing (token_too_large);
 * 2. the one strict compact-JWS decoder (compact.ts): three canonical base64url parts, JSON
 *    object header and payload with no repeated member name at any depth (token_invalid);
 * 3. the unverified `iss` chooses the issuer, by exact match: absent → issuer_missing, not a
 *    non-empty string (an array, a number) → issuer_invalid, unknown → issuer_unknown, and nothing
 *    is fetched; the issuer must accept this token type (token_type_mismatch);
 * 4. header: `typ` absent or `JWT` (never `at+jwt`: token_type_mismatch, RFC 8725 §3.11), no `cty`
 *    (no nested JWT), `alg` one of the issuer's asymmetric algorithms (none and HMAC never:
 *    signature_algorithm_forbidden), `kid` a short string if present; `jku`, `x5u`, `x5c` and `jwk`
 *    are never used: keys come from the issuer's configured JWKS only (catalogue G5, G6);
 * 5. jose's jwtVerify with that issuer's keys, the signature itself checked by node:crypto
 *    (jws-verify.ts: the same rules and verdicts, without WebCrypto's per-call cost): signature (token_invalid; an unknown `kid` after the
 *    one permitted refresh too), `crit` understood, `iss` equal, `aud` present and one of the
 *    issuer's audiences (audience_mismatch), `sub` present (subject_missing), `exp`/`iat` present
 *    (timestamp_missing) and numbers (timestamp_invalid), `exp` not passed (token_expired), `nbf`
 *    reached and `iat` not in the future (assertion_not_yet_valid), `iat` not older than
 *    maxTokenAgeSeconds (token_expired), all with tokens.clockSkewSeconds; key-source failures
 *    are 503 issuer_keys_unavailable with the real Retry-After (refusals.ts, keys.ts);
 * 6. `exp` after `iat` (timestamp_invalid), `exp − iat` ≤ maxLifetimeSeconds
 *    (token_lifetime_too_long; both time-checks.ts); `sub` a non-empty string without control characters or padding
 *    (subject_invalid); an ID token with several audiences must carry an `azp` that is one of the
 *    issuer's audiences (audience_mismatch); `act` / `may_act` by src/policy/act-chain.ts;
 *    azp / client_id read as the token's party (src/policy/client-binding.ts decides);
 * 7. one-time use (issuer's oneTimeUse): `jti` required (jti_missing), a non-empty string of at
 *    most 1024 characters (jti_invalid); the replay step marks it.
 */
export interface JwtVerifierContext {
  issuers: JwtIssuerRegistry;
  skewSeconds: number;
  maxTokenBytes: number;
}

const MAX_KID_LENGTH = 256;
/** A `jti` is a replay key: bounded like any identifier (RFC 7519 §4.1.7 sets no length). */
const MAX_JTI_LENGTH = 1024;
/** Keys tried when a token without `kid` matches several keys of its issuer. */
const MAX_KEY_CANDIDATES = 4;
/** Claims never turned into mapping attributes: delegation is read from them separately. */
const NOT_ATTRIBUTES = new Set(["act", "may_act"]);

export function jwtTokenVerifier(tokenType: string, ctx: JwtVerifierContext): (token: string, now: number) => Promise<VerifiedSubject> {
  const maxBytes = Math.min(ctx.maxTokenBytes, JWT_MAX_BYTES);
  return async (token, now) => {
    if (token.length > maxBytes) throw refuse("token_too_large");
    const { header, payload: unverified } = decodeUnverified(token);

    const claimedIss = unverified.iss;
    if (claimedIss === undefined) throw refuse("issuer_missing");
    if (typeof claimedIss !== "string" || claimedIss === "") throw refuse("issuer_invalid");
    const issuer = ctx.issuers.byIssuer(claimedIss);
    if (!issuer) throw refuse("issuer_unknown");
    if (!issuer.tokenTypes.includes(tokenType)) throw refuse("token_type_mismatch");

    if (!isPlainJwtTyp(header.typ)) throw refuse("token_type_mismatch");
    if (header.cty !== undefined) throw refuse("token_invalid");
    if (typeof header.alg !== "string" || !issuer.algorithms.includes(header.alg)) throw refuse("signature_algorithm_forbidden");
    if (header.kid !== undefined && (typeof header.kid !== "string" || header.kid.length > MAX_KID_LENGTH)) throw refuse("token_invalid");

    const { payload, kid } = await verifySignatureAndClaims(token, header, issuer, {
      issuer: issuer.issuer,
      audience: [...issuer.audiences],
      requiredClaims: ["exp", "iat", "sub", "iss", "aud"],
      clockTolerance: ctx.skewSeconds,
      currentDate: new Date(now),
      maxTokenAge: issuer.maxTokenAgeSeconds,
    });

    const iat = payload.iat!;
    const exp = payload.exp!;
    checkLifetime(iat, exp, issuer.maxLifetimeSeconds);
    const sub = checkSubjectIdentifier(payload.sub);
    const aud = payload.aud;
    if (!(typeof aud === "string" || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === "string")))) {
      throw refuse("audience_mismatch");
    }
    if (tokenType === TOKEN_TYPES.idToken) checkAuthorizedParty(payload, issuer);

    let oneTimeUse: VerifiedSubject["oneTimeUse"];
    if (issuer.oneTimeUse) {
      if (payload.jti === undefined) throw refuse("jti_missing");
      if (typeof payload.jti !== "string" || payload.jti === "" || payload.jti.length > MAX_JTI_LENGTH) throw refuse("jti_invalid");
      oneTimeUse = { id: payload.jti, keepUntil: (exp + ctx.skewSeconds) * 1000 };
    }

    return {
      tokenType,
      source: { id: issuer.id, issuer: issuer.issuer, mapping: issuer.mapping, binding: issuer.binding },
      subject: sub,
      nameIdFormat: undefined,
      attributes: attributesOf(payload),
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
      // The issued token never outlives the token it was exchanged for.
      notAfter: exp * 1000,
      authTime: typeof payload.auth_time === "number" && Number.isFinite(payload.auth_time) ? payload.auth_time * 1000 : undefined,
      acr: typeof payload.acr === "string" ? payload.acr : undefined,
      oneTimeUse,
      act: readActClaim(payload.act),
      mayAct: readMayActClaim(payload.may_act),
      granted: undefined,
      keyId: kid,
      party: partyOf(payload),
    };
  };
}

/** Each issuer's algorithms as a set, made once (the registry's issuers live as long as the process). */
const algorithmSets = new WeakMap<TrustedJwtIssuer, ReadonlySet<string>>();

function algorithmsOf(issuer: TrustedJwtIssuer): ReadonlySet<string> {
  let set = algorithmSets.get(issuer);
  if (set === undefined) {
    set = new Set(issuer.algorithms);
    algorithmSets.set(issuer, set);
  }
  return set;
}

async function verifySignatureAndClaims(
  token: string,
  header: Record<string, unknown>,
  issuer: TrustedJwtIssuer,
  options: Omit<JWTVerifyOptions, "algorithms" | "typ" | "crit">,
): Promise<{ payload: JWTPayload; kid: string | undefined }> {
  const algorithms = algorithmsOf(issuer);
  const kidOf = (h: Record<string, unknown>): string | undefined => h.kid as string | undefined;
  try {
    try {
      const { payload, protectedHeader } = await verifyCompactJwt(token, header, issuer.keys, algorithms, options);
      return { payload, kid: kidOf(protectedHeader) };
    } catch (e) {
      // No `kid` and several keys of the right type (e.g. during rollover): try each, a bounded few.
      if (!(e instanceof errors.JWKSMultipleMatchingKeys)) throw e;
      let last: unknown = e;
      let tried = 0;
      for await (const key of e as AsyncIterable<CryptoKey>) {
        if (++tried > MAX_KEY_CANDIDATES) break;
        try {
          const { payload, protectedHeader } = await verifyCompactJwt(token, header, key, algorithms, options);
          return { payload, kid: kidOf(protectedHeader) };
        } catch (err) {
          if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
          last = err;
        }
      }
      throw last;
    }
  } catch (e) {
    // Anything that is not a jose verdict stays token_invalid here, as before: never a token.
    throw joseRefusal(e) ?? refuse("token_invalid");
  }
}

/**
 * OIDC Core §3.1.3.7 (4, 5): an ID token with several audiences must name, in `azp`, the party it
 * was issued to, and that must be one of the issuer's configured audiences. With a single audience
 * `aud` itself already names the bridge (or the app it accepts) and `azp` is not consulted (an
 * issuer such as Google may set it to a sibling client of the same project).
 */
function checkAuthorizedParty(payload: JWTPayload, issuer: TrustedJwtIssuer): void {
  if (!Array.isArray(payload.aud) || payload.aud.length < 2) return;
  const azp = payload.azp;
  if (typeof azp !== "string" || !issuer.audiences.includes(azp)) throw refuse("audience_mismatch");
}

/**
 * Claims as mapping attributes (`name` = claim name; ID-JAGs too, src/idjag/verify.ts): a string is one value, an array of
 * strings/numbers/booleans its values, a number or boolean its string form. Objects (and arrays
 * holding any) are skipped; `act` and `may_act` are never attributes.
 */
export function attributesOf(payload: JWTPayload): Attribute[] {
  const out: Attribute[] = [];
  for (const [name, value] of Object.entries(payload)) {
    if (NOT_ATTRIBUTES.has(name)) continue;
    const values = scalarValues(value);
    if (values) out.push({ name, friendlyName: undefined, nameFormat: undefined, values });
  }
  return out;
}

function scalarValues(value: unknown): string[] | undefined {
  const one = (v: unknown): string | undefined =>
    typeof v === "string" ? v
      : typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) ? String(v)
        : undefined;
  if (Array.isArray(value)) {
    const values = value.map(one);
    return values.every((v): v is string => v !== undefined) ? values : undefined;
  }
  const v = one(value);
  return v === undefined ? undefined : [v];
}
