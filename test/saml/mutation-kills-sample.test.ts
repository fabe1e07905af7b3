/**
 * Mutation testing (issue 8, docs/mutation-testing.md, "Sampled runs"): tests for the survivors and
 * no-coverage mutants of the sampled src/saml run (scripts/mutation-sample.mjs, seed 20261205, 15 %)
 * and of the earlier partial decrypt.ts run. Each describe names the lines it pins. Encrypted
 * fixtures come from xmlsec1 (test/support/independent-encrypt.ts), edited after encryption where a
 * test needs another shape; functions are called directly with a fixed key set and binding.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decryptAssertion, type CiphertextBinding, type DecryptionKey } from "../../src/saml/decrypt.js";
import { isOAuthError } from "../../src/oauth/errors.js";
import { NS, children, text } from "../../src/xml/dom.js";
import { parseUntrustedXml } from "../../src/xml/safe-parse.js";
import { encryptAssertion } from "../support/independent-encrypt.js";
import { buildAssertion2, randomSamlId, stripXmlDecl } from "../support/saml-builder.js";
import { BRIDGE_ENC_CERT, BRIDGE_ENC_KEY, IDP1, IDP2 } from "../support/constants.js";

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
function decrypt(xml: string, keys: DecryptionKey[], binding: CiphertextBinding = BARE): string {
  const el = parseUntrustedXml(xml, LIMITS).documentElement!;
  try {
    const { assertion } = decryptAssertion(el, { keys, allowRsa15KeyTransport: false, allowUnsignedCbc: false }, LIMITS, binding);
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
