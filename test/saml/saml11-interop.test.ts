// Positive SAML 1.1 fixtures (token type urn:ietf:params:oauth:token-type:saml1) from INDEPENDENT
// implementations, xmlsec1 and OpenSAML's samlsign (pysaml2 has no SAML 1.1), exchanged over HTTP at
// POST /token: bare assertions and samlp:Responses (assertion signed, Response signed, both), prefixed,
// default-namespace and pretty-printed shapes (whitespace inside the signed content, no xsi:type).
// Also: the token-type boundary with saml2 in both directions, SHA-1 policy, KeyInfo ignored (B4),
// one mapping config for both SAML versions, and the (AttributeNamespace, AttributeName) pair (E9).
// Attack catalogue §0.1 B-S11, E1, E9; interop-notes.md.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TOKEN_TYPE, API, CLIENTS, SAML2, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, buildResponse2, randomSamlId } from "../support/saml-builder.js";
import { ATTACKER_CERT, IDP1_CERT, TOKEN_TYPE_SAML1 } from "../support/constants.js";
import { signWithXmlsec1, verifySaml11WithXmlsec1, verifyWithSamlsign } from "../support/independent-signers.js";
import { IDP11, KEYS_IDP11, CLAIMS_ATTR_NS, SHIB_ATTR_NS, AM_PASSWORD_11, buildAssertion11, buildResponse11, randomSaml11Id } from "../support/saml1-builder.js";
import { SAML1, assertion11, response11, send11, sign11, withIdp11, type Signer11 } from "../support/saml1-bridge.js";

type Res = { status: number; body: any; headers: Record<string, any> };

interface Want {
  sub?: string;
  scope?: string;
  role?: string[] | undefined;
}

/** 200 with an access token for API carrying the SAML 1.1 subject, idp, role, acr and auth_time. */
function expectToken(res: Res, want: Want = {}): Record<string, any> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
  const { payload } = decodeJwt(res.body.access_token);
  expect(payload.sub).toBe(want.sub ?? "alice@example.com");
  expect(payload.aud).toBe(API);
  expect(payload.idp).toBe(IDP11);
  expect(payload.scope).toBe(want.scope ?? "read");
  expect(payload.act).toEqual({ sub: CLIENTS.c1.id });
  expect(payload.acr).toBe(AM_PASSWORD_11);
  expect(typeof payload.auth_time).toBe("number");
  const role = "role" in want ? want.role : ["user"];
  if (role === undefined) expect(payload).not.toHaveProperty("role");
  else expect(payload.role).toEqual(role);
  return payload;
}

function refused(res: Res, reason: string): void {
  expectError(res, 400, "invalid_request", reason);
  expect(JSON.stringify(res.body)).not.toMatch(/<|alice/);
}

const pemBody = (file: string): string => readFileSync(file, "utf8").replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
const X509_CERT = /(<(?:[\w.-]+:)?X509Certificate>)[^<]*(<\/(?:[\w.-]+:)?X509Certificate>)/g;

/** idp11 trusted, c1 may present saml1 (and saml2). */
let strict: TestBridge;
/** idp11 with requireSignedAssertion: false: a signed Response around an unsigned assertion suffices. */
let lax: TestBridge;
/** idp11 with allowSha1. */
let legacy: TestBridge;

beforeAll(async () => {
  strict = await startBridge({ patch: (c) => withIdp11(c) });
  lax = await startBridge({ patch: (c) => withIdp11(c, { requireSignedAssertion: false }) });
  legacy = await startBridge({ patch: (c) => withIdp11(c, { allowSha1: true }) });
});
afterAll(async () => {
  await Promise.all([strict, lax, legacy].filter(Boolean).map((b) => b.close()));
});

