/**
 * The issue's acceptance test: a third-party OAuth client library (oauth4webapi, which nobody here
 * wrote) performs a private_key_jwt + DPoP token exchange end to end against the real endpoint,
 * with server nonces on, so its own use_dpop_nonce retry runs (RFC 9449 §8). Then the same library
 * introspects the token (cnf.jkt) and, as a resource server, validates the DPoP-bound access token
 * with the client's proof (RFC 9449 §7, RFC 9068): the binding the bridge wrote is the one a
 * standard resource server checks. The replay store is the REAL test Redis; the bridge's clock is
 * the real one (the library stamps its proofs and assertions with Date.now()).
 *
 * The library talks to the bridge's configured URLs (https://bridge.test/...), delivered to the
 * local listener by its customFetch, as a TLS-terminating proxy would: the proofs' htu is the
 * public token endpoint, never the address the request reached.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as oauth from "oauth4webapi";
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { API, GRANT, SAML2, decodeJwt, signedAssertion, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER, TOKEN_ENDPOINT } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";
import { DpopNonces } from "../../src/dpop/nonce.js";
import { deleteKeys, makeProof, proofKey, redisBridge, tokenRequest } from "./support.js";

const prefixes: string[] = [];
let bridge: TestBridge;
let server: Server;
let base: string;
let dir: string;
let secret: Buffer;
let clientKey: { privateKey: CryptoKey; publicJwk: JWK };
let dpopKeys: CryptoKeyPair;
/** Every response the library received, in order (status, error, DPoP-Nonce). */
const seen: { url: string; status: number; error?: string; nonce: string | null }[] = [];

const as: oauth.AuthorizationServer = {
  issuer: BRIDGE_ISSUER,
  token_endpoint: TOKEN_ENDPOINT,
  introspection_endpoint: `${BRIDGE_ISSUER}/introspect`,
  jwks_uri: `${BRIDGE_ISSUER}/.well-known/jwks.json`,
};
const client: oauth.Client = { client_id: "pk-dpop" };

/** The library's fetch: the bridge's public URLs go to the local listener; responses are recorded. */
const viaProxy = async (url: string, init: oauth.CustomFetchOptions<string, unknown>): Promise<Response> => {
  const local = url.replace(BRIDGE_ISSUER, base);
  expect(local).not.toBe(url);
  const res = await fetch(local, init as RequestInit);
  const error = res.status >= 400 ? ((await res.clone().json()) as { error?: string }).error : undefined;
  seen.push({ url, status: res.status, ...(error !== undefined ? { error } : {}), nonce: res.headers.get("dpop-nonce") });
  return res;
};
const options = { [oauth.customFetch]: viaProxy } as const;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dpop-"));
  secret = randomBytes(48); // test-only nonce secret, in a temp dir removed afterwards
  writeFileSync(join(dir, "nonce.secret"), secret);
  const pair = await generateKeyPair("ES256", { extractable: true });
  clientKey = { privateKey: pair.privateKey, publicJwk: { ...(await exportJWK(pair.publicKey)), kid: "pk-dpop-key", use: "sig" } };
  dpopKeys = (await generateKeyPair("ES256", { extractable: false })) as CryptoKeyPair;
  bridge = await redisBridge(prefixes, (c) => {
    c.dpop = { nonce: { secretFile: join(dir, "nonce.secret"), lifetimeSeconds: 300 } };
    c.clients.push({
      id: client.client_id, privateKeyJwt: { jwks: { keys: [clientKey.publicJwk] }, algorithms: ["ES256"] }, dpop: "required",
      audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"], introspect: true,
    });
  });
  // The real clock: the library's proofs and client assertions carry Date.now().
  Object.defineProperty(bridge.clock, "now", { get: () => Date.now(), configurable: true });
  server = bridge.app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await bridge?.close();
  await deleteKeys(prefixes);
  rmSync(dir, { recursive: true, force: true });
});

