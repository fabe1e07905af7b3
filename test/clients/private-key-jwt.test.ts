/**
 * private_key_jwt client authentication (RFC 7523 §2.2 and §3, OIDC Core §9) over the real token
 * endpoint, with a client library nobody here wrote (oauth4webapi's PrivateKeyJwt) for the
 * assertions, and its modifyAssertion hook for the negative shapes. Keys are generated per run
 * (test keys only; none is written anywhere but a temp dir, public half only).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as oauth from "oauth4webapi";
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { ConfigError } from "../../src/config/load.js";
import { configIssues } from "../support/config-issues.js";
import { API, CLIENTS, GRANT, SAML2, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER, TOKEN_ENDPOINT } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";

interface Pair { privateKey: CryptoKey; publicJwk: JWK }
async function pair(alg: string, kid: string): Promise<Pair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: "sig" } };
}

const pkClient = (id: string, privateKeyJwt: Record<string, unknown>): Record<string, unknown> => ({
  id, privateKeyJwt, audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"],
});

let es: Pair; // client pk1: ES256, inline jwks
let ps: Pair; // client pk2: PS256 only, jwksFile
let stranger: Pair; // registered nowhere
let bridge: TestBridge;
let server: Server;
let base: string;
let dir: string;
const opts = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  es = await pair("ES256", "pk1-key");
  ps = await pair("PS256", "pk2-key");
  stranger = await pair("ES256", "pk1-key");
  dir = mkdtempSync(join(tmpdir(), "pkjwt-"));
  writeFileSync(join(dir, "pk2.jwks.json"), JSON.stringify({ keys: [ps.publicJwk] }));
  bridge = await startBridge({
    patch: (c) => {
      c.clients.push({ ...pkClient("pk1", { jwks: { keys: [es.publicJwk] }, algorithms: ["ES256"] }), introspect: true });
      c.clients.push(pkClient("pk2", { jwksFile: join(dir, "pk2.jwks.json"), algorithms: ["PS256"], maxLifetimeSeconds: 120 }));
    },
  });
  server = bridge.app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await bridge.close();
  rmSync(dir, { recursive: true, force: true });
});

type Modify = (header: Record<string, unknown>, payload: Record<string, unknown>) => void;

/** A token exchange authenticated by oauth4webapi's `auth`; returns status and body. */
async function exchangeWith(clientId: string, auth: oauth.ClientAuth): Promise<{ status: number; body: any }> {
  const as: oauth.AuthorizationServer = { issuer: BRIDGE_ISSUER, token_endpoint: `${base}/token` };
  const res = await oauth.genericTokenEndpointRequest(as, { client_id: clientId }, auth, GRANT, {
    subject_token: toBase64Url(signedAssertion(bridge)), subject_token_type: SAML2, audience: API,
  }, opts);
  return { status: res.status, body: await res.json() };
}

const pkjwt = (key: CryptoKey, kid: string, modify?: Modify): oauth.ClientAuth =>
  oauth.PrivateKeyJwt({ key, kid }, modify ? { [oauth.modifyAssertion]: modify } : {});

function expectRefused(r: { status: number; body: any }, status: number, error: string, reason: string): void {
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }).toEqual({ status, error, reason });
  expect(r.body.access_token).toBeUndefined();
}

const nowS = (): number => Math.floor(Date.now() / 1000);

