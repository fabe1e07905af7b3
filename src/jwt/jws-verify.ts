import { KeyObject, constants, verify as cryptoVerify, type VerifyKeyObjectInput } from "node:crypto";
import { forgeableByAnyone } from "./key-material.js";
import { UnsecuredJWT, errors, type CryptoKey, type FlattenedJWSInput, type JWTPayload, type JWTVerifyOptions } from "jose";
import type { KeyResolver } from "./keys.js";

/**
 * jose's `jwtVerify` for compact JWTs, with the signature checked by node:crypto instead of
 * WebCrypto (issue 11): on Node 20 `crypto.subtle.verify` costs about 110 µs of main-thread time
 * per RS256 token (algorithm normalisation, the job's promise) around an RSA verification of
 * about 20–40 µs, which node:crypto's one-shot `verify` does synchronously with no such overhead.
 *
 * Everything else is jose's, in jose's order, so every verdict (and every reason code derived
 * from it by refusals.ts) is the one `jwtVerify` gives; test/jwt/node-crypto-verify.test.ts
 * compares the two on generated valid and mutated tokens of every algorithm:
 *
 * 1. `crit` (RFC 7515 §4.1.11): absent, or a non-empty array of non-empty strings naming only
 *    `b64` (RFC 7797), each present in the header; `b64`, when critical, a boolean (jose's
 *    validateCrit / validateB64);
 * 2. `alg` a non-empty string among the caller's algorithms (JOSEAlgNotAllowed otherwise);
 * 3. the key from the caller's resolver (jose's JWK Set: `kid`, `kty`, `alg`, `use`, `key_ops`
 *    matching; JWKSMultipleMatchingKeys is the caller's to handle), which must be a public
 *    CryptoKey imported for exactly this algorithm (name, hash, curve) with the `verify` usage, and
 *    for RSA at least 2048 bits (jose's checkKeyType / checkModulusLength, RFC 7518 §3.3, §3.5);
 * 4. the signature over the ASCII bytes `header.payload` (RFC 7515 §5.2): RSASSA-PKCS1-v1_5,
 *    RSASSA-PSS with MGF1 and a salt as long as the hash (RFC 7518 §3.5), ECDSA with the JWS
 *    R||S encoding (`ieee-p1363`, RFC 7518 §3.4: a DER signature is refused, as WebCrypto does),
 *    Ed25519 (RFC 8037 §3.1);
 * 5. `b64: false` (an unencoded payload) is never a JWT (jose: "JWTs MUST NOT use unencoded
 *    payload");
 * 6. the claims by jose's own claims-set validation (validateClaimsSet: presence, iss, aud, exp,
 *    nbf, iat, maxTokenAge, clockTolerance), reached through `UnsecuredJWT.decode` over the SAME
 *    payload segment under a fixed `{"alg":"none"}` header. That header only carries the payload
 *    to jose's validator (the `typ` option, the only one that reads a header, is never passed
 *    here); nothing of the token is trusted before step 4 succeeded.
 *
 * Precondition: `token` passed compact.ts's `decodeUnverified` (three canonical base64url
 * segments, strict JSON header and payload) and `header` is the header it returned.
 */

/** What each JWS algorithm the bridge accepts needs: its WebCrypto key algorithm and node:crypto parameters. */
interface AlgorithmSpec {
  /** The CryptoKey's `algorithm.name`, `hash.name` and `namedCurve` jose requires (checkCryptoKey). */
  name: string;
  hash?: string;
  namedCurve?: string;
  /** node:crypto digest (null: Ed25519 hashes internally). */
  digest: string | null;
  rsa?: { pss: false } | { pss: true; saltLength: number };
  ecdsa?: true;
}

const rsa = (bits: number, pss: boolean): AlgorithmSpec => ({
  name: pss ? "RSA-PSS" : "RSASSA-PKCS1-v1_5",
  hash: `SHA-${bits}`,
  digest: `sha${bits}`,
  rsa: pss ? { pss: true, saltLength: bits / 8 } : { pss: false },
});
const ecdsa = (curve: string, bits: number): AlgorithmSpec => ({ name: "ECDSA", namedCurve: curve, digest: `sha${bits}`, ecdsa: true });

