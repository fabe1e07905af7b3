// Encrypts SAML 2.0 test fixtures with INDEPENDENT implementations (none of them our code), the way
// IdPs do it (XML Encryption 1.1, SAML Core §2.3.4 saml:EncryptedAssertion):
//   - xmlsec1 --encrypt (libxmlsec1 + OpenSSL) fills an xenc:EncryptedData template that we write:
//     AES-CBC / AES-GCM content, rsa-oaep-mgf1p or rsa-1_5 key transport, random session key;
//   - for OAEP variants xmlsec1 1.2.37 cannot produce (xmlenc11#rsa-oaep, SHA-256 digests, MGF1
//     choices, labels), xmlsec1 encrypts the content with a known AES key and the OpenSSL CLI
//     (`openssl pkeyutl`) wraps that key; only the EncryptedKey markup around it is ours;
//   - xml-encryption (npm, what Node IdPs such as samlp use to encrypt), for a second stack.
// Synchronous except xml-encryption; temp files live in a fresh dir under os.tmpdir() that is removed.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { BRIDGE_ENC_CERT, SAML2_ASSERTION_NS } from "./constants.js";
import { stripXmlDecl } from "./saml-builder.js";

export type DataAlg = "aes128-cbc" | "aes256-cbc" | "aes128-gcm" | "aes256-gcm" | "tripledes-cbc";
export type Hash = "sha1" | "sha256" | "sha512";

/** Key transport: what xmlsec1 does itself, or an OAEP variant wrapped with `openssl pkeyutl`. */
export type KeyTransport =
  | "rsa-oaep-mgf1p"
  | "rsa-1_5"
  | {
      oaep: "rsa-oaep-mgf1p" | "xmlenc11";
      digest: Hash;
      mgf?: Hash;
      label?: Buffer;
      /** Wrap with the label but leave OAEPparams out of the XML (a broken lHash, for negative tests). */
      hideLabel?: boolean;
    }
  /** rsa-1_5 with a hand-made encryption block `em(cek, k)` (k octets), RSA by `openssl pkeyutl` (negative tests). */
  | { rawRsa15: (cek: Buffer, k: number) => Buffer };

export interface EncryptOptions {
  /** PEM certificate of the recipient (default: the bridge's current encryption cert). */
  cert?: string;
  /** Default aes256-gcm. */
  data?: DataAlg;
  /** Default rsa-oaep-mgf1p. */
  keyTransport?: KeyTransport;
}

const XENC = "http://www.w3.org/2001/04/xmlenc#";
const XENC11 = "http://www.w3.org/2009/xmlenc11#";
const DS = "http://www.w3.org/2000/09/xmldsig#";
export const DATA_ALG_URI: Readonly<Record<DataAlg, string>> = {
  "aes128-cbc": `${XENC}aes128-cbc`,
  "aes256-cbc": `${XENC}aes256-cbc`,
  "aes128-gcm": `${XENC11}aes128-gcm`,
  "aes256-gcm": `${XENC11}aes256-gcm`,
  "tripledes-cbc": `${XENC}tripledes-cbc`,
};
const DIGEST_URI: Readonly<Record<Hash, string>> = {
  sha1: "http://www.w3.org/2000/09/xmldsig#sha1",
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
  sha512: "http://www.w3.org/2001/04/xmlenc#sha512",
};
const KEY_BITS: Readonly<Record<DataAlg, number>> = { "aes128-cbc": 128, "aes256-cbc": 256, "aes128-gcm": 128, "aes256-gcm": 256, "tripledes-cbc": 192 };
/** xmlsec1 --session-key names. */
const SESSION_KEY: Readonly<Record<DataAlg, string>> = {
  "aes128-cbc": "aes-128", "aes256-cbc": "aes-256", "aes128-gcm": "aes-128", "aes256-gcm": "aes-256", "tripledes-cbc": "des-192",
};
const XMLSEC1 = "/usr/bin/xmlsec1";
const OPENSSL = "openssl";

/**
 * Replaces the element `xpath` selects in `documentXml` by an xenc:EncryptedData (Type=Element),
 * encrypted for `o.cert`. The element's bytes are serialized by libxml2 (no namespace fix-up: an
 * element that uses a prefix declared on an ancestor stays dependent on that context).
 */
