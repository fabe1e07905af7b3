/**
 * Mutation testing (issue 8, docs/mutation-testing.md, "Sampled runs"): tests for the survivors and
 * no-coverage mutants of the sampled src/saml run (scripts/mutation-sample.mjs, seed 20261205, 15 %)
 * and of the earlier partial decrypt.ts run. Each describe names the lines it pins. Encrypted
 * fixtures come from xmlsec1 (test/support/independent-encrypt.ts), edited after encryption where a
 * test needs another shape; functions are called directly with a fixed key set and binding.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptAssertion, type CiphertextBinding, type DecryptionKey } from "../../src/saml/decrypt.js";
import { isOAuthError } from "../../src/oauth/errors.js";
import { NS, children, text } from "../../src/xml/dom.js";
import { checkDomBounds, parseUntrustedXml, parseXmlStrict } from "../../src/xml/safe-parse.js";
import { encryptAssertion } from "../support/independent-encrypt.js";
import { buildAssertion2, buildResponse2, randomSamlId, samlTime, stripXmlDecl } from "../support/saml-builder.js";
import { KEYS, signSaml11WithXmlsec1, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";
import { KEYS_IDP11, METADATA_IDP11, buildAssertion11, buildResponse11, randomSaml11Id } from "../support/saml1-builder.js";
import { outcome } from "../support/outcome.js";
import { verifySaml2Token } from "../../src/saml/saml2.js";
import { verifySaml1Token } from "../../src/saml/saml1.js";
import { IdpRegistry, trustedIdp } from "../../src/saml/idp-registry.js";
import { parseIdpMetadata } from "../../src/saml/metadata.js";
import { metadataFor } from "../support/metadata-builder.js";
import { CLIENTS, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ENC_CERT, BRIDGE_ENC_KEY, BRIDGE_ENTITY_ID, IDP1, IDP1_CERT, IDP2, METADATA_IDP1, TOKEN_ENDPOINT } from "../support/constants.js";

const LIMITS = { maxDepth: 48, maxElements: 2000 };
const XENC = "http://www.w3.org/2001/04/xmlenc#";

// ---- decrypt.ts ------------------------------------------------------------------------------------

/** The bridge's test encryption key (test/fixtures/keys/bridge-enc.key), shared or bound to idp1. */
const privateKey = createPrivateKey(readFileSync(BRIDGE_ENC_KEY));
const certificatePem = readFileSync(BRIDGE_ENC_CERT, "utf8");
const SHARED: DecryptionKey = { privateKey, certificatePem, fingerprint: "shared", idps: undefined };
const IDP1_ONLY: DecryptionKey = { privateKey, certificatePem, fingerprint: "idp1-only", idps: ["idp1"] };

const idpIdOf = (entityId: string): string | undefined => (entityId === IDP1 ? "idp1" : entityId === IDP2 ? "idp2" : undefined);
/** A bare EncryptedAssertion: nothing vouches for the ciphertext, no IdP known before the plaintext. */
const BARE: CiphertextBinding = { signedBy: undefined, attributedTo: undefined, attributedIdp: undefined, allowTripleDes: false, idpIdOf };
/** An unsigned Response whose Issuer names idp2. */
const UNSIGNED_IDP2: CiphertextBinding = { signedBy: undefined, attributedTo: IDP2, attributedIdp: "idp2", allowTripleDes: false, idpIdOf };

/** "accepted <Issuer of the decrypted assertion>", or the reason code; anything else is rethrown. */
function decrypt(xml: string, keys: DecryptionKey[], binding: CiphertextBinding = BARE, allowRsa15KeyTransport = false): string {
  const el = parseUntrustedXml(xml, LIMITS).documentElement!;
  try {
    const { assertion } = decryptAssertion(el, { keys, allowRsa15KeyTransport, allowUnsignedCbc: false }, LIMITS, binding);
    return `accepted ${text(children(assertion, NS.saml2, "Issuer")[0]!)}`;
  } catch (e) {
    if (isOAuthError(e)) return e.reason;
    throw e;
  }
}

/** Replaces exactly one occurrence of `from` (a test that edits nothing would prove nothing). */
function once(xml: string, from: string | RegExp, to: string): string {
  const hits = typeof from === "string" ? xml.split(from).length - 1 : (xml.match(new RegExp(from.source, from.flags.includes("g") ? from.flags : from.flags + "g")) ?? []).length;
  if (hits !== 1) throw new Error(`expected one ${String(from)}, found ${hits}`);
  return xml.replace(from, to);
}

const ENCRYPTED_KEY = /<xenc:EncryptedKey>[\s\S]*?<\/xenc:EncryptedKey>/;

/** The EncryptedKey taken out of EncryptedData/ds:KeyInfo (KeyInfo removed) and returned with the rest. */
function takeKey(xml: string): { key: string; rest: string } {
  const key = ENCRYPTED_KEY.exec(xml)![0];
  const rest = once(xml, /<ds:KeyInfo xmlns:ds="[^"]+">[\s\S]*?<\/ds:KeyInfo>/, "");
  return { key, rest };
}

/** xenc declared on the root so that markup moved out of the EncryptedData keeps its prefix. */
function declareXencOnRoot(xml: string): string {
  return once(xml, "<saml:EncryptedAssertion ", `<saml:EncryptedAssertion xmlns:xenc="${XENC}" `);
}

