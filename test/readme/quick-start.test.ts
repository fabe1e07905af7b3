/**
 * The README's quick start, as a test: the bundled example config with the development keys that
 * `npm start` creates, and what the README says of its example exchange beyond what curl prints
 * (the claims, the replay refused, a scope the mapping does not grant), with the SAML 1.1
 * (docs/saml.md) and saml2-bearer (docs/api.md) examples. The curl commands themselves run as
 * pasted in docs-examples.test.ts.
 */
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { createBridge, type Bridge } from "../../src/bootstrap.js";
import { loadConfigFile } from "../../src/config/load.js";
import { decodeJwt } from "../support/harness.js";
import { ensureDevKeys } from "./dev-keys.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
let bridge: Bridge;

/** What `npm run -s example-assertion -- …` prints (the compiled script, as the README runs it). */
function exampleAssertion(...args: string[]): string {
  return execFileSync(process.execPath, [join(ROOT, "dist", "scripts", "example-assertion.js"), ...args], { encoding: "utf8" }).trim();
}

beforeAll(async () => {
  // `npm start` runs this first: development keys and the example IdP, created if missing.
  await ensureDevKeys();
  bridge = await createBridge(loadConfigFile(join(ROOT, "config", "fedbridge.example.yaml")), { now: () => Date.now(), log: () => undefined });
});
afterAll(() => bridge.close());

const exchange = (token: string, type: string, scope = "orders:read") =>
  request(bridge.app).post("/token").auth("legacy-app", "legacy-app-dev-secret").type("form")
    .send(new URLSearchParams({ grant_type: GRANT, subject_token_type: type, subject_token: token, audience: "https://orders.example.org", scope }).toString());

describe("README quick start (config/fedbridge.example.yaml)", () => {
  it("the example SAML 2.0 exchange, then its replay", async () => {
    const token = exampleAssertion("--sub", "alice@example.org", "--groups", "staff");
    const res = await exchange(token, "urn:ietf:params:oauth:token-type:saml2");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer", expires_in: 300 });
    expect(decodeJwt(res.body.access_token).payload).toMatchObject({
      sub: "alice@example.org", aud: "https://orders.example.org", client_id: "legacy-app", scope: "orders:read",
      act: { sub: "legacy-app" }, idp: "https://idp.example.org/saml", email: "alice@example.org", groups: ["staff"],
    });
    expect((await exchange(token, "urn:ietf:params:oauth:token-type:saml2")).body).toEqual({ error: "invalid_request", error_description: "replayed" });
  });

  it("orders:write only for orders-admin members", async () => {
    const staff = await exchange(exampleAssertion("--groups", "staff"), "urn:ietf:params:oauth:token-type:saml2", "orders:write");
    expect(staff.body.error).toBe("invalid_scope");
    const admin = await exchange(exampleAssertion("--groups", "staff,orders-admin"), "urn:ietf:params:oauth:token-type:saml2", "orders:write");
    expect(admin.status).toBe(200);
  });

  it("the example SAML 1.1 exchange", async () => {
    const res = await exchange(exampleAssertion("--saml11", "--sub", "alice@example.org", "--groups", "staff"), "urn:ietf:params:oauth:token-type:saml1");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.acr).toBe("urn:oasis:names:tc:SAML:1.0:am:password");
  });

  it("the example saml2-bearer call", async () => {
    const res = await request(bridge.app).post("/token").auth("legacy-app", "legacy-app-dev-secret").type("form")
      .send(new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:saml2-bearer", assertion: exampleAssertion(), scope: "orders:read" }).toString());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).not.toHaveProperty("issued_token_type");
  });
});
