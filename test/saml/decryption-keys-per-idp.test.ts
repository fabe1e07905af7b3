// Decryption keys bound to IdPs (issue 9, "Decryption bound to the right IdP"): with shared SP keys
// a trusted tenant IdP (idp2) that wraps idp1's captured ciphertext in its own signed Response makes
// the bridge unwrap, decrypt and parse idp1's data before the Issuer check refuses it.
// `saml.decryptionKeys[].idps` binds a key to IdPs:
//  - under a Response, a key whose idps do not include the Response's IdP is never touched (spy
//    key: no private-key read), decided before any key is used; no key left → decryption_failed;
//  - a bare EncryptedAssertion may be decrypted with a bound key, but its Issuer must be one of
//    the key's IdPs, else decryption_failed;
//  - keys without idps stay shared;
//  - config: ids are validated like clients' idps (unknown SAML IdP without an admin section,
//    or a JWT issuer id, is a start-up error naming the path);
//  - GET /saml/metadata?idp=<id> lists only the certificates that IdP may use (unknown → 404).
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Response } from "superagent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, toBase64Url, type KeyPair } from "../support/independent-signers.js";
import { encryptAssertion, type DataAlg } from "../support/independent-encrypt.js";
import {
  BRIDGE_ENC_CERT, BRIDGE_ENC_KEY, BRIDGE_ENC_OLD_CERT, BRIDGE_ENC_OLD_KEY, BRIDGE_ENTITY_ID, IDP1, IDP1_CERT, IDP2, METADATA_IDP1, METADATA_IDP2, TOKEN_ENDPOINT,
} from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { configIssues } from "../support/config-issues.js";
import { verifySaml2Token, type Saml2Context } from "../../src/saml/saml2.js";
import { IdpRegistry, trustedIdp } from "../../src/saml/idp-registry.js";
import { parseIdpMetadata } from "../../src/saml/metadata.js";
import type { DecryptionKey } from "../../src/saml/decrypt.js";
import { isOAuthError } from "../../src/oauth/errors.js";
import { NS, children, text } from "../../src/xml/dom.js";
import { parseUntrustedXml } from "../../src/xml/safe-parse.js";

type Res = { status: number; body: any; headers: Record<string, any>; text: string };

/** bridge-enc ("A's key") for idp1, bridge-enc-old ("B's key") for idp2. */
const KEY_A = { privateKeyFile: "keys/bridge-enc.key", certificateFile: "keys/bridge-enc.crt" };
const KEY_B = { privateKeyFile: "keys/bridge-enc-old.key", certificateFile: "keys/bridge-enc-old.crt" };

/** Per-IdP keys only. */
let perIdp: TestBridge;
/** A's key bound to idp1, B's key shared by every IdP. */
let mixed: TestBridge;
beforeAll(async () => {
  perIdp = await startBridge({ patch: (c) => void (c.saml.decryptionKeys = [{ ...KEY_A, idps: ["idp1"] }, { ...KEY_B, idps: ["idp2"] }]) });
  mixed = await startBridge({ patch: (c) => void (c.saml.decryptionKeys = [{ ...KEY_A, idps: ["idp1"] }, KEY_B]) });
});
afterAll(async () => {
  for (const b of [perIdp, mixed]) await b?.close();
});

// ---- fixtures ------------------------------------------------------------------------------------

function signedAssertion(now: number, issuer: string, key: KeyPair): { xml: string; nameId: string } {
  const id = randomSamlId("_a");
  const nameId = `${id.slice(2, 10)}@example.com`;
  return { xml: signWithXmlsec1(buildAssertion2({ id, issuer, nameId, now: new Date(now) }), id, { key }), nameId };
}

function response(now: number, inner: string, issuer: string, key: KeyPair | null): string {
  const id = randomSamlId("_r");
  const xml = buildResponse2(inner, { id, issuer, now: new Date(now) });
  return key ? signWithXmlsec1(xml, id, { key }) : xml;
}

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

const DATA: DataAlg[] = ["aes256-cbc", "aes256-gcm"];

// ---- HTTP ------------------------------------------------------------------------------------------

