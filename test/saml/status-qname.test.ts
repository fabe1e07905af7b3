// QName-valued content whose namespace declaration exclusive canonicalization drops (issue 8,
// "Genuine IdP output that is refused"): SimpleSAMLphp signs a SAML 1.1 samlp:Response at the
// Response level, its protocol elements in the default namespace, `xmlns:samlp` declared only for
// the QName value `samlp:Success`. Exc-C14N drops that declaration (not visibly utilized), so the
// signed bytes no longer bind the prefix. The value comes from the signed bytes; the prefix is
// resolved against the signed bytes first, then against the received signed element (never its
// ancestors): src/saml/rules.ts qnameIs. Signed by xmlsec1 (with and without an InclusiveNamespaces
// PrefixList) and samlsign. SAML 2.0's StatusCode Value is an anyURI (SAML Core §3.2.2.2), not a
// QName: the same Response shapes are shown to pass there too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOMParser } from "@xmldom/xmldom";
import { decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { KEYS, signSaml11WithSamlsign, signSaml11WithXmlsec1, signWithSamlsign, signWithXmlsec1, verifySaml11WithXmlsec1 } from "../support/independent-signers.js";
import { AM_PASSWORD_11, CM_BEARER_11, IDP11, KEYS_IDP11, NAMEID_EMAIL_11, SAML1_ASSERTION_NS, SAML1_PROTOCOL_NS, SHIB_ATTR_NS, randomSaml11Id } from "../support/saml1-builder.js";
import { send11, withIdp11 } from "../support/saml1-bridge.js";
import { buildAssertion2, randomSamlId, samlTime } from "../support/saml-builder.js";
import { BRIDGE_ENTITY_ID, IDP1, SAML2_ASSERTION_NS, SAML2_PROTOCOL_NS, STATUS_SUCCESS, TOKEN_ENDPOINT } from "../support/constants.js";
import { qnameIs } from "../../src/saml/rules.js";

type Res = { status: number; body: any; headers: Record<string, any> };

/** idp11 with requireSignedAssertion:false: SimpleSAMLphp signs the Response only. */
let lax: TestBridge;
/** idp11 with the default: the assertion must carry its own signature as well. */
let strict: TestBridge;
/** idp1 (SAML 2.0) with requireSignedAssertion:false. */
let lax2: TestBridge;
beforeAll(async () => {
  lax = await startBridge({ patch: (c) => withIdp11(c, { requireSignedAssertion: false }) });
  strict = await startBridge({ patch: (c) => withIdp11(c) });
  lax2 = await startBridge({ patch: (c) => { c.samlIdps.find((i: { id: string }) => i.id === "idp1").requireSignedAssertion = false; } });
});
afterAll(async () => {
  for (const x of [lax, strict, lax2]) await x?.close();
});

const XS = "http://www.w3.org/2001/XMLSchema";
const XSI = "http://www.w3.org/2001/XMLSchema-instance";

interface Shape {
  /** `xmlns:samlp` on the Response: the protocol namespace (default), another one, or none. */
  samlpDecl?: string | null;
  statusValue?: string;
}

/** A SAML 1.1 Response as SimpleSAMLphp writes it (default namespaces, samlp declared for the QName only). */
function simpleSamlphp11(now: number, rid: string, aid: string, o: Shape = {}): string {
  const t = (ms: number): string => samlTime(new Date(now + ms));
  const samlp = o.samlpDecl === undefined ? SAML1_PROTOCOL_NS : o.samlpDecl;
  const subject =
    `<Subject><NameIdentifier Format="${NAMEID_EMAIL_11}">alice@example.com</NameIdentifier>` +
    `<SubjectConfirmation><ConfirmationMethod>${CM_BEARER_11}</ConfirmationMethod></SubjectConfirmation></Subject>`;
  return (
    `<Response xmlns="${SAML1_PROTOCOL_NS}" xmlns:saml="${SAML1_ASSERTION_NS}"${samlp === null ? "" : ` xmlns:samlp="${samlp}"`}` +
    ` xmlns:xsd="${XS}" xmlns:xsi="${XSI}" IssueInstant="${t(0)}" MajorVersion="1" MinorVersion="1" Recipient="${TOKEN_ENDPOINT}" ResponseID="${rid}">` +
    `<Status><StatusCode Value="${o.statusValue ?? "samlp:Success"}"/></Status>` +
    `<Assertion xmlns="${SAML1_ASSERTION_NS}" AssertionID="${aid}" IssueInstant="${t(0)}" Issuer="${IDP11}" MajorVersion="1" MinorVersion="1">` +
    `<Conditions NotBefore="${t(-60_000)}" NotOnOrAfter="${t(300_000)}"><AudienceRestrictionCondition><Audience>${BRIDGE_ENTITY_ID}</Audience></AudienceRestrictionCondition></Conditions>` +
    `<AuthenticationStatement AuthenticationInstant="${t(0)}" AuthenticationMethod="${AM_PASSWORD_11}">${subject}</AuthenticationStatement>` +
    `<AttributeStatement>${subject}<Attribute AttributeName="role" AttributeNamespace="${SHIB_ATTR_NS}"><AttributeValue>user</AttributeValue></Attribute></AttributeStatement>` +
    `</Assertion></Response>`
  );
}

type Signing = { name: string; sign: (xml: string, id: string) => string };
const SIGNINGS: Signing[] = [
  { name: "xmlsec1, no PrefixList", sign: (xml, id) => signSaml11WithXmlsec1(xml, id, { key: KEYS_IDP11 }) },
  { name: "xmlsec1, PrefixList samlp", sign: (xml, id) => signSaml11WithXmlsec1(xml, id, { key: KEYS_IDP11, inclusivePrefixes: ["samlp"] }) },
  { name: "samlsign", sign: (xml, id) => signSaml11WithSamlsign(xml, id, { key: KEYS_IDP11 }) },
];

function fixture(b: TestBridge, o: Shape, s: Signing, signAssertion = false): { xml: string; rid: string } {
  const rid = randomSaml11Id("_r");
  const aid = randomSaml11Id("_a");
  let xml = simpleSamlphp11(b.clock.now, rid, aid, o);
  if (signAssertion) xml = signSaml11WithXmlsec1(xml, aid, { key: KEYS_IDP11 });
  return { xml: s.sign(xml, rid), rid };
}

function ok(res: Res): void {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const p = decodeJwt(res.body.access_token).payload;
  expect(p.sub).toBe("alice@example.com");
  expect(p.idp).toBe(IDP11);
}

function refused(res: Res, reason: string): void {
  expectError(res, 400, "invalid_request", reason);
}

describe.each(SIGNINGS)("SAML 1.1 SimpleSAMLphp-shaped Response signed by $name", (s) => {
  it("samlp:Success, samlp declared only for the value → 200 (and xmlsec1 verifies the same document)", async () => {
    const fx = fixture(lax, {}, s);
    expect(verifySaml11WithXmlsec1(fx.xml, fx.rid, KEYS_IDP11.cert)).toBe(true);
    ok(await send11(lax, fx.xml));
  });

  it("the same with the assertion signed as well, default policy → 200", async () => {
    ok(await send11(strict, fixture(strict, {}, s, true).xml));
  });

  it("samlp bound to another namespace (signed so) → status_not_success", async () => {
    refused(await send11(lax, fixture(lax, { samlpDecl: "urn:example:not-samlp" }, s).xml), "status_not_success");
  });

});

// samlsign refuses to sign a document whose QName uses an undeclared prefix, and writes an
// unprefixed QName as "{namespace}Success" (an OpenSAML serialization, refused here as any
// non-QName is): these shapes come from xmlsec1, which signs what it is given.
describe.each(SIGNINGS.slice(0, 2))("SAML 1.1 SimpleSAMLphp-shaped Response signed by $name", (s) => {
  it("undeclared prefix (signed so) → status_not_success", async () => {
    refused(await send11(lax, fixture(lax, { samlpDecl: null }, s).xml), "status_not_success");
  });

  it("an undeclared prefix other than samlp, or another local name → status_not_success", async () => {
    refused(await send11(lax, fixture(lax, { statusValue: "p:Success" }, s).xml), "status_not_success");
    refused(await send11(lax, fixture(lax, { statusValue: "samlp:Requester" }, s).xml), "status_not_success");
    refused(await send11(lax, fixture(lax, { statusValue: "samlp:success" }, s).xml), "status_not_success");
  });

  it("unprefixed Success resolves to the default namespace, the protocol's → 200", async () => {
    ok(await send11(lax, fixture(lax, { statusValue: "Success" }, s).xml));
  });
});

describe("the dropped declaration is not signed: altering it can only refuse", () => {
  it("no PrefixList: samlp rebound after signing → the signature still holds, the status is status_not_success", async () => {
    const fx = fixture(lax, {}, SIGNINGS[0]!);
    const altered = fx.xml.replace(`xmlns:samlp="${SAML1_PROTOCOL_NS}"`, `xmlns:samlp="urn:example:evil"`);
    expect(altered).not.toBe(fx.xml);
    expect(verifySaml11WithXmlsec1(altered, fx.rid, KEYS_IDP11.cert)).toBe(true);
    refused(await send11(lax, altered), "status_not_success");
  });

  it("no PrefixList: samlp declaration removed after signing → status_not_success", async () => {
    const fx = fixture(lax, {}, SIGNINGS[0]!);
    const altered = fx.xml.replace(` xmlns:samlp="${SAML1_PROTOCOL_NS}"`, "");
    expect(altered).not.toBe(fx.xml);
    refused(await send11(lax, altered), "status_not_success");
  });

  it("with PrefixList samlp the declaration is signed: rebinding it breaks the signature", async () => {
    const fx = fixture(lax, {}, SIGNINGS[1]!);
    const altered = fx.xml.replace(`xmlns:samlp="${SAML1_PROTOCOL_NS}"`, `xmlns:samlp="urn:example:evil"`);
    expect(altered).not.toBe(fx.xml);
    refused(await send11(lax, altered), "signature_invalid");
  });
});

describe("qnameIs: where the prefix may be resolved", () => {
  const P = SAML1_PROTOCOL_NS;
  const parse = (xml: string): Document => new DOMParser().parseFromString(xml, "text/xml") as unknown as Document;
  const codeIn = (doc: Document): Element => doc.getElementsByTagNameNS(P, "StatusCode")[0] as unknown as Element;
  const responseIn = (doc: Document): Element => doc.getElementsByTagNameNS(P, "Response")[0] as unknown as Element;

  it("a declaration on an ancestor outside the signed element is not used", () => {
    const received = parse(`<w xmlns:samlp="${P}"><Response xmlns="${P}"><Status><StatusCode Value="samlp:Success"/></Status></Response></w>`);
    const signed = parse(`<Response xmlns="${P}"><Status><StatusCode Value="samlp:Success"/></Status></Response>`);
    expect(qnameIs("samlp:Success", codeIn(signed), codeIn(received), responseIn(received), P, "Success")).toBe(false);
    // The same declaration on the signed element itself is used.
    const inside = parse(`<w><Response xmlns="${P}" xmlns:samlp="${P}"><Status><StatusCode Value="samlp:Success"/></Status></Response></w>`);
    expect(qnameIs("samlp:Success", codeIn(signed), codeIn(inside), responseIn(inside), P, "Success")).toBe(true);
  });

  it("a binding in the signed bytes wins over the received document's", () => {
    const signed = parse(`<Response xmlns="${P}" xmlns:samlp="urn:example:other"><Status><StatusCode Value="samlp:Success"/></Status></Response>`);
    const received = parse(`<Response xmlns="${P}" xmlns:samlp="${P}"><Status><StatusCode Value="samlp:Success"/></Status></Response>`);
    expect(qnameIs("samlp:Success", codeIn(signed), codeIn(received), responseIn(received), P, "Success")).toBe(false);
    expect(qnameIs("samlp:Success", codeIn(received), codeIn(signed), responseIn(signed), P, "Success")).toBe(true);
  });

  it("the nearest declaration inside the signed element counts; malformed QNames never match", () => {
    const received = parse(`<Response xmlns="${P}" xmlns:samlp="${P}"><Status xmlns:samlp="urn:example:other"><StatusCode Value="samlp:Success"/></Status></Response>`);
    const signed = parse(`<Response xmlns="${P}"><Status><StatusCode Value="samlp:Success"/></Status></Response>`);
    expect(qnameIs("samlp:Success", codeIn(signed), codeIn(received), responseIn(received), P, "Success")).toBe(false);
    for (const v of [undefined, "", ":Success", "samlp:", "a:b:Success", " samlp:Success", "samlp:Success "]) {
      expect(qnameIs(v, codeIn(signed), codeIn(signed), responseIn(signed), P, "Success"), String(v)).toBe(false);
    }
  });
});

describe("SAML 2.0: StatusCode is an anyURI, so the same Response shapes pass", () => {
  /** A default-namespace samlp:Response around an unsigned assertion, `xmlns:samlp` declared but unused. */
  function response2(b: TestBridge, rid: string): string {
    const a = buildAssertion2({ id: randomSamlId("_a"), now: new Date(b.clock.now) });
    return (
      `<Response xmlns="${SAML2_PROTOCOL_NS}" xmlns:samlp="${SAML2_PROTOCOL_NS}" xmlns:saml="${SAML2_ASSERTION_NS}" ID="${rid}" Version="2.0"` +
      ` IssueInstant="${samlTime(new Date(b.clock.now))}" Destination="${TOKEN_ENDPOINT}"><saml:Issuer>${IDP1}</saml:Issuer>` +
      `<Status><StatusCode Value="${STATUS_SUCCESS}"/></Status>${a}</Response>`
    );
  }
  const signers2: [string, (xml: string, id: string) => string][] = [
    ["xmlsec1, no PrefixList", (xml, id) => signWithXmlsec1(xml, id, { key: KEYS.idp1 })],
    ["xmlsec1, PrefixList samlp", (xml, id) => signWithXmlsec1(xml, id, { key: KEYS.idp1, inclusivePrefixes: ["samlp"] })],
    ["samlsign", (xml, id) => signWithSamlsign(xml, id, { key: KEYS.idp1 })],
  ];
  it.each(signers2)("signed by %s → 200", async (_name, sign) => {
    const rid = randomSamlId("_r");
    const res = (await exchange(lax2, { xml: sign(response2(lax2, rid), rid), scope: "read" })) as unknown as Res;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });
  it("a QName-looking status (samlp:Success) is not the Success URI → status_not_success", async () => {
    const rid = randomSamlId("_r");
    const xml = signWithXmlsec1(response2(lax2, rid).replace(`Value="${STATUS_SUCCESS}"`, `Value="samlp:Success"`), rid, { key: KEYS.idp1 });
    refused((await exchange(lax2, { xml, scope: "read" })) as unknown as Res, "status_not_success");
  });
});
