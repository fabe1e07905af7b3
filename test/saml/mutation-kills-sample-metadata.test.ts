/**
 * Mutation testing (issue 8, docs/mutation-testing.md): the no-coverage mutants of src/saml's trust
 * configuration — IdP metadata (metadata.ts: xs:duration, every refusal of parseIdpMetadata), the SP
 * decryption keys (decryption-keys.ts: unreadable files, a certificate that does not parse) and the
 * IdP registry (idp-registry.ts: duplicate entityIDs, federation sources) — called directly. Each
 * refusal is pinned by its message, which is what an operator (start-up error, admin API 400) reads.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { MetadataError, parseDuration, parseIdpMetadata } from "../../src/saml/metadata.js";
import { loadDecryptionKeys } from "../../src/saml/decryption-keys.js";
import { IdpRegistry, trustedIdp, type IdpSource, type TrustedIdp } from "../../src/saml/idp-registry.js";
import { ConfigError } from "../../src/config/load.js";
import { buildSpMetadata } from "../../src/saml/sp-metadata.js";
import { metadataFor } from "../support/metadata-builder.js";
import {
  BRIDGE_ENC_CERT, BRIDGE_ENC_KEY, BRIDGE_ENC_OLD_CERT, FIXTURES_DIR, IDP1_CERT, IDP2_CERT, IDP_EC_CERT, IDP_EC_KEY, TOKEN_ENDPOINT, WEAK1024_CERT, WEAK1024_KEY,
} from "../support/constants.js";

const MD = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS = "http://www.w3.org/2000/09/xmldsig#";
const H = 3_600_000;
const D = 24 * H;

/** The MetadataError message, or "accepted"; anything else is rethrown. */
function metadataOutcome(f: () => unknown): string {
  try {
    f();
    return "accepted";
  } catch (e) {
    if (e instanceof MetadataError) return e.message;
    throw e;
  }
}

