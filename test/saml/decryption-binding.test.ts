// Decryption bound to the right IdP (issue 9) and tripledes-cbc as a per-IdP opt-in (issue 8).
//  - CBC content (AES or triple DES) is decrypted only under a verified Response signature whose
//    signer is the IdP the assertion is attributed to, decided before any key is touched; an
//    algorithm the policy does not allow is `encryption_algorithm_not_allowed` (before any key).
//  - Under IdP B's signed Response, the plaintext must be B's assertion: IdP A's captured
//    ciphertext (CBC, GCM, or CBC relabelled as GCM) is `decryption_failed`, the same answer as a
//    corrupted ciphertext, never A's assertion processed further.
//  - pysaml2 always encrypts with tripledes-cbc: accepted only for an IdP with allowTripleDesCbc.
// "No key touched" is proven with a decryption key whose private key counts its reads, in
// verifySaml2Token called directly (everything else about it is the real code path).
import { readFileSync } from "node:fs";
import { constants, createCipheriv, createPrivateKey, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId } from "../support/saml-builder.js";
import { KEYS, pysaml2Responses, signWithXmlsec1, toBase64Url, type KeyPair } from "../support/independent-signers.js";
import { encryptAssertion, encryptAssertionWithXmlEncryption, type DataAlg } from "../support/independent-encrypt.js";
import { BRIDGE_ENC_CERT, BRIDGE_ENC_KEY, BRIDGE_ENTITY_ID, IDP1, IDP2, METADATA_IDP1, METADATA_IDP2, TOKEN_ENDPOINT } from "../support/constants.js";
import { verifySaml2Token, type Saml2Context } from "../../src/saml/saml2.js";
import { IdpRegistry, trustedIdp } from "../../src/saml/idp-registry.js";
import { parseIdpMetadata } from "../../src/saml/metadata.js";
import type { DecryptionKey } from "../../src/saml/decrypt.js";
import { isOAuthError } from "../../src/oauth/errors.js";

type Res = { status: number; body: any; headers: Record<string, any>; text: string };

const KEY = { privateKeyFile: "keys/bridge-enc.key", certificateFile: "keys/bridge-enc.crt" };
const idpOf = (c: Record<string, any>, id: string): Record<string, any> => c.samlIdps.find((i: { id: string }) => i.id === id);

/** Decryption keys, default policy: no triple DES for anyone. */
let strict: TestBridge;
/** The same, idp1 opted in to tripledes-cbc. */
let tdes: TestBridge;
beforeAll(async () => {
  strict = await startBridge({ patch: (c) => { c.saml = { ...c.saml, decryptionKeys: [KEY] }; } });
  tdes = await startBridge({
    patch: (c) => {
      c.saml = { ...c.saml, decryptionKeys: [KEY] };
      idpOf(c, "idp1").allowTripleDesCbc = true;
    },
  });
});
afterAll(async () => {
  for (const b of [strict, tdes]) await b?.close();
});

// ---- fixtures ------------------------------------------------------------------------------------

/** A signed assertion from `issuer` (idp1 or idp2), as plaintext XML. */
function signedAssertion(now: number, issuer: string, key: KeyPair): { xml: string; nameId: string } {
  const id = randomSamlId("_a");
  const nameId = `${id.slice(2, 10)}@example.com`;
  return { xml: signWithXmlsec1(buildAssertion2({ id, issuer, nameId, now: new Date(now) }), id, { key }), nameId };
}

/** A samlp:Response (Issuer `issuer`) around `inner`, signed with `key` unless null. */
function response(now: number, inner: string, issuer: string, key: KeyPair | null): string {
  const id = randomSamlId("_r");
  const xml = buildResponse2(inner, { id, issuer, now: new Date(now) });
  return key ? signWithXmlsec1(xml, id, { key }) : xml;
}

const GCM_URI = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const CBC_URI = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
const TDES_URI = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc";

const send = (b: TestBridge, xml: string): Promise<Res> => exchange(b, { xml, scope: "read" }) as unknown as Promise<Res>;