describe("private_key_jwt with oauth4webapi over the real endpoint", () => {
  it("exchanges a token for an ES256 client with an inline JWKS (aud = issuer)", async () => {
    const r = await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key"));
    expect(r.status).toBe(200);
    expect(typeof r.body.access_token).toBe("string");
  });

  it("exchanges a token for a PS256 client whose keys come from jwksFile, aud = token endpoint URL", async () => {
    const r = await exchangeWith("pk2", pkjwt(ps.privateKey, "pk2-key", (_h, p) => {
      p.aud = TOKEN_ENDPOINT;
    }));
    expect(r.status).toBe(200);
  });

  it("accepts a jti once: the same assertion id again is client_assertion_replayed", async () => {
    const jti = `fixed-${Date.now()}`;
    const fixed: Modify = (_h, p) => {
      p.jti = jti;
    };
    expect((await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", fixed))).status).toBe(200);
    expectRefused(await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", fixed)), 401, "invalid_client", "client_assertion_replayed");
    // Another client's identical jti is its own (namespaced by client).
    expect((await exchangeWith("pk2", pkjwt(ps.privateKey, "pk2-key", fixed))).status).toBe(200);
  });

  it("authenticates at the introspection endpoint too (aud = issuer)", async () => {
    const issued = await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key"));
    const as: oauth.AuthorizationServer = { issuer: BRIDGE_ISSUER, token_endpoint: `${base}/token`, introspection_endpoint: `${base}/introspect` };
    const client: oauth.Client = { client_id: "pk1" };
    const ir = await oauth.introspectionRequest(as, client, pkjwt(es.privateKey, "pk1-key"), issued.body.access_token, opts);
    expect((await oauth.processIntrospectionResponse(as, client, ir)).active).toBe(true);
  });

  it("advertises private_key_jwt and the clients' algorithms in discovery", async () => {
    const md = (await bridge.http.get("/.well-known/oauth-authorization-server")).body;
    expect(md.token_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post", "private_key_jwt"]);
    expect(md.token_endpoint_auth_signing_alg_values_supported).toEqual(["ES256", "PS256"]);
  });

  it("leaves secret clients working as before", async () => {
    const r = await exchangeWith(CLIENTS.c1.id, oauth.ClientSecretBasic(CLIENTS.c1.secret));
    expect(r.status).toBe(200);
  });
});

describe("private_key_jwt refusals", () => {
  const claim = (f: (p: Record<string, unknown>) => void): Modify => (_h, p) => f(p);

  it("refuses an aud that is neither the issuer nor the token endpoint", async () => {
    for (const aud of [API, `${BRIDGE_ISSUER}/`, [API, "x"], `${base}/token`]) {
      expectRefused(await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", claim((p) => {
        p.aud = aud;
      }))), 401, "invalid_client", "client_assertion_audience_invalid");
    }
  });

  it("refuses an expired assertion, and one issued in the future", async () => {
    expectRefused(await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", claim((p) => {
      p.iat = nowS() - 200;
      p.nbf = nowS() - 200;
      p.exp = nowS() - 100;
    }))), 401, "invalid_client", "client_assertion_expired");
    expectRefused(await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", claim((p) => {
      p.nbf = nowS() + 200;
      p.exp = nowS() + 250;
    }))), 401, "invalid_client", "client_assertion_invalid");
  });

  it("refuses a lifetime past the client's maximum (from iat, and from now without iat)", async () => {
    expectRefused(await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", claim((p) => {
      p.exp = nowS() + 3600;
    }))), 401, "invalid_client", "client_assertion_lifetime_too_long");
    expectRefused(await exchangeWith("pk2", pkjwt(ps.privateKey, "pk2-key", claim((p) => {
      delete p.iat;
      p.exp = nowS() + 290; // pk2 allows 120 s (+ 60 s skew)
    }))), 401, "invalid_client", "client_assertion_lifetime_too_long");
  });

  it("refuses a missing, empty or non-string jti, and a missing exp", async () => {
    for (const f of [(p: any) => delete p.jti, (p: any) => (p.jti = ""), (p: any) => (p.jti = 42), (p: any) => delete p.exp]) {
      expectRefused(await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", claim(f))), 401, "invalid_client", "client_assertion_invalid");
    }
  });

  it("refuses iss ≠ sub, and a client_id parameter naming another client", async () => {
    expectRefused(await exchangeWith("pk1", pkjwt(es.privateKey, "pk1-key", claim((p) => {
      p.sub = "pk2";
    }))), 401, "invalid_client", "client_assertion_invalid");
    expectRefused(await exchangeWith("pk2", pkjwt(es.privateKey, "pk1-key", claim((p) => {
      p.iss = "pk1";
      p.sub = "pk1";
    }))), 400, "invalid_request", "client_id_mismatch");
  });

  it("refuses alg none and HMAC before any key is looked up", async () => {
    const none = `${toB64({ alg: "none" })}.${toB64({ iss: "pk1", sub: "pk1", aud: BRIDGE_ISSUER, exp: nowS() + 60, jti: "n1" })}.`;
    expectRefused(await postAssertion(none, "pk1"), 401, "invalid_client", "client_assertion_alg_forbidden");
    // HMAC keyed with the client's public key material (the key-confusion attack).
    const hmac = await exchangeWith("pk1", oauth.ClientSecretJwt(String(es.publicJwk.x)));
    expectRefused(hmac, 401, "invalid_client", "client_assertion_alg_forbidden");
  });

  it("refuses an alg outside the client's list even with the right key (RS256 with pk2's PS256 key)", async () => {
    const jwk = await exportJWK(ps.privateKey);
    const rsKey = (await importJWK({ ...jwk, alg: "RS256" }, "RS256")) as CryptoKey;
    expectRefused(await exchangeWith("pk2", pkjwt(rsKey, "pk2-key")), 401, "invalid_client", "client_auth_failed");
  });

  it("answers an unknown client, a stranger's key, another client's key and a secret client alike", async () => {
    const shapes = [
      await exchangeWith("ghost", pkjwt(es.privateKey, "pk1-key")),
      await exchangeWith("pk1", pkjwt(stranger.privateKey, "pk1-key")),
      await exchangeWith("pk1", pkjwt(ps.privateKey, "pk2-key", (h) => {
        h.alg = "PS256";
      })),
      await exchangeWith("pk1", pkjwt(ps.privateKey, "pk1-key", (h) => {
        h.alg = "PS256";
      })),
      await exchangeWith(CLIENTS.c1.id, pkjwt(es.privateKey, "pk1-key")),
    ];
    for (const r of shapes) expectRefused(r, 401, "invalid_client", "client_auth_failed");
    expect(new Set(shapes.map((r) => JSON.stringify(r.body))).size).toBe(1);
  });

  it("refuses a private_key_jwt client that tries a secret", async () => {
    expectRefused(await exchangeWith("pk1", oauth.ClientSecretBasic("anything")), 401, "invalid_client", "client_auth_failed");
  });

  it("refuses two methods at once: Basic + assertion, client_secret + assertion", async () => {
    const basic = `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`;
    const withBasic: oauth.ClientAuth = async (as, client, body, headers) => {
      await pkjwt(es.privateKey, "pk1-key")(as, client, body, headers);
      headers.set("authorization", basic);
    };
    expectRefused(await exchangeWith("pk1", withBasic), 400, "invalid_request", "client_auth_multiple");
    const both: oauth.ClientAuth = async (as, client, body, headers) => {
      await pkjwt(es.privateKey, "pk1-key")(as, client, body, headers);
      body.set("client_secret", "x");
    };
    expectRefused(await exchangeWith("pk1", both), 400, "invalid_request", "client_auth_multiple");
  });

  it("refuses a wrong or missing client_assertion_type and a malformed assertion", async () => {
    const wrongType: oauth.ClientAuth = async (as, client, body, headers) => {
      await pkjwt(es.privateKey, "pk1-key")(as, client, body, headers);
      body.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer");
    };
    expectRefused(await exchangeWith("pk1", wrongType), 401, "invalid_client", "client_assertion_invalid");
    for (const bad of ["a.b", "x".repeat(20_000), "e30.e30.", `${toB64({ alg: "ES256" })}.${toB64({ iss: "pk1", sub: "pk1" })}.` + "A".repeat(3)]) {
      const r = await postAssertion(bad, undefined);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe("invalid_client");
    }
  });
});

