/**
 * Review of RFC 8705 tls_client_auth (clients/mtls.ts, http/server.ts): a TLS 1.2 renegotiation
 * must not let a client swap its CA-verified certificate for one nobody verified.
 *
 * Node sets `socket.authorized = true` after the first handshake and never clears it: when the
 * client renegotiates and presents another certificate, `getPeerX509Certificate()` returns the new
 * one while `authorized` still says true (only `authorizationError` gets the new verdict). Found
 * by this review: a client holding ANY certificate of the client CA renegotiated to a self-made
 * certificate with another client's DN / SAN and was authenticated as that client.
 *
 * The renegotiating client is the system libssl driven from Python's ctypes (node:tls cannot
 * change a client's certificate between handshakes); test keys only, generated per run.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { createServer as createHttpsServer } from "node:https";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.js";
import { presentedCertificate } from "../../src/clients/mtls.js";
import { API, SAML2, startBridge, type TestBridge } from "../support/harness.js";
import { makePki, type Pem, type Pki } from "../clients/mtls-pki.js";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";

const execFileAsync = promisify(execFile);

const CLIENT = String.raw`
import ctypes, ctypes.util, socket, sys, json
ssl = ctypes.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
P = ctypes.c_void_p
for name, res, args in [("TLS_client_method", P, []), ("SSL_CTX_new", P, [P]), ("SSL_CTX_ctrl", ctypes.c_long, [P, ctypes.c_int, ctypes.c_long, P]),
    ("SSL_CTX_use_certificate_chain_file", ctypes.c_int, [P, ctypes.c_char_p]), ("SSL_CTX_use_PrivateKey_file", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    ("SSL_new", P, [P]), ("SSL_set_fd", ctypes.c_int, [P, ctypes.c_int]), ("SSL_connect", ctypes.c_int, [P]),
    ("SSL_write", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]), ("SSL_read", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    ("SSL_use_certificate_chain_file", ctypes.c_int, [P, ctypes.c_char_p]), ("SSL_use_PrivateKey_file", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    ("SSL_renegotiate", ctypes.c_int, [P])]:
    f = getattr(ssl, name); f.restype = res; f.argtypes = args
port, cert1, key1, cert2, key2, path, body1, body2 = sys.argv[1:9]
ctx = ssl.SSL_CTX_new(ssl.TLS_client_method())
ssl.SSL_CTX_ctrl(ctx, 124, 0x0303, None)  # SSL_CTRL_SET_MAX_PROTO_VERSION: TLS 1.2 (1.3 has no renegotiation)
assert ssl.SSL_CTX_use_certificate_chain_file(ctx, cert1.encode()) == 1 and ssl.SSL_CTX_use_PrivateKey_file(ctx, key1.encode(), 1) == 1
sock = socket.create_connection(("127.0.0.1", int(port)))
s = ssl.SSL_new(ctx); ssl.SSL_set_fd(s, sock.fileno())
assert ssl.SSL_connect(s) == 1
out = []
def request(body):
    msg = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (path, len(body), body)).encode()
    if ssl.SSL_write(s, msg, len(msg)) <= 0:
        out.append({"error": "write"}); return
    buf = ctypes.create_string_buffer(16384); data = b""
    while True:
        if b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            length = [int(l.split(":", 1)[1]) for l in lines if l.lower().startswith("content-length:")]
            if length and len(rest) >= length[0]:
                out.append({"status": int(lines[0].split(" ")[1]), "body": json.loads(rest[:length[0]])}); return
        n = ssl.SSL_read(s, buf, 16384)
        if n <= 0:
            out.append({"error": "read"}); return
        data += buf.raw[:n]
request(body1)
ok = ssl.SSL_use_certificate_chain_file(s, cert2.encode()) == 1 and ssl.SSL_use_PrivateKey_file(s, key2.encode(), 1) == 1 and ssl.SSL_renegotiate(s) == 1
out.append({"renegotiate": ok})
if ok: request(body2)
print(json.dumps(out))
`;

type Step = { status?: number; body?: Record<string, unknown>; error?: string; renegotiate?: boolean };

let pki: Pki;
let bridge: TestBridge;
/** The bridge's own listener (createHttpServer). */
let server: Server;
/** The same app behind a listener that still allows renegotiation: the defence in clients/mtls.ts alone. */
let permissive: Server;
/** Self-signed, with client-b's DN and DNS SAN: what an attacker makes for itself. */
let forgedB: Pem;

const portOf = (s: Server): number => (s.address() as AddressInfo).port;

