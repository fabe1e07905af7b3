// Cross-App Access end to end with a third-party client: the MCP TypeScript SDK's cross-app-access
// functions (@modelcontextprotocol/client: requestJwtAuthorizationGrant, exchangeJwtAuthGrant),
// which only talk to https token endpoints. Bridge A (the IdP authorization server) and bridge B
// (the resource authorization server) each serve HTTPS on their own TLS listener (server.tls),
// with a test CA made by openssl at test time. Leg one starts from an ID token signed by PyJWT, or
// from a SAML assertion signed by xmlsec1 (the SDK sends ID tokens only, so that leg-one request is
// made by hand); leg two is always the SDK's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createLocalJWKSet, jwtVerify } from "jose";
import { exchangeJwtAuthGrant, requestJwtAuthorizationGrant } from "@modelcontextprotocol/client";
import { createHttpServer, listen } from "../../src/http/server.js";
import { CLIENTS, decodeJwt, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";
import { JWT_CLIENT, corpClaims } from "../support/jwt-fixtures.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";
import { CHAT_API, C1_AT_CHAT, ID_JAG, RAS_ISS, WIKI_AT_CHAT, WIKI_AT_CORP, rasPatch, startIdpBridge, writeJwks } from "./support.js";
import { fetchTrusting, makeTestPki, type TestPki } from "./tls-ca.js";

let pki: TestPki;
let jwks: { file: string; dispose(): void };
let idp: TestBridge;
let ras: TestBridge;
const servers: Server[] = [];
let idpUrl: string;
let rasUrl: string;
let fetchFn: ReturnType<typeof fetchTrusting>;

async function serveTls(bridge: TestBridge): Promise<string> {
  const server = createHttpServer(bridge.app, {
    headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 1_000,
    tls: { certFile: "server.crt", keyFile: "server.key" },
  }, pki.dir);
  servers.push(server);
  const addr: AddressInfo = await listen(server, 0, "127.0.0.1");
  return `https://localhost:${addr.port}`;
}

beforeAll(async () => {
  pki = makeTestPki();
  fetchFn = fetchTrusting(pki.caCert);
  idp = await startIdpBridge();
  jwks = writeJwks((await idp.http.get("/.well-known/jwks.json")).body);
  ras = await startBridge({ patch: rasPatch(jwks.file) });
  idpUrl = await serveTls(idp);
  rasUrl = await serveTls(ras);
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await ras?.close();
  await idp?.close();
  jwks?.dispose();
  pki?.dispose();
});

async function verifyAtRas(accessToken: string): Promise<Record<string, unknown>> {
  const keys = await (await fetchFn(`${rasUrl}/.well-known/jwks.json`)).json();
  const { payload } = await jwtVerify(accessToken, createLocalJWKSet(keys), { issuer: RAS_ISS, audience: CHAT_API, typ: "at+jwt" });
  return payload;
}

describe("MCP SDK cross-app access against two bridges over TLS", () => {
  it("serves HTTPS only on the TLS listener, with the test CA's certificate", async () => {
    const res = await fetchFn(`${idpUrl}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    expect((await res.json()).identity_chaining_requested_token_types_supported).toEqual([ID_JAG]);
    const md = await (await fetchFn(`${rasUrl}/.well-known/oauth-authorization-server`)).json();
    expect(md.authorization_grant_profiles_supported).toEqual(["urn:ietf:params:oauth:grant-profile:id-jag"]);
    // A client that does not trust the test CA cannot talk to it.
    await expect(fetch(`${idpUrl}/healthz`)).rejects.toThrow();
  });

  it("ID token (PyJWT) → ID-JAG at bridge A → access token at bridge B", async () => {
    const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(Date.now(), { aud: WIKI_AT_CORP, amr: ["pwd", "otp"] }) });
    const grant = await requestJwtAuthorizationGrant({
      tokenEndpoint: `${idpUrl}/token`, audience: RAS_ISS, resource: CHAT_API, idToken,
      clientId: JWT_CLIENT.id, clientSecret: JWT_CLIENT.secret, scope: "chat.read chat.history", fetchFn,
    });
    expect(grant.scope).toBe("chat.read chat.history");
    expect(grant.expiresIn).toBeGreaterThan(0);
    const { header, payload } = decodeJwt(grant.jwtAuthGrant);
    expect(header.typ).toBe("oauth-id-jag+jwt");
    expect(payload).toMatchObject({ iss: BRIDGE_ISSUER, aud: RAS_ISS, client_id: WIKI_AT_CHAT.id, sub: "alice", resource: CHAT_API });

    const tokens = await exchangeJwtAuthGrant({ tokenEndpoint: `${rasUrl}/token`, jwtAuthGrant: grant.jwtAuthGrant, clientId: WIKI_AT_CHAT.id, clientSecret: WIKI_AT_CHAT.secret, fetchFn });
    expect(tokens.token_type).toBe("Bearer");
    expect(tokens.scope).toBe("chat.read chat.history");
    expect((tokens as Record<string, unknown>).refresh_token).toBeUndefined();
    expect(await verifyAtRas(tokens.access_token)).toMatchObject({ sub: "alice", client_id: WIKI_AT_CHAT.id, idp: BRIDGE_ISSUER, scope: "chat.read chat.history" });

    // The same grant twice: the SDK surfaces the bridge's refusal.
    await expect(exchangeJwtAuthGrant({ tokenEndpoint: `${rasUrl}/token`, jwtAuthGrant: grant.jwtAuthGrant, clientId: WIKI_AT_CHAT.id, clientSecret: WIKI_AT_CHAT.secret, fetchFn }))
      .rejects.toThrow("invalid_grant - replayed");
  });

  it("SAML assertion (xmlsec1) → ID-JAG at bridge A → access token at bridge B", async () => {
    const xml = signedAssertion({ clock: { now: Date.now(), advance: () => undefined } }, { attributes: [{ name: "role", values: ["user"] }, { name: "mail", values: ["alice@example.com"] }] });
    const form = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", requested_token_type: ID_JAG,
      subject_token: toBase64Url(xml), subject_token_type: "urn:ietf:params:oauth:token-type:saml2",
      audience: RAS_ISS, resource: CHAT_API, scope: "chat.read",
    });
    const res = await fetchFn(`${idpUrl}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}` },
      body: form.toString(),
    });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ issued_token_type: ID_JAG, token_type: "N_A", scope: "chat.read" });

    const tokens = await exchangeJwtAuthGrant({ tokenEndpoint: `${rasUrl}/token`, jwtAuthGrant: body.access_token, clientId: C1_AT_CHAT.id, clientSecret: C1_AT_CHAT.secret, fetchFn });
    expect(await verifyAtRas(tokens.access_token)).toMatchObject({ sub: "alice@example.com", client_id: C1_AT_CHAT.id, scope: "chat.read", email: "alice@example.com" });

    // Presented by the other client: refused (client_id is c1's at bridge B).
    const again = signedAssertion({ clock: { now: Date.now(), advance: () => undefined } });
    form.set("subject_token", toBase64Url(again));
    const second = await (await fetchFn(`${idpUrl}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}` }, body: form.toString() })).json();
    await expect(exchangeJwtAuthGrant({ tokenEndpoint: `${rasUrl}/token`, jwtAuthGrant: second.access_token, clientId: WIKI_AT_CHAT.id, clientSecret: WIKI_AT_CHAT.secret, fetchFn }))
      .rejects.toThrow("invalid_grant - id_jag_client_mismatch");
  });

  it("the SDK's leg one is refused for a server the bridge does not know, and with the wrong client secret", async () => {
    const idToken = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(Date.now(), { aud: WIKI_AT_CORP }) });
    await expect(requestJwtAuthorizationGrant({ tokenEndpoint: `${idpUrl}/token`, audience: "https://as.unknown.test/", resource: CHAT_API, idToken, clientId: JWT_CLIENT.id, clientSecret: JWT_CLIENT.secret, fetchFn }))
      .rejects.toThrow("invalid_target - id_jag_audience_unknown");
    await expect(requestJwtAuthorizationGrant({ tokenEndpoint: `${idpUrl}/token`, audience: RAS_ISS, resource: CHAT_API, idToken, clientId: JWT_CLIENT.id, clientSecret: "wrong", fetchFn }))
      .rejects.toThrow("invalid_client");
    // An ID token is no grant (typ JWT, not oauth-id-jag+jwt).
    await expect(exchangeJwtAuthGrant({ tokenEndpoint: `${rasUrl}/token`, jwtAuthGrant: idToken, clientId: WIKI_AT_CHAT.id, clientSecret: WIKI_AT_CHAT.secret, fetchFn }))
      .rejects.toThrow("invalid_grant - token_type_mismatch");
  });
});