describe("private_key_jwt configuration", () => {
  function issues(mutate: (c: Record<string, any>) => void): string {
    return configIssues(mutate).join("\n");
  }

  it("requires exactly one of secretHash or privateKeyJwt, and exactly one key source", () => {
    expect(issues((c) => {
      c.clients[0].privateKeyJwt = { jwks: { keys: [{ kty: "EC" }] } };
    })).toMatch(/exactly one of secretHash, privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth/);
    expect(issues((c) => {
      delete c.clients[0].secretHash;
    })).toMatch(/exactly one of secretHash, privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth/);
    expect(issues((c) => {
      delete c.clients[0].secretHash;
      c.clients[0].privateKeyJwt = { jwks: { keys: [{ kty: "EC" }] }, jwksFile: "x.json" };
    })).toMatch(/exactly one of jwks, jwksFile or jwksUri/);
    expect(issues((c) => {
      delete c.clients[0].secretHash;
      c.clients[0].privateKeyJwt = { jwksFile: "x.json", algorithms: ["HS256"] };
    })).toMatch(/algorithms/);
    expect(issues((c) => {
      delete c.clients[0].secretHash;
      c.clients[0].privateKeyJwt = { jwksFile: "x.json", algorithms: ["none"] };
    })).toMatch(/algorithms/);
  });

  it("refuses a private key in the client's JWKS at start-up", async () => {
    const priv = await exportJWK(es.privateKey);
    await expect(startBridge({
      patch: (c) => {
        c.clients.push(pkClient("pkx", { jwks: { keys: [priv] }, algorithms: ["ES256"] }));
      },
    })).rejects.toThrow(ConfigError);
  });

  it("does not advertise private_key_jwt when no client uses it", async () => {
    const plain = await startBridge();
    try {
      const md = (await plain.http.get("/.well-known/oauth-authorization-server")).body;
      expect(md.token_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post"]);
      expect(md.token_endpoint_auth_signing_alg_values_supported).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

function toB64(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString("base64url");
}

async function postAssertion(assertion: string, clientId: string | undefined): Promise<{ status: number; body: any }> {
  const form = new URLSearchParams({
    grant_type: GRANT, subject_token: toBase64Url(signedAssertion(bridge)), subject_token_type: SAML2,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion,
    ...(clientId ? { client_id: clientId } : {}),
  });
  const res = await bridge.http.post("/token").type("form").send(form.toString());
  return { status: res.status, body: res.body };
}
