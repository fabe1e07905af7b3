// Positive SAML 2.0 fixtures from INDEPENDENT implementations (xmlsec1, OpenSAML's samlsign, pysaml2),
// each exchanged over HTTP at POST /token. Nothing here is signed by our own code: a symmetric bug
// (ID attribute, canonicalization) between a signer and the verifier we wrote could not hide.
// Attack catalogue §0.1 (B-S2, B-S2R-a/-r/-ar), B4 (KeyInfo ignored), D16, D22e; interop-notes.md.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TOKEN_TYPE, API, CLIENTS, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId, type Assertion2Options } from "../support/saml-builder.js";
import {
  KEYS,
  pysaml2Responses,
  signWithSamlsign,
  signWithXmlsec1,
  type KeyPair,
  type Pysaml2Options,
  type SignOptions,
} from "../support/independent-signers.js";
import { ATTACKER_CERT, BRIDGE_ENTITY_ID, IDP1, IDP2, IDP_EC, TOKEN_ENDPOINT } from "../support/constants.js";

type Signer = (xml: string, id: string, o: SignOptions) => string;

interface Want {
  idp?: string;
  scope?: string;
  /** Mapped `role` claim (idp1 only); undefined = the claim must be absent. */
  role?: string[] | undefined;
  sub?: string;
}

/** 200 with an RFC 9068 access token carrying the expected claims (sub, aud, scope, act, idp, role). */
function expectToken(res: { status: number; body: any }, want: Want = {}): Record<string, any> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.token_type).toBe("Bearer");
  expect(res.body.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
  const { header, payload } = decodeJwt(res.body.access_token);
  expect(header.typ).toBe("at+jwt");
  expect(payload.sub).toBe(want.sub ?? "alice@example.com");
  expect(payload.aud).toBe(API);
  expect(payload.scope).toBe(want.scope ?? "read");
  expect(payload.act).toEqual({ sub: CLIENTS.c1.id });
  expect(payload.client_id).toBe(CLIENTS.c1.id);
  expect(payload.idp).toBe(want.idp ?? IDP1);
  const role = "role" in want ? want.role : ["user"];
  if (role === undefined) expect(payload).not.toHaveProperty("role");
  else expect(payload.role).toEqual(role);
  expect(payload.exp).toBeGreaterThan(payload.iat);
  return payload;
}

/** A fresh unsigned assertion (unique ID, times from the bridge clock). */
function assertion(bridge: TestBridge, o: Assertion2Options = {}): { xml: string; id: string } {
  const id = randomSamlId("_a");
  return { id, xml: buildAssertion2({ ...o, id, now: new Date(bridge.clock.now) }) };
}

function response(bridge: TestBridge, assertionXml: string): { xml: string; id: string } {
  const id = randomSamlId("_r");
  return { id, xml: buildResponse2(assertionXml, { id, now: new Date(bridge.clock.now) }) };
}

/** The attacker's certificate as base64 DER (what goes into ds:X509Certificate). */
const ATTACKER_CERT_B64 = readFileSync(ATTACKER_CERT, "utf8")
  .replace(/-----(BEGIN|END) CERTIFICATE-----/g, "")
  .replace(/\s+/g, "");

const X509_CERT = /(<(?:[\w.-]+:)?X509Certificate>)[^<]*(<\/(?:[\w.-]+:)?X509Certificate>)/g;

let strict: TestBridge;
/** idp1 with requireSignedAssertion:false: a signed Response around an unsigned assertion is enough. */
let lax: TestBridge;

const idp1Of = (c: Record<string, any>): Record<string, any> => c.samlIdps.find((i: { id: string }) => i.id === "idp1");

beforeAll(async () => {
  strict = await startBridge();
  lax = await startBridge({ patch: (c) => void (idp1Of(c).requireSignedAssertion = false) });
});
afterAll(async () => {
  await strict?.close();
  await lax?.close();
});

