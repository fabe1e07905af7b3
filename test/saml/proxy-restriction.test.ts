// saml:ProxyRestriction (SAML Core §2.5.1.6). The access token the bridge mints from an assertion
// is a new assertion issued on the basis of it, so the bridge is a relying party "acting as an
// asserting party": Count="0" forbids it (proxy_restriction_forbids), and listed Audiences are
// "the set of audiences to whom the asserting party permits new assertions to be issued": the
// bridge itself must be among them (its entity ID or an alias; otherwise proxy_restriction_forbids),
// and when they name audiences beyond the bridge, every audience of the issued token must be among
// those (proxy_audience_not_allowed, invalid_target).
// At most one ProxyRestriction and one OneTimeUse (§2.5.1.5, §2.5.1.6 "MUST NOT include more
// than one"); any other condition stays refused. Fixtures signed by xmlsec1 and samlsign.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, OTHER_API, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, randomSamlId } from "../support/saml-builder.js";
import { KEYS, signWithSamlsign, signWithXmlsec1 } from "../support/independent-signers.js";
import { BRIDGE_ENTITY_ID } from "../support/constants.js";

type Res = { status: number; body: any; headers: Record<string, any> };

let b: TestBridge;
beforeAll(async () => {
  b = await startBridge();
});
afterAll(async () => {
  await b?.close();
});

const proxy = (count: string | undefined, audiences: string[] = []): string =>
  `<saml:ProxyRestriction${count === undefined ? "" : ` Count="${count}"`}>${audiences.map((a) => `<saml:Audience>${a}</saml:Audience>`).join("")}</saml:ProxyRestriction>`;

/** An idp1 assertion whose Conditions end with `extra` (after the AudienceRestriction), signed. */
function withConditions(extra: string, signer: "xmlsec1" | "samlsign" = "xmlsec1"): string {
  const id = randomSamlId("_a");
  const xml = buildAssertion2({ id, now: new Date(b.clock.now) });
  const edited = xml.replace("</saml:AudienceRestriction>", `</saml:AudienceRestriction>${extra}`);
  expect(edited).not.toBe(xml);
  return (signer === "xmlsec1" ? signWithXmlsec1 : signWithSamlsign)(edited, id, { key: KEYS.idp1 });
}

const send = (xml: string, audience: string | string[] = API): Promise<Res> => exchange(b, { xml, scope: "read", audience }) as unknown as Promise<Res>;

function refused(res: Res, status: number, error: string, reason: string): void {
  expectError(res, status, error, reason);
  expect(JSON.stringify(res.body)).not.toMatch(/<|alice/);
}

function issued(res: Res): string[] {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const aud = decodeJwt(res.body.access_token).payload.aud;
  return [aud].flat();
}