/** RFC 7518 §3.1 and RFC 8037 §3.1: the asymmetric algorithms of config JWT_ALGORITHMS (jose's table, less HMAC and ML-DSA). */
const ALGORITHMS: Readonly<Record<string, AlgorithmSpec>> = {
  RS256: rsa(256, false), RS384: rsa(384, false), RS512: rsa(512, false),
  PS256: rsa(256, true), PS384: rsa(384, true), PS512: rsa(512, true),
  ES256: ecdsa("P-256", 256), ES384: ecdsa("P-384", 384), ES512: ecdsa("P-521", 512),
  EdDSA: { name: "Ed25519", digest: null },
};

/** jose's minimum for RS* and PS* (RFC 7518 §3.3, §3.5: 2048 bits or larger). */
const MIN_RSA_BITS = 2048;

/** The node:crypto view of each CryptoKey jose's JWK Sets hand out: made once per key, kept as long as jose keeps the key. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/** The same fixed header UnsecuredJWT.decode requires: it only carries the verified payload to jose's claim checks. */
const CLAIMS_ONLY_HEADER = Buffer.from('{"alg":"none"}').toString("base64url");

function isCryptoKey(key: unknown): key is CryptoKey {
  return typeof key === "object" && key !== null && (key as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === "CryptoKey";
}

/**
 * jose's crit / b64 rules for a compact JWS (validateCrit with no extension of the caller's,
 * validateB64): returns whether the payload is base64url-encoded.
 */
function payloadIsEncoded(header: Record<string, unknown>): boolean {
  const crit = header.crit;
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== "string" || c.length === 0)) {
    throw new errors.JWSInvalid('"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present');
  }
  for (const name of crit as string[]) {
    if (name !== "b64") throw new errors.JOSENotSupported(`Extension Header Parameter "${name}" is not recognized`);
    if (!Object.hasOwn(header, name) || header[name] === undefined) throw new errors.JWSInvalid(`Extension Header Parameter "${name}" is missing`);
  }
  if (typeof header.b64 !== "boolean") throw new errors.JWSInvalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
  return header.b64;
}