function forge(name: string, subj: string, san: string): Pem {
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`,
    "-days", "2", "-subj", subj, "-addext", san], { cwd: pki.dir, stdio: ["ignore", "ignore", "pipe"] });
  const certFile = join(pki.dir, `${name}.pem`);
  const keyFile = join(pki.dir, `${name}.key`);
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile, keyFile };
}

beforeAll(async () => {
  pki = makePki();
  forgedB = forge("forgedB", "/C=SE/O=Example/CN=client-b", "subjectAltName=DNS:client-b.example.com");
  const tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile };
  const client = (id: string, extra: Record<string, unknown>): Record<string, unknown> => ({
    id, audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"], introspect: true, subjectTokenTypes: [SAML2], ...extra,
  });
  bridge = await startBridge({
    patch: (c) => {
      c.server = { tls };
      c.clients.push(
        client("r-a", { tlsClientAuth: { subjectDn: "CN=client-a,O=Example,C=SE" } }),
        client("r-b-dn", { tlsClientAuth: { subjectDn: "CN=client-b,O=Example,C=SE" } }),
        client("r-b-dns", { tlsClientAuth: { sanDns: "client-b.example.com" } }),
      );
    },
  });
  server = createHttpServer(bridge.app, { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, tls, requestClientCertificate: true });
  server.listen(0, "127.0.0.1");
  permissive = createHttpsServer({
    cert: readFileSync(pki.server.certFile), key: readFileSync(pki.server.keyFile), ca: readFileSync(pki.caFile),
    requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2",
  }, bridge.app);
  permissive.listen(0, "127.0.0.1");
  await Promise.all([server, permissive].map((s) => new Promise((r) => (s.listening ? r(undefined) : s.once("listening", r)))));
});

afterAll(async () => {
  for (const s of [server, permissive]) {
    s.closeAllConnections();
    s.close();
  }
  await bridge.close();
  pki.remove();
});

/** Two introspection requests on one TLS 1.2 connection: `first` with cert1, then a renegotiation to cert2 and `second`. */
async function renegotiating(s: Server, cert1: Pem, cert2: Pem, first: string, second: string): Promise<Step[]> {
  const form = (id: string): string => new URLSearchParams({ token: "not-a-token", client_id: id }).toString();
  // Asynchronous: the listener runs in this very process.
  const { stdout } = await execFileAsync("python3", ["-c", CLIENT, String(portOf(s)), cert1.certFile, cert1.keyFile, cert2.certFile, cert2.keyFile, "/introspect", form(first), form(second)], {
    encoding: "utf8", timeout: 20_000,
  });
  return JSON.parse(stdout) as Step[];
}

const active = { status: 200, body: { active: false } };

describe("tls_client_auth across a TLS 1.2 renegotiation", () => {
  it("the bridge's listener: a renegotiation to a self-made certificate with another client's DN or SAN authenticates nobody", async () => {
    for (const victim of ["r-b-dn", "r-b-dns"]) {
      const steps = await renegotiating(server, pki.clientA, forgedB, "r-a", victim);
      // The first request, with client-a's own CA certificate, is fine.
      expect(steps[0]).toEqual(active);
      // Nothing after the renegotiation is answered as an authenticated client-b.
      expect(steps.slice(2).every((s) => s.status !== 200)).toBe(true);
    }
  });

  it("the bridge's listener refuses renegotiation outright, even between two CA certificates", async () => {
    const steps = await renegotiating(server, pki.clientA, pki.clientB, "r-a", "r-b-dn");
    expect(steps[0]).toEqual(active);
    expect(steps.slice(2).some((s) => s.status !== undefined)).toBe(false);
  });

  it("behind a listener that does allow renegotiation, the forged certificate is still refused (client_auth_failed)", async () => {
    for (const victim of ["r-b-dn", "r-b-dns"]) {
      const steps = await renegotiating(permissive, pki.clientA, forgedB, "r-a", victim);
      expect(steps[0]).toEqual(active);
      expect(steps[1]).toEqual({ renegotiate: true });
      expect(steps[2]).toMatchObject({ status: 401, body: { error: "invalid_client", error_description: "client_auth_failed" } });
    }
  });

  it("behind that listener, a CA certificate first refused then renegotiated stays refused (fail closed)", async () => {
    // The other direction: a forged first handshake leaves authorizationError set for good.
    const steps = await renegotiating(permissive, forgedB, pki.clientA, "r-b-dn", "r-a");
    expect(steps[0]).toMatchObject({ status: 401, body: { error_description: "client_auth_failed" } });
    expect(steps[2]).toMatchObject({ status: 401, body: { error_description: "client_auth_failed" } });
  });
});

describe("presentedCertificate: OpenSSL's latest verdict, not Node's first one", () => {
  const req = (socket: Record<string, unknown>): IncomingMessage => ({ socket } as unknown as IncomingMessage);
  it("authorized only when Node says authorized and no later handshake failed verification", () => {
    const peer = new X509Certificate(readFileSync(pki.clientA.certFile));
    const make = (authorized: unknown, authorizationError: unknown) =>
      presentedCertificate(req({ getPeerX509Certificate: () => peer, authorized, authorizationError }))!.authorized;
    expect(make(true, null)).toBe(true);
    expect(make(true, undefined)).toBe(true);
    expect(make(true, "DEPTH_ZERO_SELF_SIGNED_CERT")).toBe(false);
    expect(make(true, "CERT_HAS_EXPIRED")).toBe(false);
    expect(make(false, null)).toBe(false);
    expect(make(undefined, null)).toBe(false);
    expect(make("true", null)).toBe(false);
  });
});
