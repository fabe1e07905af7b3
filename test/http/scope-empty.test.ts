/**
 * A token is never issued with an empty scope (src/policy/scope.ts): many resource servers read a
 * token without `scope` as "no restriction". When the intersection (requested or the audiences'
 * defaults ∩ client ∩ every audience ∩ the mapping's grant) is empty, the exchange is refused with
 * invalid_scope / scope_empty, before the assertion is marked used.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, decodeJwt, exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";

const NO_DEFAULTS = "https://no-defaults.example.com";
const WRITE_DEFAULT = "https://write-default.example.com";
const AUDIT = "https://audit.example.com";
const BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer";
const secret = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const APP = { id: "scope-app", secret: "scope-app-secret" };
const READER = { id: "reader", secret: "reader-secret" };

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({
    patch: (c) => {
      c.audiences.push(
        { id: NO_DEFAULTS, scopes: ["read"], defaultScopes: [] },
        { id: WRITE_DEFAULT, scopes: ["read", "write"], defaultScopes: ["write"] },
        { id: AUDIT, scopes: ["audit"], defaultScopes: ["audit"] },
      );
      c.clients.push(
        { id: APP.id, secretHash: secret(APP.secret), grantTypes: ["urn:ietf:params:oauth:grant-type:token-exchange", BEARER],
          audiences: [API, NO_DEFAULTS, WRITE_DEFAULT, AUDIT], defaultAudience: NO_DEFAULTS, scopes: ["read", "write"], idps: ["idp1"] },
        { id: READER.id, secretHash: secret(READER.secret), audiences: [API, WRITE_DEFAULT], defaultAudience: WRITE_DEFAULT, scopes: ["read"], idps: ["idp1"] },
      );
    },
  });
});
afterAll(() => bridge.close());

const user = (role = "user") => signedAssertion(bridge, { attributes: [{ name: "role", values: [role] }] });

describe("an empty scope is refused: invalid_scope / scope_empty", () => {
  it("control: the audience's default scope, when everyone allows it, is issued as `scope`", async () => {
    const res = await exchange(bridge, { xml: user(), client: APP, audience: API });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.scope).toBe("read");
    expect(decodeJwt(res.body.access_token).payload.scope).toBe("read");
  });

  it("no scope requested and the audience has no default scopes", async () => {
    expectError(await exchange(bridge, { xml: user(), client: APP, audience: NO_DEFAULTS }), 400, "invalid_scope", "scope_empty");
  });

  it("the default is outside what the mapping grants this user (role user: read only)", async () => {
    expectError(await exchange(bridge, { xml: user(), client: APP, audience: WRITE_DEFAULT }), 400, "invalid_scope", "scope_empty");
  });

  it("the default is outside the client's scopes", async () => {
    expectError(await exchange(bridge, { xml: user("editor"), client: READER, audience: WRITE_DEFAULT }), 400, "invalid_scope", "scope_empty");
  });

  it("the mapping grants nothing at all (no role attribute)", async () => {
    expectError(await exchange(bridge, { xml: signedAssertion(bridge, { attributes: [] }), client: APP, audience: API }), 400, "invalid_scope", "scope_empty");
  });

  it("two audiences whose defaults have nothing in common", async () => {
    // defaults {read, audit}: AUDIT does not understand read; nobody grants audit.
    expectError(await exchange(bridge, { xml: user("editor"), client: APP, audience: [API, AUDIT] }), 400, "invalid_scope", "scope_empty");
  });

  it("the saml2-bearer grant too (the client's default audience has no defaults)", async () => {
    const res = await bridge.http.post("/token").auth(APP.id, APP.secret).type("form")
      .send(new URLSearchParams({ grant_type: BEARER, assertion: toBase64Url(user()) }).toString());
    expectError(res, 400, "invalid_scope", "scope_empty");
  });

  it("a refusal does not burn the assertion", async () => {
    const xml = user();
    expectError(await exchange(bridge, { xml, client: APP, audience: NO_DEFAULTS }), 400, "invalid_scope", "scope_empty");
    expect((await exchange(bridge, { xml, client: APP, audience: API })).status).toBe(200);
  });
});