function ok(res: Res, nameId: string, idp = IDP1): void {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const p = decodeJwt(res.body.access_token).payload;
  expect(p.sub).toBe(nameId);
  expect(p.idp).toBe(idp);
}

function refused(res: Res, reason: string): void {
  expectError(res, 400, "invalid_request", reason);
  expect(JSON.stringify(res.body)).not.toMatch(/<|@example\.com/);
}

// ---- tripledes-cbc ---------------------------------------------------------------------------------

describe("tripledes-cbc (pysaml2's only choice): a per-IdP opt-in", () => {
  it("pysaml2 output (signed Response and assertion, tripledes-cbc + rsa-oaep-mgf1p): 200 with allowTripleDesCbc, encryption_algorithm_not_allowed without", async () => {
    const [forTdes, forStrict] = pysaml2Responses([
      { signAssertion: true, signResponse: true, encryptFor: BRIDGE_ENC_CERT, nameId: "pysaml2-a@example.com" },
      { signAssertion: true, signResponse: true, encryptFor: BRIDGE_ENC_CERT, nameId: "pysaml2-b@example.com" },
    ]);
    for (const xml of [forTdes!, forStrict!]) {
      expect(xml).toContain(TDES_URI);
      expect(xml).toContain("EncryptedAssertion");
    }
    ok(await send(tdes, forTdes!), "pysaml2-a@example.com");
    refused(await send(strict, forStrict!), "encryption_algorithm_not_allowed");
  });

  it("pysaml2 output with the Response unsigned (assertion signed inside): still CBC → encryption_algorithm_not_allowed", async () => {
    const [xml] = pysaml2Responses([{ signAssertion: true, signResponse: false, encryptFor: BRIDGE_ENC_CERT }]);
    expect(xml).toContain(TDES_URI);
    refused(await send(tdes, xml!), "encryption_algorithm_not_allowed");
  });

  it("xmlsec1 and xml-encryption (npm) tripledes-cbc in an idp1-signed Response → 200 with the opt-in", async () => {
    const a = signedAssertion(tdes.clock.now, IDP1, KEYS.idp1);
    ok(await send(tdes, response(tdes.clock.now, encryptAssertion(a.xml, { data: "tripledes-cbc" }), IDP1, KEYS.idp1)), a.nameId);
    const b = signedAssertion(tdes.clock.now, IDP1, KEYS.idp1);
    const enc = await encryptAssertionWithXmlEncryption(b.xml, { data: "tripledes-cbc" });
    expect(enc).toContain(TDES_URI);
    ok(await send(tdes, response(tdes.clock.now, enc, IDP1, KEYS.idp1)), b.nameId);
  });

  it("with the opt-in, a bare EncryptedAssertion or an unsigned Response → encryption_algorithm_not_allowed", async () => {
    const a = signedAssertion(tdes.clock.now, IDP1, KEYS.idp1);
    const enc = encryptAssertion(a.xml, { data: "tripledes-cbc" });
    refused(await send(tdes, enc), "encryption_algorithm_not_allowed");
    refused(await send(tdes, response(tdes.clock.now, enc, IDP1, null)), "encryption_algorithm_not_allowed");
  });

  it("the opt-in is idp1's: idp2's signed tripledes Response → encryption_algorithm_not_allowed", async () => {
    const a = signedAssertion(tdes.clock.now, IDP2, KEYS.idp2);
    refused(await send(tdes, response(tdes.clock.now, encryptAssertion(a.xml, { data: "tripledes-cbc" }), IDP2, KEYS.idp2)), "encryption_algorithm_not_allowed");
  });

  it("with the opt-in, a padding probe on a signed tripledes ciphertext (last-but-one block flipped) → signature_invalid, before decryption", async () => {
    const a = signedAssertion(tdes.clock.now, IDP1, KEYS.idp1);
    const signed = response(tdes.clock.now, encryptAssertion(a.xml, { data: "tripledes-cbc" }), IDP1, KEYS.idp1);
    const flipped = signed.replace(/(<xenc:CipherValue>)([^<]*)(<\/xenc:CipherValue><\/xenc:CipherData><\/xenc:EncryptedData>)/, (_m, o: string, v: string, c: string) => {
      const bytes = Buffer.from(v.replace(/\s+/g, ""), "base64");
      bytes[bytes.length - 9]! ^= 0x01;
      return o + bytes.toString("base64") + c;
    });
    expect(flipped).not.toBe(signed);
    refused(await send(tdes, flipped), "signature_invalid");
  });
});