describe("decrypt.ts: the element and the usable keys are checked first (:201)", () => {
  let gcm: string;
  let cbc: string;
  beforeAll(() => {
    gcm = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes256-gcm" });
    cbc = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes128-cbc" });
  });

  it("control: xmlsec1's GCM EncryptedAssertion decrypts with a shared key, bare, and with idp1's key under idp1", () => {
    expect(decrypt(gcm, [SHARED])).toBe(`accepted ${IDP1}`);
    expect(decrypt(gcm, [IDP1_ONLY], { ...UNSIGNED_IDP2, attributedTo: IDP1, attributedIdp: "idp1" })).toBe(`accepted ${IDP1}`);
  });

  // EncryptedID, EncryptedAttribute and NewEncryptedID share EncryptedElementType (SAML Core
  // §2.2.4): the same ciphertext under another name is no assertion, whatever it decrypts to.
  it.each([
    ["saml:EncryptedID", "saml:EncryptedID", NS.saml2],
    ["saml:EncryptedAttribute", "saml:EncryptedAttribute", NS.saml2],
    ["samlp:NewEncryptedID", "saml:NewEncryptedID", NS.samlp2],
    ["an EncryptedAssertion of the SAML 2.0 protocol namespace", "saml:EncryptedAssertion", NS.samlp2],
    ["an EncryptedAssertion of the SAML 1.0 assertion namespace", "saml:EncryptedAssertion", NS.saml1],
  ])("%s around a valid ciphertext → decryption_failed", (_what, name, ns) => {
    const renamed = gcm
      .replace(`<saml:EncryptedAssertion xmlns:saml="${NS.saml2}"`, `<${name} xmlns:saml="${ns}"`)
      .replace("</saml:EncryptedAssertion>", `</${name}>`);
    expect(renamed).not.toContain("EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"");
    expect(decrypt(renamed, [SHARED])).toBe("decryption_failed");
  });

  it("no key usable for the Response's IdP → decryption_failed before the algorithm is judged (unsigned CBC, unknown algorithm)", () => {
    // Control: with a shared key the same unsigned CBC is an algorithm refusal.
    expect(decrypt(cbc, [SHARED], UNSIGNED_IDP2)).toBe("encryption_algorithm_not_allowed");
    // idp1's key only, ciphertext attributed to idp2: nothing is left to decrypt with.
    expect(decrypt(cbc, [IDP1_ONLY], UNSIGNED_IDP2)).toBe("decryption_failed");
    const unknownAlg = once(gcm, "http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2009/xmlenc11#aes512-gcm");
    expect(decrypt(unknownAlg, [SHARED], UNSIGNED_IDP2)).toBe("encryption_algorithm_not_allowed");
    expect(decrypt(unknownAlg, [IDP1_ONLY], UNSIGNED_IDP2)).toBe("decryption_failed");
    // No key configured at all (the caller refuses that earlier; the function on its own too).
    expect(decrypt(cbc, [], BARE)).toBe("decryption_failed");
    expect(decrypt(unknownAlg, [], BARE)).toBe("decryption_failed");
  });
});

/**
 * Chosen plaintext octets as an EncryptedAssertion: xmlsec1 --binary-data fills the same template
 * independent-encrypt.ts uses (aes256-gcm content, rsa-oaep-mgf1p to the bridge's test cert), so the
 * plaintext can carry what libxml2 never serializes from an element (an XML declaration, a comment or
 * CDATA beside the assertion). `rootAttrs` adds namespace declarations around the ciphertext.
 */
function encryptOctets(plaintext: string, rootAttrs = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "fedbridge-mut-"));
  try {
    writeFileSync(join(dir, "data.bin"), plaintext);
    writeFileSync(
      join(dir, "template.xml"),
      `<xenc:EncryptedData xmlns:xenc="${XENC}" Type="${XENC}Element">` +
        `<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>` +
        `<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="${XENC}rsa-oaep-mgf1p"/>` +
        "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>" +
        "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>",
    );
    const out = execFileSync("/usr/bin/xmlsec1", [
      "--encrypt", "--pubkey-cert-pem", BRIDGE_ENC_CERT, "--session-key", "aes-256", "--binary-data", join(dir, "data.bin"), join(dir, "template.xml"),
    ], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return `<saml:EncryptedAssertion xmlns:saml="${NS.saml2}"${rootAttrs}>${stripXmlDecl(out).trim()}</saml:EncryptedAssertion>`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("decrypt.ts: the plaintext octets (:548-556, :583)", () => {
  let assertion: string;
  beforeAll(() => {
    assertion = stripXmlDecl(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }));
  });
  const run = (plaintext: string, rootAttrs = ""): string => decrypt(encryptOctets(plaintext, rootAttrs), [SHARED]);

  it("control: the bare assertion octets", () => {
    expect(run(assertion)).toBe(`accepted ${IDP1}`);
  });

  it.each([
    '<?xml version="1.0"?>',
    '<?xml version="1.0" encoding="UTF-8"?>',
    "<?xml version='1.0' encoding='utf-8'?>",
    '<?xml version="1.0" encoding = "Utf-8" standalone="yes"?>',
    '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n',
  ])("an XML declaration of UTF-8 (or none named) before the assertion is read past: %j → accepted", (decl) => {
    expect(run(decl + assertion)).toBe(`accepted ${IDP1}`);
  });

  it.each([
    '<?xml version="1.0" encoding="ISO-8859-1"?>',
    '<?xml version="1.0" encoding ="ISO-8859-1"?>',
    '<?xml version="1.0" encoding= "US-ASCII"?>',
    "<?xml version='1.0' encoding  =  'latin1'?>",
    '<?xml version="1.0" encoding="UTF-16"?>',
  ])("an XML declaration naming another encoding → decryption_failed: %j", (decl) => {
    expect(run(decl + assertion)).toBe("decryption_failed");
  });

  it("a byte order mark before bare octets is dropped; one inside the assertion is kept, byte for byte", () => {
    expect(run(`\uFEFF${assertion}`)).toBe(`accepted ${IDP1}`);
    const inner = once(assertion, "alice@example.com", "alice\uFEFF@example.com");
    const { xml } = decryptAssertion(
      parseUntrustedXml(encryptOctets(inner), LIMITS).documentElement!, { keys: [SHARED], allowRsa15KeyTransport: false, allowUnsignedCbc: false }, LIMITS, BARE,
    );
    expect(xml).toContain("alice\uFEFF@example.com");
  });

  it("whitespace of any length around the assertion is skipped (XML 1.0 S: space, tab, CR, LF)", () => {
    expect(run(`\n  \t${assertion}\n\n  `)).toBe(`accepted ${IDP1}`);
    expect(run(`\u00A0${assertion}`)).toBe("decryption_failed");
  });

  it("only a declaration at the very start is one: the same text inside a comment is a comment", () => {
    expect(run(`<!-- <?xml version="1.0"?> -->${assertion}`)).toBe(`accepted ${IDP1}`);
    expect(run(`<!-- <?xml version="1.0" encoding="ISO-8859-1"?> -->${assertion}`)).toBe(`accepted ${IDP1}`);
  });

  it("the wrapper carries the namespace declarations in scope and nothing else (no attribute of the ciphertext's ancestors)", () => {
    const { xml } = decryptAssertion(
      parseUntrustedXml(encryptOctets(assertion, ' ID="_outer" Foo="bar" xmlns:x="urn:example:x" x:y="z"'), LIMITS).documentElement!,
      { keys: [SHARED], allowRsa15KeyTransport: false, allowUnsignedCbc: false }, LIMITS, BARE,
    );
    const wrapper = parseUntrustedXml(xml, LIMITS).documentElement!;
    const names = Array.from({ length: wrapper.attributes.length }, (_, i) => wrapper.attributes.item(i)!.name).sort();
    expect(names.filter((n) => n !== "xmlns" && !n.startsWith("xmlns:"))).toEqual([]);
    expect(names).toContain("xmlns:x");
    expect(names).toContain("xmlns:saml");
  });

  it("the token's maxNodes bounds the plaintext's own nodes, the wrapper (element and declarations) allowed for on top (:568)", () => {
    const n = checkDomBounds(parseXmlStrict(assertion), LIMITS).nodes;
    const declarations = Array.from({ length: 6 }, (_, i) => ` xmlns:d${i}="urn:example:d${i}"`).join("");
    for (const rootAttrs of ["", declarations]) {
      const el = parseUntrustedXml(encryptOctets(assertion, rootAttrs), LIMITS).documentElement!;
      const withNodes = (maxNodes: number): string =>
        outcome(() => decryptAssertion(el, { keys: [SHARED], allowRsa15KeyTransport: false, allowUnsignedCbc: false }, { ...LIMITS, maxNodes }, BARE));
      expect(withNodes(n), `${n} nodes, context ${rootAttrs}`).toBe("accepted");
      expect(withNodes(n - 1), `${n - 1} nodes, context ${rootAttrs}`).toBe("decryption_failed");
    }
  });

  it("the wrapper's declarations in scope never push it over maxAttributesPerElement (:569)", () => {
    const own = parseXmlStrict(assertion).documentElement!.attributes.length;
    const withMax = (rootAttrs: string, maxAttributesPerElement: number): string => {
      const el = parseUntrustedXml(encryptOctets(assertion, rootAttrs), { ...LIMITS, maxAttributesPerElement: 64 }).documentElement!;
      return outcome(() => decryptAssertion(el, { keys: [SHARED], allowRsa15KeyTransport: false, allowUnsignedCbc: false }, { ...LIMITS, maxAttributesPerElement }, BARE));
    };
    // Control: the bound applies to the assertion's own attributes.
    expect(withMax("", own)).toBe("accepted");
    expect(withMax("", own - 1)).toBe("decryption_failed");
    // More declarations around the ciphertext than the bound: the wrapper carries them all.
    const declarations = Array.from({ length: own + 3 }, (_, i) => ` xmlns:d${i}="urn:example:d${i}"`).join("");
    expect(withMax(declarations, own)).toBe("accepted");
  });

  it("…but the decrypted elements keep the token's own bound, however many declarations the wrapper carries", () => {
    const own = parseXmlStrict(assertion).documentElement!.attributes.length;
    const declarations = Array.from({ length: own + 3 }, (_, i) => ` xmlns:d${i}="urn:example:d${i}"`).join("");
    const limits = { ...LIMITS, maxAttributesPerElement: own };
    const run2 = (plaintext: string): string => {
      const el = parseUntrustedXml(encryptOctets(plaintext, declarations), { ...LIMITS, maxAttributesPerElement: 64 }).documentElement!;
      return outcome(() => decryptAssertion(el, { keys: [SHARED], allowRsa15KeyTransport: false, allowUnsignedCbc: false }, limits, BARE));
    };
    expect(run2(assertion)).toBe("accepted");
    // One attribute over the bound: on the assertion, on an element inside it, as a declaration.
    expect(run2(once(assertion, /^<saml:Assertion /, '<saml:Assertion Extra="1" '))).toBe("decryption_failed");
    const issuerAttrs = Array.from({ length: own + 1 }, (_, i) => ` a${i}="${i}"`).join("");
    expect(run2(once(assertion, "<saml:Issuer>", `<saml:Issuer${issuerAttrs}>`))).toBe("decryption_failed");
    expect(run2(once(assertion, /^<saml:Assertion /, '<saml:Assertion xmlns:extra="urn:example:extra" '))).toBe("decryption_failed");
  });

  it("without maxNodes / maxAttributesPerElement in the token's limits, their defaults still bound the plaintext (:568-569)", () => {
    const limits = { maxDepth: 48, maxElements: 40 }; // default maxNodes: 5 per element
    const decryptWith = (plaintext: string): string => {
      const el = parseUntrustedXml(encryptOctets(plaintext), LIMITS).documentElement!;
      return outcome(() => decryptAssertion(el, { keys: [SHARED], allowRsa15KeyTransport: false, allowUnsignedCbc: false }, limits, BARE));
    };
    const comments = (n: number): string => once(assertion, "</saml:Assertion>", `${"<!---->".repeat(n)}</saml:Assertion>`);
    expect(decryptWith(comments(100))).toBe("accepted");
    expect(decryptWith(comments(400))).toBe("decryption_failed");
    const attributes = (n: number): string =>
      assertion.replace("<saml:Assertion ", `<saml:Assertion ${Array.from({ length: n }, (_, i) => `a${i}="x"`).join(" ")} `);
    expect(decryptWith(attributes(20))).toBe("accepted");
    expect(decryptWith(attributes(40))).toBe("decryption_failed");
  });

  it("a default namespace declared around the ciphertext is in scope for the plaintext (:527)", () => {
    const unprefixed = once(assertion, ` xmlns:saml="${NS.saml2}"`, "").replace(/<(\/?)saml:/g, "<$1");
    expect(unprefixed).not.toMatch(/xmlns=|saml:/);
    expect(run(unprefixed, ` xmlns="${NS.saml2}"`)).toBe(`accepted ${IDP1}`);
    expect(run(unprefixed)).toBe("decryption_failed");
  });

  it("comments around the assertion are skipped; CDATA or a processing instruction beside it → decryption_failed", () => {
    expect(run(`<!-- before -->${assertion}<!-- after -->`)).toBe(`accepted ${IDP1}`);
    expect(run(`<![CDATA[x]]>${assertion}`)).toBe("decryption_failed");
    expect(run(`${assertion}<![CDATA[ ]]>`)).toBe("decryption_failed");
    expect(run(`<?pi x?>${assertion}`)).toBe("decryption_failed");
    expect(run(`text${assertion}`)).toBe("decryption_failed");
  });

  it("the wrapper's prefix never collides with a prefix declared around the ciphertext (xmlns:fbw, fbw0)", () => {
    expect(run(assertion, ' xmlns:fbw="urn:example:fbw"')).toBe(`accepted ${IDP1}`);
    expect(run(assertion, ' xmlns:fbw="urn:example:fbw" xmlns:fbw0="urn:example:fbw0"')).toBe(`accepted ${IDP1}`);
    // The plaintext itself uses the fbw prefix, declared only around the ciphertext (§4.4.3 step 3.1).
    const fbw = once(assertion, ` xmlns:saml="${NS.saml2}"`, "").replace(/<(\/?)saml:/g, "<$1fbw:");
    expect(fbw).not.toMatch(/xmlns:(fbw|saml)=/);
    expect(run(fbw, ` xmlns:fbw="${NS.saml2}"`)).toBe(`accepted ${IDP1}`);
    expect(run(fbw)).toBe("decryption_failed");
  });
});