describe.each(["xmlsec1", "samlsign"] as const)("%s-signed SAML 1.1 fixtures", (signer: Signer11) => {
  it.each(["saml", "saml1", ""] as const)("bare signed assertion (B-S11), prefix %j → 200", async (prefix) => {
    const fx = assertion11(strict, { signer, o: { prefix } });
    expectToken(await send11(strict, fx.xml));
  });

  it("bare assertion, pretty-printed, default namespace, no xsi:type (Shibboleth-style) → 200", async () => {
    const fx = assertion11(strict, { signer, o: { prefix: "", pretty: true, xsiType: false } });
    expect(fx.xml).toMatch(/^<Assertion xmlns="urn:oasis:names:tc:SAML:1\.0:assertion"/);
    expect(fx.xml).toMatch(/>\n\s+<Conditions /);
    expect(fx.xml).not.toContain("xsi:type");
    expectToken(await send11(strict, fx.xml));
  });

  it("bare assertion with an XML declaration, rsa-sha512 + sha512 → 200", async () => {
    const id = randomSaml11Id("_a");
    const xml = sign11(`<?xml version="1.0" encoding="UTF-8"?>\n${buildAssertion11({ id, now: new Date(strict.clock.now) })}`, id, signer, {
      alg: "rsa-sha512",
      digest: "sha512",
    });
    expect(xml).toContain("xmldsig-more#rsa-sha512");
    expectToken(await send11(strict, xml));
  });

  it("maps role=editor (Shibboleth namespace) to read write", async () => {
    const fx = assertion11(strict, { signer, o: { attributes: [{ name: "role", values: ["editor"] }] } });
    expectToken(await send11(strict, fx.xml, { scope: "read write" }), { scope: "read write", role: ["editor"] });
  });

  it("Response with a signed assertion, Response unsigned → 200", async () => {
    expectToken(await send11(strict, response11(strict, { assertion: { signer }, signer: null }).xml));
  });

  it("Response and assertion both signed → 200", async () => {
    const fx = response11(strict, { assertion: { signer }, signer });
    expect(fx.xml.indexOf("Signature")).toBeLessThan(fx.xml.indexOf("Status"));
    expectToken(await send11(strict, fx.xml));
  });

  it("pretty-printed Response, both signed → 200", async () => {
    const fx = response11(strict, { assertion: { signer, o: { pretty: true, xsiType: false } }, r: { pretty: true }, signer });
    expectToken(await send11(strict, fx.xml));
  });

  it("Response declaring the saml/xsi namespaces on its root only (Shibboleth 1.3 shape): assertion signed → 200; Response signed only → 200 when allowed", async () => {
    for (const [bridge, signAssertion] of [[strict, true], [lax, false]] as const) {
      const id = randomSaml11Id("_a");
      const rid = randomSaml11Id("_r");
      const inner = buildAssertion11({ id, now: new Date(bridge.clock.now) }).replace(
        / xmlns:saml="[^"]+" xmlns:xs="[^"]+" xmlns:xsi="[^"]+"/,
        "",
      );
      expect(inner).not.toContain("xmlns");
      let xml = buildResponse11(inner, { id: rid, now: new Date(bridge.clock.now) }).replace(
        "<samlp:Response ",
        `<samlp:Response xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" `,
      );
      if (signAssertion) xml = sign11(xml, id, signer);
      xml = sign11(xml, rid, signer);
      expectToken(await send11(bridge, xml));
    }
  });

  it("signed Response around an UNSIGNED assertion: signature_missing by default", async () => {
    refused(await send11(strict, response11(strict, { assertion: { signer: null }, signer }).xml), "signature_missing");
  });

  it("signed Response around an UNSIGNED assertion: 200 with requireSignedAssertion:false", async () => {
    expectToken(await send11(lax, response11(lax, { assertion: { signer: null }, signer }).xml));
  });

  it("rsa-sha1 + sha1 → signature_algorithm_forbidden; 200 when the IdP's allowSha1 says so", async () => {
    const spec = { signer, sign: { alg: "rsa-sha1", digest: "sha1" } } as const;
    refused(await send11(strict, assertion11(strict, spec).xml), "signature_algorithm_forbidden");
    expectToken(await send11(legacy, assertion11(legacy, spec).xml));
  });

  // Catalogue B4: KeyInfo is never a source of trust.
  it("KeyInfo removed, or its certificate swapped for the attacker's, signature genuine → 200", async () => {
    const none = assertion11(strict, { signer, sign: { keyInfo: "none" } });
    expect(none.xml).not.toContain("KeyInfo");
    expectToken(await send11(strict, none.xml));
    const swapped = assertion11(strict, { signer }).xml.replace(X509_CERT, `$1${pemBody(ATTACKER_CERT)}$2`);
    expect(swapped).toContain(pemBody(ATTACKER_CERT));
    expectToken(await send11(strict, swapped));
  });

  it("the fixtures verify with both independent verifiers (self-test of the SAML 1.1 signers)", () => {
    const bare = assertion11(strict, { signer, o: { pretty: true, prefix: "" } });
    const both = response11(strict, { assertion: { signer }, signer });
    for (const [xml, id] of [[bare.xml, bare.id], [both.xml, both.id], [both.xml, both.rid]] as const) {
      expect(verifySaml11WithXmlsec1(xml, id, KEYS_IDP11.cert)).toBe(true);
      expect(verifyWithSamlsign(xml, id, KEYS_IDP11.cert)).toBe(true);
      expect(verifySaml11WithXmlsec1(xml, id, IDP1_CERT)).toBe(false);
    }
  });
});

