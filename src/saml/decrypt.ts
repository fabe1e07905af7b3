import { constants, createDecipheriv, createHash, privateDecrypt, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { refuse } from "../oauth/errors.js";
import { NS, attr, childElements, children, is, onlyChild, text, walkTree } from "../xml/dom.js";
import { parseUntrustedXml, type XmlLimits } from "../xml/safe-parse.js";

/**
 * saml:EncryptedAssertion (SAML Core §2.3.4, §6; XML Encryption 1.1) decrypted with the bridge's
 * own SP keys. The caller then verifies the decrypted assertion exactly like a plain one: its
 * signature is checked in the decrypted document, never assumed from the encryption.
 *
 * Written on node:crypto rather than xml-encryption 3.1.0 (what node-saml's `decryptXml` wraps):
 * that library finds every element with `//` XPath anywhere in the document (the first ds:KeyInfo,
 * the first CipherValue), builds an XPath from the RetrievalMethod URI by string concatenation,
 * parses with a lax DOM, decodes the plaintext lossily, reads the OAEP DigestMethod under a wrong
 * URI (silently falling back to SHA-1), cannot do xmlenc11#rsa-oaep, and only *warns* about
 * rsa-1_5 unless told otherwise (attack catalogue D21). Here every element is taken from a fixed
 * position, every algorithm comes from an allow-list checked before any key is touched, and
 * every failure after that, whatever its kind, is the one reason `decryption_failed`. An
 * algorithm the policy does not allow is `encryption_algorithm_not_allowed`: it is decided from
 * the document (and the signature around it) alone, before any key is used, so naming it tells an
 * attacker nothing they did not write themselves, and operators can tell it from a wrong key.
 *
 *  - data: aes128-gcm, aes256-gcm (xmlenc11); aes128-cbc, aes256-cbc (xmlenc) only under a
 *    verified Response signature (or `saml.allowUnsignedCbc`); tripledes-cbc (xmlenc, what pysaml2
 *    always sends) likewise, and only for an IdP that opts in (`samlIdps[].allowTripleDesCbc`);
 *  - key transport: rsa-oaep-mgf1p (MGF1-SHA1; digest SHA-1 by default, or SHA-256/384/512) and
 *    xmlenc11#rsa-oaep (any of those digests with MGF1-SHA1/256/384/512), with an optional
 *    OAEPparams label; rsa-1_5 only with `saml.allowRsa15KeyTransport` (a Bleichenbacher padding
 *    oracle, XML Encryption 1.1 §5.5.1);
 *  - key rollover: every configured key usable for the IdP (`DecryptionKey.idps`, see keysFor) is
 *    tried against every EncryptedKey (bounded);
 *  - padding oracles are starved: a key that fails to unwrap (OAEP or PKCS#1 v1.5 padding, wrong
 *    key) is replaced by a random one and the data decryption still runs, so "bad key padding",
 *    "bad CBC padding", "bad GCM tag" and "plaintext is not one well-formed saml:Assertion" (the
 *    parse oracle of Jager & Somorovsky, CCS 2011) all take the same path to the same answer.
 *
 * The plaintext is an element that may use namespace prefixes declared around the
 * EncryptedAssertion (XML Encryption §4.4.3 step 3.1: it is parsed in the context of the
 * EncryptedData's parent). node-saml re-parses it on its own and loses that context; here it is
 * wrapped in an element carrying the in-scope declarations, then parsed with the same limits and
 * the same strict parser as any token.
 */

export interface DecryptionKey {
  /** RSA private key (PKCS#8). */
  privateKey: KeyObject;
  /** Its certificate (PEM), advertised in the SP metadata. */
  certificatePem: string;
  /** SHA-256 of the certificate (hex), for operators. */
  fingerprint: string;
  /**
   * The SAML IdP ids (`samlIdps[].id`, or admin-managed) whose ciphertext this key may decrypt;
   * undefined: shared by every IdP. See `keysFor`.
   */
  idps?: readonly string[] | undefined;
}

export interface DecryptionPolicy {
  /** In order: the first is advertised first; all are tried (rollover). */
  keys: readonly DecryptionKey[];
  allowRsa15KeyTransport: boolean;
  /**
   * AES-CBC has no integrity: an attacker who can alter the ciphertext learns plaintext bytes from
   * how the parser fails (Jager & Somorovsky, CCS 2011), however uniform the error. So CBC content
   * is decrypted only when a verified Response signature covers it, unless this legacy switch is on.
   */
  allowUnsignedCbc: boolean;
}

/**
 * What vouches for the ciphertext, established before any key is touched (issue: decryption
 * bound to the right IdP).
 */
export interface CiphertextBinding {
  /**
   * The entityID of the IdP whose verified signature (the Response's) covers this ciphertext;
   * undefined when no verified signature covers it. CBC is decrypted under a signature only when
   * this signer is `attributedTo`, checked before any key is touched.
   */
  signedBy: string | undefined;
  /**
   * The IdP the assertion will be attributed to (the one chosen by the Response Issuer, whose
   * keys then verify it); undefined for a bare EncryptedAssertion, whose IdP is known only from
   * the plaintext. When set, the decrypted assertion's Issuer must be this IdP, or the answer is
   * `decryption_failed` like any other failure: an IdP that wraps another IdP's captured
   * ciphertext (CBC, or relabelled as GCM) in its own signed Response gets the same answer
   * whether the padding, the parse or only the Issuer failed, and nothing decrypted is ever
   * processed further as another IdP's assertion.
   */
  attributedTo: string | undefined;
  /** The IdP chosen for this token allows tripledes-cbc (`samlIdps[].allowTripleDesCbc`). */
  allowTripleDes: boolean;
  /**
   * The id of `attributedTo` (set together with it): keys bound to other IdPs (`DecryptionKey.idps`)
   * are never used for this ciphertext, decided before any key is touched.
   */
  attributedIdp: string | undefined;
  /**
   * The id of the trusted IdP with this entityID, if any: for a bare EncryptedAssertion, the
   * decrypted Issuer must be an IdP a key bound to IdPs is bound to.
   */
  idpIdOf: (entityId: string) => string | undefined;
}

export interface DecryptedAssertion {
  /** The saml:Assertion, in a document of its own. */
  assertion: Element;
  /** That document's text: what the assertion's signature is verified against. */
  xml: string;
}

const XENC = NS.xenc;
const XENC11 = "http://www.w3.org/2009/xmlenc11#";
const ELEMENT_TYPE = `${XENC}Element`;

interface DataAlgorithm {
  cipher: string;
  keyLength: number;
  ivLength: number;
  /** Cipher block size: CBC ciphertext is whole blocks, and the padding octet is at most this. */
  block: number;
  gcm: boolean;
  /** tripledes-cbc: only for an IdP that opts in. */
  tripleDes: boolean;
}

/** Data encryption algorithms (XML Encryption 1.1 §5.2). */
const DATA_ALGORITHMS: Record<string, DataAlgorithm> = {
  [`${XENC}aes128-cbc`]: { cipher: "aes-128-cbc", keyLength: 16, ivLength: 16, block: 16, gcm: false, tripleDes: false },
  [`${XENC}aes256-cbc`]: { cipher: "aes-256-cbc", keyLength: 32, ivLength: 16, block: 16, gcm: false, tripleDes: false },
  [`${XENC11}aes128-gcm`]: { cipher: "aes-128-gcm", keyLength: 16, ivLength: 12, block: 16, gcm: true, tripleDes: false },
  [`${XENC11}aes256-gcm`]: { cipher: "aes-256-gcm", keyLength: 32, ivLength: 12, block: 16, gcm: true, tripleDes: false },
  // XML Encryption 1.1 §5.2.1 (REQUIRED there; pysaml2 offers nothing else). Three-key EDE with
  // a 64-bit block: CBC's malleability as for AES-CBC, so the same signature gate applies.
  [`${XENC}tripledes-cbc`]: { cipher: "des-ede3-cbc", keyLength: 24, ivLength: 8, block: 8, gcm: false, tripleDes: true },
};

const RSA_OAEP_MGF1P = `${XENC}rsa-oaep-mgf1p`;
const RSA_OAEP = `${XENC11}rsa-oaep`;
const RSA_1_5 = `${XENC}rsa-1_5`;

const DIGESTS: Record<string, string> = {
  "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
  "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
  "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
  "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
};
const MGF1: Record<string, string> = {
  [`${XENC11}mgf1sha1`]: "sha1",
  [`${XENC11}mgf1sha256`]: "sha256",
  [`${XENC11}mgf1sha384`]: "sha384",
  [`${XENC11}mgf1sha512`]: "sha512",
};

/** Bounds: SAML needs one EncryptedKey per recipient; RSA keys above 8192 bits are not expected. */
const MAX_ENCRYPTED_KEYS = 4;
const MAX_WRAPPED_KEY_BYTES = 1024;
const MAX_OAEP_LABEL_BYTES = 256;
const GCM_TAG_BYTES = 16;

type KeyTransport = { kind: "oaep"; hash: string; mgfHash: string; label: Buffer } | { kind: "rsa15" };

interface EncryptedKeyPlan {
  transport: KeyTransport;
  wrapped: Buffer;
}

interface Plan {
  data: DataAlgorithm;
  cipherText: Buffer;
  keys: EncryptedKeyPlan[];
}

/** A decryption failure of any kind; never carries detail out. */
class Failed extends Error {}
function fail(): never {
  throw new Failed();
}

/** An algorithm the policy does not allow, decided before any key is touched. */
class NotAllowed extends Error {}
function notAllowed(): never {
  throw new NotAllowed();
}

/**
 * Decrypt `encrypted` (a saml:EncryptedAssertion element) with `policy.keys`. Returns the
 * assertion in its own document; throws `encryption_algorithm_not_allowed` for an algorithm the
 * policy (and `binding`) does not allow, before any key is touched, and `decryption_failed` for
 * every other failure.
 */
export function decryptAssertion(
  encrypted: Element,
  policy: DecryptionPolicy,
  limits: XmlLimits,
  binding: CiphertextBinding,
): DecryptedAssertion {
  let plan: Plan;
  const keys = keysFor(policy.keys, binding);
  try {
    if (!is(encrypted, NS.saml2, "EncryptedAssertion") || keys.length === 0) fail();
    // Everything that does not depend on a key is checked first: shape, algorithms, sizes.
    plan = planDecryption(encrypted, policy, binding);
  } catch (e) {
    throw refuse(e instanceof NotAllowed ? "encryption_algorithm_not_allowed" : "decryption_failed");
  }
  try {
    const context = namespaceContext(encrypted);
    for (const ek of plan.keys) {
      for (const key of keys) {
        const contentKey = unwrapKey(ek, key.privateKey, plan.data.keyLength);
        const result = decryptAndParse(plan, contentKey, context, limits, issuerAllowed(key, binding));
        if (result) return result;
      }
    }
    return fail();
  } catch {
    // Whatever went wrong (including a bug-shaped TypeError): one indistinguishable answer.
    throw refuse("decryption_failed");
  }
}

/**
 * The keys that may be used for this ciphertext (issue 9, decryption bound to the right IdP). All
 * IdPs share a key without `idps`, so with shared keys alone nothing can be decided before
 * decryption: a tenant IdP that wraps another's captured ciphertext in its own signed Response
 * makes the bridge unwrap, decrypt and parse it before the Issuer check refuses it. A key bound to
 * IdPs is used for a Response's ciphertext only when the Response's IdP (`attributedIdp`, whose
 * keys verified its signature, or which its Issuer named) is among them: a key of another IdP is
 * never touched, and with no key left the answer is `decryption_failed`, like any other failure.
 * Only configuration decides this, so it tells an attacker nothing about the ciphertext.
 */
function keysFor(keys: readonly DecryptionKey[], binding: CiphertextBinding): readonly DecryptionKey[] {
  const idp = binding.attributedIdp;
  if (binding.attributedTo === undefined) return keys; // bare: decided on the plaintext (issuerAllowed)
  return keys.filter((k) => k.idps === undefined || (idp !== undefined && k.idps.includes(idp)));
}

/**
 * Which decrypted Issuer `key` may yield: under a Response, the IdP it named (`attributedTo`);
 * for a bare EncryptedAssertion, any IdP with a shared key, or one of the key's `idps`.
 */
function issuerAllowed(key: DecryptionKey, binding: CiphertextBinding): (issuer: string | undefined) => boolean {
  const { attributedTo, idpIdOf } = binding;
  const bound = key.idps;
  if (attributedTo !== undefined) return (issuer) => issuer === attributedTo;
  if (bound === undefined) return () => true;
  return (issuer) => {
    const id = issuer === undefined ? undefined : idpIdOf(issuer);
    return id !== undefined && bound.includes(id);
  };
}

/**
 * Decrypt with one candidate content key and parse; undefined for any failure. Every check on the
 * plaintext (CBC padding, UTF-8, well-formedness, one saml:Assertion, its Issuer being the IdP
 * the Response named, or one the key is bound to) is folded into one result, and the padding does
 * not decide whether the parse runs: see decryptData.
 */
function decryptAndParse(plan: Plan, key: Buffer, context: Map<string, string>, limits: XmlLimits, issuerAllowedBy: (issuer: string | undefined) => boolean): DecryptedAssertion | undefined {
  const data = decryptData(plan, key);
  if (!data) return undefined; // GCM tag mismatch (see decryptData)
  const parsed = parsePlaintext(data.plaintext, context, limits);
  const issuerOk = parsed !== undefined && issuerAllowedBy(assertionIssuer(parsed.assertion));
  // One combined test, after all the work is done.
  return data.paddingOk & Number(issuerOk) ? parsed : undefined;
}

/** The decrypted assertion's Issuer text, or undefined when it has none / several / element content. */
function assertionIssuer(assertion: Element): string | undefined {
  const issuer = onlyChild(assertion, NS.saml2, "Issuer");
  if (!issuer || issuer === "many") return undefined;
  try {
    return text(issuer);
  } catch {
    return undefined;
  }
}

// --- structure and algorithms (before any private-key operation) ----------------------------------

function planDecryption(encrypted: Element, policy: DecryptionPolicy, binding: CiphertextBinding): Plan {
  // EncryptedElementType (SAML Core §2.2.4): one xenc:EncryptedData, then xenc:EncryptedKey*.
  const kids = childElements(encrypted);
  const encryptedData = kids[0];
  if (!encryptedData || !is(encryptedData, XENC, "EncryptedData")) fail();
  const siblingKeys = kids.slice(1);
  if (!siblingKeys.every((k) => is(k, XENC, "EncryptedKey"))) fail();

  const data = encryptedData;
  const type = attr(data, "Type");
  if (type !== undefined && type !== ELEMENT_TYPE) fail();
  const methods = children(data, XENC, "EncryptionMethod");
  if (methods.length !== 1) fail();
  const algorithm = DATA_ALGORITHMS[attr(methods[0]!, "Algorithm") ?? ""];
  if (!algorithm) notAllowed();
  // CBC (AES or triple DES) has no integrity: decrypted only when a verified Response signature
  // covers the ciphertext and its signer is the IdP the assertion is attributed to (see
  // CiphertextBinding), unless the legacy switch is on. Triple DES also needs the IdP's opt-in.
  const boundSignature = binding.signedBy !== undefined && binding.signedBy === binding.attributedTo;
  if (!algorithm.gcm && !boundSignature && !policy.allowUnsignedCbc) notAllowed();
  if (algorithm.tripleDes && !binding.allowTripleDes) notAllowed();
  // KeySize (XML Encryption §5.2) is implied by the algorithm; no parameters are expected.
  if (childElements(methods[0]!).length !== 0) fail();

  // EncryptedKeys inside EncryptedData/ds:KeyInfo, and those beside the EncryptedData (referenced
  // by a ds:RetrievalMethod, or not). Nothing else in KeyInfo names a key the bridge could use.
  const keyInfos = children(data, NS.ds, "KeyInfo");
  if (keyInfos.length > 1) fail();
  const candidates = [...(keyInfos[0] ? children(keyInfos[0], XENC, "EncryptedKey") : []), ...siblingKeys];
  if (candidates.length === 0 || candidates.length > MAX_ENCRYPTED_KEYS) fail();

  const cipherText = cipherValue(data);
  const a = algorithm;
  // Sizes the algorithm implies: IV, whole blocks (CBC) or the 128-bit tag (GCM).
  if (a.gcm) {
    if (cipherText.length < a.ivLength + GCM_TAG_BYTES) fail();
  } else if (cipherText.length < a.ivLength + a.block || (cipherText.length - a.ivLength) % a.block !== 0) {
    fail();
  }
  return { data: a, cipherText, keys: candidates.map((ek) => planKey(ek, policy)) };
}

function planKey(ek: Element, policy: DecryptionPolicy): EncryptedKeyPlan {
  const methods = children(ek, XENC, "EncryptionMethod");
  if (methods.length !== 1) fail();
  const method = methods[0]!;
  const algorithm = attr(method, "Algorithm");
  const params = childElements(method);
  let transport: KeyTransport;
  if (algorithm === RSA_OAEP_MGF1P || algorithm === RSA_OAEP) {
    // XML Encryption 1.1 §5.5.2: DigestMethod defaults to SHA-1; the MGF is MGF1-SHA1 for
    // rsa-oaep-mgf1p and, by default, for xmlenc11#rsa-oaep (whose MGF element may name another).
    let hash = "sha1";
    let mgfHash = "sha1";
    let label: Buffer = Buffer.alloc(0);
    const seen = new Set<string>();
    for (const p of params) {
      const name = `${p.namespaceURI ?? ""} ${p.localName ?? ""}`;
      if (seen.has(name)) fail();
      seen.add(name);
      // The OAEP digest and mask function are part of the key transport algorithm: one outside the
      // allow-list is "not allowed", like an unknown algorithm.
      if (is(p, NS.ds, "DigestMethod")) hash = DIGESTS[attr(p, "Algorithm") ?? ""] ?? notAllowed();
      else if (algorithm === RSA_OAEP && is(p, XENC11, "MGF")) mgfHash = MGF1[attr(p, "Algorithm") ?? ""] ?? notAllowed();
      else if (is(p, XENC, "OAEPparams")) label = base64(text(p));
      else fail(); // KeySize or anything unknown
    }
    if (label.length > MAX_OAEP_LABEL_BYTES) fail();
    transport = { kind: "oaep", hash, mgfHash, label };
  } else if (algorithm === RSA_1_5 && policy.allowRsa15KeyTransport) {
    // No parameters; xml-encryption (Node IdPs) writes a meaningless DigestMethod anyway: ignored.
    if (params.length > 1 || (params[0] && !is(params[0], NS.ds, "DigestMethod"))) fail();
    transport = { kind: "rsa15" };
  } else {
    // An unknown key transport, or rsa-1_5 without `saml.allowRsa15KeyTransport`.
    return notAllowed();
  }
  const wrapped = cipherValue(ek);
  if (wrapped.length === 0 || wrapped.length > MAX_WRAPPED_KEY_BYTES) fail();
  return { transport, wrapped };
}

/** CipherData/CipherValue, base64 with XML whitespace; CipherReference (a fetch) is refused. */
function cipherValue(parent: Element): Buffer {
  const cipherData = children(parent, XENC, "CipherData");
  if (cipherData.length !== 1) fail();
  const values = childElements(cipherData[0]!);
  if (values.length !== 1 || !is(values[0]!, XENC, "CipherValue")) fail();
  // Text only (dom.ts `text`: element content throws, and so is decryption_failed).
  return base64(text(values[0]!));
}

/** xs:base64Binary as XML Encryption writes it (line breaks allowed), strictly. */
function base64(text: string): Buffer {
  const b64 = text.replace(/[ \t\r\n]+/g, "");
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) fail();
  return Buffer.from(b64, "base64");
}

