import { refuse } from "../oauth/errors.js";

/** Longest subject identifier accepted (SAML NameID, JWT `sub`, or a mapped attribute). */
const MAX_SUBJECT = 1024;
/** C0/C1 controls, U+2028/2029 and the bidi embedding/override/isolate characters. */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * The one rule for every subject identifier, whatever its source: non-empty, not padded (never
 * trimmed into someone else), bounded, and free of characters that make one identifier display as
 * another in logs and consoles (attack catalogue D19, G17). Returns the value unchanged.
 */
export function checkSubjectIdentifier(value: unknown): string {
  if (!isSubjectIdentifier(value)) throw refuse("subject_invalid");
  return value;
}

/** The same rule as a predicate, for callers that refuse with their own reason (e.g. act entries). */
export function isSubjectIdentifier(value: unknown): value is string {
  return typeof value === "string" && value !== "" && value === value.trim() && value.length <= MAX_SUBJECT && !FORBIDDEN.test(value);
}
