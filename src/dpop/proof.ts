import { calculateJwkThumbprint, compactVerify, importJWK, type JWK } from "jose";
import { isOAuthError, refuse } from "../oauth/errors.js";
import { decodeUnverified } from "../jwt/compact.js";
import { htuMatches } from "./htu.js";
import { ecPublicKeyFits, ed25519PublicKeyFits, rsaPublicKeyFits } from "../jwt/key-material.js";

/**
 * One DPoP proof JWT (RFC 9449 §4.2) checked as §4.3 says, for a request to the token endpoint.
 * Order matters for what a refusal may say: everything about the JWS itself (shape, `typ`, `alg`,
 * a public `jwk`, the signature by that key) comes first and answers dpop_proof_invalid (or
 * dpop_proof_alg_forbidden); the claim reasons (htm, htu, iat, nonce) only come from a proof whose
 * signature verified. The key is the caller's own, so none of this is an oracle of anything but the
 * caller's proof; the reasons exist so an honest client can tell what to fix.
 *
 * Pure: no replay check (the caller marks the `jti`, src/dpop/verifier.ts), time passed in.
 */

/** A proof is a few hundred bytes (an RSA-4096 jwk about 1 KB); far more is not a proof. */
export const DPOP_PROOF_MAX_BYTES = 8 * 1024;
/** §4.2 jti: unique per proof; bounded before it reaches the replay store (like client assertions). */
const MAX_JTI_LENGTH = 256;
/** §4.2 nonce: bounded before it is compared. */
const MAX_NONCE_LENGTH = 512;
/** RFC 7517 §4/RFC 7518 §6: members that make a JWK private (or symmetric). §4.3 check 7. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;
/** Which key type (and EC curve) each algorithm needs: a mismatch is refused before jose runs. */
const EC_CURVES: Readonly<Record<string, { crv: string; bytes: number }>> = {
  ES256: { crv: "P-256", bytes: 32 }, ES384: { crv: "P-384", bytes: 48 }, ES512: { crv: "P-521", bytes: 66 },
};

export interface ProofOptions {
  /** Allowed `alg` values (config dpop.algorithms: asymmetric only). */
  algorithms: readonly string[];
  /** The token endpoint URL as configured: the only `htu` accepted. */
  tokenEndpoint: string;
  /** The request's method (`htm`); POST at the token endpoint. */
  method: string;
  now: number;
  maxAgeSeconds: number;
  futureSkewSeconds: number;
  /**
   * When nonces are on: checks the proof's `nonce` (undefined when the proof has none) and throws
   * use_dpop_nonce's reasons; absent: a `nonce` claim is not looked at (none was ever issued).
   */
  checkNonce?: (nonce: string | undefined) => void;
}

export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url: the `cnf.jkt` (RFC 9449 §6.1). */
  jkt: string;
  jti: string;
  /** `iat`, seconds. */
  iat: number;
}

