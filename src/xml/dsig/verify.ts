import { timingSafeEqual, type KeyObject } from "node:crypto";
import { OAuthError, refuse } from "../../oauth/errors.js";
import { NS, attr, childElements, children } from "../dom.js";
import { ALG, DIGEST_ALGORITHMS, SIGNATURE_ALGORITHMS, digest, keyFits, verifySignatureValue } from "./algorithms.js";
import { C14nUnsupported, ancestorNamespaces, canonicalize, type C14nMode, type NsBinding } from "./c14n.js";
import type { DocumentScan } from "./scan.js";

/**
 * The native enveloped-signature check (XML-DSig §3.2 core validation, in the order that bounds
 * the work of a forged document): on the one parsed document, with the signed element and its
 * ds:Signature taken by position (the caller has already checked the shape and allow-lists):
 *
 *  1. canonicalize SignedInfo (small: it holds one Reference);
 *  2. verify SignatureValue with node:crypto against the trusted keys, and pick the one that
 *     verifies: a wrong key costs one public-key operation over SignedInfo, nothing more;
 *  3. only then canonicalize the referenced element (enveloped Signature and comments left out
 *     while walking: XML-DSig §4.4.3.3, same-document references exclude comments), digest it once
 *     and compare with DigestValue in constant time.
 *
 * Every step is linear in the document. Refusals are OAuthErrors; anything else thrown in here is
 * a fault of the verifier (or of a key object), and the caller reports it as an internal error.
 *
 * Where xml-crypto's `SignedXml.checkSignature` (the oracle of the differential tests) would read a
 * document in a way that differs from a straightforward reading, this path refuses instead of
 * guessing. Each such refusal carries one of the `STRICTER` tags below as its `cause`, and the
 * differential tests accept a disagreement only for a tagged refusal.
 */
export const STRICTER = {
  /** Transforms other than [enveloped] or [enveloped, one c14n]: xml-crypto re-parses in between. */
  transformOrder: "stricter:transform-order",
  /** SignatureValue/DigestValue not one text node: xml-crypto reads the first text node of one, textContent of the other. */
  valueText: "stricter:value-text",
  /** Parameters under SignatureMethod (RSAPSSParams, HMACOutputLength): not implemented, so not guessed. */
  methodParams: "stricter:method-params",
  /** An empty token in SignedInfo's InclusiveNamespaces PrefixList: xml-crypto writes `xmlns:=`. */
  prefixListToken: "stricter:prefix-list-token",
  /** xml-crypto takes the namespace context of the FIRST SignedInfo in the document for inclusive c14n. */
  signedInfoContext: "stricter:signedinfo-context",
  /** A child CanonicalizationMethod of the signed element would supply xml-crypto's PrefixList. */
  elementPrefixList: "stricter:element-prefix-list",
  /** An attribute named xmlns… that is no namespace declaration: xml-crypto leaves it out of the digest. */
  xmlnsLikeAttribute: "stricter:xmlns-like-attribute",
  /** A Reference child other than one ds:Transforms, ds:DigestMethod, ds:DigestValue: xml-crypto takes the first of any namespace. */
  referenceChildren: "stricter:reference-children",
  /** A PKCS#1 v1.5 URI with an RSASSA-PSS key (node:crypto would verify it as PSS). */
  keyType: "stricter:key-type",
} as const;

export interface NativeTrustedKey {
  key: KeyObject;
  fingerprint: string;
}

const REFERENCE_CHILDREN = new Set(["Transforms", "DigestMethod", "DigestValue"]);

function stricter(tag: string): OAuthError {
  return refuse("signature_invalid", tag);
}

const C14N_MODES: Readonly<Record<string, { mode: C14nMode; withComments: boolean }>> = {
  [ALG.excC14n]: { mode: "exclusive", withComments: false },
  [ALG.excC14nComments]: { mode: "exclusive", withComments: true },
  [ALG.c14n]: { mode: "inclusive", withComments: false },
  [ALG.c14nComments]: { mode: "inclusive", withComments: true },
};

