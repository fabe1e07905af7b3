/**
 * Library versions the security rules depend on (attack catalogue §0.3.5): xml-crypto 6.1.2 still
 * strips every Signature sharing a SignatureValue in the enveloped transform; 6.3.2 refuses it.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const version = (pkg: string): number[] => (require(`${pkg}/package.json`) as { version: string }).version.split(".").map(Number);
const atLeast = (v: number[], min: number[]): boolean => {
  for (let i = 0; i < min.length; i++) if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i]!;
  return true;
};

describe("resolved dependency versions", () => {
  it("xml-crypto is 6.3.2 or later", () => {
    expect(atLeast(version("xml-crypto"), [6, 3, 2])).toBe(true);
  });
  it("@xmldom/xmldom is 0.8.15 or later (multiple-root fix, CVE-2022-39353)", () => {
    expect(atLeast(version("@xmldom/xmldom"), [0, 8, 15])).toBe(true);
  });
  it("jose is 6.2 or later", () => {
    expect(atLeast(version("jose"), [6, 2, 0])).toBe(true);
  });
});
