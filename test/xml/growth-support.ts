// Support for the growth-exponent tests (issue 9): documents inflated along one dimension, the full
// SAML 2.0 verification path (decode + parse + verify + rules) through verifySaml2Token with a test
// IdP registry, and robust timing (medians of interleaved repetitions, measured in the same run).
import { randomBytes } from "node:crypto";
import { IdpRegistry, trustedIdp, type TrustedIdp } from "../../src/saml/idp-registry.js";
import { parseIdpMetadata } from "../../src/saml/metadata.js";
import { verifySaml2Token } from "../../src/saml/saml2.js";
import type { SignatureVerifierKind } from "../../src/xml/signature.js";
import { BRIDGE_ENTITY_ID, IDP1, IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT, IDP_EC_CERT, TOKEN_ENDPOINT } from "../support/constants.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";
import { metadataFor } from "../support/metadata-builder.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { KEYS_IDP11 } from "../support/saml1-builder.js";

function idp(certs: string[]): TrustedIdp {
  return trustedIdp("idp1", parseIdpMetadata(metadataFor(IDP1, certs)), {
    allowSha1: false, requireSignedAssertion: true, maxAssertionAgeSeconds: 600, mapping: { scopes: [{ grant: ["read"] }] } as never,
  }, TOKEN_ENDPOINT);
}

/** idp1 with its two signing keys (rollover), and the same entity with five trusted keys (the right one last). */
export const REGISTRY_ONE_KEY = new IdpRegistry([idp([IDP1_CERT])]);
export const REGISTRY_TWO_KEYS = new IdpRegistry([idp([IDP1_NEXT_CERT, IDP1_CERT])]);
export const REGISTRY_FIVE_KEYS = new IdpRegistry([idp([IDP1_NEXT_CERT, IDP2_CERT, KEYS_IDP11.cert, IDP_EC_CERT, IDP1_CERT])]);

/** The schema's largest configurable limits, so each dimension can grow 4× inside them. */
export const ROOMY_LIMITS = { maxDepth: 256, maxElements: 100_000, maxNodes: 2_000_000, maxAttributesPerElement: 100_000, maxTokenBytes: 1024 * 1024 };
/** The defaults of src/config/schema.ts `limits` (maxNodes, attributes per element: the parser's defaults). */
export const DEFAULT_LIMITS = { maxDepth: 48, maxElements: 2_000, maxTokenBytes: 131_072 };

/** Verify a token through the whole SAML 2.0 path; the outcome (accepted or refused) does not matter here. */
export function runSaml2(token: string, registry: IdpRegistry, limits: object, verifier: SignatureVerifierKind = "native"): string {
  try {
    verifySaml2Token(token, {
      now: Date.now(), skewMs: 60_000, acceptedAudiences: new Set([BRIDGE_ENTITY_ID]),
      limits: { ...(limits as typeof DEFAULT_LIMITS), signatureVerifier: verifier } as never, idps: registry,
    });
    return "ok";
  } catch (e) {
    const reason = (e as { reason?: string }).reason;
    if (reason === undefined) throw e;
    return reason;
  }
}

export type Dimension =
  | "comments" | "bareComments" | "elements" | "attributes" | "nsDeclarations" | "ids" | "depth" | "textBytes" | "keyInfo" | "statements"
  | "signedInfoBulk";

/** Bulk for one dimension, placed inside the signed assertion (KeyInfo: inside its Signature). */
function bulk(dim: Dimension, n: number): { inAttributeValue?: string; inStatement?: string; onAssertion?: string; afterStatement?: string; keyInfo?: string; signedInfo?: string; prefixList?: string } {
  switch (dim) {
    // SignedInfo is canonicalized before any key is known: n PrefixList tokens and n prefixed
    // attributes (16 per element) inside it, all attacker-chosen in a forged document. Each in its
    // own namespace: one {namespace}name twice on an element is refused (Namespaces in XML §6.3).
    case "signedInfoBulk": return {
      prefixList: Array.from({ length: n }, (_, i) => `q${i}`).join(" "),
      signedInfo: Array.from({ length: Math.ceil(n / 16) }, (_, e) => `<ds:X${Array.from({ length: 16 }, (_, i) => ` xmlns:q${e * 16 + i}="urn:q${e * 16 + i}" q${e * 16 + i}:a="1"`).join("")}/>`).join(""),
    };
    case "comments": return { inAttributeValue: "x<!---->".repeat(n) };
    case "bareComments": return { inAttributeValue: "<!---->".repeat(n) };
    case "elements": return { inStatement: `<saml:Attribute Name="e">${"<saml:AttributeValue>v</saml:AttributeValue>".repeat(n)}</saml:Attribute>` };
    // n attributes in all, 16 per element: one element's attributes are bounded by the parser
    // (maxAttributesPerElement, default 32), and xmldom's attribute map is quadratic per element.
    case "attributes": return { inStatement: `<saml:Attribute Name="a">${Array.from({ length: Math.ceil(n / 16) }, (_, e) => `<saml:AttributeValue${Array.from({ length: 16 }, (_, i) => ` a${i}="${e}"`).join("")}>v</saml:AttributeValue>`).join("")}</saml:Attribute>` };
    case "nsDeclarations": {
      // n declarations in all, 8 per element, each visibly used on its element (one element's
      // declarations count against maxAttributesPerElement, like attributes; xmldom's attribute map
      // is quadratic per element, so the per-element count is bounded by the parser, not here).
      const users = Array.from({ length: Math.ceil(n / 8) }, (_, e) =>
        `<saml:AttributeValue${Array.from({ length: 8 }, (_, i) => ` xmlns:p${i}="urn:p${e}.${i}" p${i}:u="1"`).join("")}>v</saml:AttributeValue>`).join("");
      return { inStatement: `<saml:Attribute Name="ns">${users}</saml:Attribute>` };
    }
    case "ids": return { inStatement: `<saml:Attribute Name="i">${Array.from({ length: n }, (_, i) => `<saml:AttributeValue ID="_v${i}">v</saml:AttributeValue>`).join("")}</saml:Attribute>` };
    case "depth": return { inAttributeValue: "<d>".repeat(n) + "x" + "</d>".repeat(n) };
    case "textBytes": return { inAttributeValue: "abc&amp;&lt;d\u00e9f ".repeat(Math.ceil(n / 16)).slice(0, n).replace(/&[a-z]*$/, "") };
    case "keyInfo": return { keyInfo: randomBytes(Math.ceil((n * 3) / 4)).toString("base64") };
    case "statements": return { afterStatement: Array.from({ length: n }, (_, i) => `<saml:AttributeStatement><saml:Attribute Name="s${i}"><saml:AttributeValue>v</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`).join("") };
  }
}