describe("per-IdP decryption keys (HTTP)", () => {
  it.each(DATA)("controls: each IdP's own %s assertion, encrypted to its own key, under its signed Response → 200", async (data) => {
    const a = signedAssertion(perIdp.clock.now, IDP1, KEYS.idp1);
    ok(await send(perIdp, response(perIdp.clock.now, encryptAssertion(a.xml, { data, cert: BRIDGE_ENC_CERT }), IDP1, KEYS.idp1)), a.nameId);
    const b = signedAssertion(perIdp.clock.now, IDP2, KEYS.idp2);
    ok(await send(perIdp, response(perIdp.clock.now, encryptAssertion(b.xml, { data, cert: BRIDGE_ENC_OLD_CERT }), IDP2, KEYS.idp2)), b.nameId, IDP2);
  });

  it.each(DATA)("idp2's signed Response around idp1's %s ciphertext (A's key) → decryption_failed, the same bytes as a corrupted ciphertext", async (data) => {
    const a = signedAssertion(perIdp.clock.now, IDP1, KEYS.idp1);
    const wrapped = await send(perIdp, response(perIdp.clock.now, encryptAssertion(a.xml, { data, cert: BRIDGE_ENC_CERT }), IDP2, KEYS.idp2));
    refused(wrapped, "decryption_failed");
    const own = signedAssertion(perIdp.clock.now, IDP2, KEYS.idp2);
    const garbled = encryptAssertion(own.xml, { data, cert: BRIDGE_ENC_OLD_CERT }).replace(
      /(<xenc:CipherValue>)([^<]*)(<\/xenc:CipherValue><\/xenc:CipherData><\/xenc:EncryptedData>)/,
      (_m, o: string, v: string, c: string) => {
        const bytes = Buffer.from(v.replace(/\s+/g, ""), "base64");
        bytes[bytes.length - 17]! ^= 0x01;
        return o + bytes.toString("base64") + c;
      },
    );
    const corrupted = await send(perIdp, response(perIdp.clock.now, garbled, IDP2, KEYS.idp2));
    expect(corrupted.text).toBe(wrapped.text);
  });

  it("idp2's own assertion encrypted to idp1's key, under idp2's signed Response → decryption_failed (the key is not idp2's)", async () => {
    const b = signedAssertion(perIdp.clock.now, IDP2, KEYS.idp2);
    refused(await send(perIdp, response(perIdp.clock.now, encryptAssertion(b.xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT }), IDP2, KEYS.idp2)), "decryption_failed");
  });

  it("an unsigned Response naming idp2 around idp1's GCM ciphertext → decryption_failed", async () => {
    const a = signedAssertion(perIdp.clock.now, IDP1, KEYS.idp1);
    refused(await send(perIdp, response(perIdp.clock.now, encryptAssertion(a.xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT }), IDP2, null)), "decryption_failed");
  });

  it("bare EncryptedAssertion (GCM): to the issuer's own key → 200; idp2's assertion encrypted to idp1's key (and the reverse) → decryption_failed", async () => {
    const now = perIdp.clock.now;
    const a = signedAssertion(now, IDP1, KEYS.idp1);
    ok(await send(perIdp, encryptAssertion(a.xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT })), a.nameId);
    const b = signedAssertion(now, IDP2, KEYS.idp2);
    ok(await send(perIdp, encryptAssertion(b.xml, { data: "aes128-gcm", cert: BRIDGE_ENC_OLD_CERT })), b.nameId, IDP2);
    const b2 = signedAssertion(now, IDP2, KEYS.idp2);
    refused(await send(perIdp, encryptAssertion(b2.xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT })), "decryption_failed");
    const a2 = signedAssertion(now, IDP1, KEYS.idp1);
    refused(await send(perIdp, encryptAssertion(a2.xml, { data: "aes256-gcm", cert: BRIDGE_ENC_OLD_CERT })), "decryption_failed");
  });

  it("a shared key beside a bound one: idp2 uses the shared key (200), but still cannot get idp1's key used", async () => {
    const now = mixed.clock.now;
    const b = signedAssertion(now, IDP2, KEYS.idp2);
    ok(await send(mixed, response(now, encryptAssertion(b.xml, { data: "aes256-cbc", cert: BRIDGE_ENC_OLD_CERT }), IDP2, KEYS.idp2)), b.nameId, IDP2);
    const a = signedAssertion(now, IDP1, KEYS.idp1);
    ok(await send(mixed, response(now, encryptAssertion(a.xml, { data: "aes256-cbc", cert: BRIDGE_ENC_OLD_CERT }), IDP1, KEYS.idp1)), a.nameId);
    const a2 = signedAssertion(now, IDP1, KEYS.idp1);
    refused(await send(mixed, response(now, encryptAssertion(a2.xml, { data: "aes256-cbc", cert: BRIDGE_ENC_CERT }), IDP2, KEYS.idp2)), "decryption_failed");
    const b2 = signedAssertion(now, IDP2, KEYS.idp2);
    refused(await send(mixed, encryptAssertion(b2.xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT })), "decryption_failed");
  });
});