describe.each(["xmlsec1", "samlsign"] as const)("ProxyRestriction, signed by %s", (signer) => {
  it("Count=\"0\" → proxy_restriction_forbids", async () => {
    refused(await send(withConditions(proxy("0"), signer)), 400, "invalid_request", "proxy_restriction_forbids");
  });

  it("Count=\"0\" even when the audience is listed → proxy_restriction_forbids", async () => {
    refused(await send(withConditions(proxy("0", [API]), signer)), 400, "invalid_request", "proxy_restriction_forbids");
  });

  it("Count=\"00\" (leading zero, still zero) → proxy_restriction_forbids", async () => {
    refused(await send(withConditions(proxy("00"), signer)), 400, "invalid_request", "proxy_restriction_forbids");
  });

  it("Audiences that do not name the bridge → proxy_restriction_forbids (the bridge may not issue)", async () => {
    refused(await send(withConditions(proxy("1", [OTHER_API]), signer), API), 400, "invalid_request", "proxy_restriction_forbids");
    refused(await send(withConditions(proxy("1", [API]), signer), API), 400, "invalid_request", "proxy_restriction_forbids");
    refused(await send(withConditions(proxy(undefined, ["https://bridge.example.org/saml/other"]), signer), API), 400, "invalid_request", "proxy_restriction_forbids");
  });

  it("the bridge listed with other audiences that do not include the requested one → proxy_audience_not_allowed (invalid_target)", async () => {
    refused(await send(withConditions(proxy("1", [BRIDGE_ENTITY_ID, OTHER_API]), signer), API), 400, "invalid_target", "proxy_audience_not_allowed");
  });

  it("two requested audiences, only one listed beside the bridge → proxy_audience_not_allowed", async () => {
    refused(await send(withConditions(proxy(undefined, [BRIDGE_ENTITY_ID, API]), signer), [API, OTHER_API]), 400, "invalid_target", "proxy_audience_not_allowed");
  });

  it("positive: only the bridge's entity ID listed → 200 (it may issue, no further audience limit)", async () => {
    expect(issued(await send(withConditions(proxy("1", [BRIDGE_ENTITY_ID]), signer), API))).toEqual([API]);
  });

  it("positive: Count=\"1\", no Audience → 200", async () => {
    expect(issued(await send(withConditions(proxy("1"), signer)))).toEqual([API]);
  });

  it("positive: no Count, the requested audience listed among others → 200 for it", async () => {
    expect(issued(await send(withConditions(proxy(undefined, [BRIDGE_ENTITY_ID, OTHER_API, API]), signer), API))).toEqual([API]);
  });

  it("positive: Count=\"2\", the bridge and the other audience listed → 200 for that one only", async () => {
    expect(issued(await send(withConditions(proxy("2", [BRIDGE_ENTITY_ID, OTHER_API]), signer), OTHER_API))).toEqual([OTHER_API]);
    refused(await send(withConditions(proxy("2", [BRIDGE_ENTITY_ID, OTHER_API]), signer), API), 400, "invalid_target", "proxy_audience_not_allowed");
  });
});

describe("ProxyRestriction shape (xmlsec1-signed: samlsign validates the schema first)", () => {
  it("two ProxyRestrictions, each of which would hold → saml_shape_invalid (§2.5.1.6: at most one)", async () => {
    refused(await send(withConditions(proxy("1") + proxy("2"))), 400, "invalid_request", "saml_shape_invalid");
  });

  it("Count not an xs:nonNegativeInteger (-1, 1.0, empty, x, ten digits) → saml_shape_invalid", async () => {
    for (const count of ["-1", "1.0", "", "x", "1000000000"]) {
      refused(await send(withConditions(proxy(count))), 400, "invalid_request", "saml_shape_invalid");
    }
  });

  it("a child other than Audience → saml_shape_invalid", async () => {
    refused(await send(withConditions(`<saml:ProxyRestriction Count="1"><saml:Issuer>x</saml:Issuer></saml:ProxyRestriction>`)), 400, "invalid_request", "saml_shape_invalid");
    refused(await send(withConditions(`<saml:ProxyRestriction Count="1"><x:Audience xmlns:x="urn:example:x">${API}</x:Audience></saml:ProxyRestriction>`)), 400, "invalid_request", "saml_shape_invalid");
  });

  it("an Audience with element content → saml_text_invalid", async () => {
    refused(await send(withConditions(`<saml:ProxyRestriction><saml:Audience>${API}<x:b xmlns:x="urn:example:x"/></saml:Audience></saml:ProxyRestriction>`)), 400, "invalid_request", "saml_text_invalid");
  });

  it("two OneTimeUse → saml_shape_invalid (§2.5.1.5); one → 200", async () => {
    refused(await send(withConditions("<saml:OneTimeUse/><saml:OneTimeUse/>")), 400, "invalid_request", "saml_shape_invalid");
    expect(issued(await send(withConditions("<saml:OneTimeUse/>")))).toEqual([API]);
  });

  it("other conditions stay refused: a Condition extension, a foreign element → condition_unsupported", async () => {
    const ext = `<saml:Condition xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:x="urn:example:x" xsi:type="x:Ours"/>`;
    refused(await send(withConditions(ext)), 400, "invalid_request", "condition_unsupported");
    refused(await send(withConditions(`<x:ProxyRestriction xmlns:x="urn:example:x" Count="0"/>`)), 400, "invalid_request", "condition_unsupported");
  });
});
