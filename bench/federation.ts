/**
 * Federation figures (issue 13): load time and memory of a signed N-entity md:EntitiesDescriptor
 * aggregate, lookup cost, and exchange throughput against one configured IdP versus the same IdP
 * found through the aggregate.
 *
 *   npm run build && nice node --expose-gc dist/bench/federation.js [--entities 5000] [--requests 2000] [--concurrency 8]
 *
 * Everything is throwaway (keys, certificates, aggregate, config in a temp dir, removed at the end).
 * The aggregate is signed by xmlsec1 (one signature over the whole document). The bridge runs in
 * this process (memory replay store) behind a real HTTP listener on a free loopback port; both runs
 * drive it the same way, so their ratio is the figure (the absolute numbers depend on the machine).
 */
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createBridge } from "../src/bootstrap.js";
import { parseConfig } from "../src/config/load.js";
import { AggregateSource } from "../src/federation/aggregate-source.js";
import { trustedKeyFromCertificate } from "../src/saml/metadata.js";
import { selfSignedCertificate } from "../scripts/lib/self-signed-cert.js";
import { BENCH, formBody, makeTokens } from "./tokens.js";

const { values } = parseArgs({ options: { entities: { type: "string", default: "5000" }, requests: { type: "string", default: "2000" }, concurrency: { type: "string", default: "8" } } });
const ENTITIES = Number(values.entities);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const privatePem = (k: KeyObject): string => k.export({ format: "pem", type: "pkcs8" }).toString();
const b64 = (pem: string): string => pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

