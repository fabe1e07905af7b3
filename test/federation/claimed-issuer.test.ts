/**
 * The unverified pre-step of MDQ (src/federation/claimed-issuer.ts) and the registry's federation
 * lookup (src/saml/idp-registry.ts addSource): which names a token can make the bridge look up,
 * and that the local map always answers first.
 */
import { describe, expect, it } from "vitest";
import { claimedIssuers } from "../../src/federation/claimed-issuer.js";
import { IdpRegistry, type TrustedIdp } from "../../src/saml/idp-registry.js";
import { toBase64Url } from "../support/independent-signers.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";

const limits = { maxDepth: 48, maxElements: 2_000, maxNodes: 10_000, maxTokenBytes: 131_072 };
const tok = (xml: string): string => toBase64Url(xml);

describe("claimedIssuers", () => {
  it("reads the Issuer of a bare assertion, of a Response and of its assertion (at most two)", () => {
    expect(claimedIssuers(tok(buildAssertion2({ issuer: "https://a.test/idp" })), limits)).toEqual(["https://a.test/idp"]);
    const both = buildResponse2(buildAssertion2({ issuer: "https://a.test/idp" }), { issuer: "https://r.test/idp" });
    expect(claimedIssuers(tok(both), limits)).toEqual(["https://r.test/idp", "https://a.test/idp"]);
    const same = buildResponse2(buildAssertion2({ issuer: "https://a.test/idp" }));
    expect(claimedIssuers(tok(same), limits)).toEqual(["https://a.test/idp"]);
  });

  it("reads the Issuer attribute of a SAML 1.1 assertion, bare or in a Response", () => {
    const a = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="_a" Issuer="https://old.test/shib" IssueInstant="2026-01-01T00:00:00Z"/>`;
    expect(claimedIssuers(tok(a), limits)).toEqual(["https://old.test/shib"]);
    const r = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:1.0:protocol" MajorVersion="1" MinorVersion="1" ResponseID="_r" IssueInstant="2026-01-01T00:00:00Z">${a}</samlp:Response>`;
    expect(claimedIssuers(tok(r), limits)).toEqual(["https://old.test/shib"]);
  });

  it("names nothing for what the verifier refuses anyway: not XML, a DOCTYPE, too big, two assertions, element content, an empty Issuer", () => {
    expect(claimedIssuers("%%%", limits)).toEqual([]);
    expect(claimedIssuers(tok("<!DOCTYPE x><x/>"), limits)).toEqual([]);
    expect(claimedIssuers(tok(buildAssertion2({ issuer: "https://a.test/idp" })), { ...limits, maxTokenBytes: 1024 })).toEqual([]);
    const two = buildResponse2([buildAssertion2({ issuer: "https://a.test/idp" }), buildAssertion2({ issuer: "https://b.test/idp" })], { issuer: null });
    expect(claimedIssuers(tok(two), limits)).toEqual([]);
    const nested = buildAssertion2({ issuer: "https://a.test/idp" }).replace(/<saml:Issuer>[^<]*<\/saml:Issuer>/, "<saml:Issuer><saml:X>https://a.test/idp</saml:X></saml:Issuer>");
    expect(claimedIssuers(tok(nested), limits)).toEqual([]);
    const empty = buildAssertion2({ issuer: "" });
    expect(claimedIssuers(tok(empty), limits)).toEqual([]);
    // Any other root: nothing (an EncryptedAssertion names no issuer before decryption).
    expect(claimedIssuers(tok(`<x:EncryptedAssertion xmlns:x="urn:oasis:names:tc:SAML:2.0:assertion"/>`), limits)).toEqual([]);
  });
});

describe("IdpRegistry with federation sources", () => {
  const idp = (id: string, entityId: string): TrustedIdp => ({
    id, mapping: { subject: { nameId: true }, claims: {}, scopes: [], require: [] },
    policy: { allowSha1: false, requireSignedAssertion: true, recipients: [], maxAssertionAgeMs: 1, allowTripleDesCbc: false },
    metadata: { entityId, signingKeys: [], validUntil: undefined, protocols: [], certificates: [], cacheDurationMs: undefined },
  });

  it("answers from the local map first, then from the sources in the order added; all() shows one summary per source", () => {
    const registry = new IdpRegistry([idp("local", "https://x.test")]);
    const calls: string[] = [];
    const source = (name: string, entities: string[]) => ({
      byEntityId: (e: string) => {
        calls.push(`${name}:${e}`);
        return entities.includes(e) ? idp(name, e) : undefined;
      },
      summary: () => idp(name, `federation:${name}`),
    });
    registry.addSource(source("fed1", ["https://x.test", "https://y.test"]));
    registry.addSource(source("fed2", ["https://y.test", "https://z.test"]));
    expect(registry.byEntityId("https://x.test")?.id).toBe("local");
    expect(calls).toEqual([]);
    expect(registry.byEntityId("https://y.test")?.id).toBe("fed1");
    expect(registry.byEntityId("https://z.test")?.id).toBe("fed2");
    expect(registry.byEntityId("https://none.test")).toBeUndefined();
    expect(registry.all().map((i) => i.id)).toEqual(["local", "fed1", "fed2"]);
    // replaceAll (the admin API) replaces the local IdPs only.
    registry.replaceAll([]);
    expect(registry.byEntityId("https://x.test")?.id).toBe("fed1");
  });
});
