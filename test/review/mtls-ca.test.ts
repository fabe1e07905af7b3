/**
 * Review of tls_client_auth's PKI checks and SAN matching (clients/mtls.ts, http/server.ts),
 * end to end over the bridge's HTTPS listener. Certificates are made by an independent
 * implementation (Python `cryptography`), issued by the per-run test CA of test/clients/mtls-pki.ts
 * (test keys only). All of these hold; they pin what the bridge relies on OpenSSL for:
 * - a certificate not yet valid, one whose EKU is serverAuth only, one issued by a CA:FALSE
 *   certificate, one issued by a CA certificate without keyCertSign: refused;
 * - an intermediate sent by the client chains to the root in clientCaFile (accepted), but an
 *   intermediate alone in clientCaFile is no trust anchor (no partial chains);
 * - a SAN value holding ", DNS:victim" (or URI:, email:) is one entry, not two; an IPv4-mapped
 *   IPv6 iPAddress is not the IPv4 address.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.js";
import { API, SAML2, startBridge, type TestBridge } from "../support/harness.js";
import { makePki, type Pem, type Pki } from "../clients/mtls-pki.js";

/** argv: dir, spec [[name, issuer ("ca" or a name made before), cn, options]]; writes name.pem (leaf + issuer chain) and name.key. */
const MAKE = String.raw`
import sys, json, datetime, ipaddress
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d, spec = sys.argv[1], json.loads(sys.argv[2])
made = {"ca": (x509.load_pem_x509_certificate(open(d + "/ca.pem", "rb").read()), serialization.load_pem_private_key(open(d + "/ca.key", "rb").read(), None), b"")}
now = datetime.datetime.now(datetime.timezone.utc)
for name, issuer, cn, o in spec:
    icert, ikey, ichain = made[issuer]
    k = ec.generate_private_key(ec.SECP256R1())
    nb = now + datetime.timedelta(days=o.get("startsInDays", 0)) - datetime.timedelta(minutes=5)
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).issuer_name(icert.subject)
         .public_key(k.public_key()).serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(nb + datetime.timedelta(days=2)))
    if "ca" in o: b = b.add_extension(x509.BasicConstraints(ca=o["ca"], path_length=None), critical=True)
    if o.get("keyUsage") == "noKeyCertSign":
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    elif o.get("ca"):
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    if o.get("eku") == "serverAuth": b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    san = [x509.DNSName(v) for v in o.get("dns", [])] + [x509.UniformResourceIdentifier(v) for v in o.get("uri", [])] \
        + [x509.RFC822Name(v) for v in o.get("email", [])] + [x509.IPAddress(ipaddress.ip_address(v)) for v in o.get("ip", [])]
    if san: b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    c = b.sign(ikey, hashes.SHA256())
    pem = c.public_bytes(serialization.Encoding.PEM)
    # The client sends its issuer along, unless that is the root itself.
    chain = pem + (b"" if issuer == "ca" else icert.public_bytes(serialization.Encoding.PEM))
    made[name] = (c, k, b"")
    open(d + "/" + name + ".pem", "wb").write(chain)
    open(d + "/" + name + ".only.pem", "wb").write(pem)
    open(d + "/" + name + ".key", "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
`;

const VICTIM = { dns: ["victim.example"], uri: ["https://victim.example/"], email: ["victim@example.com"], ip: ["10.9.9.9"] };
const SPEC: [string, string, string, Record<string, unknown>][] = [
  ["good", "ca", "victim", VICTIM],
  ["future", "ca", "victim", { ...VICTIM, startsInDays: 1 }],
  ["server-eku", "ca", "victim", { ...VICTIM, eku: "serverAuth" }],
  ["leaf-ca-false", "ca", "attacker", { ca: false }],
  ["under-leaf", "leaf-ca-false", "victim", VICTIM],
  ["ca-no-kcs", "ca", "sub", { ca: true, keyUsage: "noKeyCertSign" }],
  ["under-no-kcs", "ca-no-kcs", "victim", VICTIM],
  ["inter", "ca", "intermediate", { ca: true }],
  ["under-inter", "inter", "victim", VICTIM],
  ["inject", "ca", "attacker", {
    dns: ["attacker.example, DNS:victim.example", "x\", DNS:victim.example"],
    uri: ["https://a.example/, URI:https://victim.example/", "https://a.example/\", URI:https://victim.example/"],
    email: ["a@a.example, email:victim@example.com"],
    ip: ["::ffff:10.9.9.9"],
  }],
];
const VICTIMS = ["v-dn", "v-dns", "v-uri", "v-email", "v-ip"];

let pki: Pki;
let bridge: TestBridge;
let server: Server;
/** The same app, its listener trusting only the intermediate. */
let interOnly: Server;
const certs: Record<string, Pem> = {};