// ---- no key of another IdP touched -----------------------------------------------------------------

describe("a key bound to other IdPs is never touched (verifySaml2Token with keys that count their use)", () => {
  const reads = { a: 0, b: 0 };
  const spy = (name: "a" | "b", keyFile: string, certFile: string, idps: string[] | undefined): DecryptionKey => {
    const real: KeyObject = createPrivateKey(readFileSync(keyFile));
    return {
      get privateKey() {
        reads[name]++;
        return real;
      },
      certificatePem: readFileSync(certFile, "utf8"),
      fingerprint: name,
      idps,
    };
  };
  const keyA = spy("a", BRIDGE_ENC_KEY, BRIDGE_ENC_CERT, ["idp1"]);
  const keyB = spy("b", BRIDGE_ENC_OLD_KEY, BRIDGE_ENC_OLD_CERT, ["idp2"]);
  const settings = { allowSha1: false, requireSignedAssertion: true, recipients: [TOKEN_ENDPOINT], maxAssertionAgeSeconds: 300, allowTripleDesCbc: false, mapping: { subject: { nameId: true as const }, claims: {}, scopes: [], require: [] } };
  const idps = new IdpRegistry([
    trustedIdp("idp1", parseIdpMetadata(readFileSync(METADATA_IDP1, "utf8")), settings, TOKEN_ENDPOINT),
    trustedIdp("idp2", parseIdpMetadata(readFileSync(METADATA_IDP2, "utf8")), settings, TOKEN_ENDPOINT),
  ]);
  const ctx = (now: number, keys: DecryptionKey[]): Saml2Context => ({
    now, skewMs: 60_000, acceptedAudiences: new Set([BRIDGE_ENTITY_ID]),
    limits: { maxDepth: 48, maxElements: 2000, maxTokenBytes: 131_072 },
    idps,
    decryption: { keys, allowRsa15KeyTransport: false, allowUnsignedCbc: false },
  });
  function attempt(xml: string, now: number, keys: DecryptionKey[]): { reason: string; a: number; b: number } {
    reads.a = 0;
    reads.b = 0;
    let reason = "accepted";
    try {
      verifySaml2Token(toBase64Url(xml), ctx(now, keys));
    } catch (e) {
      if (!isOAuthError(e)) throw e;
      reason = e.reason;
    }
    return { reason, ...reads };
  }
  const now = Date.now();

  it("control: idp1's Response is decrypted with A's key only (B's never read)", () => {
    const xml = response(now, encryptAssertion(signedAssertion(now, IDP1, KEYS.idp1).xml, { data: "aes128-cbc", cert: BRIDGE_ENC_CERT }), IDP1, KEYS.idp1);
    const r = attempt(xml, now, [keyB, keyA]);
    expect(r.reason).toBe("accepted");
    expect(r.a).toBeGreaterThan(0);
    expect(r.b).toBe(0);
  });

  it.each(["aes128-cbc", "aes256-gcm"] as DataAlg[])("idp2's signed Response around idp1's %s ciphertext → decryption_failed, A's key never read", (data) => {
    const xml = response(now, encryptAssertion(signedAssertion(now, IDP1, KEYS.idp1).xml, { data, cert: BRIDGE_ENC_CERT }), IDP2, KEYS.idp2);
    const both = attempt(xml, now, [keyA, keyB]);
    expect(both.reason).toBe("decryption_failed");
    expect(both.a).toBe(0);
    // Only A's key configured: no key is left for idp2, the same answer with no key touched at all.
    expect(attempt(xml, now, [keyA])).toEqual({ reason: "decryption_failed", a: 0, b: 0 });
  });

  it("an unsigned Response naming idp2 around idp1's GCM ciphertext → decryption_failed, A's key never read", () => {
    const xml = response(now, encryptAssertion(signedAssertion(now, IDP1, KEYS.idp1).xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT }), IDP2, null);
    expect(attempt(xml, now, [keyA])).toEqual({ reason: "decryption_failed", a: 0, b: 0 });
  });

  it("bare EncryptedAssertion: A's key may be tried, but idp2's assertion under it → decryption_failed; idp1's → accepted", () => {
    const b = encryptAssertion(signedAssertion(now, IDP2, KEYS.idp2).xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT });
    expect(attempt(b, now, [keyA, keyB]).reason).toBe("decryption_failed");
    expect(attempt(b, now, [keyA]).reason).toBe("decryption_failed");
    const a = encryptAssertion(signedAssertion(now, IDP1, KEYS.idp1).xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT });
    expect(attempt(a, now, [keyA]).reason).toBe("accepted");
  });

  it("bare EncryptedAssertion to A's key whose Issuer is no known IdP, or missing → decryption_failed", () => {
    const unknown = encryptAssertion(signedAssertion(now, "https://unknown.example/idp", KEYS.idp1).xml, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT });
    expect(attempt(unknown, now, [keyA]).reason).toBe("decryption_failed");
    const id = randomSamlId("_a");
    const noIssuer = buildAssertion2({ id, issuer: IDP1, nameId: "x@example.com", now: new Date(now) }).replace(/<saml:Issuer[^>]*>[^<]*<\/saml:Issuer>/, "");
    expect(noIssuer).not.toContain("Issuer>");
    expect(attempt(encryptAssertion(noIssuer, { data: "aes256-gcm", cert: BRIDGE_ENC_CERT }), now, [keyA]).reason).toBe("decryption_failed");
  });
});

