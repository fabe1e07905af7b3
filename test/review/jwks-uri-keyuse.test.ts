/**
 * Review of clients/jwks-uri.ts and clients/mtls.ts: which keys of a client's set verify anything.
 *
 * Finding (availability/interop): a jwks_uri document that also lists the client's encryption keys
 * (`use: enc`, as OIDC clients publish them) was refused whole ("malformed"), so such a client could
 * never authenticate (503 client_keys_unavailable). Now the keys that are not for signatures
 * (`use` ≠ sig, `key_ops` without verify) are dropped from a fetched document, and never verify.
 * Finding (low): self_signed_tls_client_auth used a registered key whose key_ops leave out
 * "verify". Holds: such keys never verify a private_key_jwt assertion (jose filters them), nor a
 * key whose declared alg is another; a document with private material is still refused whole.
 *
 * Real local key server, private_key_jwt over the real introspection endpoint; keys generated per
 * run (test keys only); the self-signed certificates come from the openssl CLI (test/clients/mtls-pki.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID, X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { parseConfig, ConfigError } from "../../src/config/load.js";
import { MtlsVerifier, certificateThumbprint } from "../../src/clients/mtls.js";
import { signatureKeysOnly } from "../../src/clients/jwks-uri.js";
import { API, baseConfig, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { certJwk, makePki, type Pki } from "../clients/mtls-pki.js";

interface Pair { privateKey: CryptoKey; publicJwk: JWK }
async function pair(kid: string, extra: Record<string, unknown> = { use: "sig", alg: "ES256" }): Promise<Pair> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, ...extra } };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const json = (body: unknown): Handler => (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
const handlers = new Map<string, Handler>();
let keyServer: Server;
let bridge: TestBridge;
let sig: Pair;
let enc: Pair;
let opsEnc: Pair;
let wrongAlg: Pair;
let privateEnc: JWK;
let pki: Pki;

const CLIENTS = ["ku-mixed", "ku-enc-only", "ku-private-enc"] as const;
const path = (id: string): string => `/${id}/jwks.json`;

beforeAll(async () => {
  pki = makePki();
  sig = await pair("sig");
  enc = await pair("enc", { use: "enc", alg: "ECDH-ES" });
  opsEnc = await pair("ops", { key_ops: ["encrypt", "wrapKey"] });
  wrongAlg = await pair("es512", { use: "sig", alg: "ES512" });
  const { privateKey } = await generateKeyPair("ECDH-ES", { crv: "P-256", extractable: true });
  privateEnc = { ...(await exportJWK(privateKey)), kid: "penc", use: "enc" };
  handlers.set(path("ku-mixed"), json({ keys: [enc.publicJwk, sig.publicJwk, opsEnc.publicJwk, wrongAlg.publicJwk] }));
  handlers.set(path("ku-enc-only"), json({ keys: [enc.publicJwk, opsEnc.publicJwk] }));
  handlers.set(path("ku-private-enc"), json({ keys: [sig.publicJwk, privateEnc] }));
  keyServer = createServer((req, res) => (handlers.get(req.url ?? "") ?? ((_q: IncomingMessage, r: ServerResponse) => r.writeHead(404).end()))(req, res));
  keyServer.listen(0, "127.0.0.1");
  await new Promise((r) => keyServer.once("listening", r));
  const base = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;
  bridge = await startBridge({
    keyFetchTimeoutMs: 1000,
    patch: (c) => {
      for (const id of CLIENTS) {
        c.clients.push({ id, audiences: [API], idps: ["idp1"], introspect: true, privateKeyJwt: { jwksUri: `${base}${path(id)}`, algorithms: ["ES256"], jwksCooldownSeconds: 10 } });
      }
    },
  });
});

afterAll(async () => {
  keyServer?.closeAllConnections();
  keyServer?.close();
  await bridge?.close();
  pki?.remove();
});

async function authenticate(clientId: string, key: Pair, kid = key.publicJwk.kid!): Promise<{ status: number; reason: unknown }> {
  const now = Math.floor(bridge.clock.now / 1000);
  const assertion = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid })
    .setIssuer(clientId).setSubject(clientId).setAudience(BRIDGE_ISSUER).setIssuedAt(now).setExpirationTime(now + 60).setJti(randomUUID())
    .sign(key.privateKey);
  const res = await bridge.http.post("/introspect").type("form").send(new URLSearchParams({
    token: "not-a-token", client_id: clientId, client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion,
  }).toString());
  return { status: res.status, reason: res.body.error_description ?? res.body.active };
}
const accepted = { status: 200, reason: false };
const failed = { status: 401, reason: "client_auth_failed" };

describe("private_key_jwt: a jwks_uri document with encryption keys", () => {
  it("is taken, and its signature key verifies", async () => {
    expect(await authenticate("ku-mixed", sig)).toEqual(accepted);
  });

  it("its use:enc key, its key_ops:[encrypt] key and its alg:ES512 key verify nothing (even named by kid)", async () => {
    expect(await authenticate("ku-mixed", enc)).toEqual(failed);
    expect(await authenticate("ku-mixed", opsEnc)).toEqual(failed);
    expect(await authenticate("ku-mixed", wrongAlg)).toEqual(failed);
    // Nor under the signature key's kid.
    expect(await authenticate("ku-mixed", enc, "sig")).toEqual(failed);
  });

  it("a document of encryption keys only is no key set: 503 client_keys_unavailable, logged malformed", async () => {
    const r = await authenticate("ku-enc-only", enc);
    expect(r).toEqual({ status: 503, reason: "client_keys_unavailable" });
    expect(bridge.logs.filter((l) => l.event === "client_keys_unavailable" && l.client === "ku-enc-only").map((l) => l.reason)).toEqual(["malformed"]);
  });

  it("a document with a private key, even an encryption one, is still refused whole", async () => {
    expect(await authenticate("ku-private-enc", sig)).toEqual({ status: 503, reason: "client_keys_unavailable" });
  });

  it("signatureKeysOnly keeps sig keys, keys without use/key_ops, and anything it cannot read", () => {
    const keep = [{ kty: "EC", use: "sig" }, { kty: "EC" }, { kty: "EC", key_ops: ["verify"] }, { kty: "EC", use: "enc", d: "x" }];
    const drop = [{ kty: "EC", use: "enc" }, { kty: "EC", key_ops: ["encrypt"] }, { kty: "EC", use: "sig", key_ops: ["sign"] }, { kty: "EC", use: "SIG" }];
    expect(signatureKeysOnly({ keys: [...keep, ...drop], other: 1 })).toEqual({ keys: keep, other: 1 });
    for (const odd of [null, [], "x", { keys: "no" }]) expect(signatureKeysOnly(odd)).toEqual(odd);
  });
});

describe("self_signed_tls_client_auth: key_ops", () => {
  function verifier(jwk: Record<string, unknown>): MtlsVerifier {
    const c = baseConfig();
    c.server = { tls: { certFile: "/x/s.pem", keyFile: "/x/s.key" } };
    c.clients.push({ id: "ss", audiences: [API], selfSignedTlsClientAuth: { jwks: { keys: [jwk] } } });
    const config = parseConfig(c);
    return new MtlsVerifier(config.clients, { baseDir: "/", now: () => 0, log: () => undefined });
  }
  const presented = (pem: string) => {
    const cert = new X509Certificate(pem);
    return { cert, authorized: false, thumbprint: certificateThumbprint(cert) };
  };

  it("a registered key (or certificate) whose key_ops leave out verify authenticates nobody", async () => {
    for (const withX5c of [false, true]) {
      const jwk = certJwk(pki.s2, withX5c);
      await expect(verifier({ ...jwk, key_ops: ["encrypt"] }).verify("ss", presented(pki.s2.cert))).rejects.toMatchObject({ reason: "client_auth_failed" });
      await expect(verifier({ ...jwk, key_ops: [] }).verify("ss", presented(pki.s2.cert))).rejects.toMatchObject({ reason: "client_auth_failed" });
      await expect(verifier({ ...jwk, key_ops: ["verify"] }).verify("ss", presented(pki.s2.cert))).resolves.toMatchObject({ id: "ss" });
      await expect(verifier(jwk).verify("ss", presented(pki.s2.cert))).resolves.toMatchObject({ id: "ss" });
    }
  });

  it("holds: use:enc is refused at start-up", () => {
    expect(() => verifier({ ...certJwk(pki.s2, false), use: "enc" })).toThrow(ConfigError);
  });
});