export function encryptElementWithXmlsec1(documentXml: string, xpath: string, o: EncryptOptions = {}): string {
  const cert = o.cert ?? BRIDGE_ENC_CERT;
  const data = o.data ?? "aes256-gcm";
  const transport = o.keyTransport ?? "rsa-oaep-mgf1p";
  return withTempDir((dir) => {
    const input = path.join(dir, "data.xml");
    const template = path.join(dir, "template.xml");
    const output = path.join(dir, "out.xml");
    writeFileSync(input, documentXml);
    const encryptedData = (keyInfo: string): string =>
      `<xenc:EncryptedData xmlns:xenc="${XENC}" Type="${XENC}Element">` +
      `<xenc:EncryptionMethod Algorithm="${DATA_ALG_URI[data]}"/>` +
      `<ds:KeyInfo xmlns:ds="${DS}">${keyInfo}</ds:KeyInfo>` +
      "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>";

    if (typeof transport === "string") {
      writeFileSync(
        template,
        encryptedData(
          `<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="${XENC}${transport}"/>` +
            "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey>",
        ),
      );
      run(XMLSEC1, ["--encrypt", "--pubkey-cert-pem", cert, "--session-key", SESSION_KEY[data], "--xml-data", input, "--node-xpath", xpath, "--output", output, template]);
      return stripXmlDecl(readFileSync(output, "utf8"));
    }

    // xmlsec1 encrypts the content with a known key; OpenSSL wraps that key with RSA-OAEP.
    if (data === "tripledes-cbc") throw new Error("encryptElementWithXmlsec1: tripledes-cbc with xmlsec1's own key transport only");
    const cek = path.join(dir, "cek.bin");
    writeFileSync(cek, randomBytes(KEY_BITS[data] / 8));
    writeFileSync(template, encryptedData("<ds:KeyName>cek</ds:KeyName>"));
    run(XMLSEC1, ["--encrypt", "--aeskey:cek", cek, "--xml-data", input, "--node-xpath", xpath, "--output", output, template]);
    if ("rawRsa15" in transport) {
      const block = path.join(dir, "em.bin");
      const k = Number(/(\d+) bit/.exec(run(OPENSSL, ["x509", "-in", cert, "-noout", "-text"]))![1]) / 8;
      writeFileSync(block, transport.rawRsa15(readFileSync(cek), k));
      const wrapped = execFileSync(OPENSSL, ["pkeyutl", "-encrypt", "-certin", "-inkey", cert, "-in", block, "-pkeyopt", "rsa_padding_mode:none"]);
      const encryptedKey =
        `<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="${XENC}rsa-1_5"/>` +
        `<xenc:CipherData><xenc:CipherValue>${wrapped.toString("base64")}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>`;
      return stripXmlDecl(readFileSync(output, "utf8").replace("<ds:KeyName>cek</ds:KeyName>", encryptedKey));
    }
    const mgf = transport.mgf ?? (transport.oaep === "rsa-oaep-mgf1p" ? "sha1" : transport.digest);
    const pkeyopts = ["rsa_padding_mode:oaep", `rsa_oaep_md:${transport.digest}`, `rsa_mgf1_md:${mgf}`];
    if (transport.label) pkeyopts.push(`rsa_oaep_label:${transport.label.toString("hex")}`);
    const wrapped = execFileSync(OPENSSL, ["pkeyutl", "-encrypt", "-certin", "-inkey", cert, "-in", cek, ...pkeyopts.flatMap((p) => ["-pkeyopt", p])]);
    const params =
      `<ds:DigestMethod Algorithm="${DIGEST_URI[transport.digest]}"/>` +
      (transport.oaep === "xmlenc11" ? `<xenc11:MGF xmlns:xenc11="${XENC11}" Algorithm="${XENC11}mgf1${mgf}"/>` : "") +
      (transport.label && !transport.hideLabel ? `<xenc:OAEPparams>${transport.label.toString("base64")}</xenc:OAEPparams>` : "");
    const algorithm = transport.oaep === "xmlenc11" ? `${XENC11}rsa-oaep` : `${XENC}rsa-oaep-mgf1p`;
    const encryptedKey =
      `<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="${algorithm}">${params}</xenc:EncryptionMethod>` +
      `<xenc:CipherData><xenc:CipherValue>${wrapped.toString("base64")}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>`;
    const out = readFileSync(output, "utf8");
    const keyName = "<ds:KeyName>cek</ds:KeyName>";
    if (out.split(keyName).length !== 2) throw new Error("xmlsec1 output: expected one KeyName");
    return stripXmlDecl(out.replace(keyName, encryptedKey));
  });
}

/** A bare saml:EncryptedAssertion around `assertionXml` (which keeps its own namespace declarations). */
export function encryptAssertion(assertionXml: string, o: EncryptOptions = {}): string {
  const doc = `<saml:EncryptedAssertion xmlns:saml="${SAML2_ASSERTION_NS}">${stripXmlDecl(assertionXml)}</saml:EncryptedAssertion>`;
  return encryptElementWithXmlsec1(doc, "/*/*", o);
}

/**
 * The same with xml-encryption 3.1.0 (npm): AES-CBC/GCM content, RSA-OAEP (MGF1-SHA1, SHA-1
 * digest) or rsa-1_5 key transport, EncryptedKey inside a default-namespace ds:KeyInfo.
 */
export async function encryptAssertionWithXmlEncryption(
  assertionXml: string,
  o: { cert?: string; data?: DataAlg; keyTransport?: "rsa-oaep-mgf1p" | "rsa-1_5" } = {},
): Promise<string> {
  const require = createRequire(import.meta.url);
  const xmlenc = require("xml-encryption") as {
    encrypt(content: string, options: Record<string, unknown>, cb: (err: Error | null, result?: string) => void): void;
  };
  const pem = readFileSync(o.cert ?? BRIDGE_ENC_CERT, "utf8");
  const encryptedData = await new Promise<string>((resolve, reject) => {
    xmlenc.encrypt(
      stripXmlDecl(assertionXml),
      {
        rsa_pub: pem,
        pem,
        encryptionAlgorithm: DATA_ALG_URI[o.data ?? "aes256-gcm"],
        keyEncryptionAlgorithm: `${XENC}${o.keyTransport ?? "rsa-oaep-mgf1p"}`,
        warnInsecureAlgorithm: false,
      },
      (err, result) => (err || !result ? reject(err ?? new Error("xml-encryption: no result")) : resolve(result)),
    );
  });
  return `<saml:EncryptedAssertion xmlns:saml="${SAML2_ASSERTION_NS}">${encryptedData.trim()}</saml:EncryptedAssertion>`;
}

/** Decrypts with xmlsec1 (for the self-test: the fixtures are what they claim to be). */
export function decryptWithXmlsec1(xml: string, key: string): string {
  return withTempDir((dir) => {
    const input = path.join(dir, "in.xml");
    writeFileSync(input, xml);
    return run(XMLSEC1, ["--decrypt", "--privkey-pem", key, input]);
  });
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fedbridge-enc-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (e: unknown) {
    const err = e as { stderr?: string | Buffer; message?: string };
    throw new Error(`${path.basename(file)} failed: ${String(err.stderr ?? "").trim() || err.message}`);
  }
}
