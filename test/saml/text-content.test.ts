// SAML fields read as text (issue 8, "SAML content the mapping must not trust as text"): an
// AttributeValue with element children (structured or xsi:type'd complex content) is refused
// (attribute_value_invalid), and so is element content in every other field read as text, NameID /
// NameIdentifier, Issuer, Audience, AuthnContextClassRef, ConfirmationMethod (saml_text_invalid):
// never flattened with textContent into a string of the signer's markup choosing. Comments inside
// a text field are skipped (catalogue B12: the canonical form the signature covers has none), CDATA
// is text. Every fixture is signed by an independent implementation (xmlsec1, samlsign).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId, type Assertion2Options } from "../support/saml-builder.js";
import { KEYS, signWithSamlsign, signWithXmlsec1 } from "../support/independent-signers.js";
import { AC_PASSWORD_PROTECTED_TRANSPORT, BRIDGE_ENTITY_ID, IDP1 } from "../support/constants.js";
import { assertion11, response11, send11, withIdp11, type Signer11 } from "../support/saml1-bridge.js";
import { CM_BEARER_11, type Assertion11Options } from "../support/saml1-builder.js";

type Res = { status: number; body: any; headers: Record<string, any> };
type Signer = "xmlsec1" | "samlsign";

let b: TestBridge;
beforeAll(async () => {
  b = await startBridge({ patch: (c) => withIdp11(c) });
});
afterAll(async () => {
  await b?.close();
});

/** Markup an attacker (or a careless IdP) nests in a text field; a foreign namespace, empty or not. */
const NESTED = '<x:b xmlns:x="urn:example:x">m</x:b>';
const EMPTY = '<x:b xmlns:x="urn:example:x"/>';

/** A SAML 2.0 assertion from idp1 with `edit` applied to the XML before it is signed. */
function assertion2(o: Assertion2Options, edit: (xml: string) => string, signer: Signer = "xmlsec1"): string {
  const id = randomSamlId("_a");
  const before = buildAssertion2({ now: new Date(b.clock.now), ...o, id });
  const xml = edit(before);
  if (xml === before) throw new Error("edit had no effect");
  return (signer === "xmlsec1" ? signWithXmlsec1 : signWithSamlsign)(xml, id, { key: KEYS.idp1 });
}

const send = (xml: string, scope = "read"): Promise<Res> => exchange(b, { xml, scope }) as unknown as Promise<Res>;

function refused(res: Res, reason: string): void {
  expectError(res, 400, "invalid_request", reason);
  expect(JSON.stringify(res.body)).not.toMatch(/<|alice|admin/);
}

function token(res: Res): Record<string, any> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return decodeJwt(res.body.access_token).payload;
}

describe.each(["xmlsec1", "samlsign"] as const)("SAML 2.0 AttributeValue, signed by %s", (signer) => {
  const role = (values: string[]): Assertion2Options => ({ attributes: [{ name: "role", values }] });

  it("control: a text value maps (role=admin grants write)", async () => {
    const p = token(await send(assertion2(role(["MARK"]), (x) => x.replace("MARK", "admin"), signer), "read write"));
    expect(p.role).toEqual(["admin"]);
    expect(p.scope).toBe("read write");
  });

  it("text split by a nested element (would flatten to 'admin') → attribute_value_invalid", async () => {
    refused(await send(assertion2(role(["MARK"]), (x) => x.replace("MARK", `ad${NESTED}in`), signer), "read write"), "attribute_value_invalid");
  });

  it("a value that is only an element → attribute_value_invalid", async () => {
    refused(await send(assertion2(role(["MARK"]), (x) => x.replace("MARK", '<x:v xmlns:x="urn:example:x">admin</x:v>'), signer)), "attribute_value_invalid");
  });

  it("an empty element beside the text → attribute_value_invalid", async () => {
    refused(await send(assertion2(role(["MARK"]), (x) => x.replace("MARK", `admin${EMPTY}`), signer)), "attribute_value_invalid");
  });

  it("xsi:type'd complex content (structured, in a namespace of its own) → attribute_value_invalid", async () => {
    const edit = (x: string): string =>
      x.replace('xsi:type="xs:string">MARK', `xmlns:x="urn:example:x" xsi:type="x:Structured"><x:part>ad</x:part><x:part>min</x:part>`);
    refused(await send(assertion2(role(["MARK"]), edit, signer), "read write"), "attribute_value_invalid");
  });

  it("a second value with element content beside a good one → attribute_value_invalid", async () => {
    refused(await send(assertion2(role(["user", "MARK"]), (x) => x.replace("MARK", `x${NESTED}`), signer)), "attribute_value_invalid");
  });

  it("an attribute the mapping does not use is refused all the same (fail closed)", async () => {
    const o: Assertion2Options = { attributes: [{ name: "role", values: ["user"] }, { name: "unmapped", values: ["MARK"] }] };
    refused(await send(assertion2(o, (x) => x.replace("MARK", NESTED), signer)), "attribute_value_invalid");
  });

  it("an xsi:nil value with element content → attribute_value_invalid (checked before nil is honoured)", async () => {
    const edit = (x: string): string => x.replace('xsi:type="xs:string">MARK', `xsi:nil="true">${EMPTY}`);
    refused(await send(assertion2(role(["user", "MARK"]), edit, signer)), "attribute_value_invalid");
  });

  it("a comment inside a value is skipped (B12), CDATA is text: both read 'admin'", async () => {
    for (const inner of ["ad<!-- c -->min", "<![CDATA[ad]]>min"]) {
      const p = token(await send(assertion2(role(["MARK"]), (x) => x.replace("MARK", inner), signer), "read write"));
      expect(p.role, inner).toEqual(["admin"]);
    }
  });
});