/** The one text child of a value element, or a tagged refusal. */
function soleText(el: Element): string {
  const c = el.firstChild;
  if (!c || c.nextSibling || c.nodeType !== 3) throw stricter(STRICTER.valueText);
  return (c as Text).data;
}

/**
 * DigestValue as xml-crypto reads it (the text of the canonical SignedInfo, where CDATA is text):
 * text and CDATA children only; a comment or an element inside is refused.
 */
function digestText(el: Element): string {
  let out = "";
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if (c.nodeType !== 3 && c.nodeType !== 4) throw stricter(STRICTER.valueText);
    out += (c as CharacterData).data;
  }
  return out;
}

/** xml-crypto reads every InclusiveNamespaces child (any namespace) of the given Transform. */
function referencePrefixList(transform: Element | undefined): string[] {
  if (!transform) return [];
  const out: string[] = [];
  for (const c of childElements(transform)) {
    if (c.localName !== "InclusiveNamespaces") continue;
    for (const p of (c.getAttribute("PrefixList") ?? "").split(" ")) if (p.length > 0) out.push(p);
  }
  return out;
}

function signedInfoPrefixList(cm: Element): string[] {
  const inc = childElements(cm).find((c) => c.localName === "InclusiveNamespaces");
  if (!inc) return [];
  const list = (inc.getAttribute("PrefixList") || "").split(" ");
  if (list.some((p) => p === "")) throw stricter(STRICTER.prefixListToken);
  return list;
}

function sameBindings(a: readonly NsBinding[], b: readonly NsBinding[], only?: readonly string[]): boolean {
  const wanted = only ? new Set(only) : undefined;
  const pick = (l: readonly NsBinding[]) =>
    new Map(l.filter((n) => !wanted || wanted.has(n.prefix)).map((n) => [n.prefix, n.namespaceURI]));
  const ma = pick(a);
  const mb = pick(b);
  if (ma.size !== mb.size) return false;
  for (const [k, v] of ma) if (mb.get(k) !== v) return false;
  return true;
}

function canonical(root: Element, o: Parameters<typeof canonicalize>[1]): string {
  try {
    return canonicalize(root, o);
  } catch (e) {
    // A node xml-crypto would throw on (the oracle then refuses): a refusal, not a fault.
    if (e instanceof C14nUnsupported) throw refuse("signature_invalid", e.message);
    throw e;
  }
}

/**
 * Verify `signature` (the direct ds:Signature child of `el`, shape already checked) with `keys`.
 * Returns the canonical bytes of `el` and the fingerprint of the key that verified SignedInfo.
 */
