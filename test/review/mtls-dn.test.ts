/**
 * Review of tls_client_auth_subject_dn matching (src/clients/distinguished-name.ts, RFC 8705
 * §2.1.2, RFC 4514). Certificates are made by an independent implementation (Python
 * `cryptography`, test keys generated per run; the CA-issued ones are signed with the per-run test
 * CA of test/clients/mtls-pki.ts) and read through Node's X509Certificate#subject, exactly as the
 * bridge reads them.
 *
 * Findings pinned here:
 * - attribute-type confusion: OpenSSL prints userId (0.9.2342.19200300.100.1.1) as "UID" and
 *   uniqueIdentifier (0.9.2342.19200300.100.1.44) as "uid"; compared case-insensitively, a
 *   certificate with uniqueIdentifier=alice matched a client configured as "UID=alice";
 * - RFC 4514 §3 characters that must be escaped (`"` `;` `<` `>` NUL) were taken unescaped in the
 *   configured DN, so "CN=client;O=Example" (an RFC 1779 habit) was a one-RDN DN whose CN is the
 *   whole string, matched by a certificate with that literal CN;
 * - trailing-space trimming looked one character back, so "CN=a\\ " (the value `a\` then an
 *   insignificant space) kept the space and matched a certificate whose CN is "a\ ".
 * Holds (pinned): escaped separators, newline/NUL/control characters, a multi-valued RDN spelled
 * as two, RDN order, a DN embedded in a value, an unknown OID, T61String vs UTF8String.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateSubject, dnProblem, parseDn, sameDn } from "../../src/clients/distinguished-name.js";
import { createHttpServer } from "../../src/http/server.js";
import { configIssues as baseConfigIssues } from "../support/config-issues.js";
import { API, SAML2, startBridge, type TestBridge } from "../support/harness.js";
import { makePki, type Pem, type Pki } from "../clients/mtls-pki.js";

/** Writes `<name>.pem` / `<name>.key`: subject `rdns` (most general first, as in the DER), issued by the CA or self-signed. */
const MAKE = String.raw`
import sys, json, datetime
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d, spec = sys.argv[1], json.loads(sys.argv[2])
ca_cert = x509.load_pem_x509_certificate(open(d + "/ca.pem", "rb").read())
ca_key = serialization.load_pem_private_key(open(d + "/ca.key", "rb").read(), None)
for name, rdns, by_ca in spec:
    k = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(x509.ObjectIdentifier(a[0]), a[1], *([_ASN1Type[a[2]]] if len(a) > 2 else [])) for a in rdn]) for rdn in rdns])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject if by_ca else subject).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))
    c = b.sign(ca_key if by_ca else k, hashes.SHA256())
    open(d + "/" + name + ".pem", "wb").write(c.public_bytes(serialization.Encoding.PEM))
    open(d + "/" + name + ".key", "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
`;

const OID = { C: "2.5.4.6", O: "2.5.4.10", OU: "2.5.4.11", CN: "2.5.4.3", userId: "0.9.2342.19200300.100.1.1", uniqueIdentifier: "0.9.2342.19200300.100.1.44", unknown: "1.2.3.4" };
type Ava = [oid: string, value: string, type?: string];
const SPEC: [string, Ava[][], boolean][] = [
  ["uid-user", [[[OID.O, "Example"]], [[OID.userId, "alice"]]], true],
  ["uid-unique", [[[OID.O, "Example"]], [[OID.uniqueIdentifier, "alice"]]], true],
  ["semicolon", [[[OID.CN, "client;O=Example"]]], true],
  ["quoted", [[[OID.O, "\"Example\""]], [[OID.CN, "client"]]], true],
  ["backslash-space", [[[OID.CN, "a\\ "]]], true],
  ["backslash", [[[OID.CN, "a\\"]]], true],
  ["newline", [[[OID.CN, "client-a\nCN=evil"]]], false],
  ["nul", [[[OID.CN, "client-a\u0000evil"]]], false],
  ["embedded", [[[OID.O, "Example"]], [[OID.CN, "client-a,O=Example"]]], false],
  ["plus", [[[OID.CN, "a+O=Example"]]], false],
  ["multi", [[[OID.C, "SE"]], [[OID.O, "Example"], [OID.CN, "client-a"]]], false],
  ["two", [[[OID.C, "SE"]], [[OID.O, "Example"]], [[OID.CN, "client-a"]]], false],
  ["reversed", [[[OID.CN, "client-a"]], [[OID.O, "Example"]], [[OID.C, "SE"]]], false],
  ["unknown-oid", [[[OID.unknown, "client-a"]]], false],
  ["t61", [[[OID.CN, "caf\u00e9", "T61String"]]], false],
  ["utf8", [[[OID.CN, "caf\u00e9"]]], false],
];