/** One token exchange by the library, retried once on use_dpop_nonce as its documentation says. */
async function exchange(dpop: oauth.DPoPHandle): Promise<{ result: oauth.TokenEndpointResponse; retried: boolean }> {
  const params = { subject_token: toBase64Url(signedAssertion(bridge)), subject_token_type: SAML2, audience: API };
  const auth = oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: "pk-dpop-key" });
  const attempt = async (): Promise<oauth.TokenEndpointResponse> =>
    oauth.processGenericTokenEndpointResponse(as, client, await oauth.genericTokenEndpointRequest(as, client, auth, GRANT, params, { ...options, DPoP: dpop }));
  try {
    return { result: await attempt(), retried: false };
  } catch (e) {
    if (!oauth.isDPoPNonceError(e)) throw e;
    return { result: await attempt(), retried: true };
  }
}

describe("oauth4webapi: private_key_jwt + DPoP token exchange, end to end", () => {
  let token: string;
  let dpop: oauth.DPoPHandle;

  it("gets use_dpop_nonce with a DPoP-Nonce first, retries with the nonce, and gets a DPoP-bound token", async () => {
    dpop = oauth.DPoP(client, dpopKeys);
    const { result, retried } = await exchange(dpop);
    expect(retried).toBe(true);
    expect(seen.map((s) => [s.status, s.error ?? null])).toEqual([[400, "use_dpop_nonce"], [200, null]]);
    expect(seen[0]!.nonce).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    // Every answer to a DPoP request hands on a nonce good for this client.
    expect(new DpopNonces(secret, 300).check(seen[1]!.nonce!, "pk-dpop", Date.now())).toBe(true);
    expect(result.token_type).toBe("dpop");
    token = result.access_token;
    const claims = decodeJwt(token).payload;
    expect(claims.cnf).toEqual({ jkt: await dpop.calculateThumbprint() });
    expect(claims).toMatchObject({ client_id: "pk-dpop", aud: API, iss: BRIDGE_ISSUER });
  });

  it("needs no retry for the next exchange: the library kept the nonce of the last response", async () => {
    seen.length = 0;
    const { result, retried } = await exchange(dpop);
    expect(retried).toBe(false);
    expect(seen.map((s) => s.status)).toEqual([200]);
    expect(decodeJwt(result.access_token).payload.cnf.jkt).toBe(await dpop.calculateThumbprint());
  });

  it("introspects the token with private_key_jwt: active, token_type DPoP, cnf.jkt", async () => {
    const auth = oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: "pk-dpop-key" });
    const res = await oauth.introspectionRequest(as, client, auth, token, options);
    const body = await oauth.processIntrospectionResponse(as, client, res);
    expect(body).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt: await dpop.calculateThumbprint() } });
  });

  it("is accepted by the library's own resource-server validation with the client's proof (RFC 9449 §7)", async () => {
    // The client calls a resource with the token (the library adds the proof, with ath); the
    // "resource server" is the library's validateJwtAccessToken, fetching the bridge's JWKS.
    let claims: oauth.JWTAccessTokenClaims | undefined;
    const resource = async (url: string, init: oauth.CustomFetchOptions<string, unknown>): Promise<Response> => {
      claims = await oauth.validateJwtAccessToken(as, new Request(url, init as RequestInit), API, { ...options, requireDPoP: true });
      return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
    };
    const res = await oauth.protectedResourceRequest(token, "GET", new URL(`${API}/data`), new Headers(), null, { DPoP: dpop, [oauth.customFetch]: resource });
    expect(res.status).toBe(200);
    expect(claims).toMatchObject({ client_id: "pk-dpop", cnf: { jkt: await dpop.calculateThumbprint() } });
    // And with another key's proof the resource server refuses it: the binding is real.
    const stranger = oauth.DPoP(client, (await generateKeyPair("ES256")) as CryptoKeyPair);
    await expect(oauth.protectedResourceRequest(token, "GET", new URL(`${API}/data`), new Headers(), null, { DPoP: stranger, [oauth.customFetch]: resource }))
      .rejects.toThrow(/confirmation mismatch/);
  });

  it("is refused without DPoP for this client (dpop: required), whatever the library otherwise sends", async () => {
    const auth = oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: "pk-dpop-key" });
    const params = { subject_token: toBase64Url(signedAssertion(bridge)), subject_token_type: SAML2, audience: API };
    const res = await oauth.genericTokenEndpointRequest(as, client, auth, GRANT, params, options);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid_dpop_proof", error_description: "dpop_proof_missing" });
  });
});

