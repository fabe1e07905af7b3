import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { SignedXml } from "xml-crypto";
import { refuse } from "../oauth/errors.js";
import { NS, children, childElements, attr } from "./dom.js";

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

const ALG = {
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

const STRONG_SIGNATURE_ALGS = new Set<string>([
  ALG.rsaSha256, ALG.rsaSha384, ALG.rsaSha512, ALG.rsaPssSha256,
  ALG.ecdsaSha256, ALG.ecdsaSha384, ALG.ecdsaSha512,
]);
const ECDSA_ALGS = new Set<string>([ALG.ecdsaSha256, ALG.ecdsaSha384, ALG.ecdsaSha512]);
const STRONG_DIGEST_ALGS = new Set<string>([ALG.sha256, ALG.sha384, ALG.sha512]);
const CANONICALIZATIONS = new Set<string>([ALG.excC14n, ALG.excC14nComments, ALG.c14n, ALG.c14nComments]);
const TRANSFORMS = new Set<string>([ALG.enveloped, ...CANONICALIZATIONS]);

/** Every attribute name that some XML-DSig stack treats as an ID (xml-crypto: Id/ID/id). */
const ID_LIKE = new Set(["ID", "Id", "id", "AssertionID", "ResponseID"]);

export interface TrustedKey {
  /** Public key from IdP metadata. */
  key: KeyObject;
  /** SHA-256 fingerprint of the certificate, for logs and the explain endpoint. */
  fingerprint: string;
}

export interface SignaturePolicy {
  /** Permit rsa-sha1 and sha1 digests (legacy IdPs only; catalogue B18). */
  allowSha1: boolean;
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
 * `signature_invalid` or `signature_algorithm_forbidden`; returns the signed bytes.
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
  checkSignatureShape(signature, el, idAttribute, policy);
  if (keys.length === 0) throw refuse("signature_invalid");

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
    // AssertionID, ResponseID: countIdHolders), which is stricter than xml-crypto's own check.
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

/** Every element below `root`, depth first (the subtrees here are small: a Signature, a token). */
function* descendants(root: Element): Generator<Element> {
  for (const c of childElements(root)) {
    yield c;
    yield* descendants(c);
  }
}

function countByLocalName(root: Element, localName: string): number {
  let count = 0;
  for (const e of descendants(root)) if (e.localName === localName) count++;
  return count;
}

function checkSignatureShape(signature: Element, el: Element, idAttribute: string, policy: SignaturePolicy): void {
  // One ds:SignedInfo, first, and no other element of that name anywhere (catalogue B7, wrapped).
  checkSignatureChildren(signature);
  const signedInfo = children(signature, NS.ds, "SignedInfo")[0]!;
  // Exactly one Reference, and none hidden deeper (xml-crypto finds them by local name).
  const refs = children(signedInfo, NS.ds, "Reference");
  if (refs.length !== 1 || countByLocalName(signedInfo, "Reference") !== 1) throw refuse("signature_invalid");
  const id = attr(el, idAttribute);
  if (!id || !/^[A-Za-z_][\w.-]*$/.test(id)) throw refuse("assertion_id_missing");
  if (attr(refs[0]!, "URI") !== `#${id}`) throw refuse("signature_invalid");
  if (countIdHolders(el.ownerDocument.documentElement!, id) !== 1) throw refuse("signature_invalid");

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


function countIdHolders(root: Element, id: string): number {
  let count = 0;
  for (const e of [root, ...descendants(root)]) {
    const attrs = e.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs.item(i)!;
      if (ID_LIKE.has(a.localName ?? a.name) && a.value === id) {
        count++;
        break;
      }
    }
  }
  return count;
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

function registerAlgorithms(sig: SignedXml): void {
  const sigAlgs = sig.SignatureAlgorithms as Record<string, unknown>;
  sigAlgs[ALG.ecdsaSha256] = ecdsa("sha256", ALG.ecdsaSha256);
  sigAlgs[ALG.ecdsaSha384] = ecdsa("sha384", ALG.ecdsaSha384);
  sigAlgs[ALG.ecdsaSha512] = ecdsa("sha512", ALG.ecdsaSha512);
  sigAlgs[ALG.rsaSha384] = RsaSha384;
  (sig.HashAlgorithms as Record<string, unknown>)[ALG.sha384] = Sha384;
}