describe("decrypt.ts: a bare EncryptedAssertion under a key bound to IdPs (:249-250)", () => {
  const encrypted = (issuer: string | null): string => {
    const xml = buildAssertion2({ id: randomSamlId("_a"), issuer: issuer ?? IDP1 });
    return encryptAssertion(issuer === null ? once(xml, /<saml:Issuer[^>]*>[^<]*<\/saml:Issuer>/, "") : xml, { data: "aes256-gcm" });
  };

  it("the decrypted Issuer must be one of the key's IdPs: idp1 accepted; idp2, an unknown IdP, no Issuer → decryption_failed", () => {
    expect(decrypt(encrypted(IDP1), [IDP1_ONLY])).toBe(`accepted ${IDP1}`);
    expect(decrypt(encrypted(IDP2), [IDP1_ONLY])).toBe("decryption_failed");
    expect(decrypt(encrypted("https://unknown.example/idp"), [IDP1_ONLY])).toBe("decryption_failed");
    expect(decrypt(encrypted(null), [IDP1_ONLY])).toBe("decryption_failed");
    // Control: a shared key takes any Issuer (the IdP is decided after decryption).
    expect(decrypt(encrypted(IDP2), [SHARED])).toBe(`accepted ${IDP2}`);
  });
});

/** The test key, counting how often the private key is read (an RSA operation is about to happen). */
function spyKey(): { key: DecryptionKey; reads: () => number } {
  let reads = 0;
  return {
    key: {
      get privateKey() {
        reads++;
        return privateKey;
      },
      certificatePem, fingerprint: "spy", idps: undefined,
    },
    reads: () => reads,
  };
}

