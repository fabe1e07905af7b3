// A TEST-ONLY certificate authority and a server certificate for localhost / 127.0.0.1, made with
// openssl at test time under a fresh temp dir (never committed), for the bridge's TLS listener.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  dispose(): void;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), "fedbridge-tls-"));
  const f = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe", timeout: 30_000 });
  };
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"),
    "-days", "2", "-subj", "/O=fedbridge TEST ONLY/CN=fedbridge test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("server.key"), "-out", f("server.csr"),
    "-subj", "/O=fedbridge TEST ONLY/CN=localhost");
  writeFileSync(f("server.ext"), [
    "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ].join("\n"));
  openssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-set_serial", "0x1001",
    "-out", f("server.crt"), "-days", "2", "-extfile", f("server.ext"));
  return { dir, caCert: f("ca.crt"), serverCert: f("server.crt"), serverKey: f("server.key"), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A WHATWG-fetch-shaped function over node:https that trusts only `caFile` (Node's global fetch
 * takes no CA option): what the MCP SDK's `fetchFn` option accepts. Redirects are not followed.
 */
export function fetchTrusting(caFile: string): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const ca = readFileSync(caFile);
  return (url, init = {}) => new Promise((resolve, reject) => {
    const u = new URL(String(url));
    if (u.protocol !== "https:") {
      reject(new Error("fetchTrusting: https only"));
      return;
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const req = https.request(u, {
      method: init.method ?? "GET", ca, headers, timeout: 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode!, headers: h }));
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}
