/**
 * RFC 7522 §2.1: the SAML 2.0 bearer assertion grant. Same validation, mapping, replay and
 * issuance as a `saml2` subject token; RFC 7522's own errors (`invalid_grant` for a bad
 * assertion) and an RFC 6749 §5.1 response.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, OTHER_API, decodeJwt, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";

const BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer";
const LEGACY = { id: "legacy", secret: "legacy-secret" };

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({
    patch: (c) => {
      c.clients.push({
        id: LEGACY.id, secretHash: `sha256:${createHash("sha256").update(LEGACY.secret).digest("base64url")}`,
        grantTypes: [BEARER], audiences: [API, OTHER_API], defaultAudience: API, scopes: ["read", "write"], idps: ["idp1"],
      });
    },
  });
});
afterAll(() => bridge.close());

function bearer(params: Record<string, string>, who: { id: string; secret: string } = LEGACY) {
  return bridge.http.post("/token").auth(who.id, who.secret).type("form")
    .send(new URLSearchParams({ grant_type: BEARER, ...params }).toString());
}

describe("saml2-bearer grant (RFC 7522)", () => {
  it("issues an access token for the client's default audience", async () => {
    const res = await bearer({ assertion: toBase64Url(signedAssertion(bridge)), scope: "read" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toMatchObject({ token_type: "Bearer", expires_in: 300 });
    expect(res.body).not.toHaveProperty("issued_token_type");
    expect(res.body).not.toHaveProperty("refresh_token");
    expect(decodeJwt(res.body.access_token).payload).toMatchObject({
      sub: "alice@example.com", aud: API, scope: "read", client_id: "legacy", act: { sub: "legacy" },
    });
  });

  it("takes an RFC 8707 resource instead of the default audience", async () => {
    const res = await bearer({ assertion: toBase64Url(signedAssertion(bridge)), resource: OTHER_API });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.aud).toBe(OTHER_API);
  });

  it("answers invalid_grant for a bad assertion (RFC 7522 §3.1)", async () => {
    const xml = signedAssertion(bridge).replace("alice@example.com", "admin@example.com");
    expectError(await bearer({ assertion: toBase64Url(xml) }), 400, "invalid_grant", "signature_invalid");
  });

  it("answers invalid_grant for a replayed assertion", async () => {
    const assertion = toBase64Url(signedAssertion(bridge));
    expect((await bearer({ assertion })).status).toBe(200);
    expectError(await bearer({ assertion }), 400, "invalid_grant", "replayed");
  });

  it("answers invalid_grant for an expired assertion", async () => {
    const xml = signedAssertion(bridge, { now: new Date(bridge.clock.now - 3_600_000) });
    const res = await bearer({ assertion: toBase64Url(xml) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_grant");
  });

  it("keeps invalid_request for a missing assertion and invalid_scope for a wide scope", async () => {
    expectError(await bearer({}), 400, "invalid_request", "parameter_missing");
    expectError(await bearer({ assertion: toBase64Url(signedAssertion(bridge)), scope: "admin" }), 400, "invalid_scope", "scope_not_allowed");
  });

  it("is unauthorized_client for a client not configured for it", async () => {
    expectError(await bearer({ assertion: toBase64Url(signedAssertion(bridge)) }, { id: "c1", secret: "c1-secret" }), 400, "unauthorized_client", "grant_not_allowed");
  });

  it("requires client authentication", async () => {
    const res = await bridge.http.post("/token").type("form").send(new URLSearchParams({ grant_type: BEARER, assertion: "x" }).toString());
    expectError(res, 401, "invalid_client", "client_auth_missing");
  });

  it("is advertised in discovery", async () => {
    const res = await bridge.http.get("/.well-known/oauth-authorization-server");
    expect(res.body.grant_types_supported).toContain(BEARER);
  });
});
