/**
 * RFC 8705 mutual-TLS client authentication and certificate-bound tokens over a real HTTPS
 * listener (src/http/server.ts createHttpServer with server.tls), called with node:https and a
 * client certificate. The PKI is generated per run by the openssl CLI (test/clients/mtls-pki.ts:
 * test keys only, in a temp dir). The expected cnf thumbprint is computed with openssl too.
 */
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.js";
import { ACCESS_TOKEN_TYPE, API, CLIENTS, decodeJwt, GRANT, SAML2, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";
import { certJwk, makePki, x5tS256, type Pem, type Pki } from "./mtls-pki.js";

let pki: Pki;
let bridge: TestBridge;
let server: Server;
let port: number;

const exchanger = (id: string, extra: Record<string, unknown>): Record<string, unknown> => ({
  id, audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"], introspect: true,
  subjectTokenTypes: [SAML2, ACCESS_TOKEN_TYPE], ...extra,
});

/** A client's jwks_uri for self_signed_tls_client_auth (clients/jwks-uri.ts). */
let keyServer: Server;
let served: unknown;
let keyHits = 0;

beforeAll(async () => {
  pki = makePki();
  served = { keys: [certJwk(pki.s1, true)] };
  keyServer = createServer((_req, res) => {
    keyHits++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(served));
  });
  keyServer.listen(0, "127.0.0.1");
  await new Promise((r) => keyServer.once("listening", r));
  const jwksUri = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks.json`;
  bridge = await startBridge({
    patch: (c) => {
      c.server = { tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile } };
      c.clients[0].subjectTokenTypes = [SAML2, ACCESS_TOKEN_TYPE];
      c.clients[0].actorTokenTypes = [ACCESS_TOKEN_TYPE];
      c.clients[0].introspect = true;
      c.clients.push(
        exchanger("m-dn", { tlsClientAuth: { subjectDn: "CN=client-a, O=Example, C=SE" }, certificateBoundTokens: true }),
        exchanger("m-dns", { tlsClientAuth: { sanDns: "CLIENT-A.example.com" } }),
        exchanger("m-uri", { tlsClientAuth: { sanUri: "spiffe://example.org/client-a" } }),
        exchanger("m-ip", { tlsClientAuth: { sanIp: "10.0.0.1" } }),
        exchanger("m-email", { tlsClientAuth: { sanEmail: "client-a@EXAMPLE.com" } }),
        exchanger("m-b", { tlsClientAuth: { subjectDn: "CN=client-b,O=Example,C=SE" } }),
        exchanger("m-uri-other", { tlsClientAuth: { sanUri: "spiffe://example.org/client-b" } }),
        exchanger("ss-x5c", { selfSignedTlsClientAuth: { jwks: { keys: [certJwk(pki.s1, true)] } }, certificateBoundTokens: true }),
        exchanger("ss-key", { selfSignedTlsClientAuth: { jwks: { keys: [certJwk(pki.s2, false)] } } }),
        exchanger("ss-uri", { selfSignedTlsClientAuth: { jwksUri, jwksCooldownSeconds: 10 } }),
      );
    },
  });
  server = createHttpServer(bridge.app, {
    headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000,
    tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile }, requestClientCertificate: true,
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  keyServer.close();
  server.closeAllConnections();
  server.close();
  await bridge.close();
  pki.remove();
});

interface Reply { status: number; body: any }

/** POST over TLS on a fresh connection (no session shared between certificates). */
function post(path: string, form: Record<string, string>, cert?: Pem, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = httpsRequest({
      host: "127.0.0.1", port, path, method: "POST", agent: false, ca: readFileSync(pki.caFile, "utf8"),
      ...(cert ? { cert: cert.cert, key: cert.key } : {}),
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const samlExchange = (clientId: string, extra: Record<string, string> = {}): Record<string, string> => ({
  grant_type: GRANT, client_id: clientId, subject_token: toBase64Url(signedAssertion(bridge)), subject_token_type: SAML2, audience: API, ...extra,
});
/** Client authentication only: introspection answers 200 once the client is authenticated. */
const introspect = (clientId: string, cert?: Pem, extra: Record<string, string> = {}): Promise<Reply> =>
  post("/introspect", { token: "not-a-token", client_id: clientId, ...extra }, cert);

const ok = (r: Reply): void => {
  expect({ status: r.status, body: r.body }).toEqual({ status: 200, body: { active: false } });
};
function refused(r: Reply, status: number, error: string, reason: string): void {
  expect({ status: r.status, error: r.body.error, reason: r.body.error_description }).toEqual({ status, error, reason });
  expect(r.body.access_token).toBeUndefined();
}

describe("tls_client_auth (RFC 8705 §2.1)", () => {
  it("authenticates by subject DN and by each kind of SAN", async () => {
    for (const id of ["m-dn", "m-dns", "m-uri", "m-ip", "m-email"]) ok(await introspect(id, pki.clientA));
    ok(await introspect("m-b", pki.clientB));
  });

  it("issues a token to an mTLS client at the token endpoint", async () => {
    const r = await post("/token", samlExchange("m-uri"), pki.clientA);
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe("Bearer");
    // Not a certificateBoundTokens client: no cnf.
    expect(decodeJwt(r.body.access_token).payload.cnf).toBeUndefined();
  });

  it("refuses a connection without a certificate: client_certificate_missing", async () => {
    refused(await introspect("m-dn"), 401, "invalid_client", "client_certificate_missing");
    // Whatever the client id: the answer depends on the request alone.
    refused(await introspect("no-such-client"), 401, "invalid_client", "client_certificate_missing");
  });

  it("refuses a certificate of another CA with the very same subject and SANs", async () => {
    for (const id of ["m-dn", "m-dns", "m-uri", "m-ip", "m-email"]) refused(await introspect(id, pki.otherCa), 401, "invalid_client", "client_auth_failed");
  });

  it("refuses an expired certificate of the right CA with the right subject", async () => {
    for (const id of ["m-dn", "m-uri"]) refused(await introspect(id, pki.expired), 401, "invalid_client", "client_auth_failed");
  });

  it("refuses a certificate whose DN or SAN is not the client's (client A's certificate for client B)", async () => {
    refused(await introspect("m-b", pki.clientA), 401, "invalid_client", "client_auth_failed");
    refused(await introspect("m-uri-other", pki.clientA), 401, "invalid_client", "client_auth_failed");
    for (const id of ["m-dn", "m-dns", "m-uri", "m-ip", "m-email"]) refused(await introspect(id, pki.clientB), 401, "invalid_client", "client_auth_failed");
  });

  it("refuses a self-signed certificate, registered or not, for a PKI client", async () => {
    for (const cert of [pki.s1, pki.s3]) refused(await introspect("m-dn", cert), 401, "invalid_client", "client_auth_failed");
  });

  it("answers an unknown client id and a secret client named without its secret alike", async () => {
    refused(await introspect("no-such-client", pki.clientA), 401, "invalid_client", "client_auth_failed");
    refused(await introspect(CLIENTS.c1.id, pki.clientA), 401, "invalid_client", "client_auth_failed");
  });

  it("never takes a certificate as a second method: with a secret, the secret alone decides", async () => {
    // An mTLS client sending a secret too: authenticated by the secret (it has none), refused.
    refused(await introspect("m-dn", pki.clientA, { client_secret: "anything" }), 401, "invalid_client", "client_auth_failed");
    const basic = { authorization: `Basic ${Buffer.from("m-dn:anything").toString("base64")}` };
    refused(await post("/introspect", { token: "x" }, pki.clientA, basic), 401, "invalid_client", "client_auth_failed");
    // A secret client with a certificate on the connection: the certificate plays no part.
    ok(await introspect(CLIENTS.c1.id, pki.clientA, { client_secret: CLIENTS.c1.secret }));
  });

  it("needs client_id: a certificate alone names no client", async () => {
    refused(await post("/introspect", { token: "x" }, pki.clientA), 401, "invalid_client", "client_auth_missing");
  });
});

describe("self_signed_tls_client_auth (RFC 8705 §2.2)", () => {
  it("authenticates a registered certificate (x5c) and a certificate of a registered key", async () => {
    ok(await introspect("ss-x5c", pki.s1));
    ok(await introspect("ss-key", pki.s2));
  });

  it("refuses an unregistered self-signed certificate, another client's, and a CA-issued one", async () => {
    refused(await introspect("ss-x5c", pki.s3), 401, "invalid_client", "client_auth_failed");
    refused(await introspect("ss-x5c", pki.s2), 401, "invalid_client", "client_auth_failed");
    refused(await introspect("ss-key", pki.s1), 401, "invalid_client", "client_auth_failed");
    refused(await introspect("ss-x5c", pki.clientA), 401, "invalid_client", "client_auth_failed");
    refused(await introspect("ss-x5c"), 401, "invalid_client", "client_certificate_missing");
  });
});

describe("self_signed_tls_client_auth with a jwks_uri", () => {
  it("fetches the registered certificates, and refetches for an unknown one at most once per cooldown", async () => {
    ok(await introspect("ss-uri", pki.s1));
    expect(keyHits).toBe(1);
    // The client registers a new certificate (and drops the old one).
    served = { keys: [certJwk(pki.s3, true)] };
    refused(await introspect("ss-uri", pki.s3), 401, "invalid_client", "client_auth_failed");
    refused(await introspect("ss-uri", pki.s2), 401, "invalid_client", "client_auth_failed");
    expect(keyHits).toBe(1);
    bridge.clock.advance(10_000);
    ok(await introspect("ss-uri", pki.s3));
    expect(keyHits).toBe(2);
    refused(await introspect("ss-uri", pki.s1), 401, "invalid_client", "client_auth_failed");
    expect(keyHits).toBe(2);
  });
});

describe("over plain HTTP", () => {
  it("an mTLS client cannot authenticate without TLS: client_certificate_missing", async () => {
    const r = await bridge.http.post("/introspect").type("form").send("token=x&client_id=m-dn");
    refused({ status: r.status, body: r.body }, 401, "invalid_client", "client_certificate_missing");
  });
});

describe("certificate-bound access tokens (RFC 8705 §3)", () => {
  async function boundToken(clientId: string, cert: Pem): Promise<string> {
    const r = await post("/token", samlExchange(clientId), cert);
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe("Bearer");
    const { payload } = decodeJwt(r.body.access_token);
    // Computed by openssl over the DER, not by the bridge's code.
    expect(payload.cnf).toEqual({ "x5t#S256": x5tS256(cert) });
    return r.body.access_token as string;
  }

  it("binds the tokens of a certificateBoundTokens client to its certificate (PKI and self-signed)", async () => {
    await boundToken("m-dn", pki.clientA);
    await boundToken("ss-x5c", pki.s1);
  });

  it("shows the binding at introspection", async () => {
    const token = await boundToken("m-dn", pki.clientA);
    const r = await post("/introspect", { token, client_id: "m-dn" }, pki.clientA);
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(true);
    expect(r.body.cnf).toEqual({ "x5t#S256": x5tS256(pki.clientA) });
  });

  const reExchange = (token: string): Record<string, string> => ({
    grant_type: GRANT, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, audience: API,
  });
  const c1Basic = { authorization: `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}` };

  it("re-exchanges a bound token over a connection with the same certificate, bound again", async () => {
    const token = await boundToken("m-dn", pki.clientA);
    const r = await post("/token", { ...reExchange(token), client_id: "m-dn" }, pki.clientA);
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.access_token).payload.cnf).toEqual({ "x5t#S256": x5tS256(pki.clientA) });
  });

  it("binds the next token again when another client presents a bound token with its certificate", async () => {
    const token = await boundToken("m-dn", pki.clientA);
    // c1 authenticates by its secret; the connection carries client A's certificate (possession proved).
    const r = await post("/token", reExchange(token), pki.clientA, c1Basic);
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.access_token).payload.cnf).toEqual({ "x5t#S256": x5tS256(pki.clientA) });
    // A token of a client without certificateBoundTokens, re-exchanged with a certificate: still a bearer token.
    const plainToken = (await post("/token", samlExchange("m-uri"), pki.clientA)).body.access_token as string;
    const again = await post("/token", reExchange(plainToken), pki.clientA, c1Basic);
    expect(again.status).toBe(200);
    expect(decodeJwt(again.body.access_token).payload.cnf).toBeUndefined();
  });

  it("refuses a bound token presented without its certificate: token_certificate_mismatch", async () => {
    const token = await boundToken("m-dn", pki.clientA);
    // A secret client, no certificate on the connection.
    refused(await post("/token", reExchange(token), undefined, c1Basic), 400, "invalid_request", "token_certificate_mismatch");
    // Over plain HTTP (no TLS at all).
    const plain = await bridge.http.post("/token").type("form").auth(CLIENTS.c1.id, CLIENTS.c1.secret)
      .send(new URLSearchParams(reExchange(token)).toString());
    refused({ status: plain.status, body: plain.body }, 400, "invalid_request", "token_certificate_mismatch");
    // As actor token too.
    const actor = await post("/token", {
      ...samlExchange(CLIENTS.c1.id), actor_token: token, actor_token_type: ACCESS_TOKEN_TYPE,
    }, undefined, c1Basic);
    refused(actor, 400, "invalid_request", "token_certificate_mismatch");
  });

  it("refuses a bound token presented with another certificate", async () => {
    const token = await boundToken("m-dn", pki.clientA);
    // Another certificate of the same CA, the same subject from another CA, or a self-signed one.
    for (const cert of [pki.clientB, pki.otherCa, pki.s1]) {
      refused(await post("/token", reExchange(token), cert, c1Basic), 400, "invalid_request", "token_certificate_mismatch");
    }
    const ss = await boundToken("ss-x5c", pki.s1);
    refused(await post("/token", { ...reExchange(ss), client_id: "m-dn" }, pki.clientA), 400, "invalid_request", "token_certificate_mismatch");
  });
});

describe("discovery (RFC 8705 §2.1, §2.2, §3.3)", () => {
  it("advertises the mTLS methods and certificate-bound tokens", async () => {
    const md = (await bridge.http.get("/.well-known/oauth-authorization-server")).body;
    expect(md.token_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post", "tls_client_auth", "self_signed_tls_client_auth"]);
    expect(md.introspection_endpoint_auth_methods_supported).toEqual(md.token_endpoint_auth_methods_supported);
    expect(md.tls_client_certificate_bound_access_tokens).toBe(true);
  });
});
