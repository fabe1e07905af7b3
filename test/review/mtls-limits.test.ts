/**
 * Review of mutual-TLS client authentication against the failed-authentication limits and TLS
 * session resumption, over the bridge's HTTPS listener (test PKI of test/clients/mtls-pki.ts,
 * generated per run). Both hold:
 * - certificate failures count under rateLimits.failedAuthPerClientId like wrong secrets: after
 *   max, the id is refused (429) even with the right certificate; an unknown id is answered alike;
 * - a resumed TLS session keeps the certificate (and OpenSSL's verdict) of the handshake that
 *   created it: a client resuming cannot swap certificates, and is authenticated as before.
 */
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.js";
import { API, SAML2, startBridge, type TestBridge } from "../support/harness.js";
import { makePki, type Pem, type Pki } from "../clients/mtls-pki.js";

let pki: Pki;
let bridge: TestBridge;
let server: Server;

beforeAll(async () => {
  pki = makePki();
  const tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile };
  const client = (id: string, tlsClientAuth: Record<string, string>): Record<string, unknown> => ({
    id, audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"], introspect: true, subjectTokenTypes: [SAML2], tlsClientAuth,
  });
  bridge = await startBridge({
    patch: (c) => {
      c.server = { tls };
      c.rateLimits = { failedAuthPerClientId: { enabled: true, max: 3, windowSeconds: 60 } };
      c.clients.push(client("l-a", { subjectDn: "CN=client-a,O=Example,C=SE" }), client("l-b", { subjectDn: "CN=client-b,O=Example,C=SE" }),
        client("l-a2", { sanDns: "client-a.example.com" }), client("l-b2", { sanDns: "client-b.example.com" }));
    },
  });
  server = createHttpServer(bridge.app, { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, tls });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
});

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await bridge?.close();
  pki?.remove();
});

interface Reply { status: number; reason: unknown; retryAfter: boolean; reused: boolean; session: Buffer | undefined }
function introspect(clientId: string, cert?: Pem, session?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams({ token: "not-a-token", client_id: clientId }).toString();
    const req = httpsRequest({
      host: "127.0.0.1", port: (server.address() as AddressInfo).port, path: "/introspect", method: "POST", agent: false,
      ca: readFileSync(pki.caFile, "utf8"), maxVersion: "TLSv1.2", ...(cert ? { cert: cert.cert, key: cert.key } : {}), ...(session ? { session } : {}),
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      const socket = res.socket as TLSSocket;
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const j = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        resolve({
          status: res.statusCode ?? 0, reason: j.error_description ?? j.active, retryAfter: res.headers["retry-after"] !== undefined,
          reused: socket.isSessionReused(), session: socket.getSession(),
        });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}
const shape = (r: Reply): unknown => ({ status: r.status, reason: r.reason, retryAfter: r.retryAfter });
const OK = { status: 200, reason: false, retryAfter: false };
const FAILED = { status: 401, reason: "client_auth_failed", retryAfter: false };
const LIMITED = { status: 429, reason: "rate_limited", retryAfter: true };

describe("failedAuthPerClientId counts certificate failures", () => {
  it("another client's certificate, another CA's, an expired one: 3 failures, then 429 even with the right certificate", async () => {
    expect(shape(await introspect("l-a", pki.clientB))).toEqual(FAILED);
    expect(shape(await introspect("l-a", pki.otherCa))).toEqual(FAILED);
    expect(shape(await introspect("l-a", pki.expired))).toEqual(FAILED);
    expect(shape(await introspect("l-a", pki.clientB))).toEqual(LIMITED);
    expect(shape(await introspect("l-a", pki.clientA))).toEqual(LIMITED);
    // Another id, the same certificate: not affected.
    expect(shape(await introspect("l-a2", pki.clientA))).toEqual(OK);
    expect(shape(await introspect("l-b", pki.clientB))).toEqual(OK);
  });

  it("an unknown id with a certificate is answered like a known one, blocked alike", async () => {
    const known: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(shape(await introspect("l-b", pki.s3)));
      unknown.push(shape(await introspect("l-no-such-client", pki.s3)));
    }
    expect(unknown).toEqual(known);
    expect(known).toEqual([FAILED, FAILED, FAILED, LIMITED, LIMITED]);
  });
});

describe("TLS session resumption", () => {
  it("a resumed session keeps its handshake's certificate: authenticated as before, never as another", async () => {
    const first = await introspect("l-a2", pki.clientA);
    expect(shape(first)).toEqual(OK);
    expect(first.reused).toBe(false);
    // Resuming while offering client-b's certificate: the session's (client-a's) is the one used.
    const resumed = await introspect("l-a2", pki.clientB, first.session);
    expect(resumed.reused).toBe(true);
    expect(shape(resumed)).toEqual(OK);
    const asB = await introspect("l-b2", pki.clientB, resumed.session);
    expect(asB.reused).toBe(true);
    expect(shape(asB)).toEqual(FAILED);
    // The control: client-b's own handshake is client-b.
    expect(shape(await introspect("l-b2", pki.clientB))).toEqual(OK);
  });

  it("a resumed session that had no certificate has none", async () => {
    const first = await introspect("l-a2");
    expect(shape(first)).toEqual({ status: 401, reason: "client_certificate_missing", retryAfter: false });
    const resumed = await introspect("l-a2", pki.clientA, first.session);
    expect(resumed.reused).toBe(true);
    expect(shape(resumed)).toEqual({ status: 401, reason: "client_certificate_missing", retryAfter: false });
  });
});
