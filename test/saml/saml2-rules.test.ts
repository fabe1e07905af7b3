// One NEGATIVE test per SAML 2.0 rule (attack catalogue §D, RFC 7522 §3, SAML Core / Profiles),
// each asserting status, `error` and reason code, plus the positive control that pins each rule's
// boundary. Fixtures: build → mutate (builder option or string edit) → sign with xmlsec1, so every
// refusal is for the rule under test, never for a broken signature. Times come from the injected clock.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, CLIENTS, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, samlTime, type Assertion2Options, type Response2Options } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, type SignOptions } from "../support/independent-signers.js";
import { BRIDGE_ENTITY_ID, IDP1, IDP2, IDP_EXPIRED, TOKEN_ENDPOINT } from "../support/constants.js";
import { ConfigError } from "../../src/config/load.js";

const MIN = 60_000;
const SEC = 1000;
const OTHER_SP = "https://other-sp.example";

// ---- helpers -------------------------------------------------------------------------------------

let seq = 0;
const uid = (p: string): string => `${p}${++seq}_${randomBytes(6).toString("hex")}`;

type Res = { status: number; body: any; headers: Record<string, any> };

/** Refusal with exactly this status / error / reason, and a body that echoes neither the NameID nor XML. */
function refused(res: Res, reason: string, error = "invalid_request", status = 400): void {
  expectError(res, status, error, reason);
  const body = JSON.stringify(res.body);
  expect(body).not.toContain("<");
  expect(body).not.toContain("alice");
  expect(Object.keys(res.body).sort()).toEqual(["error", "error_description"]);
}

function ok(res: Res): Record<string, any> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const { payload } = decodeJwt(res.body.access_token);
  expect(payload.aud).toBe(API);
  return payload;
}

interface Fixture {
  xml: string;
  /** Assertion ID (the replay key). */
  id: string;
}

interface AssertionSpec {
  /** Builder options (id and now are filled in). */
  o?: Assertion2Options;
  /** String edit applied before signing. */
  mutate?: (xml: string) => string;
  /** xmlsec1 options (default: idp1 key, rsa-sha256, sha256); null = leave unsigned. */
  sign?: Partial<SignOptions> | null;
  /** Base time (default: the bridge clock). */
  now?: number;
}

function signedAssertion(b: TestBridge, spec: AssertionSpec = {}): Fixture {
  const id = uid("_a");
  let xml = buildAssertion2({ ...spec.o, id, now: new Date(spec.now ?? b.clock.now) });
  if (spec.mutate) {
    const before = xml;
    xml = spec.mutate(xml);
    expect(xml, "mutation had no effect").not.toBe(before);
  }
  if (spec.sign !== null) xml = signWithXmlsec1(xml, id, { key: KEYS.idp1, ...spec.sign });
  return { xml, id };
}

interface ResponseSpec {
  assertion?: AssertionSpec;
  /** Extra assertion(s)/elements, placed after the first assertion. */
  more?: string[];
  r?: Response2Options;
  mutate?: (xml: string) => string;
  /** Sign the Response with xmlsec1 (default true, idp1 key). */
  signResponse?: boolean;
}

function signedResponse(b: TestBridge, spec: ResponseSpec = {}): Fixture & { responseId: string } {
  const a = signedAssertion(b, spec.assertion);
  const responseId = uid("_r");
  let xml = buildResponse2([a.xml, ...(spec.more ?? [])], { ...spec.r, id: responseId, now: new Date(b.clock.now) });
  if (spec.mutate) {
    const before = xml;
    xml = spec.mutate(xml);
    expect(xml, "mutation had no effect").not.toBe(before);
  }
  if (spec.signResponse ?? true) xml = signWithXmlsec1(xml, responseId, { key: KEYS.idp1 });
  return { xml, id: a.id, responseId };
}

const send = (b: TestBridge, xml: string, extra: { client?: { id: string; secret: string }; audience?: string; scope?: string } = {}) =>
  exchange(b, { xml, scope: extra.scope ?? "read", ...(extra.client ? { client: extra.client } : {}), ...(extra.audience ? { audience: extra.audience } : {}) });

/** Replace exactly one occurrence of `from` (fails loudly when it is absent or ambiguous). */
const replaceOnce = (from: string | RegExp, to: string) => (xml: string): string => {
  const count = typeof from === "string" ? xml.split(from).length - 1 : [...xml.matchAll(new RegExp(from.source, "g"))].length;
  if (count !== 1) throw new Error(`expected one ${String(from)}, found ${count}`);
  return xml.replace(from, to);
};
const insertBefore = (anchor: string, what: string) => replaceOnce(anchor, what + anchor);
const at = (b: TestBridge, ms: number): Date => new Date(b.clock.now + ms);
/** An xs:dateTime with the Z dropped. */
const noZ = (d: Date): string => samlTime(d).slice(0, -1);

