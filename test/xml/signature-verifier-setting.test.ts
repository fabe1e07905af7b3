/**
 * `saml.signatureVerifier` (issue 11: the old path stays available behind a setting): default
 * `native`, `xml-crypto` selects xml-crypto's checkSignature under the same rules; anything else is
 * a config error. Told apart on the real endpoint with a document only xml-crypto accepts (an
 * attribute named xmlns… that declares nothing: one of the native path's listed stricter refusals). And an internal fault in the verifier reaches the log as `signature_verifier_failed`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { errorHandler } from "../../src/http/error-response.js";
import { refuse } from "../../src/oauth/errors.js";
import type { LogEvent } from "../../src/log/logger.js";
import { baseConfig, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2 } from "../support/saml-builder.js";

let native: TestBridge;
let legacy: TestBridge;
beforeAll(async () => {
  native = await startBridge();
  legacy = await startBridge({ patch: (c) => { c.saml.signatureVerifier = "xml-crypto"; } });
});
afterAll(async () => {
  await native.close();
  await legacy.close();
});

let n = 0;
const fresh = (b: TestBridge) => {
  const id = `_set${++n}_${Date.now()}`;
  return { id, xml: buildAssertion2({ id, now: new Date(b.clock.now) }) };
};

/**
 * Signed by xmlsec1, then an attribute named `xmlnsx` (no namespace declaration) added inside the
 * signed element: xml-crypto leaves such names out of the canonical form, so its digest still
 * matches; the native path refuses the document (STRICTER.xmlnsLikeAttribute).
 */
function xmlnsLikeAttribute(b: TestBridge): string {
  const { id, xml } = fresh(b);
  return signWithXmlsec1(xml, id, { key: KEYS.idp1 }).replace("<saml:Subject>", '<saml:Subject xmlnsx="unsigned">');
}

describe("saml.signatureVerifier", () => {
  it("both verifiers accept a document signed by xmlsec1", async () => {
    for (const b of [native, legacy]) {
      const { id, xml } = fresh(b);
      expect((await exchange(b, { xml: signWithXmlsec1(xml, id, { key: KEYS.idp1 }) })).status).toBe(200);
    }
  });

  it("default is native: an unsigned xmlns-like attribute is refused; with xml-crypto the same document is accepted", async () => {
    expectError(await exchange(native, { xml: xmlnsLikeAttribute(native) }), 400, "invalid_request", "signature_invalid");
    const res = await exchange(legacy, { xml: xmlnsLikeAttribute(legacy) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it("both refuse a tampered document", async () => {
    for (const b of [native, legacy]) {
      const { id, xml } = fresh(b);
      const tampered = signWithXmlsec1(xml, id, { key: KEYS.idp1 }).replace("alice@example.com", "admin@example.com");
      expectError(await exchange(b, { xml: tampered }), 400, "invalid_request", "signature_invalid");
    }
  });

  it("any other value is a config error", () => {
    for (const value of ["xmlcrypto", "", 1, null]) {
      const raw = baseConfig();
      raw.saml.signatureVerifier = value;
      expect(() => parseConfig(raw)).toThrow(/signatureVerifier/);
    }
  });
});

describe("an internal fault of the verifier in the HTTP error path", () => {
  it("answers 500 server_error / signature_verifier_failed and logs the reason and the error class only", () => {
    const logs: LogEvent[] = [];
    let status = 0;
    let body: unknown;
    // node's ServerResponse, as far as the one serializer uses it (http/error-response.ts sendJson).
    const res = {
      headersSent: false,
      set statusCode(s: number) { status = s; },
      setHeader: () => undefined,
      end(text: string) { body = JSON.parse(text); },
    };
    const fault = refuse("signature_verifier_failed", new TypeError("<saml:Assertion>alice</saml:Assertion>"));
    errorHandler((e) => logs.push(e))(fault, {} as never, res as never, () => undefined);
    expect(status).toBe(500);
    expect(body).toEqual({ error: "server_error", error_description: "signature_verifier_failed" });
    expect(logs).toEqual([{ event: "internal_error", reason: "signature_verifier_failed", error: "TypeError" }]);
    expect(JSON.stringify(logs)).not.toContain("alice");
  });
});