// --- key transport ----------------------------------------------------------------------------------

/**
 * The content-encryption key, or, when it cannot be unwrapped (wrong key, bad padding, wrong
 * length), a random key of the right length: the data decryption then fails in its own way, and
 * the caller cannot tell which step it was (no early exit to time).
 */
function unwrapKey(ek: EncryptedKeyPlan, privateKey: KeyObject, keyLength: number): Buffer {
  const fallback = randomBytes(keyLength);
  const modulusBytes = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  if (ek.wrapped.length !== modulusBytes) return fallback;
  const t = ek.transport;
  if (t.kind === "oaep" && t.hash === t.mgfHash) {
    // OpenSSL's OAEP (node:crypto uses one hash for the digest and MGF1).
    try {
      const key = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: t.hash, ...(t.label.length ? { oaepLabel: t.label } : {}) },
        ek.wrapped,
      );
      return key.length === keyLength ? key : fallback;
    } catch {
      return fallback;
    }
  }
  // The other cases decode a raw RSA result here (OpenSSL blinds the private-key operation):
  // OAEP whose MGF1 hash differs from its digest, which node:crypto cannot express, and PKCS#1
  // v1.5 (only when allowed), which node:crypto refuses to decrypt (CVE-2023-46809). The content
  // key has a known length, so the padding has fixed positions: every byte is checked, and the key
  // or the random fallback is selected without a data-dependent branch ("implicit rejection", the
  // countermeasure XML Encryption 1.1 §5.5.1 describes; Manger's attack on OAEP likewise needs
  // to tell its failures apart).
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ek.wrapped);
  } catch {
    return fallback;
  }
  if (t.kind === "oaep") return oaepDecode(em, t, keyLength, fallback);
  const k = em.length;
  const sep = k - keyLength - 1; // index of the 0x00 separator: EM = 00 02 PS(≥8, non-zero) 00 K
  if (sep < 10) return fallback;
  let bad = em[0]! | (em[1]! ^ 0x02) | em[sep]!;
  for (let i = 2; i < sep; i++) {
    const b = em[i]!;
    bad |= ((b - 1) >>> 8) & 1; // 1 when b === 0
  }
  return select(bad, em.subarray(sep + 1), fallback);
}