/**
 * `nonce` with its last base64url character moved `step` places along the alphabet: 43 characters
 * carry 256 bits, so the last one holds 4 bits of MAC and 2 padding bits; a step of 16 changes MAC
 * bits, a step of 1 only padding bits. Never the same text (a fixed replacement letter would be
 * the original one time in sixteen).
 */
function lastCharChanged(nonce: string, step: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const i = alphabet.indexOf(nonce.at(-1)!);
  const changed = `${nonce.slice(0, -1)}${alphabet[(i + step) % 64]}`;
  if (changed === nonce) throw new Error("the nonce was not changed");
  return changed;
}

describe("server nonces (RFC 9449 §8), with proofs made by hand", () => {
  // A bridge of its own on a fixed clock in the middle of a nonce window: every window is exact.
  const NOW = Math.floor(Date.now() / 300_000) * 300_000 + 150_000;
  let fixed: TestBridge;
  beforeAll(async () => {
    fixed = await redisBridge(prefixes, (c) => {
      c.dpop = { nonce: { secretFile: join(dir, "nonce.secret"), lifetimeSeconds: 300 } };
    }, { now: NOW });
  });
  afterAll(async () => {
    await fixed?.close();
  });
  const nonces = (): DpopNonces => new DpopNonces(secret, 300);
  const c1Proof = (nonce?: string) => proofKey("ES256").then((k) => makeProof(k, NOW, nonce === undefined ? {} : { nonce }));

  it("refuses a proof without a nonce: use_dpop_nonce, with a fresh DPoP-Nonce for the client", async () => {
    const r = await tokenRequest({ bridge: fixed, dpop: [await c1Proof()] });
    expect({ status: r.status, error: r.body.error, reason: r.body.error_description }).toEqual({ status: 400, error: "use_dpop_nonce", reason: "dpop_nonce_missing" });
    expect(nonces().check(r.headers["dpop-nonce"], "c1", NOW)).toBe(true);
  });

  it("refuses a wrong, another client's, a stale or a malformed nonce (dpop_nonce_invalid), and accepts the right one", async () => {
    const n = nonces();
    const now = NOW;
    for (const nonce of [
      n.issue("pk-dpop", now), // another client's
      n.issue("c1", now - 2 * 300_000), // two windows ago
      n.issue("c1", now + 300_000), // the next window's
      new DpopNonces(randomBytes(32), 300).issue("c1", now), // another secret's
      lastCharChanged(n.issue("c1", now), 16), // another MAC (a significant bit changed)
      lastCharChanged(n.issue("c1", now), 1), // the same MAC bytes, non-canonical padding bits
      "x", "0.AAAA", `${n.issue("c1", now)}=`,
    ]) {
      const r = await tokenRequest({ bridge: fixed, dpop: [await c1Proof(nonce)] });
      expect({ status: r.status, error: r.body.error, reason: r.body.error_description }, nonce).toEqual({ status: 400, error: "use_dpop_nonce", reason: "dpop_nonce_invalid" });
      expect(r.headers["dpop-nonce"]).toBe(n.issue("c1", NOW));
    }
    const ok = await tokenRequest({ bridge: fixed, dpop: [await c1Proof(n.issue("c1", NOW))] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.headers["dpop-nonce"]).toBe(n.issue("c1", NOW));
    // The previous window's nonce is still good (a nonce lives one to two windows).
    const previous = await tokenRequest({ bridge: fixed, dpop: [await c1Proof(n.issue("c1", NOW - 300_000))] });
    expect(previous.status).toBe(200);
  });

  it("sends no DPoP-Nonce to a request without a DPoP header", async () => {
    const r = await tokenRequest({ bridge });
    expect(r.status).toBe(200);
    expect(r.headers["dpop-nonce"]).toBeUndefined();
  });
});