// ---- binding (issue 9) -----------------------------------------------------------------------------

describe("decryption bound to the Response's signer (HTTP)", () => {
  const cases: [string, DataAlg, ((xml: string) => string) | undefined][] = [
    ["CBC", "aes256-cbc", undefined],
    ["GCM", "aes256-gcm", undefined],
    ["CBC relabelled as GCM", "aes256-cbc", (x) => x.replace(CBC_URI, GCM_URI)],
    ["GCM relabelled as CBC", "aes256-gcm", (x) => x.replace(GCM_URI, CBC_URI)],
  ];

  it.each(cases)("idp2's signed Response (Issuer idp2) around idp1's %s encrypted assertion → decryption_failed", async (_name, data, relabel) => {
    const a = signedAssertion(strict.clock.now, IDP1, KEYS.idp1);
    let enc = encryptAssertion(a.xml, { data });
    if (relabel) {
      const before = enc;
      enc = relabel(enc);
      expect(enc).not.toBe(before);
    }
    refused(await send(strict, response(strict.clock.now, enc, IDP2, KEYS.idp2)), "decryption_failed");
  });

  it("…the same answer, byte for byte, as a corrupted ciphertext under idp2's own signature", async () => {
    const a = signedAssertion(strict.clock.now, IDP1, KEYS.idp1);
    const wrapped = await send(strict, response(strict.clock.now, encryptAssertion(a.xml, { data: "aes256-cbc" }), IDP2, KEYS.idp2));
    const own = signedAssertion(strict.clock.now, IDP2, KEYS.idp2);
    const garbled = encryptAssertion(own.xml, { data: "aes256-cbc" }).replace(/(<xenc:CipherValue>)([^<]*)(<\/xenc:CipherValue><\/xenc:CipherData><\/xenc:EncryptedData>)/, (_m, o: string, v: string, c: string) => {
      const bytes = Buffer.from(v.replace(/\s+/g, ""), "base64");
      bytes[bytes.length - 17]! ^= 0x01;
      return o + bytes.toString("base64") + c;
    });
    const corrupted = await send(strict, response(strict.clock.now, garbled, IDP2, KEYS.idp2));
    refused(wrapped, "decryption_failed");
    expect(corrupted.text).toBe(wrapped.text);
  });

  it("control: idp2's own CBC assertion under its own signed Response → 200 (idp2)", async () => {
    const own = signedAssertion(strict.clock.now, IDP2, KEYS.idp2);
    ok(await send(strict, response(strict.clock.now, encryptAssertion(own.xml, { data: "aes256-cbc" }), IDP2, KEYS.idp2)), own.nameId, IDP2);
  });

  it("control: idp1's CBC assertion under idp1's signed Response → 200", async () => {
    const a = signedAssertion(strict.clock.now, IDP1, KEYS.idp1);
    ok(await send(strict, response(strict.clock.now, encryptAssertion(a.xml, { data: "aes256-cbc" }), IDP1, KEYS.idp1)), a.nameId);
  });

  it("a Response naming idp1 but signed with idp2's key → signature_invalid (before decryption)", async () => {
    const a = signedAssertion(strict.clock.now, IDP1, KEYS.idp1);
    refused(await send(strict, response(strict.clock.now, encryptAssertion(a.xml, { data: "aes256-cbc" }), IDP1, KEYS.idp2)), "signature_invalid");
  });
});

