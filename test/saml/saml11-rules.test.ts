// One NEGATIVE test per SAML 1.1 rule (attack catalogue §E: E4–E7, E10; SAML 1.1 Core), each asserting
// status, `error` and reason code, plus the positive controls that pin each rule's boundary.
// Fixtures: build → mutate (builder option or string edit) → sign with xmlsec1 (idp11's key), so every
// refusal is for the rule under test, never for a broken signature. Times come from the injected clock.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, decodeJwt, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ENTITY_ID, IDP1, IDP2, IDP_EXPIRED, TOKEN_ENDPOINT } from "../support/constants.js";
import { KEYS } from "../support/independent-signers.js";
import { samlTime } from "../support/saml-builder.js";
import { CM_ARTIFACT_11, CM_BEARER_11, CM_HOLDER_OF_KEY_11, CM_SENDER_VOUCHES_11, IDP11 } from "../support/saml1-builder.js";
import { assertion11, response11, send11, withIdp11, type Assertion11Spec } from "../support/saml1-bridge.js";
import { saml2ElementInside } from "../support/saml1-attacks.js";

const MIN = 60_000;
const SEC = 1000;
const OTHER_SP = "https://other-sp.example";

type Res = { status: number; body: any; headers: Record<string, any> };

/** Refusal with exactly this status / error / reason, and a body that echoes neither the subject nor XML. */
function refused(res: Res, reason: string): void {
  expectError(res, 400, "invalid_request", reason);
  const body = JSON.stringify(res.body);
  expect(body).not.toContain("<");
  expect(body).not.toContain("alice");
  expect(Object.keys(res.body).sort()).toEqual(["error", "error_description"]);
}

function ok(res: Res): Record<string, any> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const { payload } = decodeJwt(res.body.access_token);
  expect(payload.aud).toBe(API);
  expect(payload.idp).toBe(IDP11);
  return payload;
}

/** Replace exactly one occurrence of `from` (fails loudly when it is absent or ambiguous). */
const replaceOnce = (from: string | RegExp, to: string) => (xml: string): string => {
  const count = typeof from === "string" ? xml.split(from).length - 1 : [...xml.matchAll(new RegExp(from.source, "g"))].length;
  if (count !== 1) throw new Error(`expected one ${String(from)}, found ${count}`);
  return xml.replace(from, to);
};
const insertBefore = (anchor: string, what: string) => replaceOnce(anchor, what + anchor);
const at = (b: TestBridge, ms: number): Date => new Date(b.clock.now + ms);
const bare = (b: TestBridge, spec: Assertion11Spec = {}): string => assertion11(b, spec).xml;

let b: TestBridge;
/** requireSignedAssertion: false, so a signed Response around an unsigned assertion reaches the assertion rules. */
let lax: TestBridge;
beforeAll(async () => {
  b = await startBridge({ patch: (c) => withIdp11(c) });
  lax = await startBridge({ patch: (c) => withIdp11(c, { requireSignedAssertion: false }) });
});
afterAll(async () => {
  await b?.close();
  await lax?.close();
});

it("B-S11 baseline → 200 (control for every rule below)", async () => {
  const p = ok(await send11(b, bare(b)));
  expect(p.sub).toBe("alice@example.com");
});

// ---- Versions (E4) ------------------------------------------------------------------------------------

describe("MajorVersion / MinorVersion (E4)", () => {
  it.each([
    ["MajorVersion=2", { majorVersion: "2" }],
    ["MinorVersion=0 (SAML 1.0)", { minorVersion: "0" }],
    ["no MajorVersion", { majorVersion: null }],
    ["no MinorVersion", { minorVersion: null }],
    ["MinorVersion=01", { minorVersion: "01" }],
  ] as const)("%s → saml_version_invalid", async (_n, o) => {
    refused(await send11(b, bare(b, { o })), "saml_version_invalid");
  });

  it("a SAML 2.0 element inside the 1.1 assertion → saml_version_invalid", async () => {
    refused(await send11(b, bare(b, { mutate: saml2ElementInside })), "saml_version_invalid");
  });

  it("Response MinorVersion=0 → saml_version_invalid", async () => {
    refused(await send11(b, response11(b, { r: { minorVersion: "0" } }).xml), "saml_version_invalid");
  });
});

