/**
 * A throw-away PKI for the mTLS tests, generated per run with the openssl CLI into an OS temp dir
 * (test keys only: nothing is committed, the directory is removed after the run): two CAs, a
 * server certificate for 127.0.0.1, client certificates with several subjects and SANs, an
 * expired one, and self-signed ones.
 */
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pem { cert: string; key: string; certFile: string; keyFile: string }

export interface Pki {
  dir: string;
  caFile: string;
  server: Pem;
  /** CN=client-a,O=Example,C=SE with DNS, URI, IP and email SANs; signed by the CA. */
  clientA: Pem;
  /** CN=client-b,O=Example,C=SE; signed by the CA. */
  clientB: Pem;
  /** Same subject and SANs as clientA, signed by another CA. */
  otherCa: Pem;
  /** Same subject and SANs as clientA, signed by the CA, expired in 2020. */
  expired: Pem;
  /** Self-signed certificates: s1 registered by x5c, s2 by its public key, s3 nowhere. */
  s1: Pem;
  s2: Pem;
  s3: Pem;
  remove(): void;
}

const A_SUBJECT = "/C=SE/O=Example/CN=client-a";
const A_SAN = "subjectAltName=DNS:client-a.example.com,URI:spiffe://example.org/client-a,IP:10.0.0.1,email:client-a@example.com";

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function pem(dir: string, name: string): Pem {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile, keyFile };
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "fedbridge-mtls-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const selfSigned = (name: string, subj: string, extra: string[] = []): void =>
    openssl(dir, ["req", "-x509", ...ec, "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", subj, ...extra]);
  selfSigned("ca", "/CN=fedbridge test client CA", ["-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign"]);
  selfSigned("ca2", "/CN=fedbridge other test CA", ["-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign"]);
  const issue = (name: string, subj: string, ca: string, san?: string): void => {
    openssl(dir, ["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
    writeFileSync(join(dir, `${name}.ext`), `${san ?? ""}\n`);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial",
      "-days", "2", "-sha256", "-out", `${name}.pem`, ...(san ? ["-extfile", `${name}.ext`] : [])]);
  };
  issue("server", "/CN=127.0.0.1", "ca", "subjectAltName=IP:127.0.0.1");
  issue("clientA", A_SUBJECT, "ca", A_SAN);
  issue("clientB", "/C=SE/O=Example/CN=client-b", "ca", "subjectAltName=DNS:client-b.example.com");
  issue("otherCa", A_SUBJECT, "ca2", A_SAN);
  // An expired certificate of the CA: `openssl ca` is the CLI that takes explicit dates.
  openssl(dir, ["req", ...ec, "-keyout", "expired.key", "-out", "expired.csr", "-subj", A_SUBJECT, "-addext", A_SAN]);
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(join(dir, "ca.cnf"), [
    "[ ca ]", "default_ca = d", "[ d ]", "database = index.txt", "new_certs_dir = .", "serial = serial", "default_md = sha256",
    "policy = p", "copy_extensions = copy", "unique_subject = no", "[ p ]", "countryName = optional", "organizationName = optional", "commonName = supplied", "",
  ].join("\n"));
  openssl(dir, ["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "expired.csr", "-out", "expired.pem",
    "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext", "-preserveDN"]);
  selfSigned("s1", "/CN=self-signed-one");
  selfSigned("s2", "/CN=self-signed-two");
  selfSigned("s3", "/CN=self-signed-three");
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    server: pem(dir, "server"),
    clientA: pem(dir, "clientA"),
    clientB: pem(dir, "clientB"),
    otherCa: pem(dir, "otherCa"),
    expired: pem(dir, "expired"),
    s1: pem(dir, "s1"),
    s2: pem(dir, "s2"),
    s3: pem(dir, "s3"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The public JWK of a certificate, with `x5c` (standard base64 DER) when asked. */
export function certJwk(p: Pem, withX5c: boolean): Record<string, unknown> {
  const cert = new X509Certificate(p.cert);
  const jwk = createPublicKey(p.cert).export({ format: "jwk" }) as Record<string, unknown>;
  return { ...jwk, ...(withX5c ? { x5c: [cert.raw.toString("base64")] } : {}) };
}

/** RFC 8705 §3.1 x5t#S256 computed here, independently of src/: SHA-256 over the DER, base64url. */
export function x5tS256(p: Pem): string {
  const der = execFileSync("openssl", ["x509", "-in", p.certFile, "-outform", "DER"]);
  return createHash("sha256").update(der).digest("base64url");
}