/** jose's prepareKey + checkCryptoKey + checkModulusLength for a verification key, then its KeyObject (cached). */
function verificationKey(key: unknown, alg: string, spec: AlgorithmSpec): KeyObject {
  if (!isCryptoKey(key)) throw new TypeError(`Key for the ${alg} algorithm must be a CryptoKey from the issuer's JWK Set`);
  if (key.type !== "public") throw new TypeError(`CryptoKey instances must be of type "public" for the ${alg} algorithm`);
  const algorithm = key.algorithm as { name?: unknown; hash?: { name?: unknown }; namedCurve?: unknown; modulusLength?: unknown };
  if (algorithm.name !== spec.name) throw new TypeError(`CryptoKey does not support this operation, its algorithm.name must be ${spec.name}`);
  if (spec.hash !== undefined && algorithm.hash?.name !== spec.hash) throw new TypeError(`CryptoKey does not support this operation, its algorithm.hash must be ${spec.hash}`);
  if (spec.namedCurve !== undefined && algorithm.namedCurve !== spec.namedCurve) throw new TypeError(`CryptoKey does not support this operation, its algorithm.namedCurve must be ${spec.namedCurve}`);
  if (!key.usages.includes("verify")) throw new TypeError("CryptoKey does not support this operation, its usages must include verify.");
  if (spec.rsa && (typeof algorithm.modulusLength !== "number" || algorithm.modulusLength < MIN_RSA_BITS)) {
    throw new TypeError(`${alg} requires key modulusLength to be 2048 bits or larger`);
  }
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = KeyObject.from(key);
    // A key anyone can sign for (RSA e < 3 or even, a small-order Ed25519 point) verifies forged
    // tokens; OpenSSL accepts it, so it is refused here, once per key (key-material.ts).
    if (forgeableByAnyone(keyObject)) throw new TypeError(`the ${alg} key in the JWK Set is one anyone can sign for`);
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

function verifySignature(spec: AlgorithmSpec, keyObject: KeyObject, signingInput: Buffer, signature: Buffer): boolean {
  const key: KeyObject | VerifyKeyObjectInput = spec.rsa?.pss
    ? { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.rsa.saltLength }
    : spec.ecdsa
      ? { key: keyObject, dsaEncoding: "ieee-p1363" }
      : keyObject;
  return cryptoVerify(spec.digest, signingInput, key, signature);
}

export interface VerifiedJws {
  /** The protected header (the caller's, from decodeUnverified). */
  protectedHeader: Record<string, unknown>;
  /** The key that verified the signature. */
  key: CryptoKey;
  /** The payload segment, still base64url (signed: step 4 succeeded). */
  payloadSegment: string;
  /** Whether the payload is base64url-encoded (false only with a critical `b64: false`). */
  b64: boolean;
}

/**
 * jose's compactVerify with node:crypto doing the signature (steps 1–4 above). `key`: a resolver
 * (the issuer's JWK Set) or one CryptoKey (a candidate from JWKSMultipleMatchingKeys).
 */
export async function verifyCompactJws(
  token: string,
  header: Record<string, unknown>,
  key: KeyResolver | CryptoKey,
  algorithms: ReadonlySet<string>,
): Promise<VerifiedJws> {
  const b64 = payloadIsEncoded(header);
  const alg = header.alg;
  if (typeof alg !== "string" || alg === "") throw new errors.JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (!algorithms.has(alg)) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  const firstDot = token.indexOf(".");
  const lastDot = token.lastIndexOf(".");
  const payloadSegment = token.slice(firstDot + 1, lastDot);
  let resolved: unknown = key;
  if (typeof key === "function") {
    const jws: FlattenedJWSInput = { protected: token.slice(0, firstDot), payload: payloadSegment, signature: token.slice(lastDot + 1) };
    resolved = await key(header as Parameters<KeyResolver>[0], jws);
  }
  const spec = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined;
  if (spec === undefined) throw new errors.JOSENotSupported(`alg ${alg} is not supported`);
  const keyObject = verificationKey(resolved, alg, spec);
  // The segments are canonical base64url (decodeUnverified), hence ASCII: latin1 is their bytes.
  const signingInput = Buffer.from(token.slice(0, lastDot), "latin1");
  const signature = Buffer.from(token.slice(lastDot + 1), "base64url");
  let verified: boolean;
  try {
    verified = verifySignature(spec, keyObject, signingInput, signature);
  } catch (cause) {
    throw new errors.JWSSignatureVerificationFailed(undefined, { cause });
  }
  if (!verified) throw new errors.JWSSignatureVerificationFailed();
  return { protectedHeader: header, key: resolved as CryptoKey, payloadSegment, b64 };
}

/**
 * jose's jwtVerify with node:crypto doing the signature: verifyCompactJws, then no unencoded
 * payload, then jose's claims-set validation of the verified payload (step 6).
 */
export async function verifyCompactJwt(
  token: string,
  header: Record<string, unknown>,
  key: KeyResolver | CryptoKey,
  algorithms: ReadonlySet<string>,
  options: Omit<JWTVerifyOptions, "algorithms" | "typ" | "crit">,
): Promise<{ payload: JWTPayload; protectedHeader: Record<string, unknown>; key: CryptoKey }> {
  const verified = await verifyCompactJws(token, header, key, algorithms);
  if (!verified.b64) throw new errors.JWTInvalid("JWTs MUST NOT use unencoded payload");
  const { payload } = UnsecuredJWT.decode(`${CLAIMS_ONLY_HEADER}.${verified.payloadSegment}.`, options);
  return { payload, protectedHeader: verified.protectedHeader, key: verified.key };
}
