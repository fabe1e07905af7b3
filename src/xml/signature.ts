import { constants, createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { SignedXml } from "xml-crypto";
import { isOAuthError, refuse } from "../oauth/errors.js";
import { NS, children, childElements, attr } from "./dom.js";
import { ALG } from "./dsig/algorithms.js";
import { scanDocument, type DocumentScan } from "./dsig/scan.js";
import { verifyNative } from "./dsig/verify.js";

/**
 * Enveloped XML-DSig verification with node-saml's rules (`getVerifiedXml`, node-saml 5.1.0), made
 * reusable for any ID attribute so SAML 2.0 (`ID`) and SAML 1.1 (`AssertionID`, `ResponseID`) share
 * one path:
 *
 *  - the Signature is a direct child of the element it signs, and that element has exactly one;
 *  - one SignedInfo, exactly one Reference, and its URI is exactly "#" + the element's own ID;
 *  - that ID value is carried by exactly one element of the document, under any ID-like attribute
 *    name (catalogue B19);
 *  - transforms and algorithms come from an allow-list (catalogue B6, B14–B18); SHA-1 only when the
 *    IdP's policy allows it;
 *  - keys come only from the trusted certificates passed in (IdP metadata), never from KeyInfo
 *    (catalogue B3, CVE-2024-32962);
 *  - on success the caller gets the canonical bytes the signature covers, and must read identity
 *    only from them (node-saml CVE-2025-54419 fix).
 */

const STRONG_SIGNATURE_ALGS = new Set<string>([
  ALG.rsaSha256, ALG.rsaSha384, ALG.rsaSha512, ALG.rsaPssSha256,
  ALG.ecdsaSha256, ALG.ecdsaSha384, ALG.ecdsaSha512,
]);
const ECDSA_ALGS = new Set<string>([ALG.ecdsaSha256, ALG.ecdsaSha384, ALG.ecdsaSha512]);
const STRONG_DIGEST_ALGS = new Set<string>([ALG.sha256, ALG.sha384, ALG.sha512]);
const CANONICALIZATIONS = new Set<string>([ALG.excC14n, ALG.excC14nComments, ALG.c14n, ALG.c14nComments]);
const TRANSFORMS = new Set<string>([ALG.enveloped, ...CANONICALIZATIONS]);

/** Which implementation checks signatures (`saml.signatureVerifier`). */
export type SignatureVerifierKind = "native" | "xml-crypto";

export interface TrustedKey {
  /** Public key from IdP metadata. */
  key: KeyObject;
  /** SHA-256 fingerprint of the certificate, for logs and the explain endpoint. */
  fingerprint: string;
}

export interface SignaturePolicy {
  /** Permit rsa-sha1 and sha1 digests (legacy IdPs only; catalogue B18). */
  allowSha1: boolean;
  /** Default "native" (./dsig/verify.ts); "xml-crypto" is the previous path, kept as the oracle. */
  verifier?: SignatureVerifierKind | undefined;
}

export interface VerifiedSignature {
  /** Canonical XML of the signed element (enveloped signature removed): the only trusted bytes. */
  signedXml: string;
  /** Which metadata key verified it. */
  keyFingerprint: string;
}

/** The ds:Signature children of `el`: none → undefined; two or more → refused. */
export function signatureOf(el: Element): Element | undefined {
  const sigs = children(el, NS.ds, "Signature");
  if (sigs.length > 1) throw refuse("signature_invalid");
  return sigs[0];
}

/**
 * Verify the enveloped signature of `el` (inside the document parsed from `documentText`) against
 * `keys`, where `idAttribute` names the element's ID attribute. Throws `signature_missing`,
 * `signature_invalid` or `signature_algorithm_forbidden` (a refusal), or `signature_verifier_failed`
 * (server_error: the verifier itself failed); returns the signed bytes. `documentText` is only read
 * by the xml-crypto path, which parses it again; the native path works on `el`'s own document.
 */
export function verifyEnvelopedSignature(
  documentText: string,
  el: Element,
  idAttribute: string,
  keys: readonly TrustedKey[],
  policy: SignaturePolicy,
): VerifiedSignature {
  const signature = signatureOf(el);
  if (!signature) throw refuse("signature_missing");
  const id = attr(el, idAttribute);
  if (!id || !/^[A-Za-z_][\w.-]*$/.test(id)) throw refuse("assertion_id_missing");
  // One walk over the document (ID index, Signature elements), shared by every signature in it.
  const scan = scanDocument(el.ownerDocument);
  checkSignatureShape(signature, id, scan, policy);
  if (keys.length === 0) throw refuse("signature_invalid");
  if ((policy.verifier ?? "native") === "xml-crypto") return verifyWithXmlCrypto(documentText, signature, idAttribute, keys, policy);

  let verified: VerifiedSignature;
  try {
    verified = verifyNative(el, signature, lastGoodFirst(keys), scan);
  } catch (e) {
    if (isOAuthError(e)) throw e;
    // A throw that is no refusal is a bug or an unusable key, never "invalid signature": it is
    // reported as an internal error (server_error), with only the error class in the log.
    throw refuse("signature_verifier_failed", e);
  }
  lastGood.set(keys, verified.keyFingerprint);
  return verified;
}

/**
 * The previous path: xml-crypto's `SignedXml.checkSignature` once per candidate key, under the same
 * shape rules (node-saml's). Kept behind `saml.signatureVerifier: xml-crypto` and as the oracle of
 * the differential tests. xml-crypto reports a wrong signature by throwing, so a throw is "this key
 * did not verify" here.
 */
function verifyWithXmlCrypto(
  documentText: string, signature: Element, idAttribute: string, keys: readonly TrustedKey[], policy: SignaturePolicy,
): VerifiedSignature {
  // node-saml normalises newlines before handing XML to xml-crypto: the XML processor's job
  // (XML 1.0 §2.11), and both parses must see the same text.
  const normalized = documentText.replace(/\r\n?/g, "\n");
  const family = ECDSA_ALGS.has(algorithmOf(children(signature, NS.ds, "SignedInfo")[0]!, "SignatureMethod")!) ? "ec" : "rsa";
  for (const trusted of lastGoodFirst(keys)) {
    // Bind the algorithm to the key type: an RSA URI never verifies with an EC key, or the reverse.
    if (keyFamily(trusted.key) !== family) continue;
    const sig = new SignedXml({
      publicCert: trusted.key,
      // Never read a key from the document: only metadata keys are trusted (catalogue B3).
      getCertFromKeyInfo: () => null,
    });
    // xml-crypto resolves the Reference by trying each name in `idAttributes`, one whole-document
    // XPath per name. The element's own ID attribute is the only one that may match: the document
    // was already checked to hold this ID value exactly once under any ID-like name (ID, Id, id,
    // AssertionID, ResponseID: scanDocument), which is stricter than xml-crypto's own check.
    sig.idAttributes = [idAttribute];
    registerAlgorithms(sig);
    try {
      sig.loadSignature(signature);
      if (!sig.checkSignature(normalized)) continue;
    } catch {
      continue;
    }
    // Authoritative algorithm check on what xml-crypto actually used.
    enforceAlgorithms(sig, policy);
    const signed = sig.getSignedReferences();
    if (signed.length !== 1 || typeof signed[0] !== "string") throw refuse("signature_invalid");
    lastGood.set(keys, trusted.fingerprint);
    return { signedXml: signed[0], keyFingerprint: trusted.fingerprint };
  }
  throw refuse("signature_invalid");
}

/**
 * During a key rollover an IdP lists several keys and signs with one of them; each wrong key costs
 * a full xml-crypto check (reference digests included). Trying the key that verified last time
 * first makes the common case one check. Only the order changes, never the set of trusted keys.
 */
const lastGood = new WeakMap<readonly TrustedKey[], string>();

function lastGoodFirst(keys: readonly TrustedKey[]): readonly TrustedKey[] {
  const fingerprint = lastGood.get(keys);
  if (fingerprint === undefined || keys[0]?.fingerprint === fingerprint) return keys;
  return [...keys.filter((k) => k.fingerprint === fingerprint), ...keys.filter((k) => k.fingerprint !== fingerprint)];
}

/** What a ds:Signature may hold (XML-DSig §4.1); an enveloped SAML signature needs no ds:Object. */
const SIGNATURE_CHILDREN = new Set(["SignedInfo", "SignatureValue", "KeyInfo"]);

/**
 * xml-crypto finds SignatureMethod, CanonicalizationMethod and SignatureValue by local name
 * anywhere inside the Signature; each must therefore exist exactly once, in its place, or the
 * algorithm it uses could differ from the one checked here.
 */
function checkSignatureChildren(signature: Element): void {
  const kids = childElements(signature);
  if (kids[0]?.localName !== "SignedInfo") throw refuse("signature_invalid");
  for (const k of kids) if (k.namespaceURI !== NS.ds || !SIGNATURE_CHILDREN.has(k.localName)) throw refuse("signature_invalid");
  for (const name of ["SignedInfo", "SignatureMethod", "CanonicalizationMethod", "SignatureValue"]) {
    if (countByLocalName(signature, name) !== 1) throw refuse("signature_invalid");
  }
  if (countByLocalName(signature, "KeyInfo") > 1) throw refuse("signature_invalid");
}

/** Elements named `localName` (any namespace) strictly below `root`: an iterative walk. */
function countByLocalName(root: Element, localName: string): number {
  let count = 0;
  const stack: Element[] = childElements(root);
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.localName === localName) count++;
    for (let c = e.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) stack.push(c as Element);
  }
  return count;
}