/**
 * A Response around an assertion inflated along `dim` by `n`. `signed`: xmlsec1 signs the inflated
 * assertion (valid). Otherwise the assertion carries a well-formed ds:Signature with a garbage
 * SignatureValue: the forged case of issue 9, which needs nothing but the IdP's entityID.
 */
export function inflatedToken(dim: Dimension, n: number, signed: boolean): string {
  const b = bulk(dim, n);
  let a = buildAssertion2({ id: "_g1", attributes: [{ name: "role", values: ["user", "VALUE"] }] });
  if (b.inAttributeValue) a = a.replace("VALUE", b.inAttributeValue);
  if (b.inStatement) a = a.replace("</saml:AttributeStatement>", `${b.inStatement}</saml:AttributeStatement>`);
  if (b.afterStatement) a = a.replace("</saml:AttributeStatement>", `</saml:AttributeStatement>${b.afterStatement}`);
  if (b.onAssertion) a = a.replace("<saml:Assertion ", `<saml:Assertion${b.onAssertion} `);
  a = signWithXmlsec1(a, "_g1", { key: KEYS.idp1 });
  if (!signed) a = a.replace(/(<ds:SignatureValue>)[^<]*/, `$1${randomBytes(256).toString("base64")}`);
  if (b.signedInfo !== undefined) {
    a = a.replace(/(<ds:CanonicalizationMethod Algorithm="[^"]+")\/>/, `$1><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="${b.prefixList}"/></ds:CanonicalizationMethod>`);
    a = a.replace("</ds:SignedInfo>", `${b.signedInfo}</ds:SignedInfo>`);
  }
  if (b.keyInfo) a = a.replace(/<ds:X509Certificate>[^<]*<\/ds:X509Certificate>/, `<ds:X509Certificate>${b.keyInfo}</ds:X509Certificate>`);
  return toBase64Url(buildResponse2(a, { id: "_gr" }));
}

/** An enterprise-shaped Response (~5 KB: ten attributes, one signed assertion), as Entra ID / AD FS send. */
export function enterpriseToken(): string {
  const attributes = Array.from({ length: 10 }, (_, i) => ({
    name: `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/attribute${i}`,
    nameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    values: [`value-${i}-${"x".repeat(120)}`],
  }));
  const a = buildAssertion2({ id: "_e1", attributes });
  return toBase64Url(buildResponse2(signWithXmlsec1(a, "_e1", { key: KEYS.idp1 }), { id: "_er" }));
}

/**
 * Fastest CPU time (ms, user + system of this process) of `reps` runs of each function, interleaved
 * so load hits both alike. CPU time rather than wall time: on a shared machine the process waits
 * for a core, and that wait is not its cost; and load only ever adds, so the fastest run is the
 * closest to the intrinsic cost.
 */
export function fastest(fns: (() => unknown)[], reps: number): number[] {
  const times: number[][] = fns.map(() => []);
  for (const f of fns) f(); // warm-up
  for (let r = 0; r < reps; r++) {
    fns.forEach((f, i) => {
      const c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      times[i]!.push((c.user + c.system) / 1000);
    });
  }
  return times.map((t) => Math.min(...t));
}

/** Fitted growth exponent log(t2/t1)/log(n2/n1), retrying the MEASUREMENT (not the assert) up to `tries` times. */
export function growthExponent(run1: () => unknown, run2: () => unknown, n1: number, n2: number, o: { reps?: number; tries?: number; bound: number }): { exponent: number; t1: number; t2: number } {
  let best = { exponent: Number.POSITIVE_INFINITY, t1: 0, t2: 0 };
  for (let i = 0; i < (o.tries ?? 5); i++) {
    const [t1, t2] = fastest([run1, run2], o.reps ?? 9);
    const exponent = Math.log(t2! / t1!) / Math.log(n2 / n1);
    if (exponent < best.exponent) best = { exponent, t1: t1!, t2: t2! };
    if (best.exponent < o.bound) break;
  }
  return best;
}