/** The EncryptedData's own CipherValue replaced by `bytes` (the EncryptedKey's is left alone). */
function withDataCipher(xml: string, bytes: Buffer): string {
  return once(xml, /(<\/ds:KeyInfo><xenc:CipherData><xenc:CipherValue>)[^<]*(<\/xenc:CipherValue>)/, `$1${bytes.toString("base64")}$2`);
}

describe("decrypt.ts:309-320 sizes and shape the algorithm implies, before any key is touched", () => {
  let gcm: string;
  let cbc: string;
  /** A verified Response signature of idp1 around the ciphertext: CBC may be decrypted. */
  const SIGNED_IDP1: CiphertextBinding = { signedBy: IDP1, attributedTo: IDP1, attributedIdp: "idp1", allowTripleDes: false, idpIdOf };
  beforeAll(() => {
    gcm = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes128-gcm" });
    cbc = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes128-cbc" });
  });
  const attempt = (xml: string, binding: CiphertextBinding = BARE): { reason: string; reads: number } => {
    const spy = spyKey();
    const reason = decrypt(xml, [spy.key], binding);
    return { reason, reads: spy.reads() };
  };

  it("controls: both fixtures decrypt, reading the key", () => {
    expect(attempt(gcm).reason).toBe(`accepted ${IDP1}`);
    expect(attempt(cbc, SIGNED_IDP1).reason).toBe(`accepted ${IDP1}`);
    expect(attempt(gcm).reads).toBeGreaterThan(0);
  });

  it("GCM: shorter than IV + tag (27 octets) is refused before any key; exactly IV + tag (28, empty plaintext) is tried", () => {
    expect(attempt(withDataCipher(gcm, randomBytes(27)))).toEqual({ reason: "decryption_failed", reads: 0 });
    expect(attempt(withDataCipher(gcm, randomBytes(12)))).toEqual({ reason: "decryption_failed", reads: 0 });
    const exact = attempt(withDataCipher(gcm, randomBytes(28)));
    expect(exact.reason).toBe("decryption_failed");
    expect(exact.reads).toBeGreaterThan(0);
  });

  it("CBC: not whole blocks after the IV, or no block at all, is refused before any key; IV + one block is tried", () => {
    for (const n of [16 + 17, 16 + 15, 16 + 31, 16, 15]) {
      expect(attempt(withDataCipher(cbc, randomBytes(n)), SIGNED_IDP1), `${n} octets`).toEqual({ reason: "decryption_failed", reads: 0 });
    }
    const one = attempt(withDataCipher(cbc, randomBytes(32)), SIGNED_IDP1);
    expect(one.reason).toBe("decryption_failed");
    expect(one.reads).toBeGreaterThan(0);
  });

  it("two xenc:CipherData (the first one good) in the EncryptedData or in the EncryptedKey → decryption_failed, before any key", () => {
    const dataCipher = /<\/ds:KeyInfo>(<xenc:CipherData>[\s\S]*?<\/xenc:CipherData>)/.exec(gcm)![1]!;
    expect(attempt(once(gcm, dataCipher + "</xenc:EncryptedData>", dataCipher + dataCipher + "</xenc:EncryptedData>"))).toEqual({ reason: "decryption_failed", reads: 0 });
    const keyCipher = /<xenc:EncryptedKey>[\s\S]*?(<xenc:CipherData>[\s\S]*?<\/xenc:CipherData>)<\/xenc:EncryptedKey>/.exec(gcm)![1]!;
    expect(attempt(once(gcm, keyCipher + "</xenc:EncryptedKey>", keyCipher + keyCipher + "</xenc:EncryptedKey>"))).toEqual({ reason: "decryption_failed", reads: 0 });
  });

  it("no EncryptedKey at all, or more than four → decryption_failed before any key; four (one good) are tried", () => {
    const key = ENCRYPTED_KEY.exec(gcm)![0];
    expect(attempt(once(gcm, key, "<ds:KeyName>k</ds:KeyName>"))).toEqual({ reason: "decryption_failed", reads: 0 });
    expect(attempt(once(gcm, key, key.repeat(5)))).toEqual({ reason: "decryption_failed", reads: 0 });
    const four = attempt(once(gcm, key, key.repeat(4)));
    expect(four.reason).toBe(`accepted ${IDP1}`);
    // Three in KeyInfo and two beside the EncryptedData: five in all.
    const { rest } = takeKey(gcm);
    const split = declareXencOnRoot(once(rest, "</xenc:EncryptedData>", `</xenc:EncryptedData>${key}${key}`));
    const withInfo = once(split, /(<xenc:EncryptedData [^>]*><xenc:EncryptionMethod [^>]*\/>)/, `$1<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">${key.repeat(3)}</ds:KeyInfo>`);
    expect(attempt(withInfo)).toEqual({ reason: "decryption_failed", reads: 0 });
    const withInfo2 = once(split, /(<xenc:EncryptedData [^>]*><xenc:EncryptionMethod [^>]*\/>)/, `$1<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">${key.repeat(2)}</ds:KeyInfo>`);
    expect(attempt(withInfo2).reason).toBe(`accepted ${IDP1}`);
  });

  it("CipherData holds exactly one xenc:CipherValue: two, or a foreign element beside it → decryption_failed, before any key", () => {
    const value = /<\/ds:KeyInfo><xenc:CipherData>(<xenc:CipherValue>[^<]*<\/xenc:CipherValue>)/.exec(gcm)![1]!;
    expect(attempt(once(gcm, value + "</xenc:CipherData></xenc:EncryptedData>", value + value + "</xenc:CipherData></xenc:EncryptedData>"))).toEqual({ reason: "decryption_failed", reads: 0 });
    expect(attempt(once(gcm, value + "</xenc:CipherData></xenc:EncryptedData>", value + '<x:y xmlns:x="urn:example:x"/></xenc:CipherData></xenc:EncryptedData>'))).toEqual({ reason: "decryption_failed", reads: 0 });
    expect(attempt(once(gcm, value + "</xenc:CipherData></xenc:EncryptedData>", value.replace(/xenc:CipherValue/g, "xenc:CipherReference") + "</xenc:CipherData></xenc:EncryptedData>"))).toEqual({ reason: "decryption_failed", reads: 0 });
  });

  it("two ds:KeyInfo in the EncryptedData (the first one good) → decryption_failed, before any key", () => {
    const keyInfo = /<ds:KeyInfo xmlns:ds="[^"]+">[\s\S]*?<\/ds:KeyInfo>/.exec(gcm)![0];
    expect(attempt(once(gcm, keyInfo, keyInfo + keyInfo))).toEqual({ reason: "decryption_failed", reads: 0 });
    const empty = keyInfo.replace(/>[\s\S]*<\/ds:KeyInfo>$/, "/>");
    expect(attempt(once(gcm, keyInfo, keyInfo + empty))).toEqual({ reason: "decryption_failed", reads: 0 });
  });
});