// OpenSAML's samlsign validates the schema before signing and refuses element content in these
// simple-typed fields; xmlsec1 signs whatever it is given, as a malicious or broken IdP would.
describe.each(["xmlsec1"] as const)("SAML 2.0 fields read as text, signed by %s", (signer) => {
  it("an eduPersonTargetedID-style value (xsi:type NameIDType, a NameID element) → attribute_value_invalid", async () => {
    const edit = (x: string): string =>
      x.replace('xsi:type="xs:string">MARK', `xsi:type="saml:NameIDType"><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">admin</saml:NameID>`);
    refused(await send(assertion2({ attributes: [{ name: "role", values: ["MARK"] }] }, edit, signer)), "attribute_value_invalid");
  });

  it("NameID with an element inside → saml_text_invalid", async () => {
    refused(await send(assertion2({ nameId: "MARK@example.com" }, (x) => x.replace("MARK@", `alice${EMPTY}@`), signer)), "saml_text_invalid");
  });

  it("NameID that is only an element → saml_text_invalid", async () => {
    refused(await send(assertion2({ nameId: "MARK" }, (x) => x.replace("MARK", `<saml:NameID>alice@example.com</saml:NameID>`), signer)), "saml_text_invalid");
  });

  it("Audience split by an element (would flatten to the bridge's entity ID) → saml_text_invalid", async () => {
    const [head, tail] = [BRIDGE_ENTITY_ID.slice(0, 10), BRIDGE_ENTITY_ID.slice(10)];
    const edit = (x: string): string => x.replace(`<saml:Audience>${BRIDGE_ENTITY_ID}</saml:Audience>`, `<saml:Audience>${head}${EMPTY}${tail}</saml:Audience>`);
    refused(await send(assertion2({}, edit, signer)), "saml_text_invalid");
  });

  it("a second Audience with element content, beside the bridge's own → saml_text_invalid", async () => {
    const edit = (x: string): string => x.replace("<saml:Audience>MARK</saml:Audience>", `<saml:Audience>${NESTED}</saml:Audience>`);
    refused(await send(assertion2({ audiences: [BRIDGE_ENTITY_ID, "MARK"] }, edit, signer)), "saml_text_invalid");
  });

  it("AuthnContextClassRef with an element inside → saml_text_invalid", async () => {
    const edit = (x: string): string => x.replace(AC_PASSWORD_PROTECTED_TRANSPORT, `urn:${NESTED}`);
    refused(await send(assertion2({}, edit, signer)), "saml_text_invalid");
  });

  it("assertion Issuer split by an element (would flatten to idp1) → saml_text_invalid", async () => {
    const edit = (x: string): string => x.replace(`<saml:Issuer>${IDP1}</saml:Issuer>`, `<saml:Issuer>${IDP1.slice(0, 8)}${EMPTY}${IDP1.slice(8)}</saml:Issuer>`);
    refused(await send(assertion2({}, edit, signer)), "saml_text_invalid");
  });
});

