/**
 * POST /token: the RFC 8693 §2 request and response, client authentication (RFC 6749 §2.3) and
 * the audience/scope policy, over HTTP. One negative test per rule, asserting status, `error`
 * and reason code (attack catalogue section H).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import {
  ACCESS_TOKEN_TYPE, API, CLIENTS, GRANT, OTHER_API, SAML2,
  decodeJwt, exchange, expectError, signedAssertion, startBridge, type TestBridge,
} from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({
    patch: (c) => {
      // RFC 6749 §2.3.1: ids and secrets with reserved characters are form-urlencoded in Basic.
      c.clients.push({
        id: "svc:a%b", secretHash: `sha256:${createHash("sha256").update("p@ss:w+rd %").digest("base64url")}`,
        audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"],
      });
    },
  });
});
afterAll(() => bridge.close());

const role = (values: string[]) => ({ attributes: [{ name: "role", values }] });

describe("successful exchange (RFC 8693 §2.2.1)", () => {
  it("answers with an RFC 9068 access token and the §2.2.1 fields", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), audience: API, scope: "read" });
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: "Bearer", expires_in: 300 });
    expect(res.body).not.toHaveProperty("refresh_token");
    // scope equals the request, so RFC 6749 §5.1 lets it be omitted
    expect(res.body).not.toHaveProperty("scope");

    const jwks = createLocalJWKSet((await bridge.http.get("/.well-known/jwks.json")).body);
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token, jwks, {
      issuer: BRIDGE_ISSUER, audience: API, typ: "at+jwt",
    });
    expect(protectedHeader).toMatchObject({ alg: "RS256", kid: "test-rs", typ: "at+jwt" });
    expect(payload).toMatchObject({
      sub: "alice@example.com", client_id: "c1", scope: "read", act: { sub: "c1" },
      idp: "https://idp1.test/idp", role: ["user"],
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(typeof payload.jti).toBe("string");
    expect(typeof payload.auth_time).toBe("number");
  });

  it("issues unique jti values", async () => {
    const a = await exchange(bridge, { xml: signedAssertion(bridge) });
    const b = await exchange(bridge, { xml: signedAssertion(bridge) });
    expect(decodeJwt(a.body.access_token).payload.jti).not.toBe(decodeJwt(b.body.access_token).payload.jti);
  });

  it("uses the client's default audience and the audience's default scopes when none are asked for", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge) });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe("read");
    expect(decodeJwt(res.body.access_token).payload).toMatchObject({ aud: API, scope: "read" });
  });

  it("accepts a `resource` naming an allowed audience (RFC 8707)", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), resource: OTHER_API });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.aud).toBe(OTHER_API);
  });

  it("shortens the lifetime to the audience's own TTL", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), audience: OTHER_API });
    expect(res.body.expires_in).toBe(60);
  });

  it("impersonation clients get no act claim; delegation is the default", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), client: CLIENTS.imp });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload).not.toHaveProperty("act");
  });

  it("accepts client_secret_post", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), auth: "post" });
    expect(res.status).toBe(200);
  });

  it("decodes form-urlencoded Basic credentials (RFC 6749 §2.3.1)", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), client: { id: "svc:a%b", secret: "p@ss:w+rd %" } });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.client_id).toBe("svc:a%b");
  });

  it("accepts requested_token_type=access_token", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), extra: { requested_token_type: ACCESS_TOKEN_TYPE } });
    expect(res.status).toBe(200);
  });
});

describe("request rules (RFC 8693 §2.1, RFC 6749 §3.2)", () => {
  it("refuses a missing grant_type", async () => {
    const res = await bridge.http.post("/token").auth("c1", "c1-secret").type("form").send("subject_token=x");
    expectError(res, 400, "invalid_request", "parameter_missing");
  });

  it.each([
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "URN:IETF:PARAMS:OAUTH:GRANT-TYPE:TOKEN-EXCHANGE",
    `${GRANT} `,
    "client_credentials",
  ])("refuses grant_type %j as unsupported_grant_type", async (grant) => {
    const res = await bridge.http.post("/token").auth("c1", "c1-secret").type("form")
      .send(new URLSearchParams({ grant_type: grant, subject_token: "x", subject_token_type: SAML2 }).toString());
    expectError(res, 400, "unsupported_grant_type", "grant_type_unsupported");
  });

  it("refuses a missing subject_token", async () => {
    expectError(await exchange(bridge, { audience: API }), 400, "invalid_request", "parameter_missing");
  });

  it("refuses an empty subject_token (RFC 6749 §3.1: empty means omitted)", async () => {
    expectError(await exchange(bridge, { rawToken: "" }), 400, "invalid_request", "parameter_missing");
  });

  it("refuses a missing subject_token_type", async () => {
    const res = await bridge.http.post("/token").auth("c1", "c1-secret").type("form")
      .send(new URLSearchParams({ grant_type: GRANT, subject_token: toBase64Url(signedAssertion(bridge)) }).toString());
    expectError(res, 400, "invalid_request", "parameter_missing");
  });

  it("refuses an unknown subject_token_type", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), tokenType: "urn:example:unknown" });
    expectError(res, 400, "invalid_request", "subject_token_type_unsupported");
  });

  it("refuses a token type this client may not present", async () => {
    const b = await startBridge({ patch: (c) => (c.clients[0].subjectTokenTypes = []) });
    const res = await exchange(b, { xml: signedAssertion(b) });
    expectError(res, 400, "invalid_request", "subject_token_type_not_allowed");
    await b.close();
  });

  it.each(["subject_token", "subject_token_type", "grant_type", "scope", "requested_token_type"])(
    "refuses a repeated %s (RFC 6749 §3.2)",
    async (name) => {
      const token = toBase64Url(signedAssertion(bridge));
      const form = new URLSearchParams({ grant_type: GRANT, subject_token: token, subject_token_type: SAML2, scope: "read" });
      form.append(name, form.get(name) ?? ACCESS_TOKEN_TYPE);
      if (name === "requested_token_type") form.append(name, ACCESS_TOKEN_TYPE);
      const res = await bridge.http.post("/token").auth("c1", "c1-secret").type("form").send(form.toString());
      expectError(res, 400, "invalid_request", "parameter_duplicated");
    },
  );

  it("refuses actor_token without actor_token_type and the reverse (RFC 8693 §2.1)", async () => {
    expectError(await exchange(bridge, { xml: signedAssertion(bridge), extra: { actor_token: "x" } }), 400, "invalid_request", "actor_token_pairing");
    expectError(await exchange(bridge, { xml: signedAssertion(bridge), extra: { actor_token_type: SAML2 } }), 400, "invalid_request", "actor_token_pairing");
  });

  it("refuses an actor token type the bridge cannot verify", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), extra: { actor_token: "x", actor_token_type: "urn:ietf:params:oauth:token-type:saml2" } });
    expectError(res, 400, "invalid_request", "actor_token_type_unsupported");
  });

  it("refuses an actor token type the client may not present", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), extra: { actor_token: "x", actor_token_type: ACCESS_TOKEN_TYPE } });
    expectError(res, 400, "invalid_request", "actor_token_type_not_allowed");
  });

  it.each([
    "urn:ietf:params:oauth:token-type:refresh_token",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:example:unknown",
  ])("refuses requested_token_type %s", async (t) => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), extra: { requested_token_type: t } });
    expectError(res, 400, "invalid_request", "requested_token_type_unsupported");
  });

  it("ignores unknown parameters", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), extra: { foo: "bar", "subject_token[a]": "x" } });
    expect(res.status).toBe(200);
  });

  it("takes no prototype-polluting parameter names (catalogue H5)", async () => {
    const res = await bridge.http.post("/token").auth("c1", "c1-secret").type("form")
      .send(`grant_type=${encodeURIComponent(GRANT)}&__proto__[polluted]=1&audience[__proto__][admin]=1&constructor[prototype][polluted]=1&subject_token_type=${encodeURIComponent(SAML2)}`);
    expectError(res, 400, "invalid_request", "parameter_missing");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("accepts only application/x-www-form-urlencoded (catalogue H6)", async () => {
    const res = await bridge.http.post("/token").auth("c1", "c1-secret")
      .send({ grant_type: GRANT, subject_token: "x", subject_token_type: SAML2 });
    expectError(res, 400, "invalid_request", "content_type_unsupported");
  });

  it("answers GET /token with 405 and Allow: POST", async () => {
    const res = await bridge.http.get("/token").query({ grant_type: GRANT });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("POST");
    expect(res.headers["cache-control"]).toBe("no-store");
  });

  it("does not read the subject token from the query string", async () => {
    const res = await bridge.http.post(`/token?subject_token=${toBase64Url(signedAssertion(bridge))}`)
      .auth("c1", "c1-secret").type("form").send(`grant_type=${encodeURIComponent(GRANT)}&subject_token_type=${encodeURIComponent(SAML2)}`);
    expectError(res, 400, "invalid_request", "parameter_missing");
  });

  it("refuses a body over the size limit with 413 body_too_large, not 500 (more shapes: body-edges.test.ts)", async () => {
    const res = await bridge.http.post("/token").auth("c1", "c1-secret").type("form")
      .send(`grant_type=${encodeURIComponent(GRANT)}&subject_token=${"A".repeat(300_000)}`);
    expectError(res, 413, "invalid_request", "body_too_large");
  });
});

describe("client authentication (RFC 6749 §2.3, §5.2)", () => {
  it("refuses a request without client authentication", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), auth: "none" });
    expectError(res, 401, "invalid_client", "client_auth_missing");
  });

  it("refuses client_id alone (public clients cannot exchange)", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), auth: "none", extra: { client_id: "c1" } });
    expectError(res, 401, "invalid_client", "client_auth_missing");
  });

  it("refuses a wrong secret over Basic, with WWW-Authenticate", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), client: { id: "c1", secret: "wrong" } });
    expectError(res, 401, "invalid_client", "client_auth_failed");
    expect(res.headers["www-authenticate"]).toMatch(/^Basic /);
  });

  it("refuses an unknown client the same way as a wrong secret", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), client: { id: "nobody", secret: "c1-secret" } });
    expectError(res, 401, "invalid_client", "client_auth_failed");
  });

  it("refuses a wrong secret in the body, without WWW-Authenticate", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), auth: "post", client: { id: "c1", secret: "wrong" } });
    expectError(res, 401, "invalid_client", "client_auth_failed");
    expect(res.headers["www-authenticate"]).toBeUndefined();
  });

  it.each(["Basic !!!", "Basic " + Buffer.from("no-colon").toString("base64"), "Bearer abc", "Basic " + Buffer.from(":x").toString("base64")])(
    "refuses a malformed Authorization header %j",
    async (header) => {
      const res = await bridge.http.post("/token").set("Authorization", header).type("form").send(`grant_type=${encodeURIComponent(GRANT)}`);
      expectError(res, 401, "invalid_client", "client_auth_malformed");
      expect(res.headers["www-authenticate"]).toMatch(/^Basic /);
    },
  );

  it("refuses two authentication methods in one request (RFC 6749 §2.3)", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), extra: { client_id: "c1", client_secret: "c1-secret" } });
    expectError(res, 400, "invalid_request", "client_auth_multiple");
  });

  it("refuses a body client_id that differs from the Basic one (catalogue H8)", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), extra: { client_id: "c2" } });
    expectError(res, 400, "invalid_request", "client_id_mismatch");
  });

  it("refuses an authenticated client that may not use token exchange (unauthorized_client)", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), client: CLIENTS.c2 });
    expectError(res, 400, "unauthorized_client", "grant_not_allowed");
  });

  it("refuses an assertion from an IdP the client may not use", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), client: CLIENTS.idp2only });
    expectError(res, 400, "invalid_request", "idp_not_allowed");
  });
});

describe("audience and resource (RFC 8693 §2.1, RFC 8707 §2)", () => {
  it("refuses an audience outside the client's set", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), audience: "https://evil.example.com" });
    expectError(res, 400, "invalid_target", "target_not_allowed");
  });

  it("refuses a configured audience the client may not use", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), audience: OTHER_API, client: CLIENTS.imp });
    expectError(res, 400, "invalid_target", "target_not_allowed");
  });

  it.each(["/api", "https://api.example.com#frag", "not a uri", "http://169.254.169.254/"])(
    "refuses resource %j",
    async (resource) => {
      const res = await exchange(bridge, { xml: signedAssertion(bridge), resource });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_target");
    },
  );

  it("refuses more targets than the limit", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), audience: Array.from({ length: 6 }, () => API) });
    expectError(res, 400, "invalid_target", "target_too_many");
  });

  it("refuses when no target is given and the client has no default", async () => {
    const b = await startBridge({ patch: (c) => delete c.clients[0].defaultAudience });
    expectError(await exchange(b, { xml: signedAssertion(b) }), 400, "invalid_target", "target_missing");
    await b.close();
  });

  it("issues one token for several allowed audiences", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), audience: [API, OTHER_API], scope: "read" });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.aud).toEqual([API, OTHER_API]);
  });
});

describe("scope (never wider than any party allows)", () => {
  it("refuses a scope the client may not have", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge, role(["admin"])), scope: "read admin" });
    expectError(res, 400, "invalid_scope", "scope_not_allowed");
  });

  it("refuses a scope the subject's mapping does not grant", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge, role(["user"])), scope: "write" });
    expectError(res, 400, "invalid_scope", "scope_not_allowed");
  });

  it("grants a scope the mapping grants from an attribute", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge, role(["editor"])), scope: "read write" });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.scope).toBe("read write");
  });

  it("refuses a scope not offered by every requested audience", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge, role(["editor"])), audience: [API, OTHER_API], scope: "write" });
    expectError(res, 400, "invalid_scope", "scope_not_allowed");
  });

  it("issues nothing when the subject has no scope-granting attribute (an empty scope is refused, never a token without scope)", async () => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge, role(["nobody"])) });
    expectError(res, 400, "invalid_scope", "scope_empty");
    expect(res.body.access_token).toBeUndefined();
  });

  it.each(["read\twrite", "read  write", " read", ""])("refuses malformed scope %j", async (scope) => {
    const res = await exchange(bridge, { xml: signedAssertion(bridge), scope });
    if (scope === "") expect(res.status).toBe(200); // empty means omitted (RFC 6749 §3.1)
    else expectError(res, 400, "invalid_scope", "scope_invalid");
  });
});

describe("logging", () => {
  it("writes one structured line per exchange with no token, assertion or secret in it", async () => {
    const before = bridge.logs.length;
    const xml = signedAssertion(bridge);
    const ok = await exchange(bridge, { xml, audience: API });
    const replay = await exchange(bridge, { xml, audience: API });
    expect(replay.body.error_description).toBe("replayed");
    const lines = bridge.logs.slice(before);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ event: "token_exchange", outcome: "issued", client: "c1", idp: "idp1", sub: "alice@example.com", audience: [API] });
    expect(lines[0]!.jti).toBe(decodeJwt(ok.body.access_token).payload.jti);
    expect(lines[1]).toMatchObject({ outcome: "refused", error: "invalid_request", reason: "replayed", step: "consume_tokens" });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(ok.body.access_token.slice(0, 40));
    expect(text).not.toContain(toBase64Url(xml).slice(0, 40));
    expect(text).not.toContain("c1-secret");
    expect(text).not.toContain("<");
  });
});