function checkSignatureShape(signature: Element, id: string, scan: DocumentScan, policy: SignaturePolicy): void {
  // One ds:SignedInfo, first, and no other element of that name anywhere (catalogue B7, wrapped).
  checkSignatureChildren(signature);
  const signedInfo = children(signature, NS.ds, "SignedInfo")[0]!;
  // Exactly one Reference, and none hidden deeper (xml-crypto finds them by local name).
  const refs = children(signedInfo, NS.ds, "Reference");
  if (refs.length !== 1 || countByLocalName(signedInfo, "Reference") !== 1) throw refuse("signature_invalid");
  if (attr(refs[0]!, "URI") !== `#${id}`) throw refuse("signature_invalid");
  if (scan.ids.get(id) !== 1) throw refuse("signature_invalid");

  const c14n = algorithmOf(signedInfo, "CanonicalizationMethod");
  const sigAlg = algorithmOf(signedInfo, "SignatureMethod");
  if (!c14n || !CANONICALIZATIONS.has(c14n)) throw refuse("signature_algorithm_forbidden");
  if (!sigAlg || !signatureAlgorithmAllowed(sigAlg, policy)) throw refuse("signature_algorithm_forbidden");
  const transformsEl = children(refs[0]!, NS.ds, "Transforms")[0];
  const transforms = transformsEl ? children(transformsEl, NS.ds, "Transform") : [];
  if (transforms.length > 2 || (transformsEl && childElements(transformsEl).length !== transforms.length)) {
    throw refuse("signature_algorithm_forbidden");
  }
  for (const t of transforms) {
    const uri = attr(t, "Algorithm");
    if (!uri || !TRANSFORMS.has(uri)) throw refuse("signature_algorithm_forbidden");
  }
  // An enveloped signature must declare the enveloped transform, or it cannot verify honestly.
  if (!transforms.some((t) => attr(t, "Algorithm") === ALG.enveloped)) throw refuse("signature_invalid");
  const digest = algorithmOf(refs[0]!, "DigestMethod");
  if (!digest || !digestAlgorithmAllowed(digest, policy)) throw refuse("signature_algorithm_forbidden");
}

