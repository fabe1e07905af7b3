/**
 * GET /saml/metadata: the bridge's SAML SP EntityDescriptor (node-saml's generator, completed with
 * the DOM). Checked with our own hardened parser, with pysaml2's metadata store (what an IdP
 * would load), and end to end: an assertion encrypted for each published certificate is accepted.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Response } from "superagent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, exchange, startBridge, type TestBridge } from "../support/harness.js";
import {
  BRIDGE_ENC_CERT, BRIDGE_ENC_KEY, BRIDGE_ENC_OLD_CERT, BRIDGE_ENC_OLD_KEY, BRIDGE_ENTITY_ID, SAML2_METADATA_NS, TOKEN_ENDPOINT,
} from "../support/constants.js";
import { buildAssertion2, randomSamlId } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { encryptAssertion } from "../support/independent-encrypt.js";
import { parseUntrustedXml } from "../../src/xml/safe-parse.js";
import { NS, attr, children, text } from "../../src/xml/dom.js";
import { SAML11_PROTOCOL, SAML2_PROTOCOL, buildSpMetadata } from "../../src/saml/sp-metadata.js";

const SAML1_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:saml1";
const HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const SAML1_BROWSER_POST = "urn:oasis:names:tc:SAML:1.0:profiles:browser-post";

let plain: TestBridge;
let rollover: TestBridge;
beforeAll(async () => {
  plain = await startBridge();
  rollover = await startBridge({
    patch: (c) => {
      c.saml.decryptionKeys = [
        { privateKeyFile: "keys/bridge-enc.key", certificateFile: "keys/bridge-enc.crt" },
        { privateKeyFile: "keys/bridge-enc-old.key", certificateFile: "keys/bridge-enc-old.crt" },
      ];
    },
  });
});
afterAll(async () => {
  await plain?.close();
  await rollover?.close();
});

/** The raw body whatever the media type (superagent buffers only types it knows). */
async function getMetadata(b: TestBridge): Promise<Response & { body: string }> {
  return (await b.http
    .get("/saml/metadata")
    .buffer(true)
    .parse((res, cb) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => cb(null, body));
    })) as Response & { body: string };
}

const pemBody = (file: string): string => readFileSync(file, "utf8").replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
const derB64 = (file: string): string => new X509Certificate(readFileSync(file)).raw.toString("base64");

function parse(xml: string): { entity: Element; sp: Element } {
  const doc = parseUntrustedXml(xml, { maxDepth: 16, maxElements: 200 });
  const entity = doc.documentElement!;
  expect([entity.namespaceURI, entity.localName]).toEqual([SAML2_METADATA_NS, "EntityDescriptor"]);
  const sps = children(entity, NS.md, "SPSSODescriptor");
  expect(sps).toHaveLength(1);
  expect(children(entity, NS.md, "IDPSSODescriptor")).toHaveLength(0);
  return { entity, sp: sps[0]! };
}

function encryptionCerts(sp: Element): string[] {
  const kds = children(sp, NS.md, "KeyDescriptor");
  for (const kd of kds) expect(attr(kd, "use")).toBe("encryption");
  return kds.map((kd) => {
    const keyInfo = children(kd, NS.ds, "KeyInfo")[0]!;
    const x509Data = children(keyInfo, NS.ds, "X509Data")[0]!;
    return text(children(x509Data, NS.ds, "X509Certificate")[0]!).replace(/\s+/g, "");
  });
}