const dir = mkdtempSync(path.join(os.tmpdir(), "fedbridge-fedbench-"));
try {
  // Keys: the bench IdP (whose assertions are exchanged), a few other entity keys, the operator.
  const idp = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const idpCert = selfSignedCertificate(idp.privateKey, idp.publicKey, "fedbridge bench IdP (throwaway)", 2);
  const others = Array.from({ length: 3 }, (_, i) => {
    const k = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return selfSignedCertificate(k.privateKey, k.publicKey, `fedbridge bench entity ${i} (throwaway)`, 2);
  });
  const op = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const opCert = selfSignedCertificate(op.privateKey, op.publicKey, "fedbridge bench federation operator (throwaway)", 2);
  writeFileSync(path.join(dir, "op.key"), privatePem(op.privateKey), { mode: 0o600 });
  writeFileSync(path.join(dir, "op.crt"), opCert);
  writeFileSync(path.join(dir, "bridge.key"), privatePem(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey), { mode: 0o600 });

  const entity = (entityId: string, cert: string, i: number): string =>
    `<md:EntityDescriptor entityID="${entityId}"><md:Extensions><mdrpi:RegistrationInfo registrationAuthority="https://registrar.bench.invalid"/>`
    + (i % 3 === 0 ? `<mdattr:EntityAttributes><saml:Attribute Name="http://macedir.org/entity-category" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>http://refeds.org/category/research-and-scholarship</saml:AttributeValue></saml:Attribute></mdattr:EntityAttributes>` : "")
    + `<mdui:UIInfo><mdui:DisplayName xml:lang="en">Bench University ${i}</mdui:DisplayName><mdui:Description xml:lang="en">A university of the bench federation</mdui:Description></mdui:UIInfo></md:Extensions>`
    + `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${b64(cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    + `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp${i}.bench.invalid/sso"/></md:IDPSSODescriptor>`
    + `<md:Organization><md:OrganizationName xml:lang="en">Bench ${i}</md:OrganizationName><md:OrganizationDisplayName xml:lang="en">Bench ${i}</md:OrganizationDisplayName><md:OrganizationURL xml:lang="en">https://uni${i}.bench.invalid/</md:OrganizationURL></md:Organization>`
    + `<md:ContactPerson contactType="technical"><md:EmailAddress>mailto:it@uni${i}.bench.invalid</md:EmailAddress></md:ContactPerson></md:EntityDescriptor>`;
  const validUntil = new Date(Date.now() + 7 * 86_400_000).toISOString();
  const ds = "http://www.w3.org/2000/09/xmldsig#";
  const exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
  const body = [entity(BENCH.idpEntityId, idpCert, 0), ...Array.from({ length: ENTITIES - 1 }, (_, k) => entity(`https://idp${k + 1}.bench.invalid/idp`, others[k % others.length]!, k + 1))].join("\n");
  const unsigned = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="${ds}" xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" `
    + `xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_bench" validUntil="${validUntil}">`
    + `<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${exc}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>`
    + `<ds:Reference URI="#_bench"><ds:Transforms><ds:Transform Algorithm="${ds}enveloped-signature"/><ds:Transform Algorithm="${exc}"/></ds:Transforms>`
    + `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>\n${body}\n</md:EntitiesDescriptor>`;
  writeFileSync(path.join(dir, "unsigned.xml"), unsigned);
  let t = performance.now();
  execFileSync("/usr/bin/xmlsec1", ["--sign", "--privkey-pem", `${path.join(dir, "op.key")},${path.join(dir, "op.crt")}`,
    "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor", "--output", path.join(dir, "aggregate.xml"), path.join(dir, "unsigned.xml")]);
  const signMs = performance.now() - t;
  const size = Buffer.byteLength(unsigned);
  console.log(`aggregate: ${ENTITIES} IdP entities, ${mb(size)}, xmlsec1 signing ${signMs.toFixed(0)} ms`);

  // --- load: time and memory (heap after GC, and RSS), three rounds ---
  const source = {
    id: "bench-fed", source: { kind: "file", path: "aggregate.xml" }, signingCertFiles: ["op.crt"], select: { all: true },
    maxAssertionAgeSeconds: 3600, mapping: { subject: { nameId: true }, claims: {}, scopes: [{ grant: ["read"] }] },
  };
  const cfg = (federation: boolean): Record<string, unknown> => ({
    issuer: BENCH.issuer, tokenEndpoint: BENCH.tokenEndpoint, saml: { entityId: BENCH.spEntityId },
    signing: { keys: [{ kid: "bench-1", alg: "RS256", privateKeyFile: "bridge.key" }] },
    clients: [{ id: "bench-saml", secretHash: `sha256:${createHash("sha256").update("bench-secret").digest("base64url")}`, audiences: [BENCH.apiSaml], defaultAudience: BENCH.apiSaml, scopes: ["read"], idps: [federation ? "bench-fed" : "bench-idp"] }],
    audiences: [{ id: BENCH.apiSaml, scopes: ["read"], defaultScopes: ["read"] }],
    ...(federation
      ? { samlFederations: [{ ...source, mapping: { ...source.mapping, subjectPrefix: "fed:" } }] }
      : { samlIdps: [{ id: "bench-idp", metadataFile: "idp.xml", maxAssertionAgeSeconds: 3600, mapping: source.mapping }] }),
  });
  writeFileSync(path.join(dir, "idp.xml"), `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="${ds}" entityID="${BENCH.idpEntityId}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${b64(idpCert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>`);
  const config = parseConfig(cfg(true));
  const fed = config.samlFederations[0]!;
  const pinned = [trustedKeyFromCertificate(opCert)];
  const keep: AggregateSource[] = [];
  for (let round = 1; round <= 3; round++) {
    gc();
    const before = process.memoryUsage();
    t = performance.now();
    const agg = new AggregateSource({
      source: fed, location: { file: path.join(dir, "aggregate.xml") }, pinned, tokenEndpoint: BENCH.tokenEndpoint, bridgeIssuer: BENCH.issuer,
      fetch: globalThis.fetch, log: () => undefined,
    });
    const outcome = agg.loadSync(Date.now());
    const loadMs = performance.now() - t;
    const peak = process.memoryUsage();
    gc();
    const after = process.memoryUsage();
    keep.push(agg);
    console.log(`load round ${round}: ${outcome.entities} entities trusted in ${loadMs.toFixed(0)} ms; heap kept +${mb(after.heapUsed - before.heapUsed)} (peak +${mb(peak.heapUsed - before.heapUsed)}), RSS +${mb(after.rss - before.rss)} (RSS now ${mb(after.rss)})`);
  }
  const agg = keep[0]!;
  const ids = Array.from({ length: ENTITIES - 1 }, (_, k) => `https://idp${k + 1}.bench.invalid/idp`);
  t = performance.now();
  let found = 0;
  for (let i = 0; i < 1_000_000; i++) if (agg.byEntityId(ids[i % ids.length]!)) found++;
  console.log(`lookup: ${((performance.now() - t) * 1000 / 1_000_000).toFixed(3)} µs per byEntityId (${found} hits)`);
  keep.length = 0;
  gc();

  // --- exchange throughput: the same IdP configured alone, then found through the aggregate ---
  const signer = { idpKeyPem: privatePem(idp.privateKey), idpCertPem: idpCert, oidcKeyPem: "", oidcKid: "" };
  for (const federation of [false, true]) {
    const bridge = await createBridge({ config: parseConfig(cfg(federation)), baseDir: dir }, { now: Date.now, log: () => undefined, federationTickMs: 0 });
    const server = bridge.app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    const tokens = makeTokens(0, REQUESTS + 200, { scenario: "assertion", size: 0, now: Date.now(), lifetime: 3600 }, signer).map((x) => formBody("assertion", x));
    const auth = `Basic ${Buffer.from("bench-saml:bench-secret").toString("base64")}`;
    const run = async (list: string[]): Promise<number> => {
      let next = 0;
      let failed = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < list.length) {
          const res = await fetch(url, { method: "POST", headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" }, body: list[next++]! });
          await res.arrayBuffer();
          if (res.status !== 200) failed++;
        }
      }));
      return failed;
    };
    await run(tokens.slice(0, 200)); // warm-up
    t = performance.now();
    const failed = await run(tokens.slice(200));
    const s = (performance.now() - t) / 1000;
    console.log(`exchange, ${federation ? `IdP through the ${ENTITIES}-entity aggregate` : "single configured IdP"}: ${(REQUESTS / s).toFixed(0)} req/s (${REQUESTS} requests, concurrency ${CONCURRENCY}, ${failed} failed)`);
    await new Promise((r) => server.close(r));
    await bridge.close();
  }
  void randomBytes;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