/** EME-OAEP decoding (RFC 8017 §7.1.2 step 3) of a message of exactly `keyLength` octets. */
function oaepDecode(em: Buffer, t: { hash: string; mgfHash: string; label: Buffer }, keyLength: number, fallback: Buffer): Buffer {
  const lHash = createHash(t.hash).update(t.label).digest();
  const hLen = lHash.length;
  const k = em.length;
  // EM = Y || maskedSeed (hLen) || maskedDB (k - hLen - 1); DB = lHash' || PS (zeros) || 01 || M.
  const dbLength = k - hLen - 1;
  const sep = dbLength - keyLength - 1; // index of 0x01 in DB
  if (sep < hLen) return fallback;
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seed = xor(maskedSeed, mgf1(maskedDb, hLen, t.mgfHash));
  const db = xor(maskedDb, mgf1(seed, dbLength, t.mgfHash));
  let bad = em[0]! | Number(!timingSafeEqual(db.subarray(0, hLen), lHash)) | (db[sep]! ^ 0x01);
  for (let i = hLen; i < sep; i++) bad |= db[i]!;
  return select(bad, db.subarray(sep + 1), fallback);
}

function mgf1(seed: Buffer, length: number, hash: string): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let c = 0, got = 0; got < length; c++) {
    counter.writeUInt32BE(c);
    const block = createHash(hash).update(seed).update(counter).digest();
    blocks.push(block);
    got += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** `value` when `bad` is 0, else `fallback` (same length), without branching on `bad`. */
function select(bad: number, value: Buffer, fallback: Buffer): Buffer {
  const keep = (((bad | -bad) >>> 31) - 1) & 0xff; // 0xff when bad === 0, else 0x00
  const out = Buffer.alloc(fallback.length);
  for (let i = 0; i < fallback.length; i++) out[i] = (value[i]! & keep) | (fallback[i]! & ~keep & 0xff);
  return out;
}

// --- data ---------------------------------------------------------------------------------------------

/**
 * The plaintext octets and whether the CBC padding was good (1) or not (0); undefined only for a
 * GCM tag mismatch.
 *
 * CBC: the padding is checked without a data-dependent branch, and a bad padding does NOT skip
 * the plaintext parse: the octets are cut as if the pad were 1 and parsed all the same, and the
 * padding verdict is combined with the parse result only at the end (decryptAndParse). So the
 * time taken does not tell a good padding from a bad one (the Vaudenay / Jager & Somorovsky
 * oracle); what remains is that parsing a well-formed plaintext takes longer than rejecting a
 * garbled one, which depends on the bytes the attacker chose, not on the padding check, and
 * which is only reachable under a Response signature bound to the IdP (CiphertextBinding).
 * GCM: a bad tag ends here; the tag is unforgeable without the content key, so that exit
 * tells an attacker nothing about a ciphertext they did not make.
 */
function decryptData(plan: Plan, key: Buffer): { plaintext: Buffer; paddingOk: number } | undefined {
  const { data, cipherText } = plan;
  const iv = cipherText.subarray(0, data.ivLength);
  if (data.gcm) {
    try {
      const body = cipherText.subarray(data.ivLength, cipherText.length - GCM_TAG_BYTES);
      const decipher = createDecipheriv(data.cipher as "aes-128-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
      decipher.setAuthTag(cipherText.subarray(cipherText.length - GCM_TAG_BYTES));
      return { plaintext: Buffer.concat([decipher.update(body), decipher.final()]), paddingOk: 1 };
    } catch {
      return undefined;
    }
  }
  const decipher = createDecipheriv(data.cipher, key, iv);
  // XML Encryption pads ISO 10126-style: only the last octet (the pad length) is defined.
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(cipherText.subarray(data.ivLength)), decipher.final()]);
  const pad = padded[padded.length - 1]!;
  // ok = 1 when 1 <= pad <= block, else 0, by sign bits (pad is 0..255, block 8 or 16).
  const paddingOk = (((pad - 1) >>> 31) | ((data.block - pad) >>> 31)) ^ 1;
  const mask = -paddingOk; // all ones when ok, else 0
  const cut = (pad & mask) | (1 & ~mask);
  return { plaintext: padded.subarray(0, padded.length - cut), paddingOk };
}