// ---- no key touched -----------------------------------------------------------------------------------

describe("decided before any key is touched (verifySaml2Token with a key that counts its use)", () => {
  let reads = 0;
  const realKey: KeyObject = createPrivateKey(readFileSync(BRIDGE_ENC_KEY));
  const spyKey: DecryptionKey = {
    get privateKey() {
      reads++;
      return realKey;
    },
    certificatePem: readFileSync(BRIDGE_ENC_CERT, "utf8"),
    fingerprint: "spy",
  };
  const settings = { allowSha1: false, requireSignedAssertion: true, recipients: [TOKEN_ENDPOINT], maxAssertionAgeSeconds: 300, mapping: { subject: { nameId: true as const }, claims: {}, scopes: [], require: [] } };
  const registry = (tdesFor1: boolean): IdpRegistry =>
    new IdpRegistry([
      trustedIdp("idp1", parseIdpMetadata(readFileSync(METADATA_IDP1, "utf8")), { ...settings, allowTripleDesCbc: tdesFor1 }, TOKEN_ENDPOINT),
      trustedIdp("idp2", parseIdpMetadata(readFileSync(METADATA_IDP2, "utf8")), settings, TOKEN_ENDPOINT),
    ]);
  const ctx = (now: number, tdesFor1 = false): Saml2Context => ({
    now,
    skewMs: 60_000,
    acceptedAudiences: new Set([BRIDGE_ENTITY_ID]),
    limits: { maxDepth: 48, maxElements: 2000, maxTokenBytes: 131_072 },
    idps: registry(tdesFor1),
    decryption: { keys: [spyKey], allowRsa15KeyTransport: false, allowUnsignedCbc: false },
  });

  /** The reason verifySaml2Token refuses with, and how often the private key was read meanwhile. */
  function attempt(xml: string, now: number, tdesFor1 = false): { reason: string; reads: number } {
    reads = 0;
    try {
      verifySaml2Token(toBase64Url(xml), ctx(now, tdesFor1));
      return { reason: "accepted", reads };
    } catch (e) {
      if (!isOAuthError(e)) throw e;
      return { reason: e.reason, reads };
    }
  }

  const now = Date.now();
  const a1 = (): string => signedAssertion(now, IDP1, KEYS.idp1).xml;

  it("control: idp1's CBC assertion under idp1's signed Response is decrypted (the key is read) and accepted", () => {
    const r = attempt(response(now, encryptAssertion(a1(), { data: "aes128-cbc" }), IDP1, KEYS.idp1), now);
    expect(r.reason).toBe("accepted");
    expect(r.reads).toBeGreaterThan(0);
  });

  it.each([
    ["a Response naming idp1 signed with idp2's key (CBC)", "signature_invalid", () => response(now, encryptAssertion(a1(), { data: "aes128-cbc" }), IDP1, KEYS.idp2)],
    ["a Response naming idp1 signed with idp2's key (GCM)", "signature_invalid", () => response(now, encryptAssertion(a1(), { data: "aes256-gcm" }), IDP1, KEYS.idp2)],
    ["an unsigned Response around CBC", "encryption_algorithm_not_allowed", () => response(now, encryptAssertion(a1(), { data: "aes256-cbc" }), IDP1, null)],
    ["a bare CBC EncryptedAssertion", "encryption_algorithm_not_allowed", () => encryptAssertion(a1(), { data: "aes128-cbc" })],
    ["tripledes-cbc under idp2's signed Response (no opt-in)", "encryption_algorithm_not_allowed", () => response(now, encryptAssertion(signedAssertion(now, IDP2, KEYS.idp2).xml, { data: "tripledes-cbc" }), IDP2, KEYS.idp2)],
    ["rsa-1_5 key transport", "encryption_algorithm_not_allowed", () => response(now, encryptAssertion(a1(), { keyTransport: "rsa-1_5" }), IDP1, KEYS.idp1)],
    ["an unknown content algorithm", "encryption_algorithm_not_allowed", () => encryptAssertion(a1()).replace(GCM_URI, "http://www.w3.org/2001/04/xmlenc#aes192-cbc")],
  ] as [string, string, () => string][])("%s → %s, no key read", (_name, reason, make) => {
    const r = attempt(make(), now);
    expect(r).toEqual({ reason, reads: 0 });
  });

  it("idp2's signed Response around idp1's ciphertext: decryption runs (nothing before it names idp1) but ends in decryption_failed", () => {
    for (const data of ["aes128-cbc", "aes256-gcm"] as DataAlg[]) {
      const r = attempt(response(now, encryptAssertion(a1(), { data }), IDP2, KEYS.idp2), now);
      expect(r.reason, data).toBe("decryption_failed");
    }
  });

  it("the tripledes opt-in is read per IdP: the same idp2 document with idp1 opted in is still refused before any key", () => {
    const xml = response(now, encryptAssertion(signedAssertion(now, IDP2, KEYS.idp2).xml, { data: "tripledes-cbc" }), IDP2, KEYS.idp2);
    expect(attempt(xml, now, true)).toEqual({ reason: "encryption_algorithm_not_allowed", reads: 0 });
    const mine = response(now, encryptAssertion(a1(), { data: "tripledes-cbc" }), IDP1, KEYS.idp1);
    expect(attempt(mine, now, true).reason).toBe("accepted");
  });

  /**
   * An EncryptedAssertion made by hand (node:crypto AES-128-CBC, RSA-OAEP key transport to the
   * bridge's certificate) so that the padding octets are ours: `pad(plaintext)` returns what is
   * encrypted. Negative fixtures only; the positive ones above come from xmlsec1, xml-encryption
   * and pysaml2.
   */
  function handMadeCbc(plaintext: string, pad: (p: Buffer) => Buffer): string {
    const key = randomBytes(16);
    const iv = randomBytes(16);
    const cipher = createCipheriv("aes-128-cbc", key, iv);
    cipher.setAutoPadding(false);
    const body = Buffer.concat([iv, cipher.update(pad(Buffer.from(plaintext, "utf8"))), cipher.final()]);
    const wrapped = publicEncrypt({ key: readFileSync(BRIDGE_ENC_CERT), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, key);
    const X = "http://www.w3.org/2001/04/xmlenc#";
    return (
      `<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="${X}" Type="${X}Element">` +
      `<xenc:EncryptionMethod Algorithm="${X}aes128-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>` +
      `<xenc:EncryptionMethod Algorithm="${X}rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue>${wrapped.toString("base64")}</xenc:CipherValue></xenc:CipherData>` +
      `</xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>${body.toString("base64")}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>`
    );
  }
  /** Pads to whole blocks with `fill` octets (at least `min`) and then `last` as the final octet. */
  const padWith = (last: number, min = 1) => (p: Buffer): Buffer => {
    let n = 16 - ((p.length + 1) % 16);
    if (n < min) n += 16;
    return Buffer.concat([p, Buffer.alloc(n, 0x20), Buffer.from([last])]);
  };

  it("CBC padding: a good final octet is accepted; a bad one (0, 17, 255) is decryption_failed even though the plaintext without it parses", () => {
    const proper = (p: Buffer): Buffer => {
      const n = 16 - (p.length % 16);
      return Buffer.concat([p, randomBytes(n - 1), Buffer.from([n])]);
    };
    expect(attempt(response(now, handMadeCbc(a1(), proper), IDP1, KEYS.idp1), now).reason).toBe("accepted");
    for (const last of [0x00, 0x11, 0xff]) {
      // The octets before the bad final one are the assertion and spaces: cut as if the pad were 1,
      // they parse, so only the combined padding verdict can refuse.
      const r = attempt(response(now, handMadeCbc(a1(), padWith(last)), IDP1, KEYS.idp1), now);
      expect({ last, reason: r.reason }).toEqual({ last, reason: "decryption_failed" });
    }
  });
});