// ---- config ------------------------------------------------------------------------------------------

describe("saml.decryptionKeys[].idps in config", () => {
  it("known SAML IdP ids are accepted", () => {
    expect(configIssues((c) => void (c.saml.decryptionKeys = [{ ...KEY_A, idps: ["idp1", "idp-ec"] }, KEY_B]))).toEqual([]);
  });

  it("an unknown id, a JWT issuer id, an empty list or a malformed id is refused, naming the path", () => {
    expect(configIssues((c) => void (c.saml.decryptionKeys = [KEY_B, { ...KEY_A, idps: ["idp1", "ghost"] }])))
      .toContain('saml.decryptionKeys[1].idps[1]: unknown SAML IdP "ghost"');
    expect(configIssues((c) => {
      c.jwtIssuers = [{ id: "oidc", issuer: "https://oidc.example", jwksFile: "jwks/oidc.jwks.json", audiences: ["x"] }];
      c.saml.decryptionKeys = [{ ...KEY_A, idps: ["oidc"] }];
    })).toContain('saml.decryptionKeys[0].idps[0]: "oidc" is a JWT issuer, not a SAML IdP');
    expect(configIssues((c) => void (c.saml.decryptionKeys = [{ ...KEY_A, idps: [] }])).some((i) => i.startsWith("saml.decryptionKeys[0].idps"))).toBe(true);
    expect(configIssues((c) => void (c.saml.decryptionKeys = [{ ...KEY_A, idps: ["IDP 1"] }])).some((i) => i.startsWith("saml.decryptionKeys[0].idps[0]"))).toBe(true);
  });

  it("start-up fails on an unknown id with the path in the error", async () => {
    await expect(startBridge({ patch: (c) => void (c.saml.decryptionKeys = [{ ...KEY_A, idps: ["ghost"] }]) }))
      .rejects.toThrow(/saml\.decryptionKeys\[0\]\.idps\[0\]/);
  });

  it("with an admin section, an id not in config is accepted (an admin-managed IdP)", () => {
    expect(configIssues((c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash("x".repeat(40)) }], store: { kind: "file", directory: "idps" } };
      c.saml.decryptionKeys = [{ ...KEY_A, idps: ["dyn"] }];
    })).toEqual([]);
  });
});