describe("SAML 2.0 Response fields read as text", () => {
  it("Response Issuer with an element inside (Response signed by xmlsec1) → saml_text_invalid", async () => {
    const a = assertion2({ nameId: "MARK" }, (x) => x.replace("MARK", "alice@example.com"));
    const rid = randomSamlId("_r");
    const xml = buildResponse2(a, { id: rid, now: new Date(b.clock.now) }).replace(`<saml:Issuer>${IDP1}</saml:Issuer>`, `<saml:Issuer>${IDP1}${EMPTY}</saml:Issuer>`);
    expect(xml).toContain(EMPTY);
    refused(await send(signWithXmlsec1(xml, rid, { key: KEYS.idp1 })), "saml_text_invalid");
  });

  it("control: the same Response without the element → 200", async () => {
    const a = assertion2({ nameId: "MARK" }, (x) => x.replace("MARK", "alice@example.com"));
    const rid = randomSamlId("_r");
    const xml = buildResponse2(a, { id: rid, now: new Date(b.clock.now) });
    expect(token(await send(signWithXmlsec1(xml, rid, { key: KEYS.idp1 }))).sub).toBe("alice@example.com");
  });
});

describe.each(["xmlsec1", "samlsign"] as const)("SAML 1.1 AttributeValue, signed by %s", (signer: Signer11) => {
  const bare = (mutate: (x: string) => string, o: Assertion11Options = {}): string => assertion11(b, { signer, o, mutate }).xml;

  it("control: a text value maps", async () => {
    const res = await send11(b, bare((x) => x.replace(">MARK<", ">editor<"), { attributes: [{ name: "role", values: ["MARK"] }] }), { scope: "read write" });
    expect(token(res).role).toEqual(["editor"]);
  });

  it("AttributeValue split by an element (would flatten to 'editor') → attribute_value_invalid", async () => {
    const xml = bare((x) => x.replace(">MARK<", `>edi${NESTED}tor<`), { attributes: [{ name: "role", values: ["MARK"] }] });
    refused(await send11(b, xml, { scope: "read write" }), "attribute_value_invalid");
  });

  it("AttributeValue with xsi:type'd complex content → attribute_value_invalid", async () => {
    const xml = bare(
      (x) => x.replace('xsi:type="xs:string">MARK<', `xsi:type="saml:SubjectType"><saml:NameIdentifier>editor</saml:NameIdentifier><`),
      { attributes: [{ name: "role", values: ["MARK"] }] },
    );
    refused(await send11(b, xml), "attribute_value_invalid");
  });

  it("AttributeValue without xsi:type (Shibboleth style) holding an element → attribute_value_invalid", async () => {
    const xml = bare((x) => x.replace(">MARK<", `>${NESTED}<`), { attributes: [{ name: "role", values: ["MARK"] }], xsiType: false });
    refused(await send11(b, xml), "attribute_value_invalid");
  });

});

// As above: samlsign refuses to sign element content in simple-typed fields.
describe.each(["xmlsec1"] as const)("SAML 1.1 fields read as text, signed by %s", (signer: Signer11) => {
  const bare = (mutate: (x: string) => string, o: Assertion11Options = {}): string => assertion11(b, { signer, o, mutate }).xml;

  it("NameIdentifier with an element inside (every statement alike) → saml_text_invalid", async () => {
    const xml = bare((x) => x.replaceAll("MARK@", `alice${EMPTY}@`), { subject: { nameId: "MARK@example.com" } });
    refused(await send11(b, xml), "saml_text_invalid");
  });

  it("Audience split by an element → saml_text_invalid", async () => {
    const xml = bare((x) => x.replace(`<saml:Audience>${BRIDGE_ENTITY_ID}</saml:Audience>`, `<saml:Audience>${BRIDGE_ENTITY_ID.slice(0, 9)}${EMPTY}${BRIDGE_ENTITY_ID.slice(9)}</saml:Audience>`));
    refused(await send11(b, xml), "saml_text_invalid");
  });

  it("ConfirmationMethod split by an element (would flatten to bearer) → saml_text_invalid", async () => {
    const xml = bare((x) => x.replaceAll(`>${CM_BEARER_11}<`, `>${CM_BEARER_11.slice(0, 20)}${EMPTY}${CM_BEARER_11.slice(20)}<`));
    refused(await send11(b, xml), "saml_text_invalid");
  });

  it("in a signed Response too: NameIdentifier with an element → saml_text_invalid", async () => {
    const fx = response11(b, { assertion: { signer, o: { subject: { nameId: "MARK@example.com" } }, mutate: (x) => x.replaceAll("MARK@", `alice${EMPTY}@`) }, signer });
    refused(await send11(b, fx.xml), "saml_text_invalid");
  });
});

