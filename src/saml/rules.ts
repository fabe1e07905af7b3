import { checkSubjectIdentifier } from "../subject/identifier.js";
import { refuse } from "../oauth/errors.js";
import { text } from "../xml/dom.js";
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
  if (!audiences.some((a) => accepted.has(text(a)))) throw refuse("audience_mismatch");
}

/**
 * The subject identifier (NameID / NameIdentifier text): non-empty, bounded, and never silently
 * trimmed: a padded identifier is refused, not reinterpreted (catalogue D19).
 */
export function subjectIdentifier(el: Element): string {
  return checkSubjectIdentifier(text(el));
}

/** AttributeValue texts (xsi:nil values skipped), each bounded. */
export function attributeValues(valueElements: readonly Element[]): string[] {
  const values: string[] = [];
  for (const v of valueElements) {
    if (v.getAttributeNS("http://www.w3.org/2001/XMLSchema-instance", "nil") === "true") continue;
    const value = text(v);
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
