import type { KeyObject } from "node:crypto";
import { canonicalBase64url } from "./compact.js";

/**
 * Public-key hygiene. For a DPoP proof's `jwk` (RFC 9449 §4.2), all of it, before the key is imported;
 * for every other verification key (JWT issuers, clients), the second rule (forgeableByAnyone):
 *
 * - One key, one text (RFC 7515 §2 base64url without padding, whitespace or unused trailing bits;
 *   RFC 7518 §6.3.1.1/§6.3.1.2 n and e without leading zero octets; §6.2.1.2/§6.2.1.3 EC
 *   coordinates of exactly the curve's length; RFC 8037 §2 Ed25519 x of 32 bytes). Node's decoder
 *   reads all of these spellings as the same key, but the RFC 7638 thumbprint hashes the TEXT: one
 *   key would otherwise have many `jkt`s, and a resource server that recomputes the thumbprint
 *   from a re-encoded key would not find the token's.
 * - A key that only its holder can sign for. OpenSSL verifies with keys for which ANYONE can make
 *   a signature: RSA with e = 1 (the padded digest is its own signature), and an Ed25519 point of
 *   small order (RFC 8032 §5.1.7 is cofactorless: with A in the 8-torsion, R = -[k]A and S = 0
 *   verify for every message, and the 8 such points are public). A token bound to such a key is a
 *   bearer token for everybody, whatever requireDpop or clients[].dpop promised.
 */

/** The bytes of a canonical base64url member; undefined for anything else (not a string, not canonical). */
function canonicalBytes(value: unknown): Buffer | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  try {
    return canonicalBase64url(value);
  } catch {
    return undefined;
  }
}

/**
 * RFC 8017 §3.1 public key: n odd, of `minBits` to `maxBits` bits; e odd, 3 ≤ e, at most 64 bits
 * (a bound on what one verification may cost); both minimal big-endian (no leading zero octet).
 */
export function rsaPublicKeyFits(n: unknown, e: unknown, minBits: number, maxBits: number): boolean {
  const nb = canonicalBytes(n);
  const eb = canonicalBytes(e);
  if (nb === undefined || eb === undefined || nb[0] === 0 || eb[0] === 0) return false;
  const bits = (nb.length - 1) * 8 + (32 - Math.clz32(nb[0]!));
  if (bits < minBits || bits > maxBits || (nb[nb.length - 1]! & 1) === 0) return false;
  if (eb.length > 8 || (eb[eb.length - 1]! & 1) === 0) return false;
  return eb.length > 1 || eb[0]! >= 3;
}

/** RFC 7518 §6.2.1.2/§6.2.1.3: x and y of exactly the curve's field length (on-curve: WebCrypto's import). */
export function ecPublicKeyFits(x: unknown, y: unknown, coordinateBytes: number): boolean {
  return canonicalBytes(x)?.length === coordinateBytes && canonicalBytes(y)?.length === coordinateBytes;
}

// RFC 8032 §5.1: the field and the curve constant d = -121665/121666.
const P = 2n ** 255n - 19n;
const mod = (a: bigint): bigint => ((a % P) + P) % P;
function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  for (let b = mod(base), e = exponent; e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) result = mod(result * b);
  return result;
}
const D = mod(-121665n * pow(121666n, P - 2n));

/**
 * RFC 8037 §2: an Ed25519 `x` is the 32-byte RFC 8032 §5.1.2 encoding of the point A. Refused:
 * a non-canonical y (≥ p: RFC 8032 §5.1.3 step 1, "decoding fails"), and every point of small
 * order. Those are exactly the points whose y is 1 (the identity), −1 (order 2), 0 (order 4), or
 * a root of d·y⁴ + 2y² − 1 (order 8: 2A then has y = 0, i.e. x² = −y², put into the curve
 * equation −x² + y² = 1 + d·x²·y²). No square root needed.
 */
export function ed25519PublicKeyFits(x: unknown): boolean {
  const bytes = canonicalBytes(x);
  if (bytes === undefined || bytes.length !== 32) return false;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i]! & 0x7f : bytes[i]!);
  if (y >= P) return false;
  if (y === 0n || y === 1n || y === P - 1n) return false;
  const y2 = mod(y * y);
  return mod(D * y2 * y2 + 2n * y2 - 1n) !== 0n;
}

/**
 * A verification key for which anyone can make a valid signature (see above: RSA with an even or
 * < 3 public exponent, an Ed25519 point of small order). Such a key in an issuer's or a client's
 * JWK Set would make every token "signed" by it forgeable; it is refused wherever keys are used,
 * checked once per key object.
 */
export function forgeableByAnyone(key: KeyObject): boolean {
  if (key.asymmetricKeyType === "rsa" || key.asymmetricKeyType === "rsa-pss") {
    const e = key.asymmetricKeyDetails?.publicExponent;
    return e === undefined || e < 3n || e % 2n === 0n;
  }
  if (key.asymmetricKeyType === "ed25519") return !ed25519PublicKeyFits(key.export({ format: "jwk" }).x);
  return false;
}