// ---- Issuer and metadata (E5) ---------------------------------------------------------------------------

describe("Issuer (E5) and the IdP's metadata", () => {
  it("unknown Issuer → issuer_unknown", async () => {
    refused(await send11(b, bare(b, { o: { issuer: "https://unknown.example/shibboleth" } })), "issuer_unknown");
  });

  it.each([`${IDP11}/`, IDP11.toUpperCase()])("look-alike Issuer %s → issuer_unknown", async (issuer) => {
    refused(await send11(b, bare(b, { o: { issuer } })), "issuer_unknown");
  });

  it("no Issuer attribute → issuer_missing", async () => {
    refused(await send11(b, bare(b, { mutate: replaceOnce(` Issuer="${IDP11}"`, "") })), "issuer_missing");
  });

  it("empty Issuer → issuer_missing", async () => {
    refused(await send11(b, bare(b, { o: { issuer: "" } })), "issuer_missing");
  });

  it("Issuer = an IdP whose metadata lacks urn:oasis:names:tc:SAML:1.1:protocol (idp1), signed with its own key → protocol_not_supported", async () => {
    refused(await send11(b, bare(b, { o: { issuer: IDP1 }, sign: { key: KEYS.idp1 } })), "protocol_not_supported");
  });

  it.each([
    ["idp1's key", KEYS.idp1],
    ["idp2's key (another trusted IdP)", KEYS.idp2],
    ["the attacker's key", KEYS.attacker],
  ])("Issuer = idp11 but signed with %s → signature_invalid", async (_n, key) => {
    refused(await send11(b, bare(b, { sign: { key } })), "signature_invalid");
  });

  it("idp2 (no SAML 1.1 in its metadata) signing as itself → protocol_not_supported", async () => {
    refused(await send11(b, bare(b, { o: { issuer: IDP2 }, sign: { key: KEYS.idp2 } })), "protocol_not_supported");
  });

  it("metadata past its validUntil → metadata_expired", async () => {
    const expired = await startBridge({
      patch: (c) => {
        withIdp11(c);
        c.samlIdps.push({ id: "idp-expired", metadataFile: "metadata/idp-expired.xml" });
      },
    });
    try {
      refused(await send11(expired, bare(expired, { o: { issuer: IDP_EXPIRED }, sign: { key: KEYS.idp2 } })), "metadata_expired");
    } finally {
      await expired.close();
    }
  });
});

// ---- Conditions: time (E7) -------------------------------------------------------------------------------