describe("decrypt.ts:338-354 key transport parameters", () => {
  let oaep: string;
  let rsa15: string;
  const SHA1 = '<ds:DigestMethod xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>';
  beforeAll(() => {
    oaep = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes256-gcm", keyTransport: "rsa-oaep-mgf1p" });
    rsa15 = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes256-gcm", keyTransport: "rsa-1_5" });
  });
  /** The EncryptedKey's EncryptionMethod given these children. */
  const params = (xml: string, transport: string, children: string): string =>
    once(xml, `<xenc:EncryptionMethod Algorithm="${XENC}${transport}"/>`, `<xenc:EncryptionMethod Algorithm="${XENC}${transport}">${children}</xenc:EncryptionMethod>`);

  it("OAEP: a DigestMethod and an OAEPparams label (two different parameters) are both read", () => {
    const label = Buffer.from("fedbridge test label");
    const labelled = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes256-gcm", keyTransport: { oaep: "rsa-oaep-mgf1p", digest: "sha1", label } });
    expect(labelled).toContain("<xenc:OAEPparams>");
    expect(decrypt(labelled, [SHARED])).toBe(`accepted ${IDP1}`);
  });

  it("OAEP: one DigestMethod (SHA-1, the default written out) is read; the same one twice → decryption_failed", () => {
    expect(decrypt(params(oaep, "rsa-oaep-mgf1p", SHA1), [SHARED])).toBe(`accepted ${IDP1}`);
    expect(decrypt(params(oaep, "rsa-oaep-mgf1p", SHA1 + SHA1), [SHARED])).toBe("decryption_failed");
  });

  it("rsa-1_5 (allowed): no parameter or one DigestMethod (xml-encryption writes one) is accepted; anything else → decryption_failed", () => {
    expect(decrypt(rsa15, [SHARED], BARE, true)).toBe(`accepted ${IDP1}`);
    expect(decrypt(params(rsa15, "rsa-1_5", SHA1), [SHARED], BARE, true)).toBe(`accepted ${IDP1}`);
    expect(decrypt(params(rsa15, "rsa-1_5", SHA1 + SHA1), [SHARED], BARE, true)).toBe("decryption_failed");
    expect(decrypt(params(rsa15, "rsa-1_5", `<xenc:OAEPparams>AAAA</xenc:OAEPparams>`), [SHARED], BARE, true)).toBe("decryption_failed");
    expect(decrypt(params(rsa15, "rsa-1_5", `<xenc:KeySize>2048</xenc:KeySize>`), [SHARED], BARE, true)).toBe("decryption_failed");
    expect(decrypt(params(rsa15, "rsa-1_5", `<x:DigestMethod xmlns:x="urn:example:not-ds" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>`), [SHARED], BARE, true)).toBe("decryption_failed");
    // Control: without the switch, rsa-1_5 is not allowed at all.
    expect(decrypt(rsa15, [SHARED])).toBe("encryption_algorithm_not_allowed");
  });
});

describe("decrypt.ts: EncryptedElementType is one xenc:EncryptedData, then xenc:EncryptedKey* (:286-288)", () => {
  let gcm: string;
  beforeAll(() => {
    gcm = encryptAssertion(buildAssertion2({ id: randomSamlId("_a"), issuer: IDP1 }), { data: "aes128-gcm" });
  });

  it("control: the EncryptedKey beside the EncryptedData (not in its KeyInfo) is used", () => {
    const { key, rest } = takeKey(gcm);
    const beside = declareXencOnRoot(once(rest, "</xenc:EncryptedData>", `</xenc:EncryptedData>${key}`));
    expect(decrypt(beside, [SHARED])).toBe(`accepted ${IDP1}`);
    // Two copies of the key, one in KeyInfo and one beside: still one assertion.
    const both = declareXencOnRoot(once(gcm, "</xenc:EncryptedData>", `</xenc:EncryptedData>${key}`));
    expect(decrypt(both, [SHARED])).toBe(`accepted ${IDP1}`);
  });

  it("the EncryptedKey before the EncryptedData → decryption_failed (never read as the data)", () => {
    const { key, rest } = takeKey(gcm);
    const before = declareXencOnRoot(once(rest, "<xenc:EncryptedData ", `${key}<xenc:EncryptedData `));
    expect(decrypt(before, [SHARED])).toBe("decryption_failed");
  });

  it("an EncryptedData element of another namespace (its xenc children intact) → decryption_failed", () => {
    const foreign = gcm
      .replace(/<xenc:EncryptedData xmlns:xenc="([^"]+)"/, '<other:EncryptedData xmlns:other="urn:example:not-xenc" xmlns:xenc="$1"')
      .replace("</xenc:EncryptedData>", "</other:EncryptedData>");
    expect(foreign).toContain("<other:EncryptedData");
    expect(decrypt(foreign, [SHARED])).toBe("decryption_failed");
  });

  it("nothing before the EncryptedData: a leading empty element of any namespace → decryption_failed", () => {
    expect(decrypt(declareXencOnRoot(once(gcm, "<xenc:EncryptedData ", "<xenc:CipherReference/><xenc:EncryptedData ")), [SHARED])).toBe("decryption_failed");
  });

  it("a sibling that is no xenc:EncryptedKey, even one that would unwrap the key, → decryption_failed", () => {
    const { key, rest } = takeKey(gcm);
    // The same EncryptedKey markup under another namespace, as the only key.
    const foreignKey = key
      .replace("<xenc:EncryptedKey>", `<other:EncryptedKey xmlns:other="urn:example:not-xenc">`)
      .replace("</xenc:EncryptedKey>", "</other:EncryptedKey>");
    expect(decrypt(declareXencOnRoot(once(rest, "</xenc:EncryptedData>", `</xenc:EncryptedData>${foreignKey}`)), [SHARED])).toBe("decryption_failed");
    // Beside a good key in KeyInfo.
    expect(decrypt(declareXencOnRoot(once(gcm, "</xenc:EncryptedData>", `</xenc:EncryptedData>${foreignKey}`)), [SHARED])).toBe("decryption_failed");
    // A second EncryptedData beside the first.
    const data = /<xenc:EncryptedData [\s\S]*<\/xenc:EncryptedData>/.exec(gcm)![0];
    expect(decrypt(once(gcm, "</xenc:EncryptedData>", `</xenc:EncryptedData>${data}`), [SHARED])).toBe("decryption_failed");
  });
});

