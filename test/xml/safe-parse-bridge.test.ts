/**
 * Issue 9 through the token endpoint: markup hidden from the old pre-scan by end tags (quoted
 * `>`, `</>`, stray end tags), raw control characters and forbidden character references are
 * refused with a 400 before any signature work. Placed in the unsigned Response around a signed
 * assertion, the previous build issued a token for every one of these shapes (200).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchange, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { buildResponse2 } from "../support/saml-builder.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(async () => {
  await bridge?.close();
});

/** Inserts `markup` just before the last `end` tag of `xml`. */
const before = (xml: string, end: string, markup: string): string => {
  const i = xml.lastIndexOf(end);
  return xml.slice(0, i) + markup + xml.slice(i);
};
/** Inside the signed assertion, or in the unsigned Response around it (the signature still verifies). */
const PLACES = {
  "in the signed assertion": (markup: string) => before(signedAssertion(bridge), "</saml:Assertion>", markup),
  "in the unsigned Response around a signed assertion": (markup: string) =>
    before(buildResponse2(signedAssertion(bridge), { now: new Date(bridge.clock.now) }), "</samlp:Response>", markup),
};

describe.each(Object.entries(PLACES))("end-tag desync shapes %s → 400 xml_malformed", (_place, place) => {
  it.each([
    ["6,000 levels hidden in a quoted end tag", `</x">${"<n>".repeat(6_000)}${"</n>".repeat(6_000)}">`],
    ["40 levels after 40 stray end tags", "</z>".repeat(40) + "<n>".repeat(40) + "</n>".repeat(40)],
    ["a DOCTYPE inside a quoted end tag", `</x"><!DOCTYPE x [<!ENTITY e "e">]>">`],
    ["a processing instruction behind `</>`", "</><!-- ><?evil x?> -->"],
    ["3,000 elements inside a quoted end tag", `</x"${"<b/>".repeat(3_000)}">`],
    ["\\x04 as an attribute separator", `<x a="1"\x04b="2"/>`],
    ["a character reference to U+0000", "&#0;"],
  ])("%s", async (_what, markup) => {
    const res = await exchange(bridge, { xml: place(markup) });
    expect({ status: res.status, error: res.body.error, reason: res.body.error_description })
      .toEqual({ status: 400, error: "invalid_request", reason: "xml_malformed" });
  });
});

describe("xmldom's per-name text search is bounded (found by fuzzing)", () => {
  it("1,500 distinct element names and 90 KB of text in the unsigned Response → 400 xml_too_complex, within the same run's 5 normal exchanges", async () => {
    const names = Array.from({ length: 1_500 }, (_, i) => `<n${i}></n${i}>`).join("");
    const xml = PLACES["in the unsigned Response around a signed assertion"](`<x>${names}${"x".repeat(90_000)}</x>`);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await exchange(bridge, { xml: signedAssertion(bridge) });
    const normal = performance.now() - t0;
    const t1 = performance.now();
    const res = await exchange(bridge, { xml });
    const hostile = performance.now() - t1;
    expect({ status: res.status, reason: res.body.error_description }).toEqual({ status: 400, reason: "xml_too_complex" });
    expect(hostile).toBeLessThan(normal);
  });
});