const b64 = (certFile: string): string => readFileSync(certFile, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
const idpEntity = (entityId: string, attrs = "", certFile = IDP1_CERT): string =>
  `<md:EntityDescriptor entityID="${entityId}"${attrs}><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`
  + `<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${b64(certFile)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
  + "</md:IDPSSODescriptor></md:EntityDescriptor>";
const aggregate = (inner: string, attrs = ""): string => `<md:EntitiesDescriptor xmlns:md="${MD}" xmlns:ds="${DS}"${attrs}>${inner}</md:EntitiesDescriptor>`;

describe("metadata.ts:158-163 parseDuration (xs:duration; a year is 365 days, a month 30)", () => {
  it.each([
    ["PT6H", 6 * H],
    ["P1DT12H", 36 * H],
    ["PT30M", 30 * 60_000],
    ["PT45S", 45_000],
    ["PT1.5S", 1500],
    ["PT1.25S", 1250],
    ["PT0.0004S", 0],
    ["PT0.0006S", 1],
    ["P1Y", 365 * D],
    ["P2M", 60 * D],
    ["P3D", 3 * D],
    ["P1Y2M3DT4H5M6.7S", (365 + 60 + 3) * D + 4 * H + 5 * 60_000 + 6700],
    ["P0D", 0],
    ["PT0S", 0],
    ["P10DT10H10M10S", 10 * D + 10 * H + 10 * 60_000 + 10_000],
    ["P10Y", 3650 * D],
    ["P12M", 360 * D],
    ["P1Y12M", (365 + 360) * D],
  ])("%s → %d ms", (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  it.each([
    "P", "PT", "P1DT", "", "6H", "T6H", "-PT1H", "PT1.S", "PT.5S", "P1H", "PT1D", "P1.5D", "PT1HX", "xPT1H", "PT1H ", " PT1H",
    "P1M2Y", "PT1S1M", "P1W", "PTS", "PT1,5S",
  ])("%j → undefined", (value) => {
    expect(parseDuration(value)).toBeUndefined();
  });
});

describe("metadata.ts:35-51, 74-87 parseIdpMetadata: the document and the chosen entity", () => {
  const E1 = "https://e1.test/idp";
  const E2 = "https://e2.test/idp";

  it("control: an aggregate with two IdPs, one chosen by entityID", () => {
    const md = parseIdpMetadata(aggregate(idpEntity(E1) + idpEntity(E2, "", IDP2_CERT)), E2);
    expect(md.entityId).toBe(E2);
    expect(md.protocols).toEqual(["urn:oasis:names:tc:SAML:2.0:protocol"]);
  });

  it.each([
    ["not XML", "not xml", "metadata is not well-formed XML (or has a DOCTYPE)"],
    ["a DOCTYPE", `<!DOCTYPE x><md:EntityDescriptor xmlns:md="${MD}" entityID="x"/>`, "metadata is not well-formed XML (or has a DOCTYPE)"],
    ["another root", `<md:SPSSODescriptor xmlns:md="${MD}"/>`, "root is neither md:EntityDescriptor nor md:EntitiesDescriptor"],
    ["the right name in another namespace", `<x:EntityDescriptor xmlns:x="urn:example" entityID="x"/>`, "root is neither md:EntityDescriptor nor md:EntitiesDescriptor"],
    ["no IdP", aggregate(""), "no IdP (IDPSSODescriptor) in metadata"],
    ["several IdPs, none chosen", aggregate(idpEntity(E1) + idpEntity(E2)), "metadata holds several IdPs: set entityId to choose one"],
    ["no entityID", aggregate(idpEntity("")), "EntityDescriptor has no entityID"],
  ])("%s → %j", (_what, xml, message) => {
    expect(metadataOutcome(() => parseIdpMetadata(xml))).toBe(message);
  });

  it("an EntityDescriptor without an IDPSSODescriptor (an SP) is no IdP, never counted or chosen (:92)", () => {
    const sp = `<md:EntityDescriptor entityID="${E2}"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>`;
    expect(parseIdpMetadata(aggregate(sp + idpEntity(E1))).entityId).toBe(E1);
    expect(parseIdpMetadata(aggregate(idpEntity(E1) + sp)).entityId).toBe(E1);
    expect(metadataOutcome(() => parseIdpMetadata(aggregate(sp + idpEntity(E1)), E2))).toBe(`no IdP entity "${E2}" in metadata`);
    expect(metadataOutcome(() => parseIdpMetadata(aggregate(sp)))).toBe("no IdP (IDPSSODescriptor) in metadata");
  });

  it("a wanted entityID that is not there names it; one that is there is taken even among several", () => {
    expect(metadataOutcome(() => parseIdpMetadata(aggregate(idpEntity(E1) + idpEntity(E2)), "https://e3.test/idp")))
      .toBe('no IdP entity "https://e3.test/idp" in metadata');
    expect(parseIdpMetadata(aggregate(idpEntity(E1) + idpEntity(E2)), E1).entityId).toBe(E1);
    expect(parseIdpMetadata(aggregate(idpEntity(E1)), E1).entityId).toBe(E1);
  });

  it("cacheDuration: the shortest along the path (either order); not a duration → refused", () => {
    expect(parseIdpMetadata(aggregate(idpEntity(E1, ' cacheDuration="PT30M"'), ' cacheDuration="PT1H"')).cacheDurationMs).toBe(30 * 60_000);
    expect(parseIdpMetadata(aggregate(idpEntity(E1, ' cacheDuration="PT2H"'), ' cacheDuration="PT1H"')).cacheDurationMs).toBe(H);
    expect(parseIdpMetadata(aggregate(aggregate(idpEntity(E1), ' cacheDuration="P1D"'), ' cacheDuration="PT6H"')).cacheDurationMs).toBe(6 * H);
    expect(parseIdpMetadata(aggregate(idpEntity(E1, ' cacheDuration="PT6H"'))).cacheDurationMs).toBe(6 * H);
    expect(parseIdpMetadata(aggregate(idpEntity(E1))).cacheDurationMs).toBeUndefined();
    for (const bad of ["6 hours", "P", "PT"]) {
      expect(metadataOutcome(() => parseIdpMetadata(aggregate(idpEntity(E1, ` cacheDuration="${bad}"`))))).toBe("cacheDuration is not an xs:duration");
      expect(metadataOutcome(() => parseIdpMetadata(aggregate(idpEntity(E1), ` cacheDuration="${bad}"`)))).toBe("cacheDuration is not an xs:duration");
    }
  });

  it("validUntil: the earliest along the path; not an xs:dateTime in UTC → refused", () => {
    const early = "2030-01-01T00:00:00Z";
    const late = "2031-01-01T00:00:00Z";
    expect(parseIdpMetadata(aggregate(idpEntity(E1, ` validUntil="${late}"`), ` validUntil="${early}"`)).validUntil).toBe(Date.parse(early));
    expect(parseIdpMetadata(aggregate(idpEntity(E1, ` validUntil="${early}"`), ` validUntil="${late}"`)).validUntil).toBe(Date.parse(early));
    for (const bad of ["2030-01-01", "2030-01-01T00:00:00+01:00", "tomorrow"]) {
      expect(metadataOutcome(() => parseIdpMetadata(aggregate(idpEntity(E1, ` validUntil="${bad}"`))))).toBe("validUntil is not an xs:dateTime in UTC");
    }
  });
});

describe("metadata.ts:99-154 idpMetadataOf: protocols and signing certificates", () => {
  const E = "https://e.test/idp";
  const entity = (role: string): string => `<md:EntityDescriptor xmlns:md="${MD}" xmlns:ds="${DS}" entityID="${E}">${role}</md:EntityDescriptor>`;
  const cert = (content: string, kdAttrs = ""): string =>
    `<md:KeyDescriptor${kdAttrs}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${content}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;

  it("no protocolSupportEnumeration: no protocol at all (an IdP then presents no token type)", () => {
    expect(parseIdpMetadata(entity(`<md:IDPSSODescriptor>${cert(b64(IDP1_CERT))}</md:IDPSSODescriptor>`)).protocols).toEqual([]);
  });

  it("protocols: whitespace-separated, de-duplicated, over every IDPSSODescriptor", () => {
    const md = parseIdpMetadata(entity(
      `<md:IDPSSODescriptor protocolSupportEnumeration="  urn:a\turn:b  urn:a ">${cert(b64(IDP1_CERT))}</md:IDPSSODescriptor>`
      + `<md:IDPSSODescriptor protocolSupportEnumeration="urn:c">${cert(b64(IDP1_CERT))}</md:IDPSSODescriptor>`,
    ));
    expect(md.protocols).toEqual(["urn:a", "urn:b", "urn:c"]);
    expect(md.signingKeys).toHaveLength(1);
  });

  it("a signing certificate whose key is neither RSA nor EC (Ed25519, made by openssl here) names the key type", () => {
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-mut-ed-"));
    try {
      execFileSync("openssl", ["req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-subj", "/CN=test key", "-days", "1"], { stdio: "ignore" });
      const ed = b64(join(dir, "c.pem"));
      expect(metadataOutcome(() => parseIdpMetadata(entity(`<md:IDPSSODescriptor protocolSupportEnumeration="urn:x">${cert(ed)}</md:IDPSSODescriptor>`))))
        .toBe("unsupported signing key type ed25519");
      // Controls: EC and RSA signing certificates load.
      expect(parseIdpMetadata(entity(`<md:IDPSSODescriptor protocolSupportEnumeration="urn:x">${cert(b64(IDP_EC_CERT))}</md:IDPSSODescriptor>`)).signingKeys).toHaveLength(1);
      expect(parseIdpMetadata(entity(`<md:IDPSSODescriptor protocolSupportEnumeration="urn:x">${cert(b64(IDP1_CERT))}</md:IDPSSODescriptor>`)).signingKeys).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ["only an encryption key", cert(b64(IDP1_CERT), ' use="encryption"'), "IdP has no signing certificate"],
    ["no KeyDescriptor", "", "IdP has no signing certificate"],
    ["an X509Certificate with element content", cert(`<ds:X>${b64(IDP1_CERT)}</ds:X>`), "X509Certificate has element content"],
    ["an X509Certificate that does not parse", cert("AAAA"), "an X509Certificate does not parse"],
  ])("%s → %j", (_what, content, message) => {
    expect(metadataOutcome(() => parseIdpMetadata(entity(`<md:IDPSSODescriptor protocolSupportEnumeration="urn:x">${content}</md:IDPSSODescriptor>`)))).toBe(message);
  });
});

