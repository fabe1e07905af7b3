// saml:EncryptedAssertion (SAML Core §2.3.4, XML Encryption 1.1): decrypted with the bridge's SP
// keys, then verified exactly like a plain assertion. Every fixture is signed by xmlsec1 and
// encrypted by an independent implementation (xmlsec1, OpenSSL's pkeyutl, xml-encryption): nothing
// here is encrypted by the code under test. Attack catalogue D15 (assertion + encrypted assertion),
// D21 (encryption crypto: algorithms, padding oracles, one indistinguishable reason).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, CLIENTS, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId, type Assertion2Options } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import {
  decryptWithXmlsec1,
  encryptAssertion,
  encryptAssertionWithXmlEncryption,
  encryptElementWithXmlsec1,
  type DataAlg,
  type EncryptOptions,
  type KeyTransport,
} from "../support/independent-encrypt.js";
import {
  BRIDGE_ENC_CERT,
  BRIDGE_ENC_KEY,
  BRIDGE_ENC_OLD_CERT,
  IDP1,
  IDP2,
  IDP2_CERT,
  SAML2_ASSERTION_NS,
  SAML2_PROTOCOL_NS,
} from "../support/constants.js";
import { ConfigError } from "../../src/config/load.js";

type Res = { status: number; body: any; headers: Record<string, any> };

const NEW_KEY = { privateKeyFile: "keys/bridge-enc.key", certificateFile: "keys/bridge-enc.crt" };
const OLD_KEY = { privateKeyFile: "keys/bridge-enc-old.key", certificateFile: "keys/bridge-enc-old.crt" };
const DATA_ALGS: DataAlg[] = ["aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"];
/** An OAEP whose MGF1 hash differs from its digest: decoded by the bridge, not by OpenSSL. */
const MIXED_OAEP: KeyTransport = { oaep: "xmlenc11", digest: "sha256", mgf: "sha1" };

const idp1Of = (c: Record<string, any>): Record<string, any> => c.samlIdps.find((i: { id: string }) => i.id === "idp1");
const withKeys = (keys: object[], extra: Record<string, unknown> = {}) => (c: Record<string, any>): void => {
  c.saml = { ...c.saml, decryptionKeys: keys, ...extra };
};

/** Both keys (rollover: new first, old still accepted). */
let enc: TestBridge;
/** The same with rsa-1_5 key transport allowed. */
let enc15: TestBridge;
/** Only the new key (rollover finished). */
let newOnly: TestBridge;
/** idp1 with requireSignedAssertion:false. */
let lax: TestBridge;
/** No decryption keys (the default). */
let plain: TestBridge;

// These bridges exercise the decryption machinery itself, CBC included, so they take AES-CBC
// content that no Response signature covers (the legacy switch); `strict` below has the default.
const LEGACY_CBC = { allowUnsignedCbc: true };
let strict: TestBridge;

beforeAll(async () => {
  enc = await startBridge({ patch: withKeys([NEW_KEY, OLD_KEY], LEGACY_CBC) });
  enc15 = await startBridge({ patch: withKeys([NEW_KEY, OLD_KEY], { allowRsa15KeyTransport: true, ...LEGACY_CBC }) });
  newOnly = await startBridge({ patch: withKeys([NEW_KEY], LEGACY_CBC) });
  lax = await startBridge({
    patch: (c) => {
      withKeys([NEW_KEY], LEGACY_CBC)(c);
      idp1Of(c).requireSignedAssertion = false;
    },
  });
  plain = await startBridge();
  strict = await startBridge({ patch: withKeys([NEW_KEY, OLD_KEY]) });
});
afterAll(async () => {
  for (const b of [enc, enc15, newOnly, lax, plain, strict]) await b?.close();
});

// ---- fixtures ------------------------------------------------------------------------------------

interface Fixture {
  /** The signed (or unsigned) plaintext assertion. */
  assertion: string;
  id: string;
  nameId: string;
}

function assertion(b: TestBridge, o: Assertion2Options & { sign?: boolean } = {}): Fixture {
  const id = randomSamlId("_a");
  const nameId = o.nameId ?? `${id.slice(2, 10)}@example.com`;
  const xml = buildAssertion2({ ...o, id, nameId, now: new Date(b.clock.now) });
  return { assertion: o.sign === false ? xml : signWithXmlsec1(xml, id, { key: KEYS.idp1 }), id, nameId };
}

