/**
 * Mutation testing (issue 8, docs/mutation-testing.md): the shared SAML rules (src/saml/rules.ts)
 * and the xs:dateTime reader (src/saml/time.ts) at their exact boundaries, called directly. The
 * end-to-end suites (saml2-rules, saml11-rules) reach the same rules through signed fixtures; these
 * pin the comparisons a mutant can move by one (`>` vs `>=`, `+ skew` vs `- skew`) and the branches
 * a fixture never isolates.
 */
import { DOMParser } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import {
  attributeValues, bearerReplayMark, checkAudienceRestriction, checkIssueInstant, checkValidityWindow, qnameIs, samlText, subjectIdentifier,
} from "../../src/saml/rules.js";
import { parseOptionalInstant, parseSamlInstant } from "../../src/saml/time.js";
import { trustedIdpFor } from "../../src/saml/signed-token.js";
import type { IdpRegistry, TrustedIdp } from "../../src/saml/idp-registry.js";
import { outcome } from "../support/outcome.js";

const NOW = Date.UTC(2026, 11, 4, 12, 0, 0);
const SKEW = 120_000;
const MAX_AGE = 300_000;
const clock = { now: NOW, skewMs: SKEW };
/** Only `policy.maxAssertionAgeMs` is read by these rules. */
const idp = { policy: { maxAssertionAgeMs: MAX_AGE } } as unknown as TrustedIdp;
const iso = (t: number): string => new Date(t).toISOString();

function el(xml: string): Element {
  return new DOMParser().parseFromString(xml, "text/xml").documentElement!;
}

describe("checkIssueInstant: not in the future beyond skew, not older than max age + skew", () => {
  it.each([
    ["exactly now + skew", NOW + SKEW, "accepted"],
    ["1 s past now + skew", NOW + SKEW + 1000, "assertion_not_yet_valid"],
    ["1 ms past now + skew (millisecond precision)", NOW + SKEW + 1, "assertion_not_yet_valid"],
    ["within the skew, in the future", NOW + 1000, "accepted"],
    ["exactly max age + skew old", NOW - MAX_AGE - SKEW, "accepted"],
    ["1 ms older than max age + skew", NOW - MAX_AGE - SKEW - 1, "assertion_stale"],
    ["older than max age, within the skew", NOW - MAX_AGE - 1000, "accepted"],
  ])("%s → %s", (_what, t, expected) => {
    expect(outcome(() => checkIssueInstant(iso(t), idp, clock))).toBe(expected);
  });

  it("returns the instant read", () => {
    expect(checkIssueInstant(iso(NOW - 5000), idp, clock)).toBe(NOW - 5000);
  });

  it("a missing IssueInstant is timestamp_invalid", () => {
    expect(outcome(() => checkIssueInstant(undefined, idp, clock))).toBe("timestamp_invalid");
  });
});

describe("checkValidityWindow: NotBefore inclusive, NotOnOrAfter exclusive, each with skew", () => {
  it.each([
    ["no bounds", undefined, undefined, "accepted"],
    ["NotBefore exactly now + skew", NOW + SKEW, undefined, "accepted"],
    ["NotBefore 1 ms after now + skew", NOW + SKEW + 1, undefined, "assertion_not_yet_valid"],
    ["NotBefore in the future within the skew", NOW + 1000, undefined, "accepted"],
    ["NotOnOrAfter exactly now - skew (exclusive)", undefined, NOW - SKEW, "assertion_expired"],
    ["NotOnOrAfter 1 ms after now - skew", undefined, NOW - SKEW + 1, "accepted"],
    ["NotOnOrAfter in the past within the skew", undefined, NOW - 1000, "accepted"],
    ["NotOnOrAfter long past", undefined, NOW - SKEW - 60_000, "assertion_expired"],
    ["both, inside", NOW - 1000, NOW + 1000, "accepted"],
  ])("%s → %s", (_what, notBefore, notOnOrAfter, expected) => {
    expect(outcome(() => checkValidityWindow(notBefore, notOnOrAfter, clock))).toBe(expected);
  });
});

