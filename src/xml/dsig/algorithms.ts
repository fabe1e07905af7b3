import { constants, createHash, verify as cryptoVerify, type KeyObject } from "node:crypto";

/**
 * The XML-DSig algorithm URIs the bridge knows (RFC 6931, XML-DSig 1.1 §6), and how each is checked
 * with node:crypto. Which of them a document may use is decided by the allow-list in
 * ../signature.ts (SHA-1 only by IdP policy).
 */
export const ALG = {
  rsaSha1: "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
  rsaSha256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  rsaSha384: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
  rsaSha512: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
  rsaPssSha256: "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
  ecdsaSha256: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
  ecdsaSha384: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
  ecdsaSha512: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
  sha1: "http://www.w3.org/2000/09/xmldsig#sha1",
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
  sha384: "http://www.w3.org/2001/04/xmldsig-more#sha384",
  sha512: "http://www.w3.org/2001/04/xmlenc#sha512",
  excC14n: "http://www.w3.org/2001/10/xml-exc-c14n#",
  excC14nComments: "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
  c14n: "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
  c14nComments: "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
  enveloped: "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
} as const;

type Hash = "sha1" | "sha256" | "sha384" | "sha512";

interface SignatureAlgorithm {
  hash: Hash;
  /** The key type the URI binds to (an RSA URI never verifies with an EC key, or the reverse). */
  family: "rsa" | "ec";
  pss: boolean;
}

export const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithm>> = {
  [ALG.rsaSha1]: { hash: "sha1", family: "rsa", pss: false },
  [ALG.rsaSha256]: { hash: "sha256", family: "rsa", pss: false },
  [ALG.rsaSha384]: { hash: "sha384", family: "rsa", pss: false },
  [ALG.rsaSha512]: { hash: "sha512", family: "rsa", pss: false },
  [ALG.rsaPssSha256]: { hash: "sha256", family: "rsa", pss: true },
  [ALG.ecdsaSha256]: { hash: "sha256", family: "ec", pss: false },
  [ALG.ecdsaSha384]: { hash: "sha384", family: "ec", pss: false },
  [ALG.ecdsaSha512]: { hash: "sha512", family: "ec", pss: false },
};

export const DIGEST_ALGORITHMS: Readonly<Record<string, Hash>> = {
  [ALG.sha1]: "sha1",
  [ALG.sha256]: "sha256",
  [ALG.sha384]: "sha384",
  [ALG.sha512]: "sha512",
};

/** Whether `key` may verify signatures of algorithm `alg` (key type bound to the URI). */
export function keyFits(key: KeyObject, alg: SignatureAlgorithm): boolean {
  const type = key.asymmetricKeyType;
  if (alg.family === "ec") return type === "ec";
  // RSASSA-PKCS1-v1_5 URIs need a plain RSA key; a PSS URI takes an RSA or an RSASSA-PSS key.
  return type === "rsa" || (alg.pss && type === "rsa-pss");
}

/**
 * Verify `signature` over the UTF-8 bytes of `material` with `key`:
 *  - RSASSA-PKCS1-v1_5 (RFC 6931 §2.3.2–2.3.4, XML-DSig §6.4.2);
 *  - RSASSA-PSS `sha256-rsa-MGF1` (RFC 6931 §2.3.10, RFC 8017 §8.1): MGF1 with SHA-256, salt length
 *    32 (the digest length, the RFC's default when no RSAPSSParams is given), trailer field 1;
 *  - ECDSA (RFC 6931 §2.3.6, RFC 4050 §3.3): the value is r||s (IEEE P1363), not DER.
 * A throw here (a key node:crypto cannot use) is a fault, not a bad signature: the caller lets it
 * through as an internal error.
 */
export function verifySignatureValue(alg: SignatureAlgorithm, material: string, key: KeyObject, signature: Buffer): boolean {
  const data = Buffer.from(material, "utf8");
  if (alg.family === "ec") return cryptoVerify(alg.hash, data, { key, dsaEncoding: "ieee-p1363" }, signature);
  if (alg.pss) {
    return cryptoVerify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
  }
  return cryptoVerify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
}

export function digest(hash: Hash, canonical: string): Buffer {
  return createHash(hash).update(canonical, "utf8").digest();
}
