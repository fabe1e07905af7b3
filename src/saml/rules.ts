import { checkSubjectIdentifier } from "../subject/identifier.js";
import { refuse } from "../oauth/errors.js";
import { NotTextError, text } from "../xml/dom.js";
import { parseSamlInstant } from "./time.js";
import type { TrustedIdp } from "./idp-registry.js";

/**
 * Rules SAML 1.1 and SAML 2.0 share, each with the reason code it refuses with. Callers pass values
 * read from the signed bytes only.
 */

interface Clock {
  now: number;
  skewMs: number;
}

const MAX_ATTRIBUTE_VALUE = 4096;

/** IssueInstant: not in the future, not older than the IdP's maximum age (catalogue D8). */
export function checkIssueInstant(value: string | undefined, idp: TrustedIdp, clock: Clock): number {
  const issuedAt = parseSamlInstant(value);
  if (issuedAt > clock.now + clock.skewMs) throw refuse("assertion_not_yet_valid");
  if (clock.now - issuedAt > idp.policy.maxAssertionAgeMs + clock.skewMs) throw refuse("assertion_stale");
  return issuedAt;
}

/** Conditions time window, with skew; NotOnOrAfter is exclusive (SAML Core 2.0 §2.5.1.2, 1.1 §2.3.2.1). */
export function checkValidityWindow(notBefore: number | undefined, notOnOrAfter: number | undefined, clock: Clock): void {
  if (notBefore !== undefined && clock.now + clock.skewMs < notBefore) throw refuse("assertion_not_yet_valid");
  if (notOnOrAfter !== undefined && clock.now - clock.skewMs >= notOnOrAfter) throw refuse("assertion_expired");
}

/**
 * One audience restriction (SAML 2.0 AudienceRestriction, SAML 1.1 AudienceRestrictionCondition):
 * it holds when any of its Audience values is accepted. Several restrictions are ANDed, so the
 * caller calls this once per restriction. Exact string comparison (catalogue D4).
 */
export function checkAudienceRestriction(audiences: readonly Element[], accepted: ReadonlySet<string>): void {
  // Every Audience is read (and so checked to be text) before any is compared.
  const values = audiences.map(samlText);
  if (!values.some((a) => accepted.has(a))) throw refuse("audience_mismatch");
}

/**
 * A SAML field of simple type read as text (Issuer, NameID / NameIdentifier, Audience,
 * AuthnContextClassRef, ConfirmationMethod…): element children are refused (`saml_text_invalid`),
 * never flattened into one string; comments are skipped (dom.ts `text`).
 */
export function samlText(el: Element): string {
  try {
    return text(el);
  } catch (e) {
    if (e instanceof NotTextError) throw refuse("saml_text_invalid");
    throw e;
  }
}

/**
 * The subject identifier (NameID / NameIdentifier text): non-empty, bounded, and never silently
 * trimmed: a padded identifier is refused, not reinterpreted (catalogue D19).
 */
export function subjectIdentifier(el: Element): string {
  return checkSubjectIdentifier(samlText(el));
}

/**
 * AttributeValue texts (xsi:nil values skipped), each bounded. Values are text only: a value with
 * element children (structured content such as an eduPersonTargetedID NameID, or any
 * `xsi:type`d complex content) is refused with `attribute_value_invalid`, whatever its declared
 * type: its flattened `textContent` would be a string of the signer's markup choosing, not a value
 * the IdP asserted. `xsi:type` itself is not read: a value is its text.
 */
export function attributeValues(valueElements: readonly Element[]): string[] {
  const values: string[] = [];
  for (const v of valueElements) {
    let value: string;
    try {
      value = text(v);
    } catch (e) {
      if (e instanceof NotTextError) throw refuse("attribute_value_invalid");
      throw e;
    }
    if (v.getAttributeNS("http://www.w3.org/2001/XMLSchema-instance", "nil") === "true") continue;
    if (value.length > MAX_ATTRIBUTE_VALUE) throw refuse("xml_too_complex");
    values.push(value);
  }
  return values;
}

/**
 * The replay mark of a bearer assertion (SAML 2.0 Profiles §4.1.4.5, RFC 7522 §3; SAML 1.1 bearer
 * assertions alike): its ID, kept until the assertion could no longer pass the time checks (its
 * expiry or maximum age, plus skew). The replay key scopes the ID by the IdP's entityID.
 */
export function bearerReplayMark(id: string, expiresAt: number, issuedAt: number, idp: TrustedIdp, skewMs: number): { id: string; keepUntil: number } {
  return { id, keepUntil: Math.min(expiresAt, issuedAt + idp.policy.maxAssertionAgeMs) + skewMs };
}

/**
 * Whether the xs:QName `value` (an attribute of `signedEl`, read from the signed bytes) names
 * {ns}local. QName-valued content is the one place where exclusive canonicalization (the
 * transform every SAML signature uses) loses information: a namespace declaration used only by a
 * QName *value* is not "visibly utilized" (Exc-C14N §3), so the signed bytes may no longer bind the
 * prefix (SimpleSAMLphp's SAML 1.1 Response: protocol elements in the default namespace and
 * `xmlns:samlp` declared only for `Value="samlp:Success"`). The prefix is therefore resolved:
 *
 *  1. against the declarations the signed bytes themselves carry (in scope at `signedEl` in the
 *     re-parsed signed element; an InclusiveNamespaces PrefixList puts them there), and only when
 *     they do not bind it,
 *  2. against the declarations on `receivedEl` and its ancestors up to and including
 *     `receivedTop`, the signed element as received, never above it: declarations on ancestors
 *     outside the signed element are covered by nothing and belong to whoever wrapped it.
 *
 * Step 2 is not vouched for by the signature either: a declaration that Exc-C14N dropped may be
 * altered inside the signed element without changing the digest. It is safe only because of how
 * it is used: the value (prefix and local name) comes from the signed bytes, and the caller only
 * accepts one fixed {ns}local whose namespace the specification makes the only legal one for that
 * field (SAML 1.1 Core §3.4.3.1: a top-level StatusCode is a samlp: QName). Rebinding the prefix
 * can thus only turn an accepted value into a refused one (no more than dropping the message), or
 * make the signed `p:Success` of a non-conforming IdP mean samlp:Success, which is what any
 * conforming reading of that signed value is. Undeclared prefixes are refused.
 */
export function qnameIs(
  value: string | undefined,
  signedEl: Element,
  receivedEl: Element,
  receivedTop: Element,
  ns: string,
  local: string,
): boolean {
  if (value === undefined) return false;
  const m = /^(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)$/.exec(value);
  if (!m || m[2] !== local) return false;
  const prefix = m[1];
  const signedTop = signedEl.ownerDocument?.documentElement ?? signedEl;
  const bound = declaredPrefix(signedEl, signedTop, prefix) ?? declaredPrefix(receivedEl, receivedTop, prefix);
  return bound === ns;
}

/** The namespace `prefix` (undefined: the default namespace) is bound to at `el`, looking no higher than `top`. */
function declaredPrefix(el: Element, top: Element, prefix: string | undefined): string | undefined {
  const name = prefix === undefined ? "xmlns" : `xmlns:${prefix}`;
  for (let node: Node | null = el; node && node.nodeType === 1; node = node.parentNode) {
    const e = node as Element;
    if (e.hasAttribute(name)) return e.getAttribute(name) ?? "";
    if (e === top) break;
  }
  return undefined;
}