// --- plaintext ----------------------------------------------------------------------------------------

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const WRAPPER_NS = "urn:fedbridge:decrypted";

/** In-scope namespace declarations at `el` (nearest first wins), as attribute source text. */
function namespaceContext(el: Element): Map<string, string> {
  const decls = new Map<string, string>();
  for (let node: Node | null = el; node && node.nodeType === 1; node = node.parentNode) {
    const attrs = (node as Element).attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs.item(i)!;
      if ((a.name === "xmlns" || a.name.startsWith("xmlns:")) && !decls.has(a.name)) decls.set(a.name, a.value);
    }
  }
  return decls;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
}

/** Whether `root` or an element below it carries more than `max` attributes (declarations included). */
function tooManyAttributes(root: Element, max: number): boolean {
  let over = false;
  walkTree(root, (node) => {
    if (over || node.nodeType !== 1) return false;
    if ((node as Element).attributes.length > max) over = true;
    return !over;
  });
  return over;
}

/** The plaintext as a document whose only element child of the wrapper is a saml:Assertion. */
function parsePlaintext(bytes: Buffer, context: Map<string, string>, limits: XmlLimits): DecryptedAssertion | undefined {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return undefined;
  }
  if (text.includes("\u0000")) return undefined;
  // An XML declaration may lead the octets (Type=Element content is usually bare); only UTF-8.
  const decl = /^\uFEFF?<\?xml\s[^?]*\?>/.exec(text);
  if (decl) {
    const encoding = /encoding\s*=\s*["']([^"']+)["']/.exec(decl[0]);
    if (encoding && encoding[1]!.toLowerCase() !== "utf-8") return undefined;
    text = text.slice(decl[0].length);
  } else {
    text = text.replace(/^\uFEFF/, "");
  }
  let prefix = "fbw";
  for (let n = 0; context.has(`xmlns:${prefix}`); n++) prefix = `fbw${n}`;
  const decls = [...context].map(([name, value]) => ` ${name}="${escapeAttr(value)}"`).join("");
  const xml = `<${prefix}:decrypted xmlns:${prefix}="${WRAPPER_NS}"${decls}>${text}</${prefix}:decrypted>`;
  let doc: Document;
  const wrapperAttributes = context.size + 1;
  try {
    // The token's own limits, every node kind included; only the wrapper element (one element, one
    // level, and the in-scope declarations it carries) is allowed for on top.
    const wrapper = wrapperAttributes;
    doc = parseUntrustedXml(xml, {
      ...limits,
      maxDepth: limits.maxDepth + 1,
      maxElements: limits.maxElements + 1,
      ...(limits.maxNodes !== undefined ? { maxNodes: limits.maxNodes + wrapper + 1 } : {}),
      ...(limits.maxAttributesPerElement !== undefined ? { maxAttributesPerElement: Math.max(limits.maxAttributesPerElement, wrapper) } : {}),
    });
  } catch {
    return undefined;
  }
  const wrapper = doc.documentElement!;
  if (!is(wrapper, WRAPPER_NS, "decrypted")) return undefined;
  let assertion: Element | undefined;
  for (let c = wrapper.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 1) {
      if (assertion) return undefined;
      assertion = c as Element;
    } else if (c.nodeType === 3) {
      if (!/^[ \t\r\n]*$/.test(c.nodeValue ?? "")) return undefined;
    } else if (c.nodeType !== 8) {
      return undefined; // CDATA, processing instructions: not an element's serialization
    }
  }
  if (!assertion || !is(assertion, NS.saml2, "Assertion")) return undefined;
  // The parse above allowed the wrapper's declarations for every element; the decrypted content
  // itself gets the token's own per-element bound, as it would have in the clear.
  const maxAttributes = limits.maxAttributesPerElement;
  if (maxAttributes !== undefined && wrapperAttributes > maxAttributes && tooManyAttributes(assertion, maxAttributes)) return undefined;
  return { assertion, xml };
}
