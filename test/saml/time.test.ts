/** xs:dateTime in UTC with Z, nothing else (SAML Core §1.3.3; catalogue D9). */
import { describe, expect, it } from "vitest";
import { parseSamlInstant } from "../../src/saml/time.js";

describe("parseSamlInstant", () => {
  it.each([
    ["2026-11-26T07:00:00Z", Date.UTC(2026, 10, 26, 7, 0, 0)],
    ["2026-11-26T07:00:00.123Z", Date.UTC(2026, 10, 26, 7, 0, 0, 123)],
    ["2026-11-26T07:00:00.123456789Z", Date.UTC(2026, 10, 26, 7, 0, 0, 123)],
  ])("reads %s", (v, t) => {
    expect(parseSamlInstant(v)).toBe(t);
  });
  it.each([
    "2026-11-26T07:00:00", "2026-11-26T07:00:00+00:00", "2026-11-26T07:00:00+14:00", "2026-11-26",
    "Tue, 01 Jan 2030 00:00:00 GMT", "+275760-09-13T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-26T24:00:00Z",
    " 2026-11-26T07:00:00Z", "2026-11-26t07:00:00z", "",
  ])("refuses %j", (v) => {
    expect(() => parseSamlInstant(v)).toThrow("timestamp_invalid");
  });
  it("refuses a missing value", () => {
    expect(() => parseSamlInstant(undefined)).toThrow("timestamp_invalid");
  });
});
