import { checkSubjectIdentifier } from "../subject/identifier.js";
import { refuse } from "../oauth/errors.js";
import type { AttributeSelector, MappingConfig } from "../config/schema.js";
import type { SamlAttribute, VerifiedSubject } from "../subject/types.js";

/**
 * Attributes → token claims, scopes and conditions, driven by the IdP's mapping config. Claim names
 * were validated at start-up (no reserved claim, no `__proto__`), and the result is a fresh plain
 * object built with Object.fromEntries, so no attribute name or value can reach a prototype.
 */
export interface MappedSubject {
  sub: string;
  claims: Record<string, string | string[]>;
  /** Scopes the mapping grants this subject: the subject's ceiling in the scope intersection. */
  grantedScopes: ReadonlySet<string>;
  /** may_act from a mapped attribute (RFC 8693 §4.4), when the mapping names one. */
  mayAct?: { sub: string };
}

export function mapSubject(subject: VerifiedSubject, mapping: MappingConfig): MappedSubject {
  const values = (sel: AttributeSelector): string[] | undefined => valuesOf(subject.attributes, sel);

  for (const rule of mapping.require) {
    const have = values(rule.attribute) ?? [];
    if (!have.some((v) => rule.anyOf.includes(v))) throw refuse("policy_condition_failed");
  }

  let sub: string;
  if ("nameId" in mapping.subject) {
    sub = subject.subject;
  } else {
    const v = values(mapping.subject.attribute);
    if (!v || v.length !== 1) throw refuse("mapping_required_missing");
    sub = v[0]!;
  }

  // One issuer (the bridge), many IdPs: a prefix keeps their subjects apart (RFC 7519 §4.1.2).
  // The same identifier rule as NameID and JWT `sub`, applied to what `sub` finally is.
  sub = checkSubjectIdentifier((mapping.subjectPrefix ?? "") + sub);

  const entries: [string, string | string[]][] = [];
  for (const [claim, rule] of Object.entries(mapping.claims)) {
    let v = values(rule.from);
    if (v === undefined || v.length === 0) {
      if (rule.default !== undefined) v = Array.isArray(rule.default) ? [...rule.default] : [rule.default];
      else if (rule.required) throw refuse("mapping_required_missing");
      else continue;
    }
    const transformed = v.map((x) => transform(x, rule.transform));
    if (rule.multi) entries.push([claim, transformed]);
    else if (transformed.length === 1) entries.push([claim, transformed[0]!]);
    else throw refuse("mapping_required_missing");
  }

  const granted = new Set<string>();
  for (const rule of mapping.scopes) {
    const applies = rule.when === undefined || (values(rule.when) ?? []).some((v) => rule.anyOf!.includes(v));
    if (applies) for (const s of rule.grant) granted.add(s);
  }
  let mayAct: { sub: string } | undefined;
  if (mapping.mayAct) {
    const v = values(mapping.mayAct);
    // Present but ambiguous is refused: a constraint must never be read loosely.
    if (v !== undefined && (v.length !== 1 || v[0] === "")) throw refuse("mapping_required_missing");
    if (v) mayAct = { sub: v[0]! };
  }
  return { sub, claims: Object.fromEntries(entries), grantedScopes: granted, ...(mayAct ? { mayAct } : {}) };
}

/**
 * SAML Core §2.5.1.6: a token issued on the basis of an assertion with a ProxyRestriction that
 * lists Audiences may be issued only to those audiences. The bridge's token is that new
 * assertion, and its `aud` is the resolved targets' identifiers, so each must be listed (exact
 * string comparison, as for AudienceRestriction). Called once the targets are known.
 */
export function checkProxyAudiences(subject: Pick<VerifiedSubject, "proxyAudiences">, targetIds: readonly string[]): void {
  const allowed = subject.proxyAudiences;
  if (allowed === undefined) return;
  if (targetIds.length === 0 || !targetIds.every((t) => allowed.includes(t))) throw refuse("proxy_audience_not_allowed");
}

/**
 * The whole ProxyRestriction rule, for a SAML assertion and for the bridge's own token that carries
 * one on (claim `proxy_restriction`) alike: no token may be issued once the count is used up
 * (`proxy_restriction_forbids`), and its audiences must be listed (checkProxyAudiences; skipped
 * when the targets are not known, as in explain).
 */
export function checkProxyRestriction(subject: Pick<VerifiedSubject, "proxyAudiences" | "proxyCount">, targetIds: readonly string[] | undefined): void {
  if (subject.proxyCount !== undefined && subject.proxyCount < 1) throw refuse("proxy_restriction_forbids");
  if (targetIds) checkProxyAudiences(subject, targetIds);
}

/** All values of every attribute matching the selector, or undefined when none matches. */
function valuesOf(attributes: readonly SamlAttribute[], sel: AttributeSelector): string[] | undefined {
  let found: string[] | undefined;
  for (const a of attributes) {
    const nameMatches = sel.name !== undefined ? a.name === sel.name : a.friendlyName === sel.friendlyName;
    if (!nameMatches) continue;
    if (sel.nameFormat !== undefined && a.nameFormat !== sel.nameFormat) continue;
    (found ??= []).push(...a.values);
  }
  return found;
}

function transform(v: string, t: "lowercase" | "uppercase" | "trim" | undefined): string {
  switch (t) {
    case "lowercase":
      return v.toLowerCase();
    case "uppercase":
      return v.toUpperCase();
    case "trim":
      return v.trim();
    default:
      return v;
  }
}