const idp1Of = (c: Record<string, any>): Record<string, any> => c.samlIdps.find((i: { id: string }) => i.id === "idp1");

let b: TestBridge;
beforeAll(async () => {
  b = await startBridge();
});
afterAll(async () => {
  await b?.close();
});

// ---- Issuer (D1, D2, D3) ---------------------------------------------------------------------------

describe("Issuer", () => {
  it("unknown issuer → issuer_unknown", async () => {
    refused(await send(b, signedAssertion(b, { o: { issuer: "https://unknown-idp.example/idp" } }).xml), "issuer_unknown");
  });

  it("signed with idp2's key but Issuer=idp1 → signature_invalid", async () => {
    refused(await send(b, signedAssertion(b, { sign: { key: KEYS.idp2 } }).xml), "signature_invalid");
  });

  it("signed with idp1's key but Issuer=idp2 (another trusted IdP) → signature_invalid", async () => {
    refused(await send(b, signedAssertion(b, { o: { issuer: IDP2 } }).xml), "signature_invalid");
  });

  it("empty Issuer → issuer_missing", async () => {
    refused(await send(b, signedAssertion(b, { o: { issuer: "" } }).xml), "issuer_missing");
  });

  it("no Issuer → issuer_missing", async () => {
    const fx = signedAssertion(b, { mutate: replaceOnce(`<saml:Issuer>${IDP1}</saml:Issuer>`, "") });
    refused(await send(b, fx.xml), "issuer_missing");
  });

  it("Issuer Format other than entity → issuer_mismatch", async () => {
    const fx = signedAssertion(b, {
      mutate: replaceOnce("<saml:Issuer>", '<saml:Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'),
    });
    refused(await send(b, fx.xml), "issuer_mismatch");
  });

  it("Issuer Format = entity → 200 (control)", async () => {
    const fx = signedAssertion(b, { mutate: replaceOnce("<saml:Issuer>", '<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">') });
    ok(await send(b, fx.xml));
  });

  it.each([IDP2, "https://evil.example/idp"])("Response Issuer %s ≠ assertion Issuer → issuer_mismatch", async (issuer) => {
    refused(await send(b, signedResponse(b, { r: { issuer } }).xml), "issuer_mismatch");
  });

  it("Response without an Issuer (optional) → 200 (control)", async () => {
    ok(await send(b, signedResponse(b, { r: { issuer: null } }).xml));
  });
});

// ---- Audience (D4) -----------------------------------------------------------------------------------

describe("AudienceRestriction", () => {
  it("another SP's audience → audience_mismatch", async () => {
    refused(await send(b, signedAssertion(b, { o: { audiences: [OTHER_SP] } }).xml), "audience_mismatch");
  });

  it("no AudienceRestriction → audience_mismatch", async () => {
    const fx = signedAssertion(b, { o: { audiences: [] } });
    expect(fx.xml).toContain("<saml:Conditions ");
    refused(await send(b, fx.xml), "audience_mismatch");
  });

  it("no Conditions at all → audience_mismatch", async () => {
    const fx = signedAssertion(b, { o: { audiences: [], notBefore: null, notOnOrAfter: null } });
    expect(fx.xml).not.toContain("Conditions");
    refused(await send(b, fx.xml), "audience_mismatch");
  });

  it("two AudienceRestrictions, one foreign (ANDed) → audience_mismatch", async () => {
    const fx = signedAssertion(b, {
      mutate: insertBefore("</saml:Conditions>", `<saml:AudienceRestriction><saml:Audience>${OTHER_SP}</saml:Audience></saml:AudienceRestriction>`),
    });
    refused(await send(b, fx.xml), "audience_mismatch");
  });

  it("two AudienceRestrictions both naming us → 200 (control)", async () => {
    const fx = signedAssertion(b, {
      mutate: insertBefore("</saml:Conditions>", `<saml:AudienceRestriction><saml:Audience>${BRIDGE_ENTITY_ID}</saml:Audience></saml:AudienceRestriction>`),
    });
    ok(await send(b, fx.xml));
  });

  it("one AudienceRestriction with a foreign and our Audience (ORed) → 200 (control)", async () => {
    ok(await send(b, signedAssertion(b, { o: { audiences: [OTHER_SP, BRIDGE_ENTITY_ID] } }).xml));
  });

  it.each([
    ["trailing slash", `${BRIDGE_ENTITY_ID}/`],
    ["upper case", BRIDGE_ENTITY_ID.toUpperCase()],
    ["path case", "https://bridge.test/SAML"],
    ["suffix", `${BRIDGE_ENTITY_ID}.evil`],
    ["host suffix", "https://bridge.test.evil/saml"],
    ["userinfo", "https://bridge.test/saml@evil.example"],
    ["whitespace", ` ${BRIDGE_ENTITY_ID}`],
  ])("look-alike audience (%s) → audience_mismatch", async (_n, audience) => {
    refused(await send(b, signedAssertion(b, { o: { audiences: [audience] } }).xml), "audience_mismatch");
  });

  it("token endpoint URL as Audience: refused without saml.audienceAliases", async () => {
    refused(await send(b, signedAssertion(b, { o: { audiences: [TOKEN_ENDPOINT] } }).xml), "audience_mismatch");
  });

  it("token endpoint URL as Audience: 200 when configured in saml.audienceAliases", async () => {
    const alias = await startBridge({ patch: (c) => void (c.saml.audienceAliases = [TOKEN_ENDPOINT]) });
    try {
      ok(await send(alias, signedAssertion(alias, { o: { audiences: [TOKEN_ENDPOINT] } }).xml));
      ok(await send(alias, signedAssertion(alias).xml)); // the entity ID still works
      refused(await send(alias, signedAssertion(alias, { o: { audiences: [`${TOKEN_ENDPOINT}/`] } }).xml), "audience_mismatch");
    } finally {
      await alias.close();
    }
  });
});