function enforceAlgorithms(sig: SignedXml, policy: SignaturePolicy): void {
  if (!sig.signatureAlgorithm || !signatureAlgorithmAllowed(sig.signatureAlgorithm, policy)) {
    throw refuse("signature_algorithm_forbidden");
  }
  const refs = sig.getReferences();
  if (refs.length !== 1) throw refuse("signature_invalid");
  for (const ref of refs) {
    if (!digestAlgorithmAllowed(ref.digestAlgorithm, policy)) throw refuse("signature_algorithm_forbidden");
    if (ref.transforms.length > 2 || ref.transforms.some((t) => !TRANSFORMS.has(t))) {
      throw refuse("signature_algorithm_forbidden");
    }
  }
}

function keyFamily(key: KeyObject): "ec" | "rsa" | "other" {
  const type = key.asymmetricKeyType;
  if (type === "ec") return "ec";
  if (type === "rsa" || type === "rsa-pss") return "rsa";
  return "other";
}

function signatureAlgorithmAllowed(uri: string, policy: SignaturePolicy): boolean {
  return STRONG_SIGNATURE_ALGS.has(uri) || (policy.allowSha1 && uri === ALG.rsaSha1);
}

function digestAlgorithmAllowed(uri: string, policy: SignaturePolicy): boolean {
  return STRONG_DIGEST_ALGS.has(uri) || (policy.allowSha1 && uri === ALG.sha1);
}

