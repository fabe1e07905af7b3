// Self-test of the TEST-SIDE signing tooling (not of the bridge): each independent signer produces a signature
// that another independent verifier (xmlsec1 / samlsign) accepts, tampering breaks it, and a key with a cloned
// subject DN does not pass for idp1. Needs xmlsec1, samlsign and python3-pysaml2 (see /work/shared/interop-notes.md).
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { BRIDGE_ENTITY_ID, IDP1, TOKEN_ENDPOINT } from "./constants.js";
import {
  KEYS,
  pysaml2Response,
  pysaml2Responses,
  signWithSamlsign,
  signWithXmlsec1,
  toBase64Url,
  verifyWithSamlsign,
  verifyWithXmlsec1,
  type SignOptions,
} from "./independent-signers.js";
import { buildAssertion2, buildResponse2 } from "./saml-builder.js";

const NOW = new Date("2026-11-26T07:00:00Z");
const RSA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256";

const tamper = (xml: string): string => {
  expect(xml).toContain(">alice@example.com<");
  return xml.replace(">alice@example.com<", ">admin@example.com<");
};
/** The element with this ID has ds:Signature as the very next sibling of its Issuer. */
const signatureAfterIssuer = (xml: string, id: string): boolean =>
  new RegExp(`ID="${id}"[^>]*>\\s*<([\\w.-]+:)?Issuer[^>]*>[^<]*</\\1?Issuer>\\s*<([\\w.-]+:)?Signature[\\s>]`).test(xml);
const idOf = (xml: string, local: "Assertion" | "Response"): string => {
  const m = new RegExp(`<(?:[\\w.-]+:)?${local}\\s[^>]*\\bID="([^"]+)"`).exec(xml);
  if (!m?.[1]) throw new Error(`no ${local} ID`);
  return m[1];
};

describe("prerequisites", () => {
  it("has the independent tools installed", () => {
    for (const bin of ["/usr/bin/xmlsec1", "/usr/bin/samlsign", "/usr/bin/python3"]) expect(existsSync(bin), bin).toBe(true);
  });
});

describe("saml-builder", () => {
  it("is deterministic given id and now, and follows schema order", () => {
    const a = buildAssertion2({ id: "_a1", now: NOW });
    expect(buildAssertion2({ id: "_a1", now: NOW })).toBe(a);
    const order = ["Issuer", "Subject", "Conditions", "AuthnStatement", "AttributeStatement"].map((n) => a.indexOf(`<saml:${n}`));
    expect(order.every((v, i) => v > 0 && (i === 0 || v > order[i - 1]!))).toBe(true);
    const r = buildResponse2(a, { id: "_resp1", now: NOW });
    expect(r.indexOf("<saml:Issuer>https://idp1.test/idp</saml:Issuer><samlp:Status>")).toBeGreaterThan(0);
    expect(r.indexOf(a)).toBeGreaterThan(r.indexOf("</samlp:Status>"));
  });
});

