/**
 * Federation test fixtures: aggregates (md:EntitiesDescriptor) and MDQ answers built here and
 * signed by xmlsec1, an independent implementation, with the TEST-ONLY operator keys of
 * test/fixtures/federation. Signed documents are cached in the OS temp dir keyed by the hash of
 * their input (a 5,000-entity aggregate is one xmlsec1 call, but there is no need to repeat it).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FIXTURES_DIR, IDP1_CERT, IDP2_CERT, IDP_EC_CERT } from "../support/constants.js";

export const FED_DIR = path.join(FIXTURES_DIR, "federation");
export const FED_SIGNER = { key: path.join(FED_DIR, "fed-signer.key"), cert: path.join(FED_DIR, "fed-signer.crt") };
export const FED_SIGNER_OTHER = { key: path.join(FED_DIR, "fed-signer-other.key"), cert: path.join(FED_DIR, "fed-signer-other.crt") };

export const RS = "http://refeds.org/category/research-and-scholarship";
export const ENTITY_CATEGORY = "http://macedir.org/entity-category";
export const ASSURANCE = "urn:oasis:names:tc:SAML:attribute:assurance-certification";
export const SIRTFI = "https://refeds.org/sirtfi";
export const RA_HOME = "https://registrar.home-fed.test";
export const RA_OTHER = "https://registrar.other-fed.test";
const SAML2P = "urn:oasis:names:tc:SAML:2.0:protocol";

export interface EntitySpec {
  entityId: string;
  /** Signing certificate (PEM file); none: an IdP without a signing key. */
  cert?: string;
  registrationAuthority?: string;
  /** entity-category values. */
  categories?: string[];
  sirtfi?: boolean;
  /** An SP instead of an IdP. */
  sp?: boolean;
  validUntil?: Date;
}

const b64Of = new Map<string, string>();
function certB64(file: string): string {
  let v = b64Of.get(file);
  if (v === undefined) {
    v = readFileSync(file, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    b64Of.set(file, v);
  }
  return v;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

export function entityXml(e: EntitySpec, o: { id?: string; rootNs?: boolean } = {}): string {
  const ns = o.rootNs ? ` xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` : "";
  const attrs: string[] = [];
  if (e.categories?.length) {
    attrs.push(`<saml:Attribute Name="${ENTITY_CATEGORY}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">${e.categories.map((c) => `<saml:AttributeValue>${esc(c)}</saml:AttributeValue>`).join("")}</saml:Attribute>`);
  }
  if (e.sirtfi) {
    attrs.push(`<saml:Attribute Name="${ASSURANCE}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>${SIRTFI}</saml:AttributeValue></saml:Attribute>`);
  }
  const ext = e.registrationAuthority || attrs.length
    ? `<md:Extensions>${e.registrationAuthority ? `<mdrpi:RegistrationInfo registrationAuthority="${esc(e.registrationAuthority)}"/>` : ""}${attrs.length ? `<mdattr:EntityAttributes>${attrs.join("")}</mdattr:EntityAttributes>` : ""}</md:Extensions>`
    : "";
  const key = e.cert ? `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certB64(e.cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` : "";
  const role = e.sp
    ? `<md:SPSSODescriptor protocolSupportEnumeration="${SAML2P}">${key}<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.test/acs" index="0"/></md:SPSSODescriptor>`
    : `<md:IDPSSODescriptor protocolSupportEnumeration="${SAML2P}">${key}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${esc(e.entityId)}/sso"/></md:IDPSSODescriptor>`;
  const id = o.id ? ` ID="${o.id}"` : "";
  const vu = e.validUntil ? ` validUntil="${e.validUntil.toISOString()}"` : "";
  return `<md:EntityDescriptor${ns} entityID="${esc(e.entityId)}"${id}${vu}>${ext}${role}</md:EntityDescriptor>`;
}

export interface AggregateOptions {
  validUntil?: Date | null;
  cacheDuration?: string;
  id?: string;
  name?: string;
}

export function aggregateXml(entities: readonly EntitySpec[], o: AggregateOptions = {}): string {
  const id = o.id ?? "_agg1";
  const vu = o.validUntil === null ? "" : ` validUntil="${(o.validUntil ?? new Date(Date.now() + 14 * 86_400_000)).toISOString()}"`;
  const cd = o.cacheDuration ? ` cacheDuration="${o.cacheDuration}"` : "";
  return `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" `
    + `xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" `
    + `xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Name="${o.name ?? "urn:test:federation"}"${vu}${cd}>\n`
    + entities.map((e) => entityXml(e)).join("\n") + "\n</md:EntitiesDescriptor>";
}

/**
 * Enveloped signature on the root (its ds:Signature the first child, SAML Metadata §3.1) by
 * xmlsec1: exc-c14n, RSA-SHA256, SHA-256. Cached by the hash of document and key.
 */
export function signDocument(xml: string, key: { key: string; cert: string } = FED_SIGNER): string {
  const rootName = /^<(md:Entit(?:y|ies)Descriptor)\b/.exec(xml)?.[1];
  if (!rootName) throw new Error("signDocument: root must be md:EntityDescriptor or md:EntitiesDescriptor");
  const id = /^<[^>]*\sID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error("signDocument: the root needs an ID");
  const cacheDir = path.join(tmpdir(), "fedbridge-federation-fixtures");
  mkdirSync(cacheDir, { recursive: true });
  const hash = createHash("sha256").update(xml).update("\0").update(readFileSync(key.key)).digest("hex");
  const cached = path.join(cacheDir, `${hash}.xml`);
  if (existsSync(cached)) return readFileSync(cached, "utf8");
  const ds = "http://www.w3.org/2000/09/xmldsig#";
  const exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
  const template = `<ds:Signature xmlns:ds="${ds}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${exc}"/>`
    + `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#${id}"><ds:Transforms>`
    + `<ds:Transform Algorithm="${ds}enveloped-signature"/><ds:Transform Algorithm="${exc}"/></ds:Transforms>`
    + `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>`
    + `<ds:SignatureValue/></ds:Signature>`;
  const open = xml.indexOf(">") + 1;
  const withTemplate = xml.slice(0, open) + template + xml.slice(open);
  const dir = mkdtempSync(path.join(tmpdir(), "fedbridge-fedsign-"));
  try {
    const input = path.join(dir, "in.xml");
    writeFileSync(input, withTemplate);
    const local = rootName.slice(3);
    const signed = execFileSync("/usr/bin/xmlsec1", [
      "--sign", "--privkey-pem", `${key.key},${key.cert}`,
      "--id-attr:ID", `urn:oasis:names:tc:SAML:2.0:metadata:${local}`,
      "--output", "-", input,
    ], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 }).replace(/^<\?xml[^?]*\?>\s*/, "");
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, signed);
    renameSync(tmp, cached);
    return signed;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` IdP entities reusing a handful of test certificates; every third is R&S, every fifth SIRTFI. */
export function manyEntities(n: number): EntitySpec[] {
  const certs = [IDP1_CERT, IDP2_CERT, IDP_EC_CERT];
  return Array.from({ length: n }, (_, i) => ({
    entityId: `https://idp${i}.uni${i % 97}.test/idp`,
    cert: certs[i % certs.length]!,
    registrationAuthority: i % 2 === 0 ? RA_HOME : RA_OTHER,
    ...(i % 3 === 0 ? { categories: [RS] } : {}),
    ...(i % 5 === 0 ? { sirtfi: true } : {}),
  }));
}

/** A fresh temp folder for a test's aggregate files. */
export function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), "fedbridge-fed-"));
}