// ---- Time (D5, D7, D8, D9) ---------------------------------------------------------------------------

describe("time window (skew 60 s, maxAssertionAgeSeconds 300)", () => {
  it("Conditions NotOnOrAfter passed (beyond skew) → assertion_expired", async () => {
    const fx = signedAssertion(b, {
      o: { issueInstant: at(b, -2 * MIN), notBefore: at(b, -3 * MIN), notOnOrAfter: at(b, -61 * SEC), scdNotOnOrAfter: at(b, 5 * MIN) },
    });
    refused(await send(b, fx.xml), "assertion_expired");
  });

  it("SubjectConfirmationData NotOnOrAfter passed (beyond skew) → assertion_expired", async () => {
    const fx = signedAssertion(b, { o: { issueInstant: at(b, -2 * MIN), scdNotOnOrAfter: at(b, -61 * SEC) } });
    refused(await send(b, fx.xml), "assertion_expired");
  });

  describe.each([
    ["Conditions", (t: Date, far: Date): Assertion2Options => ({ notOnOrAfter: t, scdNotOnOrAfter: far })],
    ["SubjectConfirmationData", (t: Date, far: Date): Assertion2Options => ({ notOnOrAfter: far, scdNotOnOrAfter: t })],
  ])("%s NotOnOrAfter boundary (exclusive, after skew)", (_where, opts) => {
    let clockBridge: TestBridge;
    const T0 = Date.parse("2026-11-26T08:00:00.000Z");
    beforeAll(async () => {
      clockBridge = await startBridge({ now: T0 });
    });
    afterAll(async () => {
      await clockBridge?.close();
    });
    const fixture = (): Fixture =>
      signedAssertion(clockBridge, { now: T0, o: opts(new Date(T0 + MIN), new Date(T0 + 10 * MIN)) });

    it("now = NotOnOrAfter + skew − 1 ms → 200", async () => {
      const fx = fixture();
      clockBridge.clock.now = T0 + MIN + 60 * SEC - 1;
      ok(await send(clockBridge, fx.xml));
    });

    it("now = NotOnOrAfter + skew → assertion_expired", async () => {
      const fx = fixture();
      clockBridge.clock.now = T0 + MIN + 60 * SEC;
      refused(await send(clockBridge, fx.xml), "assertion_expired");
    });
  });

  it("NotBefore 10 min in the future → assertion_not_yet_valid", async () => {
    refused(await send(b, signedAssertion(b, { o: { notBefore: at(b, 10 * MIN) } }).xml), "assertion_not_yet_valid");
  });

  it("NotBefore just beyond skew (now + 60 s + 1 ms) → assertion_not_yet_valid", async () => {
    refused(await send(b, signedAssertion(b, { o: { notBefore: at(b, 60 * SEC + 1) } }).xml), "assertion_not_yet_valid");
  });

  it.each([
    ["now + 20 s", 20 * SEC],
    ["now + 60 s (skew edge)", 60 * SEC],
    ["now (NotBefore inclusive)", 0],
  ])("NotBefore within skew (%s) → 200", async (_n, ms) => {
    ok(await send(b, signedAssertion(b, { o: { notBefore: at(b, ms) } }).xml));
  });

  it("IssueInstant older than maxAssertionAgeSeconds + skew → assertion_stale", async () => {
    const fx = signedAssertion(b, { o: { issueInstant: at(b, -(300 + 60) * SEC - 1), notBefore: at(b, -7 * MIN) } });
    refused(await send(b, fx.xml), "assertion_stale");
  });

  it("IssueInstant exactly maxAssertionAgeSeconds + skew old → 200 (control)", async () => {
    const fx = signedAssertion(b, { o: { issueInstant: at(b, -(300 + 60) * SEC), notBefore: at(b, -7 * MIN) } });
    ok(await send(b, fx.xml));
  });

  it("a configured maxAssertionAgeSeconds is honoured (60 s: a 150 s old assertion is stale)", async () => {
    const short = await startBridge({ patch: (c) => void (idp1Of(c).maxAssertionAgeSeconds = 60) });
    try {
      const o: Assertion2Options = { issueInstant: at(short, -150 * SEC), notBefore: at(short, -3 * MIN) };
      refused(await send(short, signedAssertion(short, { o }).xml), "assertion_stale");
      ok(await send(b, signedAssertion(b, { o: { issueInstant: at(b, -150 * SEC), notBefore: at(b, -3 * MIN) } }).xml));
    } finally {
      await short.close();
    }
  });

  it("IssueInstant in the future beyond skew → assertion_not_yet_valid", async () => {
    refused(await send(b, signedAssertion(b, { o: { issueInstant: at(b, 2 * MIN) } }).xml), "assertion_not_yet_valid");
  });

  it("IssueInstant in the future within skew → 200 (control)", async () => {
    ok(await send(b, signedAssertion(b, { o: { issueInstant: at(b, 30 * SEC) } }).xml));
  });

  // D9: only xs:dateTime in UTC with a trailing Z.
  const T = (ms: number): Date => at(b, ms);
  it.each([
    ["IssueInstant without Z", (x: string) => x.replace(/ IssueInstant="([^"]+)Z"/, ' IssueInstant="$1"')],
    ["Conditions NotOnOrAfter with +00:00", (x: string) => replaceOnce(`NotOnOrAfter="${samlTime(T(4 * MIN))}"`, `NotOnOrAfter="${noZ(T(4 * MIN))}+00:00"`)(x)],
    ["Conditions NotOnOrAfter without Z", (x: string) => replaceOnce(`NotOnOrAfter="${samlTime(T(4 * MIN))}"`, `NotOnOrAfter="${noZ(T(4 * MIN))}"`)(x)],
    ["SubjectConfirmationData NotOnOrAfter with +14:00", (x: string) => replaceOnce(`NotOnOrAfter="${samlTime(T(5 * MIN))}"`, `NotOnOrAfter="${noZ(T(19 * 60 * MIN))}+14:00"`)(x)],
    ["NotBefore date only", (x: string) => replaceOnce(/NotBefore="[^"]+"/, `NotBefore="${samlTime(T(-MIN)).slice(0, 10)}"`)(x)],
    ["NotBefore RFC 1123", (x: string) => replaceOnce(/NotBefore="[^"]+"/, `NotBefore="${T(-MIN).toUTCString()}"`)(x)],
    ["AuthnInstant without Z", (x: string) => x.replace(/AuthnInstant="([^"]+)Z"/, 'AuthnInstant="$1"')],
  ])("%s → timestamp_invalid", async (_n, mutate) => {
    const fx = signedAssertion(b, { o: { notOnOrAfter: T(4 * MIN), scdNotOnOrAfter: T(5 * MIN) }, mutate });
    refused(await send(b, fx.xml), "timestamp_invalid");
  });

  it("no NotOnOrAfter anywhere (neither Conditions nor SubjectConfirmationData) → subject_confirmation_invalid", async () => {
    const fx = signedAssertion(b, { o: { notOnOrAfter: null, scdNotOnOrAfter: null } });
    expect(fx.xml).not.toContain("NotOnOrAfter");
    refused(await send(b, fx.xml), "subject_confirmation_invalid");
  });
});

// ---- SubjectConfirmation (D10, D11, D12) ---------------------------------------------------------------

describe("bearer SubjectConfirmation", () => {
  it("wrong Recipient → recipient_mismatch", async () => {
    refused(await send(b, signedAssertion(b, { o: { recipient: `${OTHER_SP}/acs` } }).xml), "recipient_mismatch");
  });

  it("an IdP without `recipients` still requires the token endpoint (RFC 7522 §3 default)", async () => {
    const id = uid("_a");
    const xml = buildAssertion2({ id, issuer: "https://idp2.test/idp", recipient: `${OTHER_SP}/acs`, now: new Date(b.clock.now) });
    refused(await send(b, signWithXmlsec1(xml, id, { key: KEYS.idp2 })), "recipient_mismatch");
    const id2 = uid("_a");
    const good = buildAssertion2({ id: id2, issuer: "https://idp2.test/idp", now: new Date(b.clock.now) });
    ok(await send(b, signWithXmlsec1(good, id2, { key: KEYS.idp2 })));
  });

  it("no Recipient → recipient_mismatch", async () => {
    const fx = signedAssertion(b, { o: { recipient: null } });
    expect(fx.xml).not.toContain("Recipient");
    refused(await send(b, fx.xml), "recipient_mismatch");
  });

  it.each([
    ["http scheme", "http://bridge.test/token"],
    ["explicit port", "https://bridge.test:443/token"],
    ["path case", "https://bridge.test/Token"],
    ["trailing slash", `${TOKEN_ENDPOINT}/`],
    ["query", `${TOKEN_ENDPOINT}?x=1`],
    ["host suffix", "https://bridge.test.evil/token"],
  ])("look-alike Recipient (%s) → recipient_mismatch", async (_n, recipient) => {
    refused(await send(b, signedAssertion(b, { o: { recipient } }).xml), "recipient_mismatch");
  });

  const wrongConfirmation = (recipient: string): string =>
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${samlTime(at(b, 5 * MIN))}" Recipient="${recipient}"/></saml:SubjectConfirmation>`;

  it("two bearer confirmations, the first wrong, the second valid → 200", async () => {
    const fx = signedAssertion(b, { mutate: insertBefore("<saml:SubjectConfirmation ", wrongConfirmation(`${OTHER_SP}/acs`)) });
    ok(await send(b, fx.xml));
  });

  it("two bearer confirmations, both wrong → recipient_mismatch", async () => {
    const fx = signedAssertion(b, { o: { recipient: `${OTHER_SP}/a` }, mutate: insertBefore("<saml:SubjectConfirmation ", wrongConfirmation(`${OTHER_SP}/b`)) });
    refused(await send(b, fx.xml), "recipient_mismatch");
  });

  it.each(["holder-of-key", "sender-vouches"])("%s only (no bearer) → subject_confirmation_invalid", async (m) => {
    refused(await send(b, signedAssertion(b, { o: { method: `urn:oasis:names:tc:SAML:2.0:cm:${m}` } }).xml), "subject_confirmation_invalid");
  });

  it("holder-of-key plus a valid bearer → 200 (control)", async () => {
    const hok = `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"><saml:SubjectConfirmationData NotOnOrAfter="${samlTime(at(b, 5 * MIN))}" Recipient="${TOKEN_ENDPOINT}"/></saml:SubjectConfirmation>`;
    ok(await send(b, signedAssertion(b, { mutate: insertBefore("<saml:SubjectConfirmation ", hok) }).xml));
  });

  it("SubjectConfirmationData with NotBefore → subject_confirmation_invalid", async () => {
    const fx = signedAssertion(b, {
      mutate: replaceOnce("<saml:SubjectConfirmationData ", `<saml:SubjectConfirmationData NotBefore="${samlTime(at(b, -MIN))}" `),
    });
    refused(await send(b, fx.xml), "subject_confirmation_invalid");
  });

  it("SubjectConfirmationData with InResponseTo → in_response_to_present", async () => {
    const fx = signedAssertion(b, { mutate: replaceOnce("<saml:SubjectConfirmationData ", '<saml:SubjectConfirmationData InResponseTo="_req1" ') });
    refused(await send(b, fx.xml), "in_response_to_present");
  });
});

// ---- Response (D3, D12b, D13, D14, D15, D23) -----------------------------------------------------------

describe("samlp:Response", () => {
  it("Response Issuer with a Format other than entity → issuer_mismatch", async () => {
    const fx = signedResponse(b, {
      mutate: replaceOnce(/(<samlp:Response[^>]*>\s*<saml:Issuer)>/, '$1 Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'),
    });
    refused(await send(b, fx.xml), "issuer_mismatch");
  });

  it("InResponseTo on the Response → in_response_to_present", async () => {
    refused(await send(b, signedResponse(b, { r: { inResponseTo: "_req1" } }).xml), "in_response_to_present");
  });

  it("wrong Destination → destination_mismatch", async () => {
    refused(await send(b, signedResponse(b, { r: { destination: `${OTHER_SP}/acs` } }).xml), "destination_mismatch");
  });

  it("look-alike Destination (trailing slash) → destination_mismatch", async () => {
    refused(await send(b, signedResponse(b, { r: { destination: `${TOKEN_ENDPOINT}/` } }).xml), "destination_mismatch");
  });

  it("no Destination (optional) → 200 (control)", async () => {
    ok(await send(b, signedResponse(b, { r: { destination: null } }).xml));
  });

  it.each(["Requester", "Responder"])("StatusCode %s → status_not_success", async (code) => {
    const fx = signedResponse(b, { r: { statusCode: `urn:oasis:names:tc:SAML:2.0:status:${code}` } });
    refused(await send(b, fx.xml), "status_not_success");
  });

  it("Response Version=\"1.0\" → saml_version_invalid", async () => {
    // The first Version attribute is the Response's (the assertion inside is already signed).
    const fx = signedResponse(b, { mutate: (x) => x.replace('Version="2.0"', 'Version="1.0"') });
    expect(fx.xml).toMatch(/<samlp:Response [^>]*Version="1\.0"/);
    refused(await send(b, fx.xml), "saml_version_invalid");
  });

  it("EncryptedAssertion next to a signed assertion → saml_shape_invalid (D15b: two assertions)", async () => {
    refused(await send(b, signedResponse(b, { more: [ENCRYPTED_ASSERTION] }).xml), "saml_shape_invalid");
  });

  it("EncryptedAssertion only → encrypted_assertion_unsupported", async () => {
    const responseId = uid("_r");
    const xml = signWithXmlsec1(buildResponse2(ENCRYPTED_ASSERTION, { id: responseId, issuer: IDP1, now: new Date(b.clock.now) }), responseId, { key: KEYS.idp1 });
    refused(await send(b, xml), "encrypted_assertion_unsupported");
  });

  it("two signed assertions → saml_shape_invalid", async () => {
    const second = signedAssertion(b, { o: { nameId: "bob@example.com" } });
    refused(await send(b, signedResponse(b, { more: [second.xml] }).xml), "saml_shape_invalid");
  });

  it("no assertion at all → saml_shape_invalid", async () => {
    const responseId = uid("_r");
    const xml = signWithXmlsec1(buildResponse2([], { id: responseId, issuer: IDP1, now: new Date(b.clock.now) }), responseId, { key: KEYS.idp1 });
    refused(await send(b, xml), "saml_shape_invalid");
  });
});

const ENCRYPTED_ASSERTION =
  '<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">' +
  '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>' +
  "<xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>";

// ---- Assertion shape (D15, D18, D19, D23, RFC 7522 unknown conditions) ---------------------------------

describe("assertion shape", () => {
  it("Assertion Version=\"1.0\" → saml_version_invalid", async () => {
    refused(await send(b, signedAssertion(b, { mutate: replaceOnce('Version="2.0"', 'Version="1.0"') }).xml), "saml_version_invalid");
  });

  it("signed assertion whose ID attribute is removed afterwards → assertion_id_missing", async () => {
    // An element without an ID cannot be signed by reference, so this one is signed first and then
    // stripped: the Reference "#id" then points nowhere.
    const fx = signedAssertion(b);
    const xml = replaceOnce(` ID="${fx.id}"`, "")(fx.xml);
    refused(await send(b, xml), "assertion_id_missing");
  });

  it("unsigned assertion without ID inside a signed Response (requireSignedAssertion:false) → assertion_id_missing", async () => {
    const lax = await startBridge({ patch: (c) => void (idp1Of(c).requireSignedAssertion = false) });
    try {
      const fx = signedResponse(lax, { assertion: { sign: null, mutate: (x) => x.replace(/ ID="[^"]+"/, "") } });
      refused(await send(lax, fx.xml), "assertion_id_missing");
      ok(await send(lax, signedResponse(lax, { assertion: { sign: null } }).xml)); // control
    } finally {
      await lax.close();
    }
  });

  it.each([
    ["saml:Condition with an xsi:type", '<saml:Condition xmlns:x="urn:example:x" xsi:type="x:CustomCondition"/>'],
    ["foreign element", '<x:Custom xmlns:x="urn:example:x"/>'],
  ])("unknown Condition type (%s) → condition_unsupported", async (_n, el) => {
    refused(await send(b, signedAssertion(b, { mutate: insertBefore("</saml:Conditions>", el) }).xml), "condition_unsupported");
  });

  it("OneTimeUse → 200", async () => {
    ok(await send(b, signedAssertion(b, { mutate: insertBefore("</saml:Conditions>", "<saml:OneTimeUse/>") }).xml));
  });

  it("two Conditions elements (second far-future) → saml_shape_invalid", async () => {
    const fx = signedAssertion(b, {
      mutate: (x) => {
        const m = /<saml:Conditions [\s\S]*?<\/saml:Conditions>/.exec(x)!;
        const far = m[0].replace(/NotOnOrAfter="[^"]+"/, 'NotOnOrAfter="2099-01-01T00:00:00Z"');
        return x.replace(m[0], m[0] + far);
      },
    });
    refused(await send(b, fx.xml), "saml_shape_invalid");
  });

  it("empty NameID → subject_invalid", async () => {
    refused(await send(b, signedAssertion(b, { o: { nameId: "" } }).xml), "subject_invalid");
  });

  it.each([
    ["leading spaces", "  alice@example.com"],
    ["trailing newline", "alice@example.com\n"],
    ["both", "  alice@example.com\n"],
  ])("padded NameID (%s) → subject_invalid", async (_n, nameId) => {
    refused(await send(b, signedAssertion(b, { o: { nameId } }).xml), "subject_invalid");
  });

  it("no Subject → subject_missing", async () => {
    refused(await send(b, signedAssertion(b, { mutate: replaceOnce(/<saml:Subject>[\s\S]*?<\/saml:Subject>/, "") }).xml), "subject_missing");
  });
});

// ---- AuthnStatement (D24) -------------------------------------------------------------------------------

describe("SessionNotOnOrAfter", () => {
  it("passed beyond skew → session_expired", async () => {
    refused(await send(b, signedAssertion(b, { o: { sessionNotOnOrAfter: at(b, -2 * MIN) } }).xml), "session_expired");
  });

  it("passed within skew (no lifetime left for a token) → session_expired", async () => {
    refused(await send(b, signedAssertion(b, { o: { sessionNotOnOrAfter: at(b, -30 * SEC) } }).xml), "session_expired");
  });

  it("sooner than the token TTL → 200 and exp ≤ SessionNotOnOrAfter", async () => {
    const session = at(b, 120 * SEC + 500);
    const res = await send(b, signedAssertion(b, { o: { sessionNotOnOrAfter: session } }).xml);
    const payload = ok(res);
    expect(payload.exp * 1000).toBeLessThanOrEqual(session.getTime());
    expect(payload.exp).toBeGreaterThan(Math.floor(b.clock.now / 1000) + 60);
    expect(res.body.expires_in).toBeLessThanOrEqual(121);
    expect(res.body.expires_in).toBeGreaterThanOrEqual(119);
  });

  it("later than the token TTL → the TTL applies (control)", async () => {
    const payload = ok(await send(b, signedAssertion(b, { o: { sessionNotOnOrAfter: at(b, 60 * MIN) } }).xml));
    expect(payload.exp - payload.iat).toBe(300);
  });
});

// ---- Metadata and keys (D22, B18) -------------------------------------------------------------------------

describe("metadata and signing keys", () => {
  it("metadata validUntil passed → metadata_expired", async () => {
    const withExpired = await startBridge({
      patch: (c) => {
        c.samlIdps.push({ id: "idp-expired", metadataFile: "metadata/idp-expired.xml", mapping: { scopes: [{ grant: ["read"] }] } });
        c.clients.find((cl: { id: string }) => cl.id === "c1").idps.push("idp-expired");
      },
    });
    try {
      const fx = signedAssertion(withExpired, { o: { issuer: IDP_EXPIRED }, sign: { key: KEYS.idp2 } });
      refused(await send(withExpired, fx.xml), "metadata_expired");
    } finally {
      await withExpired.close();
    }
  });

  describe("SHA-1", () => {
    const cases = [
      ["rsa-sha1 + sha1 digest", { alg: "rsa-sha1", digest: "sha1" }],
      ["rsa-sha256 + sha1 digest", { alg: "rsa-sha256", digest: "sha1" }],
      ["rsa-sha1 + sha256 digest", { alg: "rsa-sha1", digest: "sha256" }],
    ] as const;

    it.each(cases)("%s → signature_algorithm_forbidden by default", async (_n, sign) => {
      refused(await send(b, signedAssertion(b, { sign }).xml), "signature_algorithm_forbidden");
    });

    it.each(cases)("%s → 200 when the IdP has allowSha1:true", async (_n, sign) => {
      const legacy = await startBridge({ patch: (c) => void (idp1Of(c).allowSha1 = true) });
      try {
        ok(await send(legacy, signedAssertion(legacy, { sign }).xml));
      } finally {
        await legacy.close();
      }
    });
  });

  it("a 1024-bit RSA key in metadata makes startBridge throw a ConfigError naming samlIdps[N].metadataFile", async () => {
    let error: unknown;
    try {
      const bridge = await startBridge({ patch: (c) => c.samlIdps.push({ id: "idp-weak", metadataFile: "metadata/idp-weak.xml" }) });
      await bridge.close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("samlIdps[3].metadataFile");
    expect((error as ConfigError).issues[0]?.path).toBe("samlIdps[3].metadataFile");
  });

  it("signed with the attacker key that idp1's metadata lists as use=\"encryption\" → signature_invalid", async () => {
    refused(await send(b, signedAssertion(b, { sign: { key: KEYS.attacker } }).xml), "signature_invalid");
  });

  it("the same, without KeyInfo → signature_invalid", async () => {
    refused(await send(b, signedAssertion(b, { sign: { key: KEYS.attacker, keyInfo: "none" } }).xml), "signature_invalid");
  });
});

// ---- Client, token type and encoding ------------------------------------------------------------------------

describe("client, token type, encoding", () => {
  it("client not allowed this IdP (idp2only with an idp1 assertion) → idp_not_allowed", async () => {
    const fx = signedAssertion(b);
    refused(await send(b, fx.xml, { client: CLIENTS.idp2only }), "idp_not_allowed");
    ok(await send(b, fx.xml)); // not burnt: c1 may still use it
  });

  it.each([
    [
      "SAML 1.1 Assertion",
      (now: Date) =>
        `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="${uid("_s11")}" Issuer="${IDP1}" IssueInstant="${samlTime(now)}">` +
        `<saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="${samlTime(now)}"><saml:Subject><saml:NameIdentifier>alice@example.com</saml:NameIdentifier></saml:Subject></saml:AuthenticationStatement></saml:Assertion>`,
    ],
    [
      "SAML 1.1 Response",
      (now: Date) =>
        `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:1.0:protocol" MajorVersion="1" MinorVersion="1" ResponseID="${uid("_r11")}" IssueInstant="${samlTime(now)}"><samlp:Status><samlp:StatusCode Value="samlp:Success"/></samlp:Status></samlp:Response>`,
    ],
  ])("%s root sent as saml2 → token_type_mismatch", async (_n, build) => {
    // Refused on the root element alone, before any key is looked up, so these are left unsigned.
    refused(await send(b, build(new Date(b.clock.now))), "token_type_mismatch");
  });

  it("standard base64 (+ / =) is accepted", async () => {
    // Vary the NameID until the encoding really uses the standard alphabet and padding.
    let rawToken = "";
    for (let i = 0; i < 20 && !(/[+/]/.test(rawToken) && rawToken.endsWith("=")); i++) {
      const fx = signedAssertion(b, { o: { nameId: `alice${"x".repeat(i)}@example.com` } });
      rawToken = Buffer.from(fx.xml, "utf8").toString("base64");
    }
    expect(rawToken).toMatch(/[+/]/);
    expect(rawToken).toMatch(/=$/);
    const res = await exchange(b, { rawToken, scope: "read" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.sub).toMatch(/^alicex*@example\.com$/);
  });

  it.each([
    ["not base64 at all", "%%%not-base64%%%"],
    ["mixed alphabets", "PHNhbWw+_-abc"],
    ["embedded space", "PHNh bWw6QXNzZXJ0aW9u"],
    ["length ≡ 1 mod 4", "PHNhb"],
    ["padding in the middle", "PHN=hbWw"],
    ["not UTF-8", Buffer.from([0x3c, 0xff, 0xfe, 0x3e]).toString("base64url")],
  ])("invalid base64 (%s) → token_encoding_invalid", async (_n, rawToken) => {
    refused(await exchange(b, { rawToken, scope: "read" }), "token_encoding_invalid");
  });
});

// ---- Replay (F) ------------------------------------------------------------------------------------------

describe("replay", () => {
  it("the same assertion twice → replayed", async () => {
    const fx = signedAssertion(b);
    ok(await send(b, fx.xml));
    refused(await send(b, fx.xml), "replayed");
  });

  it("an assertion used bare is replayed when wrapped in a Response", async () => {
    const fx = signedAssertion(b);
    ok(await send(b, fx.xml));
    const responseId = uid("_r");
    const wrapped = signWithXmlsec1(buildResponse2(fx.xml, { id: responseId, now: new Date(b.clock.now) }), responseId, { key: KEYS.idp1 });
    refused(await send(b, wrapped), "replayed");
  });

  it("the replay mark outlives the assertion's acceptance window (clock moved to NotOnOrAfter + skew − 1 ms)", async () => {
    const T0 = Date.parse("2026-11-26T09:00:00.000Z");
    const clocked = await startBridge({ now: T0 });
    try {
      const fx = signedAssertion(clocked, { now: T0 });
      ok(await send(clocked, fx.xml));
      clocked.clock.now = T0 + 5 * MIN + 60 * SEC - 1; // default NotOnOrAfter = T0 + 5 min
      refused(await send(clocked, fx.xml), "replayed");
      clocked.clock.now = T0 + 5 * MIN + 60 * SEC; // now the time rule refuses it
      refused(await send(clocked, fx.xml), "assertion_expired");
    } finally {
      await clocked.close();
    }
  });

  it("a refused request (bad audience parameter) does not burn the assertion", async () => {
    const fx = signedAssertion(b);
    refused(await send(b, fx.xml, { audience: "https://unknown-rs.example" }), "target_not_allowed", "invalid_target");
    ok(await send(b, fx.xml, { audience: API }));
    refused(await send(b, fx.xml, { audience: API }), "replayed");
  });

  it("a request refused after verification (scope not granted) does not burn the assertion", async () => {
    const fx = signedAssertion(b);
    refused(await send(b, fx.xml, { scope: "read admin" }), "scope_not_allowed", "invalid_scope");
    ok(await send(b, fx.xml));
    refused(await send(b, fx.xml), "replayed");
  });
});
