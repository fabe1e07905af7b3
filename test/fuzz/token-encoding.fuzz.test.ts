/**
 * Fuzz target: base64 token decoding (decodeBase64Token → bytesToXmlText) on mutated token values
 * and arbitrary strings. Property: an OAuthError, or bytes whose one canonical spelling in the
 * value's alphabet is the value itself (RFC 4648 §3.5; padding optional).
 */
import fc from "fast-check";
import { afterAll, expect, it } from "vitest";
import { bytesToXmlText, decodeBase64Token } from "../../src/xml/token-encoding.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { CostRecord, applyAll, compactMutation, fuzzRuns, fuzzSeed } from "./support.js";

const records: CostRecord[] = [];
afterAll(() => records.forEach((r) => r.report()));

async function check(rec: CostRecord, value: string): Promise<void> {
  const out = await rec.measure(value, () => decodeBase64Token(value, 4096));
  if (!out.ok) return;
  const unpadded = value.replace(/=+$/, "");
  const canonical = /[-_]/.test(value) ? out.value.toString("base64url") : out.value.toString("base64").replace(/=+$/, "");
  expect(canonical).toBe(unpadded);
  await rec.measure(value, () => bytesToXmlText(out.value));
}

it("decodeBase64Token / bytesToXmlText: mutated token values", async () => {
  const xml = buildAssertion2({ now: new Date("2026-01-15T10:00:00Z"), id: "_fe" });
  const tokens = [Buffer.from(xml).toString("base64url"), Buffer.from(xml).toString("base64"), Buffer.from(`\uFEFF${xml}`).toString("base64")];
  const rec = new CostRecord("base64 mutated");
  records.push(rec);
  await fc.assert(fc.asyncProperty(fc.constantFrom(...tokens), fc.array(compactMutation, { minLength: 1, maxLength: 4 }), async (t, ms) => {
    await check(rec, applyAll(t, ms));
  }), { numRuns: fuzzRuns(1_200), ...fuzzSeed() });
});

it("decodeBase64Token / bytesToXmlText: arbitrary strings and byte strings", async () => {
  const rec = new CostRecord("base64 arbitrary");
  records.push(rec);
  const value = fc.oneof(
    fc.string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n"), maxLength: 64 }),
    fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString("base64")),
    fc.string({ unit: "binary", maxLength: 32 }),
  );
  await fc.assert(fc.asyncProperty(value, async (v) => check(rec, v)), { numRuns: fuzzRuns(2_000), ...fuzzSeed() });
});