describe("Conditions time window (E7; skew 60 s, maxAssertionAgeSeconds 300)", () => {
  it("NotOnOrAfter passed beyond skew → assertion_expired", async () => {
    const o = { issueInstant: at(b, -2 * MIN), notBefore: at(b, -3 * MIN), notOnOrAfter: at(b, -61 * SEC) };
    refused(await send11(b, bare(b, { o })), "assertion_expired");
  });

  it("NotOnOrAfter passed within skew → 200 (control)", async () => {
    const o = { issueInstant: at(b, -2 * MIN), notBefore: at(b, -3 * MIN), notOnOrAfter: at(b, -59 * SEC) };
    ok(await send11(b, bare(b, { o })));
  });

  describe("NotOnOrAfter boundary (exclusive, after skew)", () => {
    let clockBridge: TestBridge;
    const T0 = Date.parse("2026-11-26T08:00:00.000Z");
    beforeAll(async () => {
      clockBridge = await startBridge({ now: T0, patch: (c) => withIdp11(c) });
    });
    afterAll(async () => {
      await clockBridge?.close();
    });
    const fixture = (): string => bare(clockBridge, { o: { now: new Date(T0), notOnOrAfter: new Date(T0 + MIN) } });

    it("now = NotOnOrAfter + skew − 1 ms → 200", async () => {
      const xml = fixture();
      clockBridge.clock.now = T0 + MIN + 60 * SEC - 1;
      ok(await send11(clockBridge, xml));
    });

    it("now = NotOnOrAfter + skew → assertion_expired", async () => {
      const xml = fixture();
      clockBridge.clock.now = T0 + MIN + 60 * SEC;
      refused(await send11(clockBridge, xml), "assertion_expired");
    });
  });

  it("no NotOnOrAfter (SAML 1.1 has no SubjectConfirmationData: the expiry is required here) → assertion_expiry_missing", async () => {
    const xml = bare(b, { o: { notOnOrAfter: null } });
    expect(xml).not.toContain("NotOnOrAfter");
    refused(await send11(b, xml), "assertion_expiry_missing");
  });

  it("NotBefore beyond skew → assertion_not_yet_valid", async () => {
    refused(await send11(b, bare(b, { o: { notBefore: at(b, 61 * SEC) } })), "assertion_not_yet_valid");
  });

  it.each([0, 30 * SEC, 60 * SEC])("NotBefore now + %i ms (within skew) → 200", async (ms) => {
    ok(await send11(b, bare(b, { o: { notBefore: at(b, ms) } })));
  });

  it("no NotBefore → 200 (optional)", async () => {
    ok(await send11(b, bare(b, { o: { notBefore: null } })));
  });

  it("IssueInstant older than maxAssertionAgeSeconds + skew → assertion_stale", async () => {
    refused(await send11(b, bare(b, { o: { issueInstant: at(b, -(300 + 60) * SEC - 1), notBefore: at(b, -7 * MIN) } })), "assertion_stale");
  });

  it("IssueInstant exactly maxAssertionAgeSeconds + skew old → 200 (control)", async () => {
    ok(await send11(b, bare(b, { o: { issueInstant: at(b, -(300 + 60) * SEC), notBefore: at(b, -7 * MIN) } })));
  });

  it("IssueInstant in the future beyond skew → assertion_not_yet_valid", async () => {
    refused(await send11(b, bare(b, { o: { issueInstant: at(b, 2 * MIN) } })), "assertion_not_yet_valid");
  });

  it.each([
    ["IssueInstant without Z", (x: string) => x.replace(/ IssueInstant="([^"]+)Z"/, ' IssueInstant="$1"')],
    ["NotOnOrAfter with +00:00", (x: string) => x.replace(/ NotOnOrAfter="([^"]+)Z"/, ' NotOnOrAfter="$1+00:00"')],
    ["NotBefore date only", (x: string) => x.replace(/ NotBefore="(\d{4}-\d\d-\d\d)[^"]+"/, ' NotBefore="$1"')],
    ["AuthenticationInstant without Z", (x: string) => x.replace(/ AuthenticationInstant="([^"]+)Z"/, ' AuthenticationInstant="$1"')],
    ["no IssueInstant", (x: string) => x.replace(/ IssueInstant="[^"]+"/, "")],
  ])("%s → timestamp_invalid", async (_n, mutate) => {
    refused(await send11(b, bare(b, { mutate })), "timestamp_invalid");
  });
});

// ---- Conditions: audience and condition types (E6) -----------------------------------------------------

describe("AudienceRestrictionCondition and condition types (E6)", () => {
  it("another SP's audience → audience_mismatch", async () => {
    refused(await send11(b, bare(b, { o: { audiences: [OTHER_SP] } })), "audience_mismatch");
  });

  it("Conditions without AudienceRestrictionCondition → audience_mismatch", async () => {
    const xml = bare(b, { o: { audiences: [] } });
    expect(xml).toContain("<saml:Conditions ");
    refused(await send11(b, xml), "audience_mismatch");
  });

  it("no Conditions at all → audience_mismatch", async () => {
    const xml = bare(b, { o: { omitConditions: true } });
    expect(xml).not.toContain("Conditions");
    refused(await send11(b, xml), "audience_mismatch");
  });

  it("two AudienceRestrictionConditions, one foreign (ANDed) → audience_mismatch", async () => {
    const extra = `<saml:AudienceRestrictionCondition><saml:Audience>${OTHER_SP}</saml:Audience></saml:AudienceRestrictionCondition>`;
    refused(await send11(b, bare(b, { o: { extraConditions: extra } })), "audience_mismatch");
  });

  it("two AudienceRestrictionConditions both naming us → 200 (control)", async () => {
    const extra = `<saml:AudienceRestrictionCondition><saml:Audience>${BRIDGE_ENTITY_ID}</saml:Audience></saml:AudienceRestrictionCondition>`;
    ok(await send11(b, bare(b, { o: { extraConditions: extra } })));
  });

  it("one AudienceRestrictionCondition with a foreign and our Audience (ORed) → 200 (control)", async () => {
    ok(await send11(b, bare(b, { o: { audiences: [OTHER_SP, BRIDGE_ENTITY_ID] } })));
  });

  it.each([`${BRIDGE_ENTITY_ID}/`, BRIDGE_ENTITY_ID.toUpperCase(), ` ${BRIDGE_ENTITY_ID}`])("look-alike audience %j → audience_mismatch", async (a) => {
    refused(await send11(b, bare(b, { o: { audiences: [a] } })), "audience_mismatch");
  });

  it("an alias from saml.audienceAliases → 200", async () => {
    const alias = await startBridge({ patch: (c) => { withIdp11(c); c.saml.audienceAliases = [TOKEN_ENDPOINT]; } });
    try {
      ok(await send11(alias, bare(alias, { o: { audiences: [TOKEN_ENDPOINT] } })));
    } finally {
      await alias.close();
    }
  });

  it("DoNotCacheCondition → 200 (accepted: the bridge caches nothing but the replay mark)", async () => {
    ok(await send11(b, bare(b, { o: { extraConditions: "<saml:DoNotCacheCondition/>" } })));
  });

  it.each([
    ["an extension saml:Condition (xsi:type)", '<saml:Condition xmlns:x="urn:example:conditions" xsi:type="x:Custom"/>'],
    ["a SAML 2.0 OneTimeUse", '<saml2:OneTimeUse xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"/>'],
    ["an unknown element", '<x:Whatever xmlns:x="urn:example"/>'],
  ])("%s → condition_unsupported", async (_n, extra) => {
    refused(await send11(b, bare(b, { o: { extraConditions: extra } })), "condition_unsupported");
  });

  it("two Conditions elements → saml_shape_invalid", async () => {
    const second = `<saml:Conditions NotOnOrAfter="${samlTime(at(b, 5 * MIN))}"><saml:AudienceRestrictionCondition><saml:Audience>${BRIDGE_ENTITY_ID}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>`;
    refused(await send11(b, bare(b, { mutate: insertBefore("<saml:AuthenticationStatement ", second) })), "saml_shape_invalid");
  });
});

// ---- Subject confirmation (E7) ----------------------------------------------------------------------------

describe("ConfirmationMethod (E7)", () => {
  it.each([
    ["holder-of-key", CM_HOLDER_OF_KEY_11],
    ["sender-vouches", CM_SENDER_VOUCHES_11],
    ["artifact", CM_ARTIFACT_11],
    ["SAML 2.0 bearer URI", "urn:oasis:names:tc:SAML:2.0:cm:bearer"],
    ["padded bearer", ` ${CM_BEARER_11}`],
  ])("%s only (no bearer) → subject_confirmation_invalid", async (_n, m) => {
    refused(await send11(b, bare(b, { o: { subject: { methods: [m] } } })), "subject_confirmation_invalid");
  });

  it("no SubjectConfirmation → subject_confirmation_invalid", async () => {
    refused(await send11(b, bare(b, { o: { subject: { methods: [] } } })), "subject_confirmation_invalid");
  });

  it("holder-of-key and bearer in one SubjectConfirmation → 200 (control)", async () => {
    ok(await send11(b, bare(b, { o: { subject: { methods: [CM_HOLDER_OF_KEY_11, CM_BEARER_11] } } })));
  });

  it("bearer on the AuthenticationStatement but not on the AttributeStatement → subject_confirmation_invalid", async () => {
    refused(await send11(b, bare(b, { o: { attributeSubject: { methods: [CM_SENDER_VOUCHES_11] } } })), "subject_confirmation_invalid");
  });
});

// ---- Subject: every statement names the same subject ------------------------------------------------------

describe("Subject of every statement", () => {
  it("AttributeStatement names another NameIdentifier → subject_mismatch", async () => {
    refused(await send11(b, bare(b, { o: { attributeSubject: { nameId: "mallory@example.com" } } })), "subject_mismatch");
  });

  it("same value, another Format → subject_mismatch", async () => {
    refused(await send11(b, bare(b, { o: { attributeSubject: { format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" } } })), "subject_mismatch");
  });

  it("same value, a NameQualifier on one only → subject_mismatch", async () => {
    refused(await send11(b, bare(b, { o: { attributeSubject: { qualifier: IDP11 } } })), "subject_mismatch");
  });

  it("the same NameQualifier on both → 200 (control), nameIdFormat from the NameIdentifier", async () => {
    const subject = { qualifier: IDP11 };
    ok(await send11(b, bare(b, { o: { subject, attributeSubject: subject } })));
  });

  it("no NameIdentifier (Subject with only a SubjectConfirmation) → subject_missing", async () => {
    const subject = { omitNameId: true };
    refused(await send11(b, bare(b, { o: { subject, attributeSubject: subject } })), "subject_missing");
  });

  it.each([
    ["empty", ""],
    ["padded", " alice@example.com"],
    ["trailing newline", "alice@example.com\n"],
    ["over 1024 characters", `${"a".repeat(1025)}@example.com`],
  ])("%s NameIdentifier → subject_invalid", async (_n, nameId) => {
    const subject = { nameId };
    refused(await send11(b, bare(b, { o: { subject, attributeSubject: subject } })), "subject_invalid");
  });

  it("two NameIdentifiers in one Subject → subject_invalid", async () => {
    const xml = bare(b, {
      o: { attributes: [] },
      mutate: replaceOnce("<saml:SubjectConfirmation>", '<saml:NameIdentifier>mallory@example.com</saml:NameIdentifier><saml:SubjectConfirmation>'),
    });
    refused(await send11(b, xml), "subject_invalid");
  });

  it("a statement without a Subject → subject_missing", async () => {
    const xml = bare(b, { o: { attributes: [] }, mutate: (x) => x.replace(/<saml:Subject>.*<\/saml:Subject>/, "") });
    refused(await send11(b, xml), "subject_missing");
  });

  it("no statement at all → subject_missing", async () => {
    refused(await send11(b, bare(b, { o: { attributes: [], omitAuthenticationStatement: true } })), "subject_missing");
  });

  it("only an AttributeStatement (no AuthenticationStatement) → 200, without auth_time / acr", async () => {
    const p = ok(await send11(b, bare(b, { o: { omitAuthenticationStatement: true } })));
    expect(p).not.toHaveProperty("auth_time");
    expect(p).not.toHaveProperty("acr");
  });

  it("an extension Statement / SubjectStatement (xsi:type) → saml_shape_invalid", async () => {
    for (const local of ["Statement", "SubjectStatement"]) {
      const ext = `<saml:${local} xmlns:x="urn:example" xsi:type="x:Custom"/>`;
      refused(await send11(b, bare(b, { mutate: insertBefore("<saml:AuthenticationStatement ", ext) })), "saml_shape_invalid");
    }
  });

  it("an Attribute without AttributeNamespace → saml_shape_invalid", async () => {
    refused(await send11(b, bare(b, { o: { attributes: [{ name: "role", namespace: null, values: ["user"] }] } })), "saml_shape_invalid");
  });
});

// ---- AssertionID ---------------------------------------------------------------------------------------------

describe("AssertionID", () => {
  it("signed assertion whose AssertionID was removed → assertion_id_missing", async () => {
    refused(await send11(b, bare(b).replace(/ AssertionID="[^"]+"/, "")), "assertion_id_missing");
  });

  it("unsigned assertion without AssertionID inside a signed Response (requireSignedAssertion:false) → assertion_id_missing", async () => {
    const fx = response11(lax, { assertion: { signer: null, mutate: (x) => x.replace(/ AssertionID="[^"]+"/, "") } });
    refused(await send11(lax, fx.xml), "assertion_id_missing");
  });
});

// ---- Response (E10) ---------------------------------------------------------------------------------------------

describe("SAML 1.1 samlp:Response (E10)", () => {
  it("Recipient ≠ the token endpoint → recipient_mismatch", async () => {
    refused(await send11(b, response11(b, { r: { recipient: `${OTHER_SP}/acs` } }).xml), "recipient_mismatch");
  });

  it.each([`${TOKEN_ENDPOINT}/`, "http://bridge.test/token"])("look-alike Recipient %s → recipient_mismatch", async (recipient) => {
    refused(await send11(b, response11(b, { r: { recipient } }).xml), "recipient_mismatch");
  });

  it("no Recipient → 200 (optional, as a SAML 2.0 Destination)", async () => {
    ok(await send11(b, response11(b, { r: { recipient: null } }).xml));
  });

  it("Recipient checked on an unsigned Response around a signed assertion too", async () => {
    refused(await send11(b, response11(b, { r: { recipient: OTHER_SP }, signer: null }).xml), "recipient_mismatch");
  });

  it.each([
    ["samlp:Requester", "samlp:Requester"],
    ["samlp:Responder", "samlp:Responder"],
    ["unprefixed Success (no default namespace)", "Success"],
    ["a prefix bound to another namespace", "saml:Success"],
    ["an undeclared prefix", "zz:Success"],
    ["the SAML 2.0 URI", "urn:oasis:names:tc:SAML:2.0:status:Success"],
    ["empty", ""],
  ])("StatusCode %s → status_not_success", async (_n, statusCode) => {
    const fx = response11(b, {
      r: { statusCode },
      ...(statusCode.startsWith("saml:") ? { mutate: replaceOnce("<samlp:Response ", '<samlp:Response xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" ') } : {}),
    });
    refused(await send11(b, fx.xml), "status_not_success");
  });

  it("StatusCode with another prefix bound to the SAML 1.0 protocol namespace → 200 (QName resolution)", async () => {
    const fx = response11(b, {
      r: { statusCode: "p:Success" },
      mutate: replaceOnce("<samlp:Status>", '<samlp:Status xmlns:p="urn:oasis:names:tc:SAML:1.0:protocol">'),
      signer: null,
    });
    ok(await send11(b, fx.xml));
  });

  it("no Status → status_not_success", async () => {
    const fx = response11(b, { mutate: (x) => x.replace(/<samlp:Status>.*?<\/samlp:Status>/, "") });
    refused(await send11(b, fx.xml), "status_not_success");
  });

  it("InResponseTo → in_response_to_present", async () => {
    refused(await send11(b, response11(b, { r: { inResponseTo: "_req1" } }).xml), "in_response_to_present");
  });

  it("two assertions → saml_shape_invalid", async () => {
    const second = assertion11(b).xml;
    refused(await send11(b, response11(b, { more: [second] }).xml), "saml_shape_invalid");
  });

  it("no assertion → saml_shape_invalid", async () => {
    const fx = response11(b, { mutate: (x) => x.replace(/<saml:Assertion [\s\S]*<\/saml:Assertion>/, "") });
    refused(await send11(b, fx.xml), "saml_shape_invalid");
  });

  it("unsigned Response around an unsigned assertion → signature_missing", async () => {
    refused(await send11(b, response11(b, { assertion: { signer: null }, signer: null }).xml), "signature_missing");
  });

  it("refusals burn nothing: a refused Response's assertion is still accepted on its own", async () => {
    const fx = response11(b, { r: { recipient: OTHER_SP }, signer: null });
    refused(await send11(b, fx.xml), "recipient_mismatch");
    const inner = /<saml:Assertion [\s\S]*<\/saml:Assertion>/.exec(fx.xml)![0];
    ok(await send11(b, inner));
  });
});