// xmlsec1 and samlsign share the same API: run the same checks on both, cross-verifying with the other tool.
describe.each([
  ["xmlsec1", signWithXmlsec1],
  ["samlsign", signWithSamlsign],
] as const)("%s", (tool, sign) => {
  const assertion = buildAssertion2({ id: "_a1", now: NOW });

  it("signs a bare assertion (rsa-sha256/sha256, exc-c14n, after Issuer) that both verifiers accept", () => {
    const signed = sign(assertion, "_a1", { key: KEYS.idp1, alg: "rsa-sha256", digest: "sha256" });
    expect(signatureAfterIssuer(signed, "_a1")).toBe(true);
    expect(signed).toContain(`Algorithm="${RSA256}"`);
    expect(signed).toContain(`Algorithm="${SHA256}"`);
    expect(signed).toContain('URI="#_a1"');
    expect(signed).toContain("X509Certificate");
    expect(verifyWithXmlsec1(signed, "_a1", KEYS.idp1.cert)).toBe(true);
    expect(verifyWithSamlsign(signed, "_a1", KEYS.idp1.cert)).toBe(true);
    expect(verifyWithXmlsec1(signed, "_a1", KEYS.idp2.cert)).toBe(false);
    if (tool === "samlsign") expect(signed).toMatch(/InclusiveNamespaces[^>]*PrefixList="xs"/);
  });

  it("rejects a tampered copy", () => {
    const signed = sign(assertion, "_a1", { key: KEYS.idp1 });
    expect(verifyWithXmlsec1(tamper(signed), "_a1", KEYS.idp1.cert)).toBe(false);
    expect(verifyWithSamlsign(tamper(signed), "_a1", KEYS.idp1.cert)).toBe(false);
  });

  it("an attacker key with idp1's cloned subject DN does not verify against idp1.crt", () => {
    const signed = sign(assertion, "_a1", { key: KEYS.attacker });
    expect(verifyWithXmlsec1(signed, "_a1", KEYS.attacker.cert)).toBe(true); // it IS a valid signature...
    expect(verifyWithXmlsec1(signed, "_a1", KEYS.idp1.cert)).toBe(false); // ...just not idp1's
    expect(verifyWithSamlsign(signed, "_a1", KEYS.idp1.cert)).toBe(false);
  });

  it("signs with ECDSA P-256 and without KeyInfo", () => {
    const ec = sign(assertion, "_a1", { key: KEYS.idpEc });
    expect(ec).toContain(`Algorithm="${ECDSA256}"`);
    expect(verifyWithXmlsec1(ec, "_a1", KEYS.idpEc.cert)).toBe(true);
    expect(verifyWithSamlsign(ec, "_a1", KEYS.idpEc.cert)).toBe(true);
    const bare = sign(assertion, "_a1", { key: KEYS.idp1, keyInfo: "none" } satisfies SignOptions);
    expect(bare).not.toContain("KeyInfo");
    expect(verifyWithXmlsec1(bare, "_a1", KEYS.idp1.cert)).toBe(true);
  });

  it("signs the assertion, the Response, or both inside a samlp:Response (B-S2R-a / -r / -ar)", () => {
    const resp = buildResponse2(assertion, { id: "_resp1", now: NOW });
    const a = sign(resp, "_a1", { key: KEYS.idp1 });
    const r = sign(resp, "_resp1", { key: KEYS.idp1 });
    const ar = sign(a, "_resp1", { key: KEYS.idp1 });
    expect([verifyWithXmlsec1(a, "_a1", KEYS.idp1.cert), verifyWithXmlsec1(a, "_resp1", KEYS.idp1.cert)]).toEqual([true, false]);
    expect([verifyWithXmlsec1(r, "_a1", KEYS.idp1.cert), verifyWithXmlsec1(r, "_resp1", KEYS.idp1.cert)]).toEqual([false, true]);
    expect([verifyWithXmlsec1(ar, "_a1", KEYS.idp1.cert), verifyWithXmlsec1(ar, "_resp1", KEYS.idp1.cert)]).toEqual([true, true]);
    expect(signatureAfterIssuer(ar, "_resp1") && signatureAfterIssuer(ar, "_a1")).toBe(true);
    expect(verifyWithSamlsign(ar, "_resp1", KEYS.idp1.cert)).toBe(true);
    expect(verifyWithXmlsec1(tamper(ar), "_resp1", KEYS.idp1.cert)).toBe(false);
    // a signed bare assertion wrapped afterwards by the builder stays valid
    const wrapped = buildResponse2(sign(assertion, "_a1", { key: KEYS.idp1 }), { id: "_resp1", now: NOW });
    expect(verifyWithXmlsec1(wrapped, "_a1", KEYS.idp1.cert)).toBe(true);
  });
});

describe("pysaml2", () => {
  const shapes = [
    { signAssertion: true, signResponse: false },
    { signAssertion: false, signResponse: true },
    { signAssertion: true, signResponse: true },
  ];
  // One Python process for all of them (importing pysaml2 alone takes ~1 s).
  let batch: string[] = [];
  beforeAll(() => {
    batch = pysaml2Responses([
      ...shapes.map((s) => ({ ...s, attributes: { role: ["user"], groups: ["a", "b"] } })),
      { signAssertion: true, signResponse: false, key: KEYS.attacker },
    ]);
  });

  it.each(shapes.map((s, i) => ({ ...s, i })))("builds and signs a Response (%o)", ({ signAssertion, signResponse, i }) => {
    const xml = batch[i]!;
    const aid = idOf(xml, "Assertion");
    const rid = idOf(xml, "Response");
    expect(xml).toContain(`>${IDP1}<`);
    expect(xml).toContain(`>${BRIDGE_ENTITY_ID}</`);
    expect(xml).toContain(`Recipient="${TOKEN_ENDPOINT}"`);
    expect(xml).toMatch(/Attribute Name="groups"/); // the identity converter kept the AttributeStatement
    expect(verifyWithXmlsec1(xml, aid, KEYS.idp1.cert)).toBe(signAssertion);
    expect(verifyWithXmlsec1(xml, rid, KEYS.idp1.cert)).toBe(signResponse);
    if (signAssertion) expect(signatureAfterIssuer(xml, aid)).toBe(true);
    if (signResponse) expect(verifyWithSamlsign(xml, rid, KEYS.idp1.cert)).toBe(true);
    const bad = tamper(xml);
    expect(verifyWithXmlsec1(bad, signResponse ? rid : aid, KEYS.idp1.cert)).toBe(false);
  });

  it("an attacker-signed Response does not verify against idp1.crt", () => {
    const xml = batch[shapes.length]!;
    expect(verifyWithXmlsec1(xml, idOf(xml, "Assertion"), KEYS.idp1.cert)).toBe(false);
    expect(verifyWithXmlsec1(xml, idOf(xml, "Assertion"), KEYS.attacker.cert)).toBe(true);
  });

  it("pysaml2Response (single) works too", () => {
    const xml = pysaml2Response({ signAssertion: true, signResponse: false, nameId: "bob@example.com", lifetimeSeconds: 60 });
    expect(xml).toContain(">bob@example.com<");
    expect(verifyWithXmlsec1(xml, idOf(xml, "Assertion"), KEYS.idp1.cert)).toBe(true);
  });
});

describe("toBase64Url", () => {
  it("round-trips UTF-8 without padding or +/", () => {
    const xml = buildAssertion2({ id: "_a1", now: NOW, nameId: "ünï@example.com" });
    const b = toBase64Url(xml);
    expect(b).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(b, "base64url").toString("utf8")).toBe(xml);
  });
});