describe("checkAudienceRestriction: any one accepted Audience satisfies one restriction", () => {
  const accepted = new Set(["https://bridge.example.com", "urn:alias"]);
  const audiences = (...v: string[]) => v.map((a) => el(`<Audience>${a}</Audience>`));
  it.each([
    [["https://bridge.example.com"], "accepted"],
    [["urn:other", "urn:alias"], "accepted"],
    [["urn:alias", "urn:other"], "accepted"],
    [["urn:other"], "audience_mismatch"],
    [["urn:other", "urn:else"], "audience_mismatch"],
    [[], "audience_mismatch"],
    [["https://bridge.example.com/"], "audience_mismatch"],
  ])("%j → %s", (values, expected) => {
    expect(outcome(() => checkAudienceRestriction(audiences(...values), accepted))).toBe(expected);
  });
  it("every Audience is read as text first: an element child is saml_text_invalid even after an accepted one", () => {
    const list = [el("<Audience>urn:alias</Audience>"), el("<Audience><x/>urn:alias</Audience>")];
    expect(outcome(() => checkAudienceRestriction(list, accepted))).toBe("saml_text_invalid");
  });
});

describe("samlText / subjectIdentifier", () => {
  it("text with a comment inside reads as the joined text", () => {
    expect(samlText(el("<NameID>a<!---->b</NameID>"))).toBe("ab");
  });
  it("an element child is saml_text_invalid (never flattened)", () => {
    expect(outcome(() => samlText(el("<NameID>a<b>c</b></NameID>")))).toBe("saml_text_invalid");
  });
  it("subjectIdentifier refuses an empty or padded NameID, keeps a good one unchanged", () => {
    expect(outcome(() => subjectIdentifier(el("<NameID></NameID>")))).toBe("subject_invalid");
    expect(outcome(() => subjectIdentifier(el("<NameID> alice</NameID>")))).toBe("subject_invalid");
    expect(subjectIdentifier(el("<NameID>alice@example.com</NameID>"))).toBe("alice@example.com");
  });
  it("a non-NotTextError from the DOM is rethrown as is (never turned into a refusal)", () => {
    const broken = { get firstChild(): never { throw new TypeError("boom"); } } as unknown as Element;
    expect(() => samlText(broken)).toThrow(TypeError);
    expect(() => attributeValues([broken])).toThrow(TypeError);
  });
});

describe("attributeValues: text only, xsi:nil skipped, each value bounded at 4096", () => {
  const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
  const value = (inner: string, attrs = "") => el(`<AttributeValue ${XSI} ${attrs}>${inner}</AttributeValue>`);
  it("reads values in order", () => {
    expect(attributeValues([value("a"), value("b")])).toEqual(["a", "b"]);
  });
  it("a value of exactly 4096 characters is kept, 4097 is xml_too_complex", () => {
    expect(attributeValues([value("x".repeat(4096))])).toEqual(["x".repeat(4096)]);
    expect(outcome(() => attributeValues([value("x".repeat(4097))]))).toBe("xml_too_complex");
  });
  it('xsi:nil="true" is skipped; xsi:nil="false", "1" or an unqualified nil are values', () => {
    expect(attributeValues([value("", 'xsi:nil="true"'), value("b")])).toEqual(["b"]);
    expect(attributeValues([value("a", 'xsi:nil="false"')])).toEqual(["a"]);
    expect(attributeValues([value("a", 'xsi:nil="1"')])).toEqual(["a"]);
    expect(attributeValues([value("a", 'nil="true"')])).toEqual(["a"]);
    expect(attributeValues([el('<AttributeValue xmlns:n="urn:not-xsi" n:nil="true">a</AttributeValue>')])).toEqual(["a"]);
  });
  it("a nil value is still read as text first: element content is attribute_value_invalid", () => {
    expect(outcome(() => attributeValues([value("<NameID>x</NameID>", 'xsi:nil="true"')]))).toBe("attribute_value_invalid");
  });
  it("an oversized nil value is skipped, not bounded (it contributes nothing)", () => {
    expect(attributeValues([value("x".repeat(5000), 'xsi:nil="true"')])).toEqual([]);
  });
});

describe("bearerReplayMark: kept until expiry or max age, whichever is first, plus skew", () => {
  it("expiry first", () => {
    expect(bearerReplayMark("_a", NOW + 60_000, NOW, idp, SKEW)).toEqual({ id: "_a", keepUntil: NOW + 60_000 + SKEW });
  });
  it("max age first", () => {
    expect(bearerReplayMark("_b", NOW + 3_600_000, NOW - 1000, idp, SKEW)).toEqual({ id: "_b", keepUntil: NOW - 1000 + MAX_AGE + SKEW });
  });
});