/** A samlp:Response around `inner`; signed by idp1 (xmlsec1) when asked. */
function response(b: TestBridge, inner: string | string[], o: { sign?: boolean; issuer?: string | null } = {}): string {
  const id = randomSamlId("_r");
  const xml = buildResponse2(inner, { id, now: new Date(b.clock.now), ...(o.issuer !== undefined ? { issuer: o.issuer } : { issuer: IDP1 }) });
  return o.sign ? signWithXmlsec1(xml, id, { key: KEYS.idp1 }) : xml;
}

const send = (b: TestBridge, xml: string) => exchange(b, { xml, scope: "read" });

function ok(res: Res, nameId: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const { payload } = decodeJwt(res.body.access_token);
  expect(payload.sub).toBe(nameId);
  expect(payload.aud).toBe(API);
  expect(payload.idp).toBe(IDP1);
  expect(payload.act).toEqual({ sub: CLIENTS.c1.id });
}

function refused(res: Res, reason: string): void {
  expectError(res, 400, "invalid_request", reason);
  expect(Object.keys(res.body).sort()).toEqual(["error", "error_description"]);
  expect(JSON.stringify(res.body)).not.toMatch(/<|@example\.com/);
}

const CIPHER_VALUE = /(<xenc:CipherValue>)([^<]*)(<\/xenc:CipherValue>)/g;

