/**
 * The aggregate document path (src/federation/document.ts, trust.ts): pinned enveloped signature
 * verified by the token code, entities read from the signed bytes only, bounds, validUntil, and
 * selection. Aggregates are signed by xmlsec1 (test/federation/support.ts).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FederationError, entitiesOf, verifiedRoot, type DocumentBounds } from "../../src/federation/document.js";
import { entityIdSelected, entityPrefix, globMatch, selected } from "../../src/federation/trust.js";
import { trustedKeyFromCertificate } from "../../src/saml/metadata.js";
import { IDP1_CERT, IDP2_CERT, WEAK1024_CERT } from "../support/constants.js";
import { FED_SIGNER, FED_SIGNER_OTHER, RA_HOME, RA_OTHER, RS, SIRTFI, ASSURANCE, ENTITY_CATEGORY, aggregateXml, signDocument, type EntitySpec } from "./support.js";

const pinned = [trustedKeyFromCertificate(readFileSync(FED_SIGNER.cert, "utf8"))];
const bounds: DocumentBounds = { maxBytes: 1_000_000, maxEntities: 100, maxElementsPerEntity: 400, maxElementNames: 256 };
const now = Date.now();

const ENTITIES: EntitySpec[] = [
  { entityId: "https://a.test/idp", cert: IDP1_CERT, registrationAuthority: RA_HOME, categories: [RS], sirtfi: true },
  { entityId: "https://b.test/idp", cert: IDP2_CERT, registrationAuthority: RA_OTHER, categories: [RS] },
  { entityId: "https://c.test/idp", cert: IDP2_CERT, registrationAuthority: RA_HOME },
  { entityId: "https://nokey.test/idp", registrationAuthority: RA_HOME },
  { entityId: "https://weak.test/idp", cert: WEAK1024_CERT, registrationAuthority: RA_HOME },
  { entityId: "https://sp.test/sp", cert: IDP1_CERT, sp: true, registrationAuthority: RA_HOME },
  { entityId: "https://old.test/idp", cert: IDP1_CERT, validUntil: new Date(now - 1000) },
];
const signed = signDocument(aggregateXml(ENTITIES));

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof FederationError) return e.problem;
    throw e;
  }
  return "accepted";
};

describe("aggregate verification", () => {
  it("reads the IdP entities with signing keys from the signed bytes", () => {
    const doc = entitiesOf(verifiedRoot(signed, { pinned, bounds }), now, { requireValidUntil: true });
    expect(doc.entities.map((e) => e.metadata.entityId).sort()).toEqual(["https://a.test/idp", "https://b.test/idp", "https://c.test/idp"]);
    // No signing key, a 1024-bit key, an expired entity: left out, counted; the SP is no IdP at all.
    expect(doc.skipped).toEqual({ unusable_keys: 2, expired: 1 });
    const a = doc.entities.find((e) => e.metadata.entityId === "https://a.test/idp")!;
    expect(a.registrationAuthority).toBe(RA_HOME);
    expect(a.entityAttributes.map((x) => [x.name, x.values])).toEqual([[ENTITY_CATEGORY, [RS]], [ASSURANCE, [SIRTFI]]]);
  });

  it("refuses a document edited after signing (an entity added, a key swapped, an attribute changed)", () => {
    const added = signed.replace("</md:EntitiesDescriptor>", `<md:EntityDescriptor entityID="https://evil.test/idp"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor></md:EntitiesDescriptor>`);
    expect(refusal(() => verifiedRoot(added, { pinned, bounds }))).toBe("metadata_signature_invalid");
    const b64 = (f: string): string => readFileSync(f, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const swapped = signed.replace(b64(IDP2_CERT), b64(IDP1_CERT));
    expect(refusal(() => verifiedRoot(swapped, { pinned, bounds }))).toBe("metadata_signature_invalid");
    const ra = signed.replace(`registrationAuthority="${RA_OTHER}"`, `registrationAuthority="${RA_HOME}"`);
    expect(refusal(() => verifiedRoot(ra, { pinned, bounds }))).toBe("metadata_signature_invalid");
  });

  it("refuses a document signed by another key than the pinned one, or unsigned", () => {
    const other = signDocument(aggregateXml(ENTITIES, { id: "_other" }), FED_SIGNER_OTHER);
    expect(refusal(() => verifiedRoot(other, { pinned, bounds }))).toBe("metadata_signature_invalid");
    expect(refusal(() => verifiedRoot(aggregateXml(ENTITIES), { pinned, bounds }))).toBe("metadata_signature_missing");
    const wrongPin = [trustedKeyFromCertificate(readFileSync(FED_SIGNER_OTHER.cert, "utf8"))];
    expect(refusal(() => verifiedRoot(signed, { pinned: wrongPin, bounds }))).toBe("metadata_signature_invalid");
  });

  it("applies its own bounds: bytes, entity count, and the hardened parser's rules", () => {
    expect(refusal(() => verifiedRoot(signed, { pinned, bounds: { ...bounds, maxBytes: 4096 } }))).toBe("metadata_too_large");
    expect(refusal(() => verifiedRoot(signed, { pinned, bounds: { ...bounds, maxEntities: 6 } }))).toBe("metadata_too_many_entities");
    expect(refusal(() => verifiedRoot(`<!DOCTYPE x [<!ENTITY a "b">]>${signed}`, { pinned, bounds }))).toBe("metadata_malformed");
    expect(refusal(() => verifiedRoot(signed.replace("<md:EntitiesDescriptor", "<md:EntitiesDescriptorX").replace("</md:EntitiesDescriptor>", "</md:EntitiesDescriptorX>"), { pinned, bounds }))).toBe("metadata_root_invalid");
    expect(refusal(() => verifiedRoot(signed, { pinned, bounds: { ...bounds, maxElementNames: 32 } }))).toBe("accepted");
    expect(refusal(() => verifiedRoot(signed, { pinned, bounds: { ...bounds, maxEntities: 7, maxElementsPerEntity: 1 } }))).toBe("metadata_too_complex");
    expect(refusal(() => verifiedRoot(signed, { pinned, bounds: { ...bounds, maxElementNames: 8 } }))).toBe("metadata_too_complex");
  });

  it("refuses an expired validUntil, and (by default) none at all", () => {
    const expired = signDocument(aggregateXml(ENTITIES, { id: "_exp", validUntil: new Date(now - 60_000) }));
    const root = verifiedRoot(expired, { pinned, bounds });
    expect(refusal(() => entitiesOf(root, now, { requireValidUntil: true }))).toBe("metadata_expired");
    const none = verifiedRoot(signDocument(aggregateXml(ENTITIES, { id: "_nvu", validUntil: null })), { pinned, bounds });
    expect(refusal(() => entitiesOf(none, now, { requireValidUntil: true }))).toBe("metadata_valid_until_missing");
    expect(entitiesOf(none, now, { requireValidUntil: false }).entities).toHaveLength(3);
  });

  it("leaves out both copies of a duplicated entityID", () => {
    const dup = signDocument(aggregateXml([...ENTITIES, { entityId: "https://a.test/idp", cert: IDP2_CERT }], { id: "_dup" }));
    const doc = entitiesOf(verifiedRoot(dup, { pinned, bounds }), now, { requireValidUntil: true });
    expect(doc.entities.map((e) => e.metadata.entityId).sort()).toEqual(["https://b.test/idp", "https://c.test/idp"]);
    expect(doc.skipped.duplicated).toBe(2);
  });
});

describe("selection", () => {
  const doc = entitiesOf(verifiedRoot(signed, { pinned, bounds }), now, { requireValidUntil: true });
  const pick = (select: Parameters<typeof selected>[0]): string[] => doc.entities.filter((e) => selected(select, e)).map((e) => e.metadata.entityId).sort();
  const base = { all: false };

  it("by entityID list or pattern", () => {
    expect(pick({ ...base, entityIds: ["https://b.test/idp", "https://zzz.test/idp"] })).toEqual(["https://b.test/idp"]);
    expect(pick({ ...base, entityIdPatterns: ["https://?.test/*"] })).toEqual([]);
    expect(pick({ ...base, entityIdPatterns: ["https://*.test/idp"] })).toHaveLength(3);
    expect(pick({ ...base, entityIds: ["https://a.test/idp"], entityIdPatterns: ["https://c.*"] })).toEqual(["https://a.test/idp", "https://c.test/idp"]);
  });

  it("by registration authority", () => {
    expect(pick({ ...base, registrationAuthorities: [RA_HOME] })).toEqual(["https://a.test/idp", "https://c.test/idp"]);
    expect(pick({ ...base, registrationAuthorities: ["https://unknown.test"] })).toEqual([]);
  });

  it("by entity attributes: every rule must hold, with any of its values", () => {
    const rs = { name: ENTITY_CATEGORY, anyOf: [RS] };
    const sirtfi = { name: ASSURANCE, anyOf: [SIRTFI] };
    expect(pick({ ...base, entityAttributes: [rs] })).toEqual(["https://a.test/idp", "https://b.test/idp"]);
    expect(pick({ ...base, entityAttributes: [rs, sirtfi] })).toEqual(["https://a.test/idp"]);
    expect(pick({ ...base, entityAttributes: [{ ...rs, nameFormat: "urn:other" }] })).toEqual([]);
    expect(pick({ ...base, entityAttributes: [{ name: ENTITY_CATEGORY, anyOf: [SIRTFI] }] })).toEqual([]);
    expect(pick({ ...base, registrationAuthorities: [RA_OTHER], entityAttributes: [rs] })).toEqual(["https://b.test/idp"]);
  });

  it("glob patterns are literal but for *", () => {
    expect(globMatch("a*c", "abbbc")).toBe(true);
    expect(globMatch("a*c", "abbbd")).toBe(false);
    expect(globMatch("a.c", "abc")).toBe(false);
    expect(globMatch("*", "")).toBe(true);
    expect(globMatch("a**b*", "ab")).toBe(true);
    expect(globMatch("x*y*z", "x".repeat(5000) + "y")).toBe(false);
    expect(entityIdSelected({ all: true }, "anything")).toBe(true);
  });

  it("entity namespaces are prefix-free whatever the entityIDs", () => {
    const ids = ["x", "x!", "x!y", "x%21", "x%", "x%2", "https://a/b", "https://a/b!c"];
    const prefixes = ids.map((i) => entityPrefix("fed:", i));
    expect(new Set(prefixes).size).toBe(ids.length);
    for (const p of prefixes) for (const q of prefixes) if (p !== q) expect(q.startsWith(p)).toBe(false);
  });
});