// ---- metadata ------------------------------------------------------------------------------------------

const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const derB64 = (file: string): string => new X509Certificate(readFileSync(file)).raw.toString("base64");

async function metadata(b: TestBridge, query: string): Promise<Response & { body: string }> {
  return (await b.http
    .get(`/saml/metadata${query}`)
    .buffer(true)
    .parse((res, cb) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => cb(null, body));
    })) as Response & { body: string };
}

async function certsOf(b: TestBridge, query: string): Promise<string[]> {
  const res = await metadata(b, query);
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^application\/samlmetadata\+xml/);
  const doc = parseUntrustedXml(res.body, { maxDepth: 16, maxElements: 200 });
  const sp = children(doc.documentElement!, NS.md, "SPSSODescriptor")[0]!;
  return children(sp, NS.md, "KeyDescriptor").map((kd) => {
    const x509 = children(children(children(kd, NS.ds, "KeyInfo")[0]!, NS.ds, "X509Data")[0]!, NS.ds, "X509Certificate")[0]!;
    return text(x509).replace(/\s+/g, "");
  });
}

describe("GET /saml/metadata?idp=<id>", () => {
  const A = derB64(BRIDGE_ENC_CERT);
  const B = derB64(BRIDGE_ENC_OLD_CERT);

  it("per-IdP keys: each IdP sees only its own certificate; without ?idp= every certificate", async () => {
    expect(await certsOf(perIdp, "?idp=idp1")).toEqual([A]);
    expect(await certsOf(perIdp, "?idp=idp2")).toEqual([B]);
    expect(await certsOf(perIdp, "")).toEqual([A, B]);
    // A known IdP with no key of its own: no encryption certificate at all.
    expect(await certsOf(perIdp, "?idp=idp-ec")).toEqual([]);
  });

  it("a shared key is listed for every IdP, in config order", async () => {
    expect(await certsOf(mixed, "?idp=idp1")).toEqual([A, B]);
    expect(await certsOf(mixed, "?idp=idp2")).toEqual([B]);
  });

  it("an unknown or malformed id → 404; a repeated one → 400; never a document", async () => {
    for (const q of ["?idp=ghost", "?idp=", "?idp=IDP1", `?idp=${"a".repeat(100)}`, "?idp=idp1%00"]) {
      const res = await metadata(perIdp, q);
      expect({ q, status: res.status }).toEqual({ q, status: 404 });
      expect(res.body).not.toContain("EntityDescriptor");
    }
    const res = await metadata(perIdp, "?idp=idp1&idp=idp2");
    expect(res.status).toBe(400);
    expect(res.body).not.toContain("EntityDescriptor");
  });

  it("an admin-managed IdP: 404 until it exists, then only the keys bound to it (and shared ones)", async () => {
    const TOKEN = "admin-token-for-per-idp-keys-0123456789";
    const b = await startBridge({
      adminTickMs: 0,
      patch: (c) => {
        c.admin = { tokens: [{ id: "alice", tokenHash: hash(TOKEN) }], store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-keys-")) } };
        c.saml.decryptionKeys = [{ ...KEY_A, idps: ["idp1"] }, { ...KEY_B, idps: ["dyn"] }];
      },
    });
    try {
      expect((await metadata(b, "?idp=dyn")).status).toBe(404);
      const body = JSON.stringify({ metadata: metadataFor("https://dyn.test/idp", [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }] } });
      const put = await b.http.put("/admin/idps/dyn").set({ Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" }).send(body);
      expect(put.status).toBe(201);
      expect(await certsOf(b, "?idp=dyn")).toEqual([B]);
      expect(await certsOf(b, "?idp=idp1")).toEqual([A]);
    } finally {
      await b.close();
    }
  });
});