export function verifyNative(
  el: Element,
  signature: Element,
  keys: readonly NativeTrustedKey[],
  scan: DocumentScan,
): { signedXml: string; keyFingerprint: string } {
  const signedInfo = children(signature, NS.ds, "SignedInfo")[0]!;
  const cm = children(signedInfo, NS.ds, "CanonicalizationMethod")[0]!;
  const sm = children(signedInfo, NS.ds, "SignatureMethod")[0]!;
  const ref = children(signedInfo, NS.ds, "Reference")[0]!;
  const c14n = C14N_MODES[attr(cm, "Algorithm")!]!;
  const sigAlg = SIGNATURE_ALGORITHMS[attr(sm, "Algorithm")!]!;
  if (childElements(sm).length > 0) throw stricter(STRICTER.methodParams);

  // Reference: [enveloped] or [enveloped, c14n], DigestMethod, one DigestValue (XML-DSig §4.4.3).
  const transformsEl = children(ref, NS.ds, "Transforms")[0];
  const transforms = transformsEl ? children(transformsEl, NS.ds, "Transform") : [];
  const uris = transforms.map((t) => attr(t, "Algorithm")!);
  if (uris[0] !== ALG.enveloped || (uris.length === 2 && !C14N_MODES[uris[1]!]) || uris.length > 2) {
    throw stricter(STRICTER.transformOrder);
  }
  // xml-crypto appends inclusive C14N when the enveloped transform is last (XML-DSig §4.4.3.2).
  const refC14n = uris.length === 2 ? C14N_MODES[uris[1]!]! : C14N_MODES[ALG.c14n]!;
  const refKids = childElements(ref);
  const kinds = new Set(refKids.map((c) => c.localName));
  if (refKids.some((c) => c.namespaceURI !== NS.ds || !REFERENCE_CHILDREN.has(c.localName)) || kinds.size !== refKids.length) {
    throw stricter(STRICTER.referenceChildren);
  }
  const digestMethods = children(ref, NS.ds, "DigestMethod");
  const digestValues = children(ref, NS.ds, "DigestValue");
  if (digestValues.length !== 1) throw refuse("signature_invalid");
  const digestAlgorithm = DIGEST_ALGORITHMS[attr(digestMethods[0]!, "Algorithm")!]!;
  const expectedDigest = digestText(digestValues[0]!);
  if (expectedDigest === "") throw refuse("signature_invalid");
  const signatureValues = children(signature, NS.ds, "SignatureValue");
  const signatureValue = Buffer.from(soleText(signatureValues[0]!).replace(/\r?\n/g, ""), "base64");

  // xml-crypto finds the loaded Signature again by its SignatureValue and refuses a second copy.
  const ownValue = signatureValues[0]!.textContent;
  for (const s of scan.signatures) {
    if (s === signature) continue;
    const sv = childElements(s).find((c) => c.localName === "SignatureValue");
    if (sv && sv.textContent === ownValue) throw refuse("signature_invalid");
  }

  // 1. SignedInfo, canonicalized in its own namespace context.
  const siPrefixList = c14n.mode === "exclusive" ? signedInfoPrefixList(cm) : [];
  const siAncestors = ancestorNamespaces(signedInfo);
  if (scan.firstSignedInfo && scan.firstSignedInfo !== signedInfo) {
    const relevant = c14n.mode === "inclusive" ? undefined : siPrefixList;
    if (relevant === undefined || relevant.length > 0) {
      if (!sameBindings(siAncestors, ancestorNamespaces(scan.firstSignedInfo), relevant)) throw stricter(STRICTER.signedInfoContext);
    }
  }
  if (scan.xmlnsLike) throw stricter(STRICTER.xmlnsLikeAttribute);
  const signedInfoXml = canonical(signedInfo, {
    mode: c14n.mode, withComments: c14n.withComments, prefixList: siPrefixList, ancestorNamespaces: siAncestors,
  });

  // 2. SignatureValue first: the key that verifies SignedInfo, or a refusal. No digest yet.
  let chosen: NativeTrustedKey | undefined;
  let typeMismatch = false;
  for (const k of keys) {
    if (!keyFits(k.key, sigAlg)) {
      if (sigAlg.family === "rsa" && k.key.asymmetricKeyType === "rsa-pss") typeMismatch = true;
      continue;
    }
    if (verifySignatureValue(sigAlg, signedInfoXml, k.key, signatureValue)) {
      chosen = k;
      break;
    }
  }
  if (!chosen) throw typeMismatch ? stricter(STRICTER.keyType) : refuse("signature_invalid");

  // 3. The referenced element, once, with the key known good.
  let refPrefixList: string[] = [];
  if (refC14n.mode === "exclusive") {
    refPrefixList = referencePrefixList(transforms[transforms.length - 1]);
    if (refPrefixList.length === 0) {
      const quirk = childElements(el).find((c) => c.localName === "CanonicalizationMethod");
      if (quirk && childElements(quirk).some((c) => c.localName === "InclusiveNamespaces")) throw stricter(STRICTER.elementPrefixList);
    }
  }
  const signedXml = canonical(el, {
    mode: refC14n.mode,
    withComments: false,
    exclude: signature,
    prefixList: refPrefixList,
    ancestorNamespaces: ancestorNamespaces(el),
  });
  const actual = digest(digestAlgorithm, signedXml);
  const expected = Buffer.from(expectedDigest, "base64");
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw refuse("signature_invalid");
  return { signedXml, keyFingerprint: chosen.fingerprint };
}