function algorithmOf(parent: Element, localName: string): string | undefined {
  const found = children(parent, NS.ds, localName);
  if (found.length !== 1) return undefined;
  return attr(found[0]!, "Algorithm");
}


// --- Algorithms xml-crypto does not ship: ECDSA (RFC 6931 §2.3.6) and SHA-384 -------------------

type Hash = "sha256" | "sha384" | "sha512";

function ecdsa(hash: Hash, uri: string) {
  return class {
    getSignature(): string {
      throw new Error("signing is not supported");
    }
    verifySignature(material: string, key: KeyObject | string, signatureValue: string): boolean {
      // XML-DSig ECDSA values are r||s (IEEE P1363), not DER.
      const publicKey = typeof key === "string" ? createPublicKey(key) : key;
      return cryptoVerify(hash, Buffer.from(material), { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signatureValue, "base64"));
    }
    getAlgorithmName(): string {
      return uri;
    }
  };
}

class RsaSha384 {
  getSignature(): string {
    throw new Error("signing is not supported");
  }
  verifySignature(material: string, key: KeyObject | string, signatureValue: string): boolean {
    return cryptoVerify("sha384", Buffer.from(material), key, Buffer.from(signatureValue, "base64"));
  }
  getAlgorithmName(): string {
    return ALG.rsaSha384;
  }
}

class Sha384 {
  getHash(xml: string): string {
    return createHash("sha384").update(xml, "utf8").digest("base64");
  }
  getAlgorithmName(): string {
    return ALG.sha384;
  }
}

/** xml-crypto's own RSA-PSS class throws on a KeyObject (issue 8); RFC 6931 §2.3.10: salt 32, MGF1-SHA256. */
class RsaPssSha256 {
  getSignature(): string {
    throw new Error("signing is not supported");
  }
  verifySignature(material: string, key: KeyObject | string, signatureValue: string): boolean {
    const publicKey = typeof key === "string" ? createPublicKey(key) : key;
    return cryptoVerify("sha256", Buffer.from(material), { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, Buffer.from(signatureValue, "base64"));
  }
  getAlgorithmName(): string {
    return ALG.rsaPssSha256;
  }
}

function registerAlgorithms(sig: SignedXml): void {
  const sigAlgs = sig.SignatureAlgorithms as Record<string, unknown>;
  sigAlgs[ALG.ecdsaSha256] = ecdsa("sha256", ALG.ecdsaSha256);
  sigAlgs[ALG.ecdsaSha384] = ecdsa("sha384", ALG.ecdsaSha384);
  sigAlgs[ALG.ecdsaSha512] = ecdsa("sha512", ALG.ecdsaSha512);
  sigAlgs[ALG.rsaSha384] = RsaSha384;
  sigAlgs[ALG.rsaPssSha256] = RsaPssSha256;
  (sig.HashAlgorithms as Record<string, unknown>)[ALG.sha384] = Sha384;
}