let pki: Pki;
let bridge: TestBridge;
let server: Server;
const certs: Record<string, Pem> = {};
const subjectOf = (name: string): string => new X509Certificate(readFileSync(certs[name]!.certFile)).subject;
const matches = (name: string, configured: string): boolean => sameDn(certificateSubject(subjectOf(name))!, parseDn(configured));

beforeAll(async () => {
  pki = makePki();
  execFileSync("python3", ["-c", MAKE, pki.dir, JSON.stringify(SPEC)], { stdio: ["ignore", "ignore", "pipe"] });
  for (const [name] of SPEC) {
    const certFile = join(pki.dir, `${name}.pem`);
    const keyFile = join(pki.dir, `${name}.key`);
    certs[name] = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile, keyFile };
  }
  const tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile };
  bridge = await startBridge({
    patch: (c) => {
      c.server = { tls };
      c.clients.push({
        id: "alice", audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"], introspect: true, subjectTokenTypes: [SAML2],
        tlsClientAuth: { subjectDn: "UID=alice,O=Example" },
      });
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

function introspect(clientId: string, cert: Pem): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams({ token: "not-a-token", client_id: clientId }).toString();
    const req = httpsRequest({
      host: "127.0.0.1", port: (server.address() as AddressInfo).port, path: "/introspect", method: "POST", agent: false,
      ca: readFileSync(pki.caFile, "utf8"), cert: cert.cert, key: cert.key,
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function configIssues(subjectDn: string): string {
  return baseConfigIssues((c) => {
    c.server = { tls: { certFile: "/x/s.pem", keyFile: "/x/s.key", clientCaFile: "/x/ca.pem" } };
    c.clients.push({ id: "m", audiences: [API], tlsClientAuth: { subjectDn } });
  }).join("\n");
}

describe("UID (userId) is not uid (uniqueIdentifier)", () => {
  it("over HTTPS: the CA's certificate with uniqueIdentifier=alice does not authenticate the client configured UID=alice", async () => {
    expect(subjectOf("uid-unique")).toBe("O=Example\nuid=alice");
    expect(subjectOf("uid-user")).toBe("O=Example\nUID=alice");
    expect(await introspect("alice", certs["uid-user"]!)).toEqual({ status: 200, body: { active: false } });
    expect(await introspect("alice", certs["uid-unique"]!)).toMatchObject({ status: 401, body: { error: "invalid_client", error_description: "client_auth_failed" } });
  });

  it("every spelling of userId in the config matches userId only", () => {
    for (const dn of ["UID=alice,O=Example", "uid=alice,O=Example", "userId=alice,O=Example", "0.9.2342.19200300.100.1.1=alice,O=Example", "OID.0.9.2342.19200300.100.1.1=alice,o=Example"]) {
      expect([dn, matches("uid-user", dn)]).toEqual([dn, true]);
      expect([dn, matches("uid-unique", dn)]).toEqual([dn, false]);
    }
  });

  it("uniqueIdentifier is matched by its OID", () => {
    expect(matches("uid-unique", "0.9.2342.19200300.100.1.44=alice,O=Example")).toBe(true);
    expect(matches("uid-user", "0.9.2342.19200300.100.1.44=alice,O=Example")).toBe(false);
  });
});

describe("RFC 4514 §3: special characters in a configured value must be escaped", () => {
  it("refuses them unescaped, at config load, with the field's path", () => {
    for (const dn of ["CN=client;O=Example", "CN=client; O=Example", 'O="Example",CN=client', "CN=a<b", "CN=a>b", "CN=a\u0000b"]) {
      expect([dn, configIssues(dn)]).toEqual([dn, expect.stringMatching(/clients\[\d+\]\.tlsClientAuth\.subjectDn: not an RFC 4514 distinguished name \(unescaped/)]);
      expect(dnProblem(dn)).toMatch(/unescaped/);
    }
  });

  it("takes them escaped (backslash or hex pair), and then matches the literal value only", () => {
    for (const dn of ["CN=client\\;O=Example", "CN=client\\3BO=Example"]) {
      expect(configIssues(dn)).toBe("");
      expect(matches("semicolon", dn)).toBe(true);
    }
    expect(matches("quoted", 'CN=client,O=\\"Example\\"')).toBe(true);
    expect(matches("quoted", "CN=client,O=Example")).toBe(false);
    expect(dnProblem("CN=a=b")).toBeUndefined();
  });
});

describe("trailing spaces: escaped or not is decided left to right", () => {
  it('"CN=a\\\\ " is the value a\\ (the space is not escaped)', () => {
    expect(parseDn("CN=a\\\\ ")).toEqual(parseDn("CN=a\\\\"));
    expect(matches("backslash", "CN=a\\\\ ")).toBe(true);
    expect(matches("backslash-space", "CN=a\\\\ ")).toBe(false);
  });

  it('"CN=a\\\\\\ " is the value a\\ followed by an escaped space', () => {
    expect(matches("backslash-space", "CN=a\\\\\\ ")).toBe(true);
    expect(matches("backslash", "CN=a\\\\\\ ")).toBe(false);
    expect(parseDn("CN= a\\  ")).toEqual([[["cn", "a "]]]);
  });
});

describe("holds: what an attacker can put into a value stays in that value", () => {
  it("a newline or NUL inside a CN is printed escaped and is not a second RDN", () => {
    expect(subjectOf("newline")).toBe("CN=client-a\\0ACN=evil");
    for (const dn of ["CN=client-a", "CN=evil", "CN=evil,CN=client-a", "CN=client-a,CN=evil"]) expect(matches("newline", dn)).toBe(false);
    expect(matches("newline", "CN=client-a\\0ACN=evil")).toBe(true);
    for (const dn of ["CN=client-a", "CN=client-aevil"]) expect(matches("nul", dn)).toBe(false);
    expect(matches("nul", "CN=client-a\\00evil")).toBe(true);
  });

  it("a DN or an AVA embedded in a value does not add RDNs or attributes", () => {
    for (const dn of ["CN=client-a,O=Example", "CN=client-a,O=Example,O=Example"]) expect(matches("embedded", dn)).toBe(false);
    expect(matches("embedded", "CN=client-a\\,O=Example,O=Example")).toBe(true);
    for (const dn of ["CN=a+O=Example", "O=Example+CN=a", "CN=a,O=Example"]) expect(matches("plus", dn)).toBe(false);
    expect(matches("plus", "CN=a\\+O=Example")).toBe(true);
  });

  it("a multi-valued RDN is not two RDNs, and RDN order counts", () => {
    expect(matches("multi", "CN=client-a+O=Example,C=SE")).toBe(true);
    expect(matches("multi", "O=Example+CN=client-a,C=SE")).toBe(true);
    expect(matches("multi", "CN=client-a,O=Example,C=SE")).toBe(false);
    expect(matches("two", "CN=client-a+O=Example,C=SE")).toBe(false);
    expect(matches("two", "CN=client-a,O=Example,C=SE")).toBe(true);
    expect(matches("two", "C=SE,O=Example,CN=client-a")).toBe(false);
    expect(matches("reversed", "C=SE,O=Example,CN=client-a")).toBe(true);
    expect(matches("reversed", "CN=client-a,O=Example,C=SE")).toBe(false);
  });

  it("an unknown OID is not CN; a T61String is read as Latin-1, a UTF8String as UTF-8", () => {
    expect(matches("unknown-oid", "CN=client-a")).toBe(false);
    expect(matches("unknown-oid", "1.2.3.4=client-a")).toBe(true);
    expect(matches("utf8", "CN=caf\u00e9")).toBe(true);
    // cryptography writes the UTF-8 bytes into the T61String; OpenSSL reads T61 as Latin-1.
    expect(matches("t61", "CN=caf\u00e9")).toBe(false);
    expect(matches("utf8", "CN=CAF\u00c9")).toBe(false);
  });
});