// ---- saml2.ts ----------------------------------------------------------------------------------------

describe("saml2.ts:79 an IdP whose metadata does not list the SAML 2.0 protocol (HTTP)", () => {
  const ONLY_11 = "https://saml11-only.test/idp";
  const LOOK_ALIKE = "https://saml2-look-alike.test/idp";
  let b: TestBridge;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fedbridge-mut-md-"));
    writeFileSync(join(dir, "only11.xml"), metadataFor(ONLY_11, [IDP1_CERT], { protocols: "urn:oasis:names:tc:SAML:1.1:protocol" }));
    writeFileSync(join(dir, "lookalike.xml"), metadataFor(LOOK_ALIKE, [IDP1_CERT], { protocols: "urn:oasis:names:tc:SAML:2.0:protocolX urn:oasis:names:tc:SAML:2.0" }));
    b = await startBridge({
      patch: (c) => {
        const mapping = { subject: { nameId: true }, scopes: [{ grant: ["read"] }] };
        c.samlIdps.push({ id: "only11", metadataFile: join(dir, "only11.xml"), recipients: [TOKEN_ENDPOINT], mapping });
        c.samlIdps.push({ id: "lookalike", metadataFile: join(dir, "lookalike.xml"), recipients: [TOKEN_ENDPOINT], mapping });
        const c1 = c.clients.find((x: { id: string }) => x.id === CLIENTS.c1.id);
        c1.idps = [...c1.idps, "only11", "lookalike"];
        c.saml.decryptionKeys = [{ privateKeyFile: "keys/bridge-enc.key", certificateFile: "keys/bridge-enc.crt" }];
      },
    });
  });
  afterAll(async () => {
    await b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const assertion = (issuer: string): { xml: string; id: string } => {
    const id = randomSamlId("_a");
    return { xml: signWithXmlsec1(buildAssertion2({ id, issuer, now: new Date(b.clock.now) }), id, { key: KEYS.idp1 }), id };
  };
  const response = (inner: string, issuer: string, sign: boolean): string => {
    const id = randomSamlId("_r");
    const xml = buildResponse2(inner, { id, issuer, now: new Date(b.clock.now) });
    return sign ? signWithXmlsec1(xml, id, { key: KEYS.idp1 }) : xml;
  };
  const send = (xml: string) => exchange(b, { xml, scope: "read" });

  it("control: the same key and shapes as idp1 (metadata lists SAML 2.0) → 200", async () => {
    expect((await send(assertion(IDP1).xml)).status).toBe(200);
    expect((await send(response(assertion(IDP1).xml, IDP1, true))).status).toBe(200);
  });

  it.each([
    ["SAML 1.1 only", ONLY_11],
    ["a look-alike of the SAML 2.0 protocol URI only", LOOK_ALIKE],
  ])("%s: a signed bare assertion, a signed Response, an encrypted assertion in a Response → protocol_not_supported", async (_what, issuer) => {
    expectError(await send(assertion(issuer).xml), 400, "invalid_request", "protocol_not_supported");
    expectError(await send(response(assertion(issuer).xml, issuer, true)), 400, "invalid_request", "protocol_not_supported");
    expectError(await send(response(assertion(issuer).xml, issuer, false)), 400, "invalid_request", "protocol_not_supported");
    // Encrypted: the Response Issuer chooses the IdP, refused before anything is decrypted.
    const encrypted = encryptAssertion(assertion(issuer).xml, { data: "aes256-gcm" });
    expectError(await send(response(encrypted, issuer, true)), 400, "invalid_request", "protocol_not_supported");
  });
});

// ---- verifySaml2Token / verifySaml1Token, called directly --------------------------------------------