export async function verifyProof(proof: string, o: ProofOptions): Promise<VerifiedProof> {
  // §4.3 check 2: a well-formed JWS in the compact serialization, read by the one strict decoder.
  if (proof.length === 0 || proof.length > DPOP_PROOF_MAX_BYTES) throw refuse("dpop_proof_invalid");
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    ({ header, payload } = decodeUnverified(proof));
  } catch (e) {
    if (isOAuthError(e)) throw refuse("dpop_proof_invalid", e);
    throw e;
  }
  // Check 4: typ, exactly (RFC 9449 §4.2 defines no other spelling).
  if (header.typ !== "dpop+jwt") throw refuse("dpop_proof_invalid");
  // RFC 7515 §4.1.11: RFC 9449 defines no critical extension, and a proof is a JWT (§4.2), so no
  // `crit` at all. jose alone would accept crit ["b64"] even with b64 false (RFC 7797): a payload
  // it takes as raw text while the claims below are read base64url-decoded (src/jwt/jws-verify.ts).
  if (Object.hasOwn(header, "crit")) throw refuse("dpop_proof_invalid");
  // Check 5: an asymmetric algorithm on the list: never none, never HMAC (the jwk is public).
  const alg = header.alg;
  if (typeof alg !== "string" || !o.algorithms.includes(alg)) throw refuse("dpop_proof_alg_forbidden");
  const jwk = publicJwk(header.jwk, alg);
  // Check 6: the signature, with the key in the header.
  try {
    const key = await importJWK({ ...jwk, ext: true }, alg);
    if (key instanceof Uint8Array || key.type !== "public") throw refuse("dpop_proof_invalid");
    // Same bytes decodeUnverified read: the payload checked below is the signed one.
    await compactVerify(proof, key, { algorithms: [alg] });
  } catch (e) {
    // A bad signature, a key jose cannot use with that alg (the caller's own key): one answer.
    throw refuse("dpop_proof_invalid", e);
  }
  const jkt = await calculateJwkThumbprint(jwk, "sha256");

  // Check 3: the required claims, each of its type.
  const { jti, htm, htu, iat, nonce } = payload;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw refuse("dpop_proof_invalid");
  if (typeof htm !== "string" || typeof htu !== "string") throw refuse("dpop_proof_invalid");
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw refuse("dpop_proof_invalid");
  if (nonce !== undefined && (typeof nonce !== "string" || nonce.length === 0 || nonce.length > MAX_NONCE_LENGTH)) throw refuse("dpop_proof_invalid");
  // Check 8: the method, exactly (RFC 9110 §9.1: methods are case-sensitive).
  if (htm !== o.method) throw refuse("dpop_htm_mismatch");
  // Check 9: the token endpoint, normalized, without query or fragment.
  if (!htuMatches(htu, o.tokenEndpoint)) throw refuse("dpop_htu_mismatch");
  // Check 11: created within the window; the future side only by the allowed clock skew. In whole
  // seconds (iat's unit): a proof made at any instant of second `iat` is that old.
  const nowSeconds = Math.floor(o.now / 1000);
  if (nowSeconds - iat > o.maxAgeSeconds) throw refuse("dpop_proof_expired");
  if (iat - nowSeconds > o.futureSkewSeconds) throw refuse("dpop_proof_not_yet_valid");
  // Check 10: the server-provided nonce, when nonces are on.
  o.checkNonce?.(nonce as string | undefined);
  // `ath` (check 12) is for protected resources: no access token is presented here, so a proof
  // carrying one is not refused for it (it binds nothing at the token endpoint).
  return { jkt, jti, iat };
}

/**
 * §4.3 check 7 and the key's fit with `alg`: a JSON object describing a PUBLIC key of the type the
 * algorithm needs (RSA of 2048 to 8192 bits, the curve ES* names, Ed25519 for EdDSA/Ed25519).
 * A private or symmetric member anywhere is refused: the client would be sending its secret.
 */
function publicJwk(value: unknown, alg: string): JWK {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw refuse("dpop_proof_invalid");
  const jwk = value as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m))) throw refuse("dpop_proof_invalid");
  if (jwk.alg !== undefined && jwk.alg !== alg) throw refuse("dpop_proof_invalid");
  if (jwk.use !== undefined && jwk.use !== "sig") throw refuse("dpop_proof_invalid");
  // The key members themselves (canonical text, a key only its holder can sign for): key-material.ts.
  const curve = EC_CURVES[alg];
  const fits =
    alg.startsWith("RS") || alg.startsWith("PS") ? jwk.kty === "RSA" && rsaPublicKeyFits(jwk.n, jwk.e, 2048, 8192)
      : curve !== undefined ? jwk.kty === "EC" && jwk.crv === curve.crv && ecPublicKeyFits(jwk.x, jwk.y, curve.bytes)
        : alg === "EdDSA" || alg === "Ed25519" ? jwk.kty === "OKP" && jwk.crv === "Ed25519" && ed25519PublicKeyFits(jwk.x)
          : false;
  if (!fits) throw refuse("dpop_proof_invalid");
  return jwk as JWK;
}
