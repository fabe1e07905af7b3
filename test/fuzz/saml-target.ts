/**
 * One fuzz target per SAML subject-token verifier (2.0 and 1.1): base64 and compact-string
 * mutations of the token value, and XML text mutations of a validly signed document (signed by an
 * independent implementation), each verified through the bridge's own verifier entry point.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { toBase64Url } from "../support/independent-signers.js";
import { CostRecord, applyAll, compactMutation, fuzzSeed, identityOf, refuseOrSame, xmlMutation, type TokenVerifier } from "./support.js";

export async function fuzzSamlVerifier(o: {
  name: string;
  verify: TokenVerifier;
  /** Validly signed documents the verifier accepts. */
  documents: readonly string[];
  runs: number;
}): Promise<void> {
  const baselines = await Promise.all(o.documents.map(async (xml) => {
    const token = toBase64Url(xml);
    return { xml, token, identity: identityOf(await o.verify(token)) };
  }));
  const pick = fc.integer({ min: 0, max: baselines.length - 1 }).map((i) => baselines[i]!);

  const xmlRec = new CostRecord(`${o.name} xml-text`);
  await fc.assert(fc.asyncProperty(pick, fc.array(xmlMutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (b, ms, std) => {
    const xml = applyAll(b.xml, ms);
    const bytes = Buffer.from(xml, "utf8");
    await refuseOrSame(xmlRec, o.verify, b, std ? bytes.toString("base64") : bytes.toString("base64url"), { before: b.xml, after: xml });
  }), { numRuns: o.runs, ...fuzzSeed() });
  xmlRec.report();

  const b64Rec = new CostRecord(`${o.name} base64`);
  await fc.assert(fc.asyncProperty(pick, fc.array(compactMutation, { minLength: 1, maxLength: 3 }), async (b, ms) => {
    await refuseOrSame(b64Rec, o.verify, b, applyAll(b.token, ms));
  }), { numRuns: o.runs, ...fuzzSeed() });
  b64Rec.report();

  // The record must show the target reached deep: most XML mutations fail at the signature.
  expect(xmlRec.reasons.size).toBeGreaterThan(1);
}