describe.each([
  ["xmlsec1", signWithXmlsec1],
  ["samlsign", signWithSamlsign],
] as const)("%s-signed fixtures", (_tool, signRaw) => {
  const sign: Signer = signRaw;
  const idp1: SignOptions = { key: KEYS.idp1 };

  it.each(["saml", "saml2", ""] as const)("bare signed assertion, prefix %j, rsa-sha256 → 200", async (prefix) => {
    const a = assertion(strict, { prefix });
    const xml = sign(a.xml, a.id, { ...idp1, alg: "rsa-sha256", digest: "sha256" });
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("bare signed assertion, rsa-sha512 + sha512 → 200", async () => {
    const a = assertion(strict);
    const xml = sign(a.xml, a.id, { ...idp1, alg: "rsa-sha512", digest: "sha512" });
    expect(xml).toContain("xmldsig-more#rsa-sha512");
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("maps role=editor to read write (and the role claim)", async () => {
    const a = assertion(strict, { prefix: "saml2", attributes: [{ name: "role", values: ["editor"] }] });
    const xml = sign(a.xml, a.id, idp1);
    expectToken(await exchange(strict, { xml, scope: "read write" }), { scope: "read write", role: ["editor"] });
  });

  it("Response with a signed assertion (B-S2R-a) → 200", async () => {
    const a = assertion(strict);
    const r = response(strict, a.xml);
    const xml = sign(r.xml, a.id, idp1);
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("signed Response around an UNSIGNED assertion (B-S2R-r): signature_missing by default", async () => {
    const a = assertion(strict);
    const r = response(strict, a.xml);
    const xml = sign(r.xml, r.id, idp1);
    const res = await exchange(strict, { xml, scope: "read" });
    expectError(res, 400, "invalid_request", "signature_missing");
    expect(JSON.stringify(res.body)).not.toMatch(/<|alice/);
  });

  it("signed Response around an UNSIGNED assertion (B-S2R-r): 200 with requireSignedAssertion:false", async () => {
    const a = assertion(lax);
    const r = response(lax, a.xml);
    const xml = sign(r.xml, r.id, idp1);
    expectToken(await exchange(lax, { xml, scope: "read" }));
  });

  it("Response and assertion both signed (B-S2R-ar) → 200", async () => {
    const a = assertion(strict);
    const r = response(strict, a.xml);
    const xml = sign(sign(r.xml, a.id, idp1), r.id, idp1);
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("Response and assertion both signed, rsa-sha512 → 200", async () => {
    const a = assertion(strict, { prefix: "saml2" });
    const r = response(strict, a.xml);
    const opts: SignOptions = { ...idp1, alg: "rsa-sha512", digest: "sha512" };
    const xml = sign(sign(r.xml, a.id, opts), r.id, opts);
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("signed with the rollover key idp1Next (KeyDescriptor without use) → 200", async () => {
    const a = assertion(strict);
    const xml = sign(a.xml, a.id, { key: KEYS.idp1Next });
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("idp2 (metadata in an EntitiesDescriptor) → 200", async () => {
    const a = assertion(strict, { issuer: IDP2 });
    const xml = sign(a.xml, a.id, { key: KEYS.idp2 });
    expectToken(await exchange(strict, { xml, scope: "read" }), { idp: IDP2, role: undefined });
  });

  it("ECDSA P-256 (idp-ec), bare assertion → 200", async () => {
    const a = assertion(strict, { issuer: IDP_EC });
    const xml = sign(a.xml, a.id, { key: KEYS.idpEc });
    expect(xml).toContain("xmldsig-more#ecdsa-sha256");
    expectToken(await exchange(strict, { xml, scope: "read" }), { idp: IDP_EC, role: undefined });
  });

  it("ECDSA P-256 (idp-ec), Response with both signed → 200", async () => {
    const a = assertion(strict, { issuer: IDP_EC });
    const r = response(strict, a.xml);
    const ec: SignOptions = { key: KEYS.idpEc };
    const xml = sign(sign(r.xml, a.id, ec), r.id, ec);
    expectToken(await exchange(strict, { xml, scope: "read" }), { idp: IDP_EC, role: undefined });
  });

  // Catalogue B4: KeyInfo is never a source of trust, so it has no effect either way.
  it("KeyInfo removed, signature genuine → 200", async () => {
    const a = assertion(strict);
    const xml = sign(a.xml, a.id, { ...idp1, keyInfo: "none" });
    expect(xml).not.toContain("KeyInfo");
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("KeyInfo certificate swapped for the attacker's, signature genuine → 200", async () => {
    const a = assertion(strict);
    const signed = sign(a.xml, a.id, idp1);
    const xml = signed.replace(X509_CERT, `$1${ATTACKER_CERT_B64}$2`);
    expect(xml).not.toBe(signed);
    expect(xml).toContain(ATTACKER_CERT_B64);
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });

  it("KeyInfo of the Response signature (both signed) swapped for the attacker's → 200", async () => {
    // Only the Response's own KeyInfo: the assertion's Signature is part of the Response's signed
    // content, so changing it would (rightly) break the Response signature.
    const a = assertion(strict);
    const r = response(strict, a.xml);
    const signed = sign(sign(r.xml, a.id, idp1), r.id, idp1);
    const xml = signed.replace(new RegExp(X509_CERT.source), `$1${ATTACKER_CERT_B64}$2`);
    expect(xml.split(ATTACKER_CERT_B64).length - 1).toBe(1);
    expect(xml.indexOf(ATTACKER_CERT_B64)).toBeLessThan(xml.indexOf(`ID="${a.id}"`));
    expectToken(await exchange(strict, { xml, scope: "read" }));
  });
});

describe("pysaml2-built and -signed Responses", () => {
  // pysaml2 stamps real time (second precision, NotBefore = IssueInstant = now), so these bridges are
  // started after the batch with the real clock. Audience and Recipient are set explicitly.
  const base = { audience: BRIDGE_ENTITY_ID, recipient: TOKEN_ENDPOINT, issuer: IDP1 } satisfies Partial<Pysaml2Options>;
  const key: KeyPair = KEYS.idp1;
  const shapes: Pysaml2Options[] = [
    { ...base, key, signAssertion: true, signResponse: false },
    { ...base, key, signAssertion: false, signResponse: true },
    { ...base, key, signAssertion: true, signResponse: true },
    { ...base, key, signAssertion: true, signResponse: true, attributes: { role: ["admin"] }, nameId: "carol@example.com" },
    { ...base, key: KEYS.idp1Next, signAssertion: true, signResponse: false },
  ];
  let batch: string[] = [];
  let pyStrict: TestBridge;
  let pyLax: TestBridge;
  beforeAll(async () => {
    batch = pysaml2Responses(shapes); // one Python process (~1 s)
    pyStrict = await startBridge();
    pyLax = await startBridge({ patch: (c) => void (idp1Of(c).requireSignedAssertion = false) });
  });
  afterAll(async () => {
    await pyStrict?.close();
    await pyLax?.close();
  });

  it("signAssertion → 200", async () => {
    expect(batch[0]).toMatch(/<ns\d:Response /);
    expectToken(await exchange(pyStrict, { xml: batch[0]!, scope: "read" }));
  });

  it("signResponse only → signature_missing by default", async () => {
    const res = await exchange(pyStrict, { xml: batch[1]!, scope: "read" });
    expectError(res, 400, "invalid_request", "signature_missing");
    expect(JSON.stringify(res.body)).not.toMatch(/<|alice/);
  });

  it("signResponse only → 200 with requireSignedAssertion:false", async () => {
    expectToken(await exchange(pyLax, { xml: batch[1]!, scope: "read" }));
  });

  it("signAssertion + signResponse → 200", async () => {
    expectToken(await exchange(pyStrict, { xml: batch[2]!, scope: "read" }));
  });

  it("both signed, other subject and role=admin → 200 with read write", async () => {
    expectToken(await exchange(pyStrict, { xml: batch[3]!, scope: "read write" }), {
      sub: "carol@example.com",
      scope: "read write",
      role: ["admin"],
    });
  });

  it("signed with the rollover key idp1Next → 200", async () => {
    expectToken(await exchange(pyStrict, { xml: batch[4]!, scope: "read" }));
  });
});