describe("GET /saml/metadata", () => {
  it("serves application/samlmetadata+xml", async () => {
    const res = await getMetadata(plain);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/samlmetadata\+xml(;|$)/);
    expect(res.body).toMatch(/^<\?xml /);
  });

  it("names the bridge's entity ID, the protocols it verifies and the token endpoint as ACS", async () => {
    const [res, discovery] = await Promise.all([getMetadata(plain), plain.http.get("/.well-known/oauth-authorization-server")]);
    const { entity, sp } = parse(res.body);
    expect(attr(entity, "entityID")).toBe(BRIDGE_ENTITY_ID);
    expect(attr(entity, "ID")).toMatch(/^_[0-9a-f]{40}$/);
    const protocols = (attr(sp, "protocolSupportEnumeration") ?? "").split(" ");
    // The protocols listed are the SAML versions the bridge can verify (an IdP being onboarded may
    // speak either); discovery lists a SAML token type only while a configured IdP speaks it.
    expect(protocols).toEqual([SAML2_PROTOCOL, SAML11_PROTOCOL]);
    expect(discovery.body.token_exchange_subject_token_types_supported as string[]).not.toContain(SAML1_TOKEN_TYPE);
    expect(attr(sp, "WantAssertionsSigned")).toBe("true");
    const acs = children(sp, NS.md, "AssertionConsumerService").map((a) => [attr(a, "Binding"), attr(a, "Location")]);
    expect(acs).toEqual([[HTTP_POST, TOKEN_ENDPOINT], [SAML1_BROWSER_POST, TOKEN_ENDPOINT]]);
    // No decryption keys: no KeyDescriptor (the bridge signs no SAML, so never a signing key).
    expect(children(sp, NS.md, "KeyDescriptor")).toHaveLength(0);
  });

  it("publishes every configured decryption certificate, in order, as use=\"encryption\"", async () => {
    const { sp } = parse((await getMetadata(rollover)).body);
    expect(encryptionCerts(sp)).toEqual([derB64(BRIDGE_ENC_CERT), derB64(BRIDGE_ENC_OLD_CERT)]);
    for (const kd of children(sp, NS.md, "KeyDescriptor")) {
      const methods = children(kd, NS.md, "EncryptionMethod").map((m) => attr(m, "Algorithm"));
      expect(methods).toEqual([
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2009/xmlenc11#aes128-gcm",
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
        "http://www.w3.org/2009/xmlenc11#rsa-oaep",
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
      ]);
      expect(methods).not.toContain("http://www.w3.org/2001/04/xmlenc#rsa-1_5");
    }
  });

  it("carries no private key material", async () => {
    const { body } = await getMetadata(rollover);
    expect(body).not.toMatch(/PRIVATE|BEGIN|decryptionPvk/i);
    for (const key of [BRIDGE_ENC_KEY, BRIDGE_ENC_OLD_KEY]) {
      const b64 = pemBody(key);
      // Any 32-character run of the key's base64 (including the RSA private exponent and primes).
      for (let i = 0; i + 32 <= b64.length; i += 16) expect(body).not.toContain(b64.slice(i, i + 32));
    }
  });

  it("is the same document on every instance (derived ID, no clock or randomness)", async () => {
    const again = await startBridge({ patch: (c) => void (c.saml.decryptionKeys = [{ privateKeyFile: "keys/bridge-enc.key", certificateFile: "keys/bridge-enc.crt" }, { privateKeyFile: "keys/bridge-enc-old.key", certificateFile: "keys/bridge-enc-old.crt" }]) });
    try {
      expect((await getMetadata(again)).body).toBe((await getMetadata(rollover)).body);
    } finally {
      await again.close();
    }
  });

  it("round trip: an IdP encrypting for each published certificate gets a token", async () => {
    const { sp } = parse((await getMetadata(rollover)).body);
    const dir = mkdtempSync(path.join(os.tmpdir(), "fedbridge-md-"));
    try {
      for (const [i, b64] of encryptionCerts(sp).entries()) {
        const certFile = path.join(dir, `enc-${i}.crt`);
        writeFileSync(certFile, `-----BEGIN CERTIFICATE-----\n${b64.replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`);
        const id = randomSamlId("_a");
        const signed = signWithXmlsec1(buildAssertion2({ id, now: new Date(rollover.clock.now), nameId: `${id}@example.com` }), id, { key: KEYS.idp1 });
        const res = await exchange(rollover, { xml: encryptAssertion(signed, { cert: certFile }), scope: "read" });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(decodeJwt(res.body.access_token).payload.sub).toBe(`${id}@example.com`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("loads in pysaml2's metadata store as an SP (what an IdP does to register the bridge)", async () => {
    const { body } = await getMetadata(rollover);
    const script = [
      "import json, sys",
      "from saml2 import config, BINDING_HTTP_POST",
      "from saml2.attribute_converter import ac_factory",
      "from saml2.mdstore import MetadataStore",
      "mds = MetadataStore(ac_factory(), config.Config())",
      "mds.load('inline', sys.stdin.read())",
      `eid = ${JSON.stringify(BRIDGE_ENTITY_ID)}`,
      "sp = mds[eid]['spsso_descriptor'][0]",
      "print(json.dumps({",
      "  'encryption': mds.certs(eid, 'spsso', use='encryption'),",
      "  'signing': mds.certs(eid, 'spsso', use='signing'),",
      "  'acs': [a['location'] for a in mds.assertion_consumer_service(eid, binding=BINDING_HTTP_POST)],",
      "  'wantAssertionsSigned': sp.get('want_assertions_signed'),",
      "}))",
    ].join("\n");
    const out = JSON.parse(execFileSync("/usr/bin/python3", ["-c", script], { input: body, encoding: "utf8" }));
    expect(out.encryption.map((c: string) => c.replace(/\s+/g, ""))).toEqual([derB64(BRIDGE_ENC_CERT), derB64(BRIDGE_ENC_OLD_CERT)]);
    expect(out.acs).toEqual([TOKEN_ENDPOINT]);
    expect(out.wantAssertionsSigned).toBe("true");
  });
});

describe("buildSpMetadata", () => {
  const opts = { entityId: BRIDGE_ENTITY_ID, tokenEndpoint: TOKEN_ENDPOINT, encryptionCertificates: [readFileSync(BRIDGE_ENC_CERT, "utf8")] };

  it("SAML 1.1 verified: both protocols and a browser/POST ACS", () => {
    const { sp } = parse(buildSpMetadata({ ...opts, saml11: true }));
    expect(attr(sp, "protocolSupportEnumeration")).toBe(`${SAML2_PROTOCOL} ${SAML11_PROTOCOL}`);
    expect(children(sp, NS.md, "AssertionConsumerService").map((a) => attr(a, "Binding"))).toEqual([HTTP_POST, SAML1_BROWSER_POST]);
  });

  it("SAML 2.0 only: one protocol, one ACS", () => {
    const { sp } = parse(buildSpMetadata({ ...opts, saml11: false }));
    expect(attr(sp, "protocolSupportEnumeration")).toBe(SAML2_PROTOCOL);
    expect(children(sp, NS.md, "AssertionConsumerService")).toHaveLength(1);
  });

  it("pins the OAEP parameters the bridge decrypts (digest, MGF)", () => {
    const xml = buildSpMetadata({ ...opts, saml11: false });
    expect(xml).toContain('<EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256" xmlns:xenc11="http://www.w3.org/2009/xmlenc11#"/></EncryptionMethod>');
  });

  it("refuses something that is not a certificate", () => {
    expect(() => buildSpMetadata({ ...opts, encryptionCertificates: [readFileSync(BRIDGE_ENC_KEY, "utf8")], saml11: false })).toThrow();
  });
});
