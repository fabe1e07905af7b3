import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, exchange, decodeJwt, type TestBridge } from "../support/harness.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { signWithXmlsec1, KEYS } from "../support/independent-signers.js";

describe("smoke", () => {
  let bridge: TestBridge;
  beforeAll(async () => {
    bridge = await startBridge();
  });
  afterAll(() => bridge.close());
  it("exchanges an xmlsec1-signed bare assertion", async () => {
    const xml = buildAssertion2({ id: "_smoke1", now: new Date(bridge.clock.now) });
    const signed = signWithXmlsec1(xml, "_smoke1", { key: KEYS.idp1 });
    const res = await exchange(bridge, { xml: signed, scope: "read" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.sub).toBe("alice@example.com");
  });
});
