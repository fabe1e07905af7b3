/** RFC 8414 metadata, the JWKS (current and previous keys) and the health endpoints. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER, TOKEN_ENDPOINT } from "../support/constants.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(() => bridge.close());

describe("discovery", () => {
  it("advertises exactly what the bridge supports (RFC 8414 §2)", async () => {
    const res = await bridge.http.get("/.well-known/oauth-authorization-server");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issuer: BRIDGE_ISSUER,
      token_endpoint: TOKEN_ENDPOINT,
      jwks_uri: `${BRIDGE_ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:saml2-bearer"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      token_exchange_subject_token_types_supported: [
        "urn:ietf:params:oauth:token-type:saml2", "urn:ietf:params:oauth:token-type:saml1", "urn:ietf:params:oauth:token-type:access_token",
      ],
      token_exchange_requested_token_types_supported: ["urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt"],
      token_exchange_actor_token_types_supported: ["urn:ietf:params:oauth:token-type:access_token"],
    });
  });

  it("publishes the signing key and the previous key, public parts only", async () => {
    const res = await bridge.http.get("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const kids = res.body.keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(["test-rs", "test-es-previous"]);
    for (const k of res.body.keys) {
      for (const priv of ["d", "p", "q", "dp", "dq", "qi"]) expect(k).not.toHaveProperty(priv);
      expect(k.use).toBe("sig");
    }
  });
});

describe("health", () => {
  it("/healthz answers while the process runs", async () => {
    expect((await bridge.http.get("/healthz")).status).toBe(200);
  });
  it("/readyz reports the replay store", async () => {
    const res = await bridge.http.get("/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ready", replay_store: "up" });
  });
  it("unknown paths are 404 with no-store", async () => {
    const res = await bridge.http.get("/nope");
    expect(res.status).toBe(404);
    expect(res.headers["cache-control"]).toBe("no-store");
  });
});