describe("qnameIs: an xs:QName value resolved in the signed bytes first, then up to the received top only", () => {
  const SAMLP = "urn:oasis:names:tc:SAML:1.0:protocol";
  function check(value: string | undefined, signedXml: string, receivedXml = signedXml, topDepth = 0): boolean {
    const signed = el(signedXml);
    const receivedRoot = el(receivedXml);
    // the received element is the innermost "s" element; its top is `topDepth` levels above the root
    const find = (root: Element): Element => root.getElementsByTagName("s")[0] ?? root;
    const received = find(receivedRoot);
    let top: Element = receivedRoot;
    for (let i = 0; i < topDepth; i++) top = top.firstChild as Element;
    return qnameIs(value, find(signed), received, top, SAMLP, "Success");
  }
  it.each([
    ["prefixed, bound in the signed bytes", "samlp:Success", `<s xmlns:samlp="${SAMLP}"/>`, true],
    ["default namespace in the signed bytes", "Success", `<s xmlns="${SAMLP}"/>`, true],
    ["wrong local name", "samlp:Failure", `<s xmlns:samlp="${SAMLP}"/>`, false],
    ["local name with a suffix", "samlp:SuccessX", `<s xmlns:samlp="${SAMLP}"/>`, false],
    ["local name with a prefix of its own", "samlp:XSuccess", `<s xmlns:samlp="${SAMLP}"/>`, false],
    ["leading space", " samlp:Success", `<s xmlns:samlp="${SAMLP}"/>`, false],
    ["trailing space", "samlp:Success ", `<s xmlns:samlp="${SAMLP}"/>`, false],
    ["two colons", "a:samlp:Success", `<s xmlns:samlp="${SAMLP}" xmlns:a="${SAMLP}"/>`, false],
    ["prefix bound elsewhere", "samlp:Success", `<s xmlns:samlp="urn:other"/>`, false],
    ["undeclared prefix", "samlp:Success", `<s/>`, false],
    ["unprefixed, no default namespace", "Success", `<s/>`, false],
    ["empty value", "", `<s xmlns="${SAMLP}"/>`, false],
    ["prefix starting with a digit", "1p:Success", `<s xmlns:p="${SAMLP}"/>`, false],
    ["prefix bound on the signed element's ancestor inside the signed bytes", "samlp:Success", `<t xmlns:samlp="${SAMLP}"><s/></t>`, true],
  ])("%s (%j) → %s", (_what, value, signedXml, expected) => {
    expect(check(value, signedXml)).toBe(expected);
  });
  it("the signed bytes' own binding wins over the received one", () => {
    expect(check("samlp:Success", `<s xmlns:samlp="urn:other"/>`, `<s xmlns:samlp="${SAMLP}"/>`)).toBe(false);
    expect(check("samlp:Success", `<s xmlns:samlp="${SAMLP}"/>`, `<s xmlns:samlp="urn:other"/>`)).toBe(true);
  });
  it("a declaration on an ancestor of the signed element inside the signed bytes counts, with nothing in the received document", () => {
    expect(check("samlp:Success", `<t xmlns:samlp="${SAMLP}"><s/></t>`, "<s/>")).toBe(true);
    expect(check("Success", `<t xmlns="${SAMLP}"><s/></t>`, "<s/>")).toBe(true);
  });
  it("an undefined value is false", () => {
    expect(check(undefined, `<s xmlns:samlp="${SAMLP}"/>`)).toBe(false);
  });
  it("a prefix the signed bytes do not bind is taken from the received element and its ancestors up to the received top", () => {
    // received: <w xmlns:samlp=…><t><s/></t></w>; top = <t> (depth 1): the declaration on <w> is above it
    const received = `<w xmlns:samlp="${SAMLP}"><t><s/></t></w>`;
    expect(check("samlp:Success", "<s/>", received, 0)).toBe(true);
    expect(check("samlp:Success", "<s/>", received, 1)).toBe(false);
    // a declaration on <t> itself (the top) counts
    expect(check("samlp:Success", "<s/>", `<w><t xmlns:samlp="${SAMLP}"><s/></t></w>`, 1)).toBe(true);
  });
  it("a default namespace the signed bytes do not declare comes from the received element", () => {
    expect(check("Success", "<s/>", `<s xmlns="${SAMLP}"/>`)).toBe(true);
    expect(check("Success", "<s/>", `<s xmlns="urn:other"/>`)).toBe(false);
  });
  it("a top that is not an ancestor: the walk stops at the document element's parent and never throws", () => {
    const received = el(`<r xmlns:samlp="${SAMLP}"><s/></r>`).getElementsByTagName("s")[0]!;
    const unrelated = el("<other/>");
    expect(qnameIs("samlp:Success", el("<s/>"), received, unrelated, SAMLP, "Success")).toBe(true);
    expect(qnameIs("q:Success", el("<s/>"), received, unrelated, SAMLP, "Success")).toBe(false);
  });
  it('xmlns="" on the signed element undeclares the default namespace (bound to "", not looked up further)', () => {
    expect(check("Success", `<t xmlns="${SAMLP}"><s xmlns=""/></t>`, `<s xmlns="${SAMLP}"/>`)).toBe(false);
  });
});