describe("saml2.ts:312/316/337, saml1.ts:47/223: statements read in full (verify*Token directly)", () => {
  const NOW = Date.now();
  const settings = { allowSha1: false, requireSignedAssertion: true, recipients: [TOKEN_ENDPOINT], maxAssertionAgeSeconds: 300, allowTripleDesCbc: false, mapping: { subject: { nameId: true as const }, claims: {}, scopes: [], require: [] } };
  const idps = new IdpRegistry([
    trustedIdp("idp1", parseIdpMetadata(readFileSync(METADATA_IDP1, "utf8")), settings, TOKEN_ENDPOINT),
    trustedIdp("idp11", parseIdpMetadata(readFileSync(METADATA_IDP11, "utf8")), settings, TOKEN_ENDPOINT),
  ]);
  const ctx = { now: NOW, skewMs: 60_000, acceptedAudiences: new Set([BRIDGE_ENTITY_ID]), limits: { maxDepth: 48, maxElements: 2000, maxTokenBytes: 131_072 }, idps };
  const at = (ms: number): Date => new Date(NOW + ms);
  const stamp = (ms: number): string => samlTime(at(ms));

  /** An idp1 assertion with these statements instead of the builder's one AuthnStatement, signed by xmlsec1. */
  function saml2(authn: { instant: number; session?: number }[], attributes?: string): string {
    const id = randomSamlId("_a");
    let xml = buildAssertion2({ id, issuer: IDP1, now: at(0), authnInstant: at(authn[0]!.instant), ...(authn[0]!.session !== undefined ? { sessionNotOnOrAfter: at(authn[0]!.session) } : {}) });
    const first = /<saml:AuthnStatement[\s\S]*?<\/saml:AuthnStatement>/.exec(xml)![0];
    const more = authn.slice(1).map((s) => first
      .replace(/ SessionNotOnOrAfter="[^"]*"/, "")
      .replace(/AuthnInstant="[^"]*"/, `AuthnInstant="${stamp(s.instant)}"${s.session === undefined ? "" : ` SessionNotOnOrAfter="${stamp(s.session)}"`}`)).join("");
    xml = once(xml, first, first + more);
    if (attributes !== undefined) xml = once(xml, /<saml:AttributeStatement>[\s\S]*<\/saml:AttributeStatement>/, attributes);
    return signWithXmlsec1(xml, id, { key: KEYS.idp1 });
  }
  const verify2 = (xml: string) => verifySaml2Token(toBase64Url(xml), ctx);

  it("saml2: authTime is the latest AuthnInstant, whatever the order", () => {
    expect(verify2(saml2([{ instant: -120_000 }, { instant: -30_000 }])).authTime).toBe(NOW - 30_000);
    expect(verify2(saml2([{ instant: -30_000 }, { instant: -120_000 }])).authTime).toBe(NOW - 30_000);
    expect(verify2(saml2([{ instant: -45_000 }])).authTime).toBe(NOW - 45_000);
  });

  it("saml2: the session ends at the earliest SessionNotOnOrAfter, whatever the order (and one without none)", () => {
    expect(verify2(saml2([{ instant: -1000, session: 2 * 3_600_000 }, { instant: -1000, session: 3_600_000 }])).notAfter).toBe(NOW + 3_600_000);
    expect(verify2(saml2([{ instant: -1000, session: 3_600_000 }, { instant: -1000, session: 2 * 3_600_000 }])).notAfter).toBe(NOW + 3_600_000);
    expect(verify2(saml2([{ instant: -1000 }, { instant: -1000, session: 600_000 }, { instant: -1000, session: 1_200_000 }])).notAfter).toBe(NOW + 600_000);
    expect(verify2(saml2([{ instant: -1000 }])).notAfter).toBeUndefined();
  });

  it("saml2: an Attribute without a Name (or an empty one) → saml_shape_invalid; a named one is read", () => {
    const statement = (attr: string): string => `<saml:AttributeStatement>${attr}</saml:AttributeStatement>`;
    const value = '<saml:AttributeValue xsi:type="xs:string">user</saml:AttributeValue>';
    expect(outcome(() => verify2(saml2([{ instant: -1000 }], statement(`<saml:Attribute>${value}</saml:Attribute>`))))).toBe("saml_shape_invalid");
    expect(outcome(() => verify2(saml2([{ instant: -1000 }], statement(`<saml:Attribute Name="">${value}</saml:Attribute>`))))).toBe("saml_shape_invalid");
    expect(outcome(() => verify2(saml2([{ instant: -1000 }], statement(`<saml:Attribute Name="role">${value}</saml:Attribute><saml:Attribute FriendlyName="x">${value}</saml:Attribute>`))))).toBe("saml_shape_invalid");
    expect(verify2(saml2([{ instant: -1000 }], statement(`<saml:Attribute Name="role">${value}</saml:Attribute>`))).attributes.map((a) => a.name)).toEqual(["role"]);
  });

  /** A fresh idp1 assertion edited before xmlsec1 signs it. */
  function signed2(edit: (xml: string) => string): string {
    const id = randomSamlId("_a");
    return signWithXmlsec1(edit(buildAssertion2({ id, issuer: IDP1, now: at(0) })), id, { key: KEYS.idp1 });
  }
  const NAMEID = /<saml:NameID[^>]*>[^<]*<\/saml:NameID>/;
  const ISSUER = /<saml:Issuer>[^<]*<\/saml:Issuer>/;
  const SCD = /<saml:SubjectConfirmationData[^>]*\/>/;

  it("saml2 (earlier run's no-coverage refusals): the subject and the Issuer, one of each", () => {
    const nameId = (xml: string): string => NAMEID.exec(xml)![0];
    // :272 two NameIDs (the second one another user's)
    expect(outcome(() => verify2(signed2((x) => once(x, NAMEID, nameId(x) + nameId(x).replace("alice@", "mallory@")))))).toBe("subject_invalid");
    // :273 an EncryptedID instead of the NameID; no identifier at all
    const encryptedId = `<saml:EncryptedID><xenc:EncryptedData xmlns:xenc="${XENC}"/></saml:EncryptedID>`;
    expect(outcome(() => verify2(signed2((x) => once(x, NAMEID, encryptedId))))).toBe("encrypted_assertion_unsupported");
    expect(outcome(() => verify2(signed2((x) => once(x, NAMEID, ""))))).toBe("subject_missing");
    // :292 a bearer SubjectConfirmation without SubjectConfirmationData, or with two
    expect(outcome(() => verify2(signed2((x) => once(x, SCD, ""))))).toBe("subject_confirmation_invalid");
    expect(outcome(() => verify2(signed2((x) => { const d = SCD.exec(x)![0]; return once(x, SCD, d + d); })))).toBe("subject_confirmation_invalid");
    // :124 two Issuers (read before any signature: unsigned is enough)
    const twoIssuers = buildAssertion2({ issuer: IDP1, now: at(0) }).replace(ISSUER, (m) => m + m);
    expect(outcome(() => verify2(twoIssuers))).toBe("saml_shape_invalid");
    // Control: the unedited assertion.
    expect(verify2(signed2((x) => x)).subject).toBe("alice@example.com");
  });

  it("saml2 :322 acr is the first AuthnContextClassRef; a context without one, or with two, gives none (never a crash)", () => {
    const CONTEXT = /<saml:AuthnContext>[\s\S]*?<\/saml:AuthnContext>/;
    const ref = (v: string): string => `<saml:AuthnContextClassRef>${v}</saml:AuthnContextClassRef>`;
    expect(verify2(signed2((x) => once(x, CONTEXT, `<saml:AuthnContext>${ref("urn:example:acr:one")}</saml:AuthnContext>`))).acr).toBe("urn:example:acr:one");
    expect(verify2(signed2((x) => once(x, CONTEXT, "<saml:AuthnContext><saml:AuthnContextDeclRef>urn:example:decl</saml:AuthnContextDeclRef></saml:AuthnContext>"))).acr).toBeUndefined();
    expect(verify2(signed2((x) => once(x, CONTEXT, `<saml:AuthnContext>${ref("urn:example:a")}${ref("urn:example:b")}</saml:AuthnContext>`))).acr).toBeUndefined();
    // :319 an AuthnStatement without AuthnContext
    expect(verify2(signed2((x) => once(x, CONTEXT, ""))).acr).toBeUndefined();
  });

  it("saml2 :270 no Subject, or two → subject_missing", () => {
    const SUBJECT = /<saml:Subject>[\s\S]*?<\/saml:Subject>/;
    expect(outcome(() => verify2(signed2((x) => once(x, SUBJECT, ""))))).toBe("subject_missing");
    expect(outcome(() => verify2(signed2((x) => { const sub = SUBJECT.exec(x)![0]; return once(x, SUBJECT, sub + sub); })))).toBe("subject_missing");
  });

  it("saml2 :333-339 attributes: name, FriendlyName and NameFormat carried, nothing else in the list", () => {
    const statement = '<saml:AttributeStatement><saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
      + '<saml:AttributeValue xsi:type="xs:string">a@example.com</saml:AttributeValue></saml:Attribute>'
      + '<saml:Attribute Name="role"><saml:AttributeValue xsi:type="xs:string">user</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>';
    const subject = verify2(signed2((x) => once(x, /<saml:AttributeStatement>[\s\S]*<\/saml:AttributeStatement>/, statement)));
    expect(subject.attributes).toEqual([
      { name: "urn:oid:0.9.2342.19200300.100.1.3", friendlyName: "mail", nameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", values: ["a@example.com"] },
      { name: "role", friendlyName: undefined, nameFormat: undefined, values: ["user"] },
    ]);
  });

  it("saml2 :137 a Response without a Status, or with two → status_not_success (unsigned Response, signed assertion)", () => {
    const response = (edit: (xml: string) => string): string => edit(buildResponse2(signed2((x) => x), { now: at(0) }));
    const STATUS = /<samlp:Status>[\s\S]*?<\/samlp:Status>/;
    expect(verify2(response((x) => x)).subject).toBe("alice@example.com");
    expect(outcome(() => verify2(response((x) => once(x, STATUS, ""))))).toBe("status_not_success");
    expect(outcome(() => verify2(response((x) => { const st = STATUS.exec(x)![0]; return once(x, STATUS, st + st); })))).toBe("status_not_success");
    expect(outcome(() => verify2(response((x) => once(x, STATUS, "<samlp:Status></samlp:Status>"))))).toBe("status_not_success");
  });

  /** An idp11 SAML 1.1 assertion with a second AuthenticationStatement, signed by xmlsec1. */
  function saml1(instants: number[]): string {
    const id = randomSaml11Id("_a");
    const xml = buildAssertion11({ id, now: at(0), authenticationInstant: at(instants[0]!) });
    const first = /<saml:AuthenticationStatement[\s\S]*?<\/saml:AuthenticationStatement>/.exec(xml)![0];
    const more = instants.slice(1).map((t) => first.replace(/AuthenticationInstant="[^"]*"/, `AuthenticationInstant="${stamp(t)}"`)).join("");
    return signSaml11WithXmlsec1(once(xml, first, first + more), id, { key: KEYS_IDP11 });
  }
  const verify1 = (xml: string) => verifySaml1Token(toBase64Url(xml), ctx);

  it("saml1: authTime is the latest AuthenticationInstant, whatever the order", () => {
    expect(verify1(saml1([-120_000, -30_000])).authTime).toBe(NOW - 30_000);
    expect(verify1(saml1([-30_000, -120_000])).authTime).toBe(NOW - 30_000);
    expect(verify1(saml1([-45_000])).authTime).toBe(NOW - 45_000);
  });

  it("saml1: a Response Status without a StatusCode, or with two, → status_not_success (an unsigned Response around a signed assertion)", () => {
    const response = (status: string): string => once(buildResponse11(saml1([-1000]), { now: at(0) }), /<samlp:Status>[\s\S]*?<\/samlp:Status>/, status);
    const ok = '<samlp:StatusCode Value="samlp:Success"/>';
    expect(verify1(response(`<samlp:Status>${ok}</samlp:Status>`)).subject).toBe("alice@example.com");
    expect(outcome(() => verify1(response("<samlp:Status></samlp:Status>")))).toBe("status_not_success");
    expect(outcome(() => verify1(response(`<samlp:Status>${ok}${ok}</samlp:Status>`)))).toBe("status_not_success");
    expect(outcome(() => verify1(response(`<samlp:Status><samlp:StatusMessage>ok</samlp:StatusMessage></samlp:Status>`)))).toBe("status_not_success");
  });

  it("saml1 (earlier run's no-coverage refusals): a foreign child of the assertion, a statement with two Subjects", () => {
    const signed1 = (edit: (xml: string) => string): string => {
      const id = randomSaml11Id("_a");
      return signSaml11WithXmlsec1(edit(buildAssertion11({ id, now: at(0) })), id, { key: KEYS_IDP11 });
    };
    const CONDITIONS_END = "</saml:Conditions>";
    // :161 a child in another namespace (SAML 2.0's is a version error, checked first)
    for (const foreign of ["Extra", "AttributeStatement", "Advice", "AuthorizationDecisionStatement"]) {
      expect(outcome(() => verify1(signed1((x) => once(x, CONDITIONS_END, `${CONDITIONS_END}<x:${foreign} xmlns:x="urn:example:x"/>`)))), foreign).toBe("saml_shape_invalid");
    }
    expect(outcome(() => verify1(signed1((x) => once(x, CONDITIONS_END, `${CONDITIONS_END}<s2:Advice xmlns:s2="${NS.saml2}"/>`))))).toBe("saml_version_invalid");
    // :241 two Subjects in one statement (the second another user)
    const SUBJECT = /<saml:AuthenticationStatement([^>]*)>(<saml:Subject>[\s\S]*?<\/saml:Subject>)/;
    expect(outcome(() => verify1(signed1((x) => x.replace(SUBJECT, (_m, a: string, sub: string) => `<saml:AuthenticationStatement${a}>${sub}${sub.replace("alice@", "mallory@")}`))))).toBe("subject_invalid");
    // :166 at most one Advice (and one Conditions)
    expect(verify1(signed1((x) => once(x, CONDITIONS_END, `${CONDITIONS_END}<saml:Advice/>`))).subject).toBe("alice@example.com");
    expect(outcome(() => verify1(signed1((x) => once(x, CONDITIONS_END, `${CONDITIONS_END}<saml:Advice/><saml:Advice/>`))))).toBe("saml_shape_invalid");
    expect(verify1(signed1((x) => x)).subject).toBe("alice@example.com");
  });

  it("saml1: a root that is neither SAML 1.x nor SAML 2.0 → saml_shape_invalid (SAML 2.0: token_type_mismatch)", () => {
    for (const root of ["<x/>", `<saml:Assertion xmlns:saml="urn:example:not-saml"/>`, `<samlp:Response xmlns:samlp="${NS.samlp2}x"/>`, `<saml:Advice xmlns:saml="${NS.saml1}"/>`]) {
      expect(outcome(() => verify1(root))).toBe("saml_shape_invalid");
    }
    expect(outcome(() => verify1(`<saml:Assertion xmlns:saml="${NS.saml2}"/>`))).toBe("token_type_mismatch");
  });
});