describe("encoding and token type", () => {
  it("standard base64 (not base64url) is accepted too", async () => {
    const fx = assertion11(strict);
    expectToken(await send11(strict, "", { rawToken: Buffer.from(fx.xml, "utf8").toString("base64") }));
  });

  it("a SAML 1.1 assertion or Response sent as saml2 → token_type_mismatch", async () => {
    refused(await exchange(strict, { xml: assertion11(strict).xml, tokenType: SAML2, scope: "read" }), "token_type_mismatch");
    refused(await exchange(strict, { xml: response11(strict).xml, tokenType: SAML2, scope: "read" }), "token_type_mismatch");
  });

  it("a SAML 2.0 assertion or Response sent as saml1 → token_type_mismatch", async () => {
    const id = randomSamlId("_a");
    const a2 = signWithXmlsec1(buildAssertion2({ id, issuer: IDP11, now: new Date(strict.clock.now) }), id, { key: KEYS_IDP11 });
    refused(await send11(strict, a2), "token_type_mismatch");
    refused(await send11(strict, buildResponse2(a2, { now: new Date(strict.clock.now) })), "token_type_mismatch");
  });

  it("a client whose subjectTokenTypes lack saml1 → subject_token_type_not_allowed", async () => {
    const b = await startBridge({
      patch: (c) => {
        withIdp11(c);
        c.clients[0].subjectTokenTypes = [SAML2];
      },
    });
    try {
      refused(await send11(b, assertion11(b).xml), "subject_token_type_not_allowed");
    } finally {
      await b.close();
    }
  });

  it("the same SAML 1.1 assertion twice → replayed (IdP entityID + AssertionID)", async () => {
    const fx = assertion11(strict);
    expectToken(await send11(strict, fx.xml));
    refused(await send11(strict, fx.xml), "replayed");
  });

  it("TOKEN_TYPE_SAML1 is the RFC 8693 §3 URI", () => {
    expect(SAML1).toBe(TOKEN_TYPE_SAML1);
    expect(SAML1).toBe("urn:ietf:params:oauth:token-type:saml1");
  });
});

describe("mapping: one config for both versions; SAML 1.1 attributes are (AttributeNamespace, AttributeName)", () => {
  it("idp11's mapping serves a SAML 2.0 assertion whose Attribute has Name=role, NameFormat=the same namespace", async () => {
    const id = randomSamlId("_a");
    const xml = signWithXmlsec1(
      buildAssertion2({ id, issuer: IDP11, now: new Date(strict.clock.now), attributes: [{ name: "role", nameFormat: SHIB_ATTR_NS, values: ["editor"] }] }),
      id,
      { key: KEYS_IDP11 },
    );
    const res = await exchange(strict, { xml, tokenType: SAML2, scope: "read write" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { payload } = decodeJwt(res.body.access_token);
    expect(payload).toMatchObject({ sub: "alice@example.com", idp: IDP11, scope: "read write", role: ["editor"] });
  });

  it("E9: role=admin under another AttributeNamespace is ignored (the mapping names the Shibboleth namespace)", async () => {
    const fx = assertion11(strict, {
      o: {
        attributes: [
          { name: "role", namespace: SHIB_ATTR_NS, values: ["user"] },
          { name: "role", namespace: CLAIMS_ATTR_NS, values: ["admin"] },
        ],
      },
    });
    expectError(await send11(strict, fx.xml, { scope: "read write" }), 400, "invalid_scope", "scope_not_allowed");
    // The refusal burnt nothing: the same assertion still yields read, with role = the configured pair's value only.
    expectToken(await send11(strict, fx.xml), { role: ["user"] });
  });

  it("E9: only the unconfigured namespace present → the attribute counts as absent", async () => {
    const fx = assertion11(strict, { o: { attributes: [{ name: "role", namespace: CLAIMS_ATTR_NS, values: ["admin"] }] } });
    expectError(await send11(strict, fx.xml, { scope: "read" }), 400, "invalid_scope", "scope_not_allowed");
  });

  it("a mapping without nameFormat matches the AttributeName in any namespace (so name the namespace)", async () => {
    const b = await startBridge({
      patch: (c) =>
        withIdp11(c, {
          mapping: { claims: { role: { from: { name: "role" }, multi: true } }, scopes: [{ grant: ["read"] }] },
        }),
    });
    try {
      const fx = assertion11(b, {
        o: { attributes: [{ name: "role", namespace: SHIB_ATTR_NS, values: ["user"] }, { name: "role", namespace: CLAIMS_ATTR_NS, values: ["admin"] }] },
      });
      const res = await send11(b, fx.xml);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(decodeJwt(res.body.access_token).payload.role).toEqual(["user", "admin"]);
    } finally {
      await b.close();
    }
  });

  it("the subject from an attribute: mapping.subject.attribute { name, nameFormat }", async () => {
    const b = await startBridge({
      patch: (c) =>
        withIdp11(c, {
          mapping: { subject: { attribute: { name: "urn:mace:dir:attribute-def:uid", nameFormat: SHIB_ATTR_NS } }, scopes: [{ grant: ["read"] }] },
        }),
    });
    try {
      const fx = assertion11(b, { o: { attributes: [{ name: "urn:mace:dir:attribute-def:uid", values: ["alice7"] }] } });
      const res = await send11(b, fx.xml);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(decodeJwt(res.body.access_token).payload.sub).toBe("alice7");
    } finally {
      await b.close();
    }
  });
});

describe("Response Recipient", () => {
  it("a Recipient listed in the IdP's recipients → 200", async () => {
    const b = await startBridge({ patch: (c) => withIdp11(c, { recipients: ["https://bridge.test/token", "https://alias.bridge.test/token"] }) });
    try {
      expectToken(await send11(b, response11(b, { r: { recipient: "https://alias.bridge.test/token" } }).xml));
    } finally {
      await b.close();
    }
  });
});