describe("decryption-keys.ts:15-38 the SP keys' files (start-up errors name the field)", () => {
  const dir = mkdtempSync(join(tmpdir(), "fedbridge-mut-keys-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const issues = (k: { privateKeyFile: string; certificateFile: string }): string[] => {
    try {
      loadDecryptionKeys({ decryptionKeys: [k] } as never, FIXTURES_DIR);
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    return [];
  };

  it("control: the test key (RSA 2048, the minimum) and its certificate load: fingerprint = SHA-256 of the DER, idps copied", () => {
    expect(issues({ privateKeyFile: BRIDGE_ENC_KEY, certificateFile: BRIDGE_ENC_CERT })).toEqual([]);
    const der = new X509Certificate(readFileSync(BRIDGE_ENC_CERT)).raw;
    const [k] = loadDecryptionKeys({ decryptionKeys: [{ privateKeyFile: BRIDGE_ENC_KEY, certificateFile: BRIDGE_ENC_CERT, idps: ["idp1"] }] } as never, FIXTURES_DIR);
    expect(k!.fingerprint).toBe(createHash("sha256").update(der).digest("hex"));
    expect(k!.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(k!.idps).toEqual(["idp1"]);
    expect(new X509Certificate(k!.certificatePem).raw.equals(der)).toBe(true);
  });

  it("a private key file that is no PEM private key (a certificate, garbage) is refused by name", () => {
    expect(issues({ privateKeyFile: BRIDGE_ENC_CERT, certificateFile: BRIDGE_ENC_CERT }))
      .toEqual([`saml.decryptionKeys[0].privateKeyFile: ${BRIDGE_ENC_CERT} is not a PEM private key`]);
    const garbage = join(dir, "garbage.key");
    writeFileSync(garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    expect(issues({ privateKeyFile: garbage, certificateFile: BRIDGE_ENC_CERT }))
      .toEqual([`saml.decryptionKeys[0].privateKeyFile: ${garbage} is not a PEM private key`]);
  });

  it("an RSASSA-PSS key of 2048 bits (made by openssl here; it cannot do RSA-OAEP) is refused", () => {
    const key = join(dir, "pss.key");
    const cert = join(dir, "pss.crt");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048", "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=test key", "-days", "1"], { stdio: "ignore" });
    expect(issues({ privateKeyFile: key, certificateFile: cert }))
      .toEqual(["saml.decryptionKeys[0].privateKeyFile: must be an RSA key of at least 2048 bits (RSA-OAEP key transport)"]);
  });

  it("an RSA key under 2048 bits, or an EC key, is refused; a certificate of another key is refused", () => {
    expect(issues({ privateKeyFile: WEAK1024_KEY, certificateFile: WEAK1024_CERT }))
      .toEqual(["saml.decryptionKeys[0].privateKeyFile: must be an RSA key of at least 2048 bits (RSA-OAEP key transport)"]);
    expect(issues({ privateKeyFile: IDP_EC_KEY, certificateFile: IDP_EC_CERT }))
      .toEqual(["saml.decryptionKeys[0].privateKeyFile: must be an RSA key of at least 2048 bits (RSA-OAEP key transport)"]);
    expect(issues({ privateKeyFile: BRIDGE_ENC_KEY, certificateFile: BRIDGE_ENC_OLD_CERT }))
      .toEqual(["saml.decryptionKeys[0].certificateFile: certificate does not match privateKeyFile"]);
  });

  it("a missing private key file or certificate file: cannot read, with the error code", () => {
    expect(issues({ privateKeyFile: "keys/no-such.key", certificateFile: BRIDGE_ENC_CERT }))
      .toEqual(["saml.decryptionKeys[0].privateKeyFile: cannot read keys/no-such.key (ENOENT)"]);
    expect(issues({ privateKeyFile: BRIDGE_ENC_KEY, certificateFile: "keys/no-such.crt" }))
      .toEqual(["saml.decryptionKeys[0].certificateFile: cannot read keys/no-such.crt (ENOENT)"]);
    expect(issues({ privateKeyFile: BRIDGE_ENC_KEY, certificateFile: "keys" }))
      .toEqual(["saml.decryptionKeys[0].certificateFile: cannot read keys (EISDIR)"]);
  });

  it("a certificate file that is no PEM certificate (the key's PEM itself, garbage) is refused by name", () => {
    expect(issues({ privateKeyFile: BRIDGE_ENC_KEY, certificateFile: BRIDGE_ENC_KEY }))
      .toEqual([`saml.decryptionKeys[0].certificateFile: ${BRIDGE_ENC_KEY} is not a PEM certificate`]);
    const garbage = join(dir, "garbage.crt");
    writeFileSync(garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(issues({ privateKeyFile: BRIDGE_ENC_KEY, certificateFile: garbage }))
      .toEqual([`saml.decryptionKeys[0].certificateFile: ${garbage} is not a PEM certificate`]);
  });
});

describe("idp-registry.ts:77-101 local IdPs first, then federation sources in the order added", () => {
  const settings = { allowSha1: false, requireSignedAssertion: true, recipients: [TOKEN_ENDPOINT], maxAssertionAgeSeconds: 300, allowTripleDesCbc: false, mapping: { subject: { nameId: true as const }, claims: {}, scopes: [], require: [] } };
  const make = (id: string, entityId: string): TrustedIdp => trustedIdp(id, parseIdpMetadata(metadataFor(entityId, [IDP1_CERT])), settings as never, TOKEN_ENDPOINT);
  const source = (idps: TrustedIdp[], summaryId: string): IdpSource & { asked: string[] } => {
    const asked: string[] = [];
    return {
      asked,
      byEntityId: (e) => {
        asked.push(e);
        return idps.find((i) => i.metadata.entityId === e);
      },
      summary: () => make(summaryId, `https://${summaryId}.test/summary`),
    };
  };

  it("two IdPs with one entityID are refused, naming it; replaceAll swaps the whole map", () => {
    expect(() => new IdpRegistry([make("a", "https://same.test/idp"), make("b", "https://same.test/idp")]))
      .toThrow("two IdPs share the entityID https://same.test/idp");
    const r = new IdpRegistry([make("a", "https://a.test/idp")]);
    r.replaceAll([make("b", "https://b.test/idp")]);
    expect(r.byEntityId("https://a.test/idp")).toBeUndefined();
    expect(r.byEntityId("https://b.test/idp")?.id).toBe("b");
  });

  it("a local IdP wins over a source; sources are asked in order, the first answer wins; none → undefined", () => {
    const r = new IdpRegistry([make("local", "https://shared.test/idp")]);
    const s1 = source([make("s1-x", "https://x.test/idp")], "s1");
    const s2 = source([make("s2-x", "https://x.test/idp"), make("s2-y", "https://y.test/idp"), make("s2-shared", "https://shared.test/idp")], "s2");
    r.addSource(s1);
    r.addSource(s2);
    expect(r.byEntityId("https://shared.test/idp")?.id).toBe("local");
    expect(s1.asked).toEqual([]);
    expect(r.byEntityId("https://x.test/idp")?.id).toBe("s1-x");
    expect(s2.asked).toEqual([]);
    expect(r.byEntityId("https://y.test/idp")?.id).toBe("s2-y");
    expect(r.byEntityId("https://z.test/idp")).toBeUndefined();
    expect(s1.asked).toEqual(["https://x.test/idp", "https://y.test/idp", "https://z.test/idp"]);
    expect(r.all().map((i) => i.id)).toEqual(["local", "s1", "s2"]);
  });
});

describe("sp-metadata.ts:54-91 buildSpMetadata: a stable ID from the content, every encryption certificate published", () => {
  const pem = (f: string): string => readFileSync(f, "utf8");
  const base = { entityId: "https://bridge.test/saml", tokenEndpoint: "https://bridge.test/token", encryptionCertificates: [pem(BRIDGE_ENC_CERT)], saml11: false };
  const idOf = (xml: string): string => /<(?:md:)?EntityDescriptor[^>]* ID="([^"]*)"/.exec(xml)?.[1] ?? "none";
  const certsOf = (xml: string): string[] => [...xml.matchAll(/<ds:X509Certificate>([^<]*)<\/ds:X509Certificate>/g)].map((m) => m[1]!.replace(/\s+/g, ""));

  it("the ID is `_` + 40 hex, the same for the same input, different when any input differs (fields kept apart)", () => {
    const id = idOf(buildSpMetadata(base));
    expect(id).toMatch(/^_[0-9a-f]{40}$/);
    expect(idOf(buildSpMetadata({ ...base }))).toBe(id);
    const others = [
      { ...base, entityId: "https://other.test/saml" },
      { ...base, tokenEndpoint: "https://bridge.test/token2" },
      { ...base, saml11: true },
      { ...base, encryptionCertificates: [pem(BRIDGE_ENC_OLD_CERT)] },
      { ...base, encryptionCertificates: [] },
      // The same characters split differently between entity ID and endpoint.
      { ...base, entityId: "https://bridge.test/samlhttps://bridge.test", tokenEndpoint: "/token" },
    ].map((o) => idOf(buildSpMetadata(o)));
    expect(new Set([id, ...others]).size).toBe(others.length + 1);
  });

  it("each configured certificate is published in config order; none configured: no encryption KeyDescriptor", () => {
    const b64 = (f: string): string => new X509Certificate(pem(f)).raw.toString("base64");
    expect(certsOf(buildSpMetadata(base))).toEqual([b64(BRIDGE_ENC_CERT)]);
    expect(certsOf(buildSpMetadata({ ...base, encryptionCertificates: [pem(BRIDGE_ENC_OLD_CERT), pem(BRIDGE_ENC_CERT)] }))).toEqual([b64(BRIDGE_ENC_OLD_CERT), b64(BRIDGE_ENC_CERT)]);
    const none = buildSpMetadata({ ...base, encryptionCertificates: [] });
    expect(certsOf(none)).toEqual([]);
    expect(none).not.toContain('use="encryption"');
    expect(buildSpMetadata(base).match(/use="encryption"/g)).toHaveLength(1);
  });
});