/** Applies `edit` to the decoded bytes of one CipherValue: "data" (the last one) or "key" (the first). */
function mutateCipher(xml: string, which: "data" | "key", edit: (bytes: Buffer) => Buffer): string {
  const matches = [...xml.matchAll(CIPHER_VALUE)];
  expect(matches.length).toBeGreaterThanOrEqual(2);
  const m = which === "key" ? matches[0]! : matches[matches.length - 1]!;
  const bytes = edit(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64"));
  return xml.slice(0, m.index) + m[1] + bytes.toString("base64") + m[3] + xml.slice(m.index + m[0].length);
}

const flip = (index: (length: number) => number) => (bytes: Buffer): Buffer => {
  const out = Buffer.from(bytes);
  const i = index(out.length);
  out[i] = out[i]! ^ 0x01;
  return out;
};

// ---- AES-CBC only under a verified signature (default) ----------------------------------------------

describe("AES-CBC without integrity is decrypted only under a verified Response signature", () => {
  it.each(["aes128-cbc", "aes256-cbc"] as DataAlg[])("%s: bare EncryptedAssertion → encryption_algorithm_not_allowed (a malleable ciphertext is an oracle)", async (data) => {
    const fx = assertion(strict);
    expectError(await send(strict, encryptAssertion(fx.assertion, { data })), 400, "invalid_request", "encryption_algorithm_not_allowed");
  });

  it.each(["aes128-cbc", "aes256-cbc"] as DataAlg[])("%s: in an unsigned Response → encryption_algorithm_not_allowed", async (data) => {
    const fx = assertion(strict);
    expectError(await send(strict, response(strict, encryptAssertion(fx.assertion, { data }))), 400, "invalid_request", "encryption_algorithm_not_allowed");
  });

  it.each(["aes128-cbc", "aes256-cbc"] as DataAlg[])("%s: in a signed Response → 200", async (data) => {
    const fx = assertion(strict);
    ok(await send(strict, response(strict, encryptAssertion(fx.assertion, { data }), { sign: true })), fx.nameId);
  });

  it.each(["aes128-gcm", "aes256-gcm"] as DataAlg[])("%s: authenticated encryption needs no signature around it → 200", async (data) => {
    const fx = assertion(strict);
    ok(await send(strict, encryptAssertion(fx.assertion, { data })), fx.nameId);
  });
});

// ---- positive: algorithms ------------------------------------------------------------------------

describe("xmlsec1-encrypted assertions (rsa-oaep-mgf1p key transport)", () => {
  it.each(DATA_ALGS)("%s: bare EncryptedAssertion → 200 with the right sub", async (data) => {
    const fx = assertion(enc);
    const xml = encryptAssertion(fx.assertion, { data });
    expect(xml).toMatch(/^<saml:EncryptedAssertion /);
    expect(xml).toContain(`Algorithm="http://www.w3.org/${data.endsWith("gcm") ? "2009/xmlenc11" : "2001/04/xmlenc"}#${data}"`);
    expect(xml).not.toContain(fx.nameId);
    ok(await send(enc, xml), fx.nameId);
  });

  it.each(DATA_ALGS)("%s: EncryptedAssertion in an unsigned Response → 200", async (data) => {
    const fx = assertion(enc);
    ok(await send(enc, response(enc, encryptAssertion(fx.assertion, { data }))), fx.nameId);
  });

  it.each(DATA_ALGS)("%s: signed Response (over the encrypted form) around a signed encrypted assertion → 200", async (data) => {
    const fx = assertion(enc);
    ok(await send(enc, response(enc, encryptAssertion(fx.assertion, { data }), { sign: true })), fx.nameId);
  });

  it("self-test: xmlsec1 --decrypt with the bridge key gives back the signed assertion", () => {
    const fx = assertion(enc);
    const decrypted = decryptWithXmlsec1(encryptAssertion(fx.assertion), BRIDGE_ENC_KEY);
    expect(decrypted).toContain(`ID="${fx.id}"`);
    expect(decrypted).toContain("<ds:SignatureValue>");
  });
});

describe("OAEP variants (content by xmlsec1, key wrapped by openssl pkeyutl)", () => {
  const variants: [string, KeyTransport][] = [
    ["xmlenc11#rsa-oaep, SHA-256 digest, MGF1-SHA256", { oaep: "xmlenc11", digest: "sha256", mgf: "sha256" }],
    ["xmlenc11#rsa-oaep, SHA-256 digest, MGF1-SHA1 (default MGF)", { oaep: "xmlenc11", digest: "sha256", mgf: "sha1" }],
    ["xmlenc11#rsa-oaep, SHA-1 defaults written out", { oaep: "xmlenc11", digest: "sha1", mgf: "sha1" }],
    ["xmlenc11#rsa-oaep, SHA-512 digest, MGF1-SHA256, with a label", { oaep: "xmlenc11", digest: "sha512", mgf: "sha256", label: randomBytes(12) }],
    ["rsa-oaep-mgf1p with a SHA-256 DigestMethod (MGF1-SHA1)", { oaep: "rsa-oaep-mgf1p", digest: "sha256" }],
    ["rsa-oaep-mgf1p, SHA-1, with a label", { oaep: "rsa-oaep-mgf1p", digest: "sha1", label: randomBytes(8) }],
  ];
  it.each<[string, KeyTransport]>([
    ["OpenSSL's OAEP (SHA-256, MGF1-SHA256)", { oaep: "xmlenc11", digest: "sha256", mgf: "sha256", label: randomBytes(8), hideLabel: true }],
    ["decoded by the bridge (SHA-256, MGF1-SHA1)", { oaep: "xmlenc11", digest: "sha256", mgf: "sha1", label: randomBytes(8), hideLabel: true }],
  ])("%s: wrapped with a label the XML does not declare (lHash differs) → decryption_failed", async (_name, keyTransport) => {
    const fx = assertion(enc);
    refused(await send(enc, encryptAssertion(fx.assertion, { data: "aes256-gcm", keyTransport })), "decryption_failed");
  });

  it.each(variants)("%s → 200", async (_name, keyTransport) => {
    for (const data of ["aes128-cbc", "aes256-gcm"] as const) {
      const fx = assertion(enc);
      ok(await send(enc, encryptAssertion(fx.assertion, { data, keyTransport })), fx.nameId);
    }
  });
});

describe("xml-encryption (npm) encrypted assertions", () => {
  it.each(DATA_ALGS)("%s + rsa-oaep-mgf1p (SHA-1 DigestMethod, EncryptedKey in a default-namespace KeyInfo) → 200", async (data) => {
    const fx = assertion(enc);
    const xml = await encryptAssertionWithXmlEncryption(fx.assertion, { data });
    expect(xml).toContain('<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">');
    ok(await send(enc, xml), fx.nameId);
  });
});

describe("namespace context of the plaintext", () => {
  /**
   * The assertion uses the prefix saml2, declared only on the Response: libxml2 serializes the
   * element without it, so the plaintext parses only in the context of the EncryptedAssertion.
   */
  function contextDependent(b: TestBridge): { xml: string; fx: Fixture; encrypted: string } {
    const fx = assertion(b, { prefix: "saml2" });
    const decl = ` xmlns:saml2="${SAML2_ASSERTION_NS}"`;
    // Exclusive c14n renders the (visibly used) declaration either way: the signature still holds.
    const bare = fx.assertion.replace(decl, "");
    expect(bare).not.toBe(fx.assertion);
    const doc =
      `<samlp:Response xmlns:samlp="${SAML2_PROTOCOL_NS}" xmlns:saml="${SAML2_ASSERTION_NS}"${decl} ID="${randomSamlId("_r")}" Version="2.0" IssueInstant="${new Date(b.clock.now).toISOString()}">` +
      `<saml:Issuer>${IDP1}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      `<saml:EncryptedAssertion>${bare}</saml:EncryptedAssertion></samlp:Response>`;
    const xml = encryptElementWithXmlsec1(doc, "/*/*[local-name()='EncryptedAssertion']/*", { data: "aes256-gcm" });
    const encrypted = /<saml:EncryptedAssertion>.*<\/saml:EncryptedAssertion>/s.exec(xml)![0];
    return { xml, fx, encrypted };
  }

  it("an assertion relying on the Response's namespace declarations → 200", async () => {
    const { xml, fx } = contextDependent(enc);
    expect(xml).toContain("<saml:EncryptedAssertion><xenc:EncryptedData");
    ok(await send(enc, xml), fx.nameId);
  });

  it("control: the same ciphertext without that context does not parse → decryption_failed", async () => {
    const { encrypted } = contextDependent(enc);
    const bare = encrypted.replace("<saml:EncryptedAssertion>", `<saml:EncryptedAssertion xmlns:saml="${SAML2_ASSERTION_NS}">`);
    refused(await send(enc, bare), "decryption_failed");
  });
});

// ---- keys: rollover ----------------------------------------------------------------------------------

describe("decryption keys", () => {
  it("encrypted for the old key while old and new are configured (rollover) → 200", async () => {
    const fx = assertion(enc);
    ok(await send(enc, encryptAssertion(fx.assertion, { cert: BRIDGE_ENC_OLD_CERT })), fx.nameId);
  });

  it("encrypted for the new key while old and new are configured → 200", async () => {
    const fx = assertion(enc);
    ok(await send(enc, encryptAssertion(fx.assertion, { cert: BRIDGE_ENC_CERT })), fx.nameId);
  });

  it("encrypted for the old key after it was removed → decryption_failed", async () => {
    const fx = assertion(newOnly);
    refused(await send(newOnly, encryptAssertion(fx.assertion, { cert: BRIDGE_ENC_OLD_CERT })), "decryption_failed");
  });

  it("encrypted for a key the bridge does not hold → decryption_failed", async () => {
    const fx = assertion(enc);
    refused(await send(enc, encryptAssertion(fx.assertion, { cert: IDP2_CERT })), "decryption_failed");
  });

  it("no decryption keys configured → encrypted_assertion_unsupported (bare and in a Response)", async () => {
    const fx = assertion(plain);
    const encrypted = encryptAssertion(fx.assertion);
    refused(await send(plain, encrypted), "encrypted_assertion_unsupported");
    refused(await send(plain, response(plain, encrypted, { sign: true })), "encrypted_assertion_unsupported");
  });
});

// ---- one indistinguishable failure -------------------------------------------------------------------

describe("every decryption failure is the same answer (D21)", () => {
  /** Each of these fails somewhere different inside decryption; the client must not see where. */
  function failures(b: TestBridge): [string, string][] {
    const fresh = (o: EncryptOptions = {}): string => encryptAssertion(assertion(b).assertion, o);
    const cbc = fresh({ data: "aes128-cbc" });
    const gcm = fresh({ data: "aes256-gcm" });
    return [
      ["CBC: last byte of the next-to-last block flipped (the padding length)", mutateCipher(cbc, "data", flip((n) => n - 17))],
      ["CBC: IV byte flipped (valid padding, garbled plaintext)", mutateCipher(cbc, "data", flip(() => 0))],
      ["CBC: middle block flipped", mutateCipher(cbc, "data", flip((n) => Math.floor(n / 2)))],
      ["CBC: truncated by one block", mutateCipher(cbc, "data", (x) => x.subarray(0, x.length - 16))],
      ["GCM: ciphertext byte flipped (tag check)", mutateCipher(gcm, "data", flip((n) => Math.floor(n / 2)))],
      ["GCM: tag byte flipped", mutateCipher(gcm, "data", flip((n) => n - 1))],
      ["GCM: IV byte flipped", mutateCipher(gcm, "data", flip(() => 0))],
      ["EncryptedKey: byte flipped (OAEP check)", mutateCipher(gcm, "key", flip((n) => n - 1))],
      ["EncryptedKey: truncated", mutateCipher(gcm, "key", (x) => x.subarray(1))],
      ["encrypted for another key", fresh({ cert: IDP2_CERT })],
      ["OAEP decoded here (SHA-256 digest, MGF1-SHA1), for another key", fresh({ keyTransport: MIXED_OAEP, cert: IDP2_CERT })],
      ["OAEP decoded here, EncryptedKey byte flipped", mutateCipher(fresh({ keyTransport: MIXED_OAEP }), "key", flip((n) => n - 1))],
      ["GCM ciphertext labelled as CBC (algorithm substitution)", gcm.replace("http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#aes256-cbc")],
      ["CipherValue not base64", gcm.replace(/(<xenc:CipherValue>)[^<]*(<\/xenc:CipherValue><\/xenc:CipherData><\/xenc:EncryptedData>)/, "$1!!!!$2")],
      ["CipherReference instead of CipherValue", gcm.replace(/<xenc:CipherData><xenc:CipherValue>[^<]*<\/xenc:CipherValue><\/xenc:CipherData><\/xenc:EncryptedData>/, '<xenc:CipherData><xenc:CipherReference URI="https://attacker.example/c"/></xenc:CipherData></xenc:EncryptedData>')],
      ["no EncryptedKey", gcm.replace(/<ds:KeyInfo[^>]*>.*<\/ds:KeyInfo>/s, "")],
      ["EncryptedData missing", `<saml:EncryptedAssertion xmlns:saml="${SAML2_ASSERTION_NS}"/>`],
      ["decrypted content is not an assertion", encryptAssertion(`<saml:Issuer xmlns:saml="${SAML2_ASSERTION_NS}">${IDP1}</saml:Issuer>`)],
      ["decrypted content is a SAML 1.1 assertion", encryptAssertion(`<saml1:Assertion xmlns:saml1="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="_x" Issuer="${IDP1}" IssueInstant="2026-01-01T00:00:00Z"/>`)],
    ];
  }

  it("each is decryption_failed, with byte-identical responses", async () => {
    const cases = failures(enc);
    for (const [name, xml] of cases) expect(xml, name).toContain("EncryptedAssertion");
    const answers = [];
    for (const [name, xml] of cases) {
      const res = await send(enc, xml);
      expect({ name, status: res.status, body: res.body }).toEqual({ name, status: 400, body: { error: "invalid_request", error_description: "decryption_failed" } });
      answers.push({ text: res.text, type: res.headers["content-type"], length: res.headers["content-length"], cache: res.headers["cache-control"] });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
  });

  it("an algorithm the policy does not allow is its own reason, encryption_algorithm_not_allowed (decided before any key)", async () => {
    const b = enc;
    const gcm = encryptAssertion(assertion(b).assertion, { data: "aes256-gcm" });
    const mixed = encryptAssertion(assertion(b).assertion, { keyTransport: MIXED_OAEP });
    const cases: [string, string][] = [
      ["OAEP DigestMethod not allowed (md5)", mixed.replace("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/04/xmldsig-more#md5")],
      ["OAEP MGF not allowed", mixed.replace("http://www.w3.org/2009/xmlenc11#mgf1sha1", "http://www.w3.org/2009/xmlenc11#mgf1sha224")],
      ["rsa-1_5 key transport (refused by default)", encryptAssertion(assertion(b).assertion, { keyTransport: "rsa-1_5" })],
      ["data algorithm not allowed (aes192-cbc)", gcm.replace("http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#aes192-cbc")],
      ["data algorithm not allowed (tripledes-cbc, no IdP opt-in)", gcm.replace("http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#tripledes-cbc")],
      ["key transport not allowed (kw-aes256)", gcm.replace("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", "http://www.w3.org/2001/04/xmlenc#kw-aes256")],
    ];
    for (const [name, xml] of cases) {
      expect(xml, name).toContain("EncryptedAssertion");
      const res = await send(b, xml);
      expect({ name, status: res.status, body: res.body }).toEqual({ name, status: 400, body: { error: "invalid_request", error_description: "encryption_algorithm_not_allowed" } });
    }
  });

  it("the same in a Response (unsigned), bare or wrapped alike", async () => {
    const cbc = encryptAssertion(assertion(enc).assertion, { data: "aes256-cbc" });
    const bad = mutateCipher(cbc, "data", flip((n) => n - 17));
    const bare = await send(enc, bad);
    const wrapped = await send(enc, response(enc, bad));
    refused(bare, "decryption_failed");
    expect(wrapped.text).toBe(bare.text);
  });

  it("ciphertext flipped inside a signed Response → signature_invalid (verified over the encrypted form, before decrypting)", async () => {
    const signed = response(enc, encryptAssertion(assertion(enc).assertion, { data: "aes128-cbc" }), { sign: true });
    refused(await send(enc, mutateCipher(signed, "data", flip((n) => n - 17))), "signature_invalid");
  });
});

// ---- rsa-1_5 ------------------------------------------------------------------------------------------

describe("rsa-1_5 key transport (a padding oracle: off unless allowRsa15KeyTransport)", () => {
  it("refused by default → encryption_algorithm_not_allowed", async () => {
    const fx = assertion(enc);
    refused(await send(enc, encryptAssertion(fx.assertion, { keyTransport: "rsa-1_5" })), "encryption_algorithm_not_allowed");
  });

  it.each(["aes128-cbc", "aes256-gcm"] as const)("accepted with allowRsa15KeyTransport (%s, xmlsec1) → 200", async (data) => {
    const fx = assertion(enc15);
    ok(await send(enc15, encryptAssertion(fx.assertion, { data, keyTransport: "rsa-1_5" })), fx.nameId);
  });

  it("accepted with allowRsa15KeyTransport (xml-encryption) → 200", async () => {
    const fx = assertion(enc15);
    ok(await send(enc15, await encryptAssertionWithXmlEncryption(fx.assertion, { keyTransport: "rsa-1_5", data: "aes128-gcm" })), fx.nameId);
  });

  it("with the flag, a flipped EncryptedKey (PKCS#1 v1.5 padding) or another key is still just decryption_failed", async () => {
    const xml = encryptAssertion(assertion(enc15).assertion, { keyTransport: "rsa-1_5", data: "aes128-cbc" });
    for (const at of [() => 0, () => 1, (n: number) => n - 1, (n: number) => Math.floor(n / 2)]) {
      refused(await send(enc15, mutateCipher(xml, "key", flip(at))), "decryption_failed");
    }
    const other = encryptAssertion(assertion(enc15).assertion, { keyTransport: "rsa-1_5", cert: IDP2_CERT });
    refused(await send(enc15, other), "decryption_failed");
  });

  /** EB = 00 02 PS 00 K (RFC 8017 §7.2.1), made by hand so that single bytes can be wrong. */
  const eme15 = (edit: (eb: Buffer, sep: number) => void = () => {}) => (cek: Buffer, k: number): Buffer => {
    const eb = Buffer.alloc(k);
    eb[1] = 0x02;
    const sep = k - cek.length - 1;
    for (let i = 2; i < sep; i++) eb[i] = 1 + (randomBytes(1)[0]! % 255);
    cek.copy(eb, sep + 1);
    edit(eb, sep);
    return eb;
  };

  it.each<[string, (eb: Buffer, sep: number) => void, boolean]>([
    ["a well-formed block (control)", () => {}, true],
    ["block type 01 instead of 02", (eb) => void (eb[1] = 0x01), false],
    ["leading octet not 00", (eb) => void (eb[0] = 0x01), false],
    ["a zero octet inside PS (the separator comes early)", (eb, sep) => void (eb[sep - 3] = 0x00), false],
    ["separator not 00", (eb, sep) => void (eb[sep] = 0x07), false],
  ])("with the flag, hand-made PKCS#1 v1.5 block: %s", async (_name, edit, accepted) => {
    const fx = assertion(enc15);
    const res = await send(enc15, encryptAssertion(fx.assertion, { data: "aes256-gcm", keyTransport: { rawRsa15: eme15(edit) } }));
    if (accepted) ok(res, fx.nameId);
    else refused(res, "decryption_failed");
  });

  it("with the flag, rollover still works (old key)", async () => {
    const fx = assertion(enc15);
    ok(await send(enc15, encryptAssertion(fx.assertion, { keyTransport: "rsa-1_5", cert: BRIDGE_ENC_OLD_CERT })), fx.nameId);
  });
});

// ---- verified like a plain assertion ---------------------------------------------------------------

describe("after decryption: the same checks as a plain assertion", () => {
  it("encrypted but unsigned assertion (bare) → signature_missing", async () => {
    const fx = assertion(enc, { sign: false });
    refused(await send(enc, encryptAssertion(fx.assertion)), "signature_missing");
  });

  it("encrypted but unsigned assertion in a signed Response → signature_missing (assertion signature required)", async () => {
    const fx = assertion(enc, { sign: false });
    refused(await send(enc, response(enc, encryptAssertion(fx.assertion), { sign: true })), "signature_missing");
  });

  it("encrypted unsigned assertion in a signed Response, requireSignedAssertion:false → 200", async () => {
    const fx = assertion(lax, { sign: false });
    ok(await send(lax, response(lax, encryptAssertion(fx.assertion), { sign: true })), fx.nameId);
  });

  it("encrypted unsigned assertion in an UNSIGNED Response, requireSignedAssertion:false → signature_missing", async () => {
    const fx = assertion(lax, { sign: false });
    refused(await send(lax, response(lax, encryptAssertion(fx.assertion))), "signature_missing");
  });

  it("assertion signed by another key, then encrypted → signature_invalid", async () => {
    const id = randomSamlId("_a");
    const signed = signWithXmlsec1(buildAssertion2({ id, now: new Date(enc.clock.now) }), id, { key: KEYS.attacker });
    refused(await send(enc, encryptAssertion(signed)), "signature_invalid");
  });

  it("a signed assertion tampered with before encryption → signature_invalid", async () => {
    const fx = assertion(enc);
    const tampered = fx.assertion.replace(fx.nameId, "mallory@example.com");
    refused(await send(enc, encryptAssertion(tampered)), "signature_invalid");
  });

  it("encrypted expired assertion → assertion_expired", async () => {
    const id = randomSamlId("_a");
    const now = enc.clock.now;
    const xml = buildAssertion2({ id, now: new Date(now), notOnOrAfter: new Date(now - 120_000), scdNotOnOrAfter: new Date(now - 120_000), notBefore: new Date(now - 240_000) });
    refused(await send(enc, encryptAssertion(signWithXmlsec1(xml, id, { key: KEYS.idp1 }))), "assertion_expired");
  });

  it("encrypted assertion for another audience → audience_mismatch", async () => {
    const fx = assertion(enc, { audiences: ["https://other-sp.example"] });
    refused(await send(enc, encryptAssertion(fx.assertion)), "audience_mismatch");
  });

  it("a Response around an encrypted assertion must name its Issuer (Profiles §4.1.4.2) → issuer_missing", async () => {
    const fx = assertion(enc);
    refused(await send(enc, response(enc, encryptAssertion(fx.assertion), { issuer: null })), "issuer_missing");
  });

  it("Response Issuer idp2 around idp1's encrypted assertion → decryption_failed (the plaintext's Issuer must be the IdP the Response chose: one answer, nothing of idp1's processed as idp2's)", async () => {
    const fx = assertion(enc);
    refused(await send(enc, response(enc, encryptAssertion(fx.assertion), { issuer: IDP2 })), "decryption_failed");
  });
});

// ---- shape (D15) ------------------------------------------------------------------------------------

describe("shape (D15)", () => {
  it("Assertion + EncryptedAssertion in one Response → saml_shape_invalid", async () => {
    const a = assertion(enc);
    const b = assertion(enc);
    refused(await send(enc, response(enc, [a.assertion, encryptAssertion(b.assertion)], { sign: true })), "saml_shape_invalid");
    refused(await send(enc, response(enc, [encryptAssertion(b.assertion), a.assertion])), "saml_shape_invalid");
  });

  it("two EncryptedAssertions → saml_shape_invalid", async () => {
    const a = assertion(enc);
    const b = assertion(enc);
    refused(await send(enc, response(enc, [encryptAssertion(a.assertion), encryptAssertion(b.assertion)])), "saml_shape_invalid");
  });

  it("a plain assertion is still accepted by a bridge with decryption keys", async () => {
    const fx = assertion(enc);
    ok(await send(enc, fx.assertion), fx.nameId);
  });
});

// ---- replay ---------------------------------------------------------------------------------------------

describe("replay", () => {
  it("the same encrypted assertion twice → replayed", async () => {
    const fx = assertion(enc);
    const xml = encryptAssertion(fx.assertion);
    ok(await send(enc, xml), fx.nameId);
    refused(await send(enc, xml), "replayed");
  });

  it("re-encrypting (or unwrapping) a used assertion does not make it new → replayed", async () => {
    const fx = assertion(enc);
    ok(await send(enc, encryptAssertion(fx.assertion, { data: "aes128-gcm" })), fx.nameId);
    refused(await send(enc, encryptAssertion(fx.assertion, { data: "aes256-cbc", cert: BRIDGE_ENC_OLD_CERT })), "replayed");
    refused(await send(enc, fx.assertion), "replayed");
  });
});

// ---- configuration ---------------------------------------------------------------------------------------

describe("saml.decryptionKeys at start-up", () => {
  const configError = async (keys: object[]): Promise<{ path: string; message: string }[]> => {
    const err = await startBridge({ patch: withKeys(keys) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues as { path: string; message: string }[];
  };

  it("missing private key file → saml.decryptionKeys[i].privateKeyFile", async () => {
    const issues = await configError([NEW_KEY, { ...OLD_KEY, privateKeyFile: "keys/nope.key" }]);
    expect(issues[0]!.path).toBe("saml.decryptionKeys[1].privateKeyFile");
  });

  it("missing certificate file → saml.decryptionKeys[i].certificateFile", async () => {
    const issues = await configError([{ ...NEW_KEY, certificateFile: "keys/nope.crt" }]);
    expect(issues[0]!.path).toBe("saml.decryptionKeys[0].certificateFile");
  });

  it("certificate of another key → certificateFile: does not match", async () => {
    const issues = await configError([{ ...NEW_KEY, certificateFile: "keys/bridge-enc-old.crt" }]);
    expect(issues[0]).toEqual({ path: "saml.decryptionKeys[0].certificateFile", message: "certificate does not match privateKeyFile" });
  });

  it("an EC key → privateKeyFile (RSA key transport only)", async () => {
    const issues = await configError([{ privateKeyFile: "keys/idp-ec.key", certificateFile: "keys/idp-ec.crt" }]);
    expect(issues[0]!.path).toBe("saml.decryptionKeys[0].privateKeyFile");
  });

  it("an RSA-1024 key → privateKeyFile", async () => {
    const issues = await configError([{ privateKeyFile: "keys/weak1024.key", certificateFile: "keys/weak1024.crt" }]);
    expect(issues[0]!.path).toBe("saml.decryptionKeys[0].privateKeyFile");
  });

  it("a certificate where the key should be → privateKeyFile", async () => {
    const issues = await configError([{ privateKeyFile: "keys/bridge-enc.crt", certificateFile: "keys/bridge-enc.crt" }]);
    expect(issues[0]!.path).toBe("saml.decryptionKeys[0].privateKeyFile");
  });
});
