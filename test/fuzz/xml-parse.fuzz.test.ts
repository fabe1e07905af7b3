/**
 * Fuzz target: the pre-scan and hardened parse (parseUntrustedXml) on arbitrary text and on XML
 * text mutations of signed SAML documents. Property: an OAuthError or a document within the
 * limits, never anything else; the cost per input is recorded.
 */
import fc from "fast-check";
import { afterAll, it } from "vitest";
import { parseUntrustedXml, type XmlLimits } from "../../src/xml/safe-parse.js";
import { walkTree } from "../../src/xml/dom.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion11 } from "../support/saml1-builder.js";
import { CostRecord, applyAll, fuzzRuns, fuzzSeed, xmlMutation, XML_TOKENS } from "./support.js";

const LIMITS: XmlLimits = { maxDepth: 48, maxElements: 2_000, maxNodes: 10_000, maxAttributesPerElement: 32 };
const records: CostRecord[] = [];
afterAll(() => records.forEach((r) => r.report()));

function withinLimits(doc: Document): void {
  let elements = 0;
  walkTree(doc, (n, d) => {
    if (n.nodeType === 1 && (++elements > LIMITS.maxElements || d > LIMITS.maxDepth)) throw new Error("a parsed document exceeds the limits");
  });
}

async function check(rec: CostRecord, xml: string): Promise<void> {
  const out = await rec.measure(xml, () => parseUntrustedXml(xml, LIMITS));
  if (out.ok) withinLimits(out.value);
}

it("parseUntrustedXml: mutated signed SAML documents", async () => {
  const now = new Date("2026-01-15T10:00:00Z");
  const a2 = signWithXmlsec1(buildAssertion2({ now, id: "_fx2" }), "_fx2", { key: KEYS.idp1 });
  const docs = [a2, buildResponse2(a2, { now }), buildAssertion11({ now })];
  const rec = new CostRecord("xml-parse mutated-saml");
  records.push(rec);
  await fc.assert(fc.asyncProperty(fc.constantFrom(...docs), fc.array(xmlMutation, { minLength: 1, maxLength: 6 }), async (d, ms) => {
    await check(rec, applyAll(d, ms));
  }), { numRuns: fuzzRuns(600), ...fuzzSeed() });
});

it("parseUntrustedXml: arbitrary text built from markup pieces and any code units", async () => {
  const piece = fc.oneof(fc.constantFrom(...XML_TOKENS, "<a>", "</a>", "<b x='1'>", "</b>", "text", "<?xml version=\"1.0\"?>"), fc.string({ unit: "binary", maxLength: 8 }));
  const rec = new CostRecord("xml-parse arbitrary");
  records.push(rec);
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 40 }), async (pieces) => {
    await check(rec, pieces.join(""));
  }), { numRuns: fuzzRuns(1_200), ...fuzzSeed() });
});