beforeAll(async () => {
  pki = makePki();
  execFileSync("python3", ["-c", MAKE, pki.dir, JSON.stringify(SPEC)], { stdio: ["ignore", "ignore", "pipe"] });
  for (const [name] of SPEC) {
    const certFile = join(pki.dir, `${name}.pem`);
    const keyFile = join(pki.dir, `${name}.key`);
    certs[name] = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile, keyFile };
  }
  const tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile };
  const client = (id: string, tlsClientAuth: Record<string, string>): Record<string, unknown> => ({
    id, audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"], introspect: true, subjectTokenTypes: [SAML2], tlsClientAuth,
  });
  bridge = await startBridge({
    patch: (c) => {
      c.server = { tls };
      c.clients.push(
        client("v-dn", { subjectDn: "CN=victim" }), client("v-dns", { sanDns: "victim.example" }), client("v-uri", { sanUri: "https://victim.example/" }),
        client("v-email", { sanEmail: "victim@example.com" }), client("v-ip", { sanIp: "10.9.9.9" }),
      );
    },
  });
  const bounds = { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 };
  server = createHttpServer(bridge.app, { ...bounds, tls });
  interOnly = createHttpServer(bridge.app, { ...bounds, tls: { ...tls, clientCaFile: join(pki.dir, "inter.only.pem") } });
  for (const s of [server, interOnly]) s.listen(0, "127.0.0.1");
  await Promise.all([server, interOnly].map((s) => new Promise((r) => (s.listening ? r(undefined) : s.once("listening", r)))));
});

afterAll(async () => {
  for (const s of [server, interOnly]) {
    s?.closeAllConnections();
    s?.close();
  }
  await bridge?.close();
  pki?.remove();
});

function introspect(s: Server, clientId: string, cert: Pem): Promise<{ status: number; reason: unknown }> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams({ token: "not-a-token", client_id: clientId }).toString();
    const req = httpsRequest({
      host: "127.0.0.1", port: (s.address() as AddressInfo).port, path: "/introspect", method: "POST", agent: false,
      ca: readFileSync(pki.caFile, "utf8"), cert: cert.cert, key: cert.key,
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const j = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        resolve({ status: res.statusCode ?? 0, reason: j.error_description ?? j.active });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const accepted = { status: 200, reason: false };
const failed = { status: 401, reason: "client_auth_failed" };

async function outcomes(s: Server, cert: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const id of VICTIMS) out[id] = await introspect(s, id, certs[cert]!);
  return out;
}
const all = (o: unknown): Record<string, unknown> => Object.fromEntries(VICTIMS.map((id) => [id, o]));

describe("tls_client_auth: what the chain check refuses", () => {
  it("the control: the CA's certificate with the victim's DN and SANs authenticates each victim", async () => {
    expect(await outcomes(server, "good")).toEqual(all(accepted));
  });

  it("refuses a certificate that is not valid yet", async () => {
    expect(await outcomes(server, "future")).toEqual(all(failed));
  });

  it("refuses a certificate whose extended key usage is serverAuth only", async () => {
    expect(await outcomes(server, "server-eku")).toEqual(all(failed));
  });

  it("refuses a certificate issued by a CA:FALSE certificate of the CA (sent as its chain)", async () => {
    expect(certs["under-leaf"]!.cert.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(await outcomes(server, "under-leaf")).toEqual(all(failed));
  });

  it("refuses a certificate issued by a CA certificate without keyCertSign", async () => {
    expect(await outcomes(server, "under-no-kcs")).toEqual(all(failed));
  });

  it("takes an intermediate the client sends up to the root in clientCaFile", async () => {
    expect(await outcomes(server, "under-inter")).toEqual(all(accepted));
  });

  it("an intermediate alone in clientCaFile is no trust anchor (OpenSSL: no partial chains)", async () => {
    expect(await outcomes(interOnly, "under-inter")).toEqual(all(failed));
    expect(await outcomes(interOnly, "good")).toEqual(all(failed));
  });
});

describe("tls_client_auth: SAN values cannot add entries", () => {
  it("Node prints each crafted value as one JSON-quoted entry", () => {
    const san = new X509Certificate(readFileSync(certs.inject!.certFile)).subjectAltName!;
    expect(san).toContain('DNS:"attacker.example\\u002c DNS:victim.example"');
    expect(san).toContain("IP Address:0:0:0:0:0:FFFF:A09:909");
  });

  it("a DNS, URI or email value holding \", DNS:victim…\" and an IPv4-mapped address authenticate no victim", async () => {
    expect(await outcomes(server, "inject")).toEqual(all(failed));
  });
});