describe("parseSamlInstant: the boundaries the rollover check and the fraction reader hold", () => {
  it.each([
    ["one fraction digit is tenths", "2026-11-26T07:00:00.1Z", Date.UTC(2026, 10, 26, 7, 0, 0, 100)],
    ["two fraction digits", "2026-11-26T07:00:00.12Z", Date.UTC(2026, 10, 26, 7, 0, 0, 120)],
    ["the last second of a year", "2026-12-31T23:59:59Z", Date.UTC(2026, 11, 31, 23, 59, 59)],
    ["a leap day", "2028-02-29T00:00:00Z", Date.UTC(2028, 1, 29)],
    ["year 1000", "1000-01-01T00:00:00Z", Date.UTC(1000, 0, 1)],
  ])("%s: %s", (_what, v, t) => {
    expect(parseSamlInstant(v)).toBe(t);
  });
  it.each([
    // Date.UTC maps years 0–99 to 1900–1999: only the year comparison catches these
    ["a two-digit year read as 19xx", "0099-11-26T07:00:00Z"],
    ["year 0000", "0000-01-01T00:00:00Z"],
    ["month 13", "2026-13-01T00:00:00Z"],
    ["month 00", "2026-00-10T00:00:00Z"],
    ["day 00", "2026-03-00T00:00:00Z"],
    ["not a leap year", "2026-02-29T00:00:00Z"],
    ["minute 60", "2026-11-26T07:60:00Z"],
    ["second 60", "2026-11-26T07:00:60Z"],
    ["ten fraction digits", "2026-11-26T07:00:00.1234567890Z"],
    ["an empty fraction", "2026-11-26T07:00:00.Z"],
    ["trailing text", "2026-11-26T07:00:00Zx"],
  ])("refuses %s: %s", (_what, v) => {
    expect(outcome(() => parseSamlInstant(v))).toBe("timestamp_invalid");
  });
  it("parseOptionalInstant: undefined stays undefined, a value is parsed (and refused when bad)", () => {
    expect(parseOptionalInstant(undefined)).toBeUndefined();
    expect(parseOptionalInstant("2026-11-26T07:00:00Z")).toBe(Date.UTC(2026, 10, 26, 7));
    expect(outcome(() => parseOptionalInstant("2026-11-26"))).toBe("timestamp_invalid");
  });
});

describe("trustedIdpFor: the claimed Issuer picks the IdP; its metadata validUntil is exclusive", () => {
  const VALID_UNTIL = NOW + 1000;
  const known = { id: "idp1", metadata: { entityId: "https://idp1", validUntil: VALID_UNTIL }, policy: {} } as unknown as TrustedIdp;
  const forever = { id: "idp2", metadata: { entityId: "https://idp2", validUntil: undefined }, policy: {} } as unknown as TrustedIdp;
  const idps = { byEntityId: (e: string) => (e === "https://idp1" ? known : e === "https://idp2" ? forever : undefined) } as unknown as IdpRegistry;
  it.each([
    ["https://idp1", NOW, "accepted"],
    ["https://idp1", VALID_UNTIL - 1, "accepted"],
    ["https://idp1", VALID_UNTIL, "metadata_expired"],
    ["https://idp1", VALID_UNTIL + 1, "metadata_expired"],
    ["https://idp2", NOW + 10 * 365 * 86_400_000, "accepted"],
    ["https://unknown", NOW, "issuer_unknown"],
  ])("%s at %i → %s", (issuer, now, expected) => {
    expect(outcome(() => trustedIdpFor(issuer, { idps, now }))).toBe(expected);
  });
  it("returns the IdP found", () => {
    expect(trustedIdpFor("https://idp1", { idps, now: NOW })).toBe(known);
  });
});
