/**
 * Review of the aggregate path (issue 13) as an attacker holding one validly signed aggregate, and
 * as a metadata reader: what the pinned signature covers (the root, not a nested element or a
 * wrapped copy; Reference URI the root's ID only; KeyInfo never a trust anchor), validity along
 * the nesting, where registrationAuthority and entity attributes are read from, and the federation
 * log events counted as metrics with bounded labels.
 *
 * Documents are signed here by xmlsec1 (an independent implementation) with the TEST-ONLY operator
 * keys of test/fixtures/federation; variants of the signature template (KeyInfo, URI="") are
 * built by this file's own signer.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import request from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { FederationError, entitiesOf, verifiedRoot, type DocumentBounds } from "../../src/federation/document.js";
import { trustedKeyFromCertificate } from "../../src/saml/metadata.js";
import { exchange, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP2_CERT } from "../support/constants.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { parseExposition, value } from "../metrics/scrape.js";
import { FED_SIGNER, FED_SIGNER_OTHER, RA_HOME, RA_OTHER, RS, aggregateXml, entityXml, signDocument, tempDir } from "./support.js";

const pinned = [trustedKeyFromCertificate(readFileSync(FED_SIGNER.cert, "utf8"))];
const bounds: DocumentBounds = { maxBytes: 1_000_000, maxEntities: 100, maxElementsPerEntity: 400, maxElementNames: 256 };
const now = Date.now();
const A = "https://a.review.test/idp";
const B = "https://b.review.test/idp";
const NS = `xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" `
  + `xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`;
const future = (ms: number): string => new Date(now + ms).toISOString();

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof FederationError) return e.problem;
    throw e;
  }
  return "accepted";
};
const ids = (xml: string): string[] => entitiesOf(verifiedRoot(xml, { pinned, bounds }), now, { requireValidUntil: true }).entities.map((e) => e.entityId);

/** xmlsec1 with this file's template: optional KeyInfo (filled with the signer's certificate), any Reference URI. */
function signVariant(xml: string, o: { uri: string; keyInfo?: boolean; key?: { key: string; cert: string } }): string {
  const key = o.key ?? FED_SIGNER;
  const ds = "http://www.w3.org/2000/09/xmldsig#";
  const exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
  const template = `<ds:Signature xmlns:ds="${ds}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${exc}"/>`
    + `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="${o.uri}"><ds:Transforms>`
    + `<ds:Transform Algorithm="${ds}enveloped-signature"/><ds:Transform Algorithm="${exc}"/></ds:Transforms>`
    + `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>`
    + `<ds:SignatureValue/>${o.keyInfo ? "<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>" : ""}</ds:Signature>`;
  const open = xml.indexOf(">") + 1;
  const dir = mkdtempSync(path.join(tmpdir(), "fedbridge-review-sign-"));
  try {
    const input = path.join(dir, "in.xml");
    writeFileSync(input, xml.slice(0, open) + template + xml.slice(open));
    return execFileSync("/usr/bin/xmlsec1", [
      "--sign", "--privkey-pem", `${key.key},${key.cert}`, "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
      "--output", "-", input,
    ], { encoding: "utf8" }).replace(/^<\?xml[^?]*\?>\s*/, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("what the pinned signature covers", () => {
  const good = signDocument(aggregateXml([{ entityId: A, cert: IDP1_CERT, registrationAuthority: RA_HOME }]));
  const evil = entityXml({ entityId: B, cert: IDP2_CERT, registrationAuthority: RA_HOME });
  const inner = good.replace(/^<md:EntitiesDescriptor [^>]*>/, "").replace(/<\/md:EntitiesDescriptor>\s*$/, "");

  it("the genuine document verifies (control)", () => {
    expect(ids(good)).toEqual([A]);
  });

  it("refuses a wrapped copy: the signed aggregate nested under an unsigned root that adds an entity", () => {
    const wrapped = `<md:EntitiesDescriptor ${NS} ID="_wrap" validUntil="${future(86_400_000)}">${evil}${good}</md:EntitiesDescriptor>`;
    expect(refusal(() => verifiedRoot(wrapped, { pinned, bounds }))).toBe("metadata_signature_missing");
  });

  it("refuses the signature moved to a new root carrying the signed ID, the original nested under it (same ID twice, or renamed)", () => {
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(good)![0];
    const unsignedOriginal = good.replace(sig, "");
    const sameId = `<md:EntitiesDescriptor ${NS} ID="_agg1" validUntil="${future(86_400_000)}">${sig}${evil}${unsignedOriginal}</md:EntitiesDescriptor>`;
    expect(refusal(() => verifiedRoot(sameId, { pinned, bounds }))).toBe("metadata_signature_invalid");
    const renamed = `<md:EntitiesDescriptor ${NS} ID="_agg1" validUntil="${future(86_400_000)}">${sig}${evil}${unsignedOriginal.replace('ID="_agg1"', 'ID="_orig"')}</md:EntitiesDescriptor>`;
    expect(refusal(() => verifiedRoot(renamed, { pinned, bounds }))).toBe("metadata_signature_invalid");
    // The signed root's content spliced into another root with the same ID and signature: an entity more breaks the digest.
    const spliced = good.replace("</md:EntitiesDescriptor>", `${evil}</md:EntitiesDescriptor>`);
    expect(refusal(() => verifiedRoot(spliced, { pinned, bounds }))).toBe("metadata_signature_invalid");
    expect(inner).toContain(A);
  });

  it("a signature on a nested EntityDescriptor only does not make the root trusted", () => {
    const id = "_nested";
    const signedEntity = signDocument(entityXml({ entityId: A, cert: IDP1_CERT }, { id, rootNs: true }).replace(` ID="${id}"`, ` ID="${id}" validUntil="${future(86_400_000)}"`));
    const root = `<md:EntitiesDescriptor ${NS} ID="_root" validUntil="${future(86_400_000)}">${signedEntity}${evil}</md:EntitiesDescriptor>`;
    expect(refusal(() => verifiedRoot(root, { pinned, bounds }))).toBe("metadata_signature_missing");
  });

  it('Reference URI="" (whole document) is refused: SAML Metadata §3 asks a reference to the root\'s ID, the bridge\'s one rule', () => {
    const xml = aggregateXml([{ entityId: A, cert: IDP1_CERT }], { id: "_empty_uri" });
    expect(refusal(() => verifiedRoot(signVariant(xml, { uri: "" }), { pinned, bounds }))).toBe("metadata_signature_invalid");
    // The same template with the root's ID verifies (the template itself is fine).
    expect(refusal(() => verifiedRoot(signVariant(xml, { uri: "#_empty_uri" }), { pinned, bounds }))).toBe("accepted");
  });

  it("KeyInfo is never a trust anchor: another key's signature carrying its own certificate is refused", () => {
    const xml = aggregateXml([{ entityId: A, cert: IDP1_CERT }], { id: "_keyinfo" });
    const other = signVariant(xml, { uri: "#_keyinfo", keyInfo: true, key: FED_SIGNER_OTHER });
    expect(other).toContain("<ds:X509Certificate>MII");
    expect(refusal(() => verifiedRoot(other, { pinned, bounds }))).toBe("metadata_signature_invalid");
    // The pinned key with KeyInfo present verifies: KeyInfo is ignored, not refused.
    expect(refusal(() => verifiedRoot(signVariant(xml, { uri: "#_keyinfo", keyInfo: true }), { pinned, bounds }))).toBe("accepted");
  });

  it("an EntityDescriptor placed in the root's md:Extensions is never read as an entity", () => {
    const xml = aggregateXml([{ entityId: A, cert: IDP1_CERT }], { id: "_ext" })
      .replace(/(<md:EntitiesDescriptor [^>]*>)/, `$1<md:Extensions>${evil}</md:Extensions>`);
    expect(ids(signDocument(xml))).toEqual([A]);
  });
});

describe("validity along the nesting", () => {
  it("a nested EntitiesDescriptor past its validUntil takes its entities out; a nested entity keeps its own earlier validUntil", () => {
    const xml = `<md:EntitiesDescriptor ${NS} ID="_nest" validUntil="${future(14 * 86_400_000)}">`
      + `<md:EntitiesDescriptor validUntil="${new Date(now - 1000).toISOString()}">${entityXml({ entityId: B, cert: IDP2_CERT })}</md:EntitiesDescriptor>`
      + `<md:EntitiesDescriptor validUntil="${future(3_600_000)}">${entityXml({ entityId: A, cert: IDP1_CERT, validUntil: new Date(now + 7 * 86_400_000) })}</md:EntitiesDescriptor>`
      + `</md:EntitiesDescriptor>`;
    const doc = entitiesOf(verifiedRoot(signDocument(xml), { pinned, bounds }), now, { requireValidUntil: true });
    expect(doc.entities.map((e) => e.entityId)).toEqual([A]);
    expect(doc.skipped.expired).toBe(1);
    // The earliest validUntil along the path (the enclosing group's 1 h, not the entity's 7 days):
    // signed-token.ts refuses the entity's assertions as metadata_expired from then on.
    expect(doc.entities[0]!.metadata.validUntil).toBe(Date.parse(future(3_600_000)));
  });

  it("one entityID in two nested groups drops both copies", () => {
    const xml = `<md:EntitiesDescriptor ${NS} ID="_dup2" validUntil="${future(86_400_000)}">`
      + `<md:EntitiesDescriptor>${entityXml({ entityId: A, cert: IDP1_CERT })}</md:EntitiesDescriptor>`
      + `<md:EntitiesDescriptor>${entityXml({ entityId: A, cert: IDP2_CERT })}</md:EntitiesDescriptor>`
      + `</md:EntitiesDescriptor>`;
    expect(ids(signDocument(xml))).toEqual([]);
  });
});

describe("where labels are read from", () => {
  const group = (ra: string | undefined, category: string | undefined, inner: string): string => {
    const ext = ra || category
      ? `<md:Extensions>${ra ? `<mdrpi:RegistrationInfo registrationAuthority="${ra}"/>` : ""}${category ? `<mdattr:EntityAttributes><saml:Attribute Name="http://macedir.org/entity-category" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>${category}</saml:AttributeValue></saml:Attribute></mdattr:EntityAttributes>` : ""}</md:Extensions>`
      : "";
    return `<md:EntitiesDescriptor>${ext}${inner}</md:EntitiesDescriptor>`;
  };

  it("the entity's own registrationAuthority wins over its group's; a group's attributes reach its own entities only", () => {
    const xml = `<md:EntitiesDescriptor ${NS} ID="_labels" validUntil="${future(86_400_000)}">`
      + group(RA_HOME, RS, entityXml({ entityId: A, cert: IDP1_CERT, registrationAuthority: RA_OTHER }))
      + group(undefined, undefined, entityXml({ entityId: B, cert: IDP2_CERT }))
      + `</md:EntitiesDescriptor>`;
    const doc = entitiesOf(verifiedRoot(signDocument(xml), { pinned, bounds }), now, { requireValidUntil: true });
    const byId = new Map(doc.entities.map((e) => [e.entityId, e]));
    expect(byId.get(A)!.registrationAuthority).toBe(RA_OTHER);
    expect(byId.get(A)!.entityAttributes.flatMap((a) => a.values)).toEqual([RS]);
    // B's sibling group carried RA_HOME and R&S: nothing of it is B's.
    expect(byId.get(B)!.registrationAuthority).toBeUndefined();
    expect(byId.get(B)!.entityAttributes).toEqual([]);
  });

  it("labels inside a role's Extensions (IDPSSODescriptor) or an EntityAttributes outside md:Extensions are not the entity's", () => {
    const ra = `<mdrpi:RegistrationInfo registrationAuthority="${RA_HOME}"/>`;
    const attrs = `<mdattr:EntityAttributes><saml:Attribute Name="http://macedir.org/entity-category"><saml:AttributeValue>${RS}</saml:AttributeValue></saml:Attribute></mdattr:EntityAttributes>`;
    const entity = entityXml({ entityId: A, cert: IDP1_CERT })
      .replace(/(<md:IDPSSODescriptor [^>]*>)/, `$1<md:Extensions>${ra}${attrs}</md:Extensions>`);
    const xml = `<md:EntitiesDescriptor ${NS} ID="_roleext" validUntil="${future(86_400_000)}">${entity}</md:EntitiesDescriptor>`;
    const doc = entitiesOf(verifiedRoot(signDocument(xml), { pinned, bounds }), now, { requireValidUntil: true });
    expect(doc.entities[0]!.registrationAuthority).toBeUndefined();
    expect(doc.entities[0]!.entityAttributes).toEqual([]);
  });
});

describe("federation events as metrics", () => {
  const bridges: TestBridge[] = [];
  afterEach(async () => {
    for (const b of bridges.splice(0)) await b.close();
  });

  it("aggregate loads and failed loads, and MDQ failures, are counted per federation id; no entityID becomes a label", async () => {
    const file = path.join(tempDir(), "aggregate.xml");
    writeFileSync(file, signDocument(aggregateXml([{ entityId: A, cert: IDP1_CERT, registrationAuthority: RA_HOME }])));
    const client = { id: "fedm", secret: "fedm-secret" };
    const bridge = await startBridge({
      metadataFetch: (async () => new Response("down", { status: 502 })) as typeof globalThis.fetch,
      patch: (c) => {
        c.metrics = { enabled: true, processMetrics: false };
        c.samlFederations = [
          { id: "fedagg", source: { kind: "file", path: file }, signingCertFiles: ["federation/fed-signer.crt"], select: { all: true }, mapping: { subjectPrefix: "agg:", scopes: [{ grant: ["read"] }] } },
          { id: "fedmdq", source: { kind: "mdq", baseUrl: "https://mdq.review.test/mdq" }, signingCertFiles: ["federation/fed-signer.crt"], select: { all: true }, mapping: { subjectPrefix: "mdq:", scopes: [{ grant: ["read"] }] } },
        ];
        c.audiences.push({ id: "https://fed-metrics-api.example.com", scopes: ["read"], defaultScopes: ["read"] });
        c.clients.push({
          id: client.id, secretHash: `sha256:${createHash("sha256").update(client.secret).digest("base64url")}`,
          audiences: ["https://fed-metrics-api.example.com"], defaultAudience: "https://fed-metrics-api.example.com", scopes: ["read"], idps: ["fedagg", "fedmdq"],
        });
      },
    });
    bridges.push(bridge);
    // A failed aggregate refresh (the file no longer verifies), then an MDQ fetch that fails.
    writeFileSync(file, "<md:EntitiesDescriptor/>");
    expect((await bridge.federations.aggregates[0]!.refresh(bridge.clock.now)).ok).toBe(false);
    const ghost = "https://ghost.review.test/idp";
    const id = `_revm${process.pid}`;
    const xml = signWithXmlsec1(buildAssertion2({ id, issuer: ghost, nameId: "x", now: new Date(bridge.clock.now) }), id, { key: KEYS.idp1 });
    expect((await exchange(bridge, { xml, client })).status).toBe(503);
    const res = await request(bridge.app).get("/metrics");
    const s = parseExposition(res.text);
    expect(value(s, "fedbridge_metadata_refresh_total", { idp: "fedagg", outcome: "loaded" })).toBe(1);
    expect(value(s, "fedbridge_metadata_refresh_total", { idp: "fedagg", outcome: "failed" })).toBe(1);
    expect(value(s, "fedbridge_metadata_refresh_total", { idp: "fedmdq", outcome: "failed" })).toBe(1);
    expect(value(s, "fedbridge_metadata_refresh_age_seconds", { idp: "fedagg" })).toBeDefined();
    expect(res.text).not.toContain("review.test");
  });
});
