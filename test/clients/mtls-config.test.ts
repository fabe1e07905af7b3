/**
 * Configuration of mutual-TLS clients (RFC 8705 §2.1.2 exactly one match value, the TLS listener
 * they need, certificateBoundTokens) and the RFC 4514 distinguished-name comparison of
 * tls_client_auth_subject_dn (src/clients/distinguished-name.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { certificateSubject, dnProblem, parseDn, sameDn } from "../../src/clients/distinguished-name.js";
import { sanEntries } from "../../src/clients/mtls.js";
import { configIssues } from "../support/config-issues.js";
import { API, baseConfig, startBridge } from "../support/harness.js";
import { certJwk, makePki, type Pki } from "./mtls-pki.js";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { createHttpServer, mtlsInUse } from "../../src/http/server.js";

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki.remove());

const TLS = (): Record<string, string> => ({ certFile: "/x/server.pem", keyFile: "/x/server.key", clientCaFile: "/x/ca.pem" });

function issues(client: Record<string, unknown>, server?: Record<string, unknown>): string {
  return configIssues((c) => {
    if (server) c.server = server;
    c.clients.push({ id: "m", audiences: [API], ...client });
  }).join("\n");
}

describe("mTLS client configuration", () => {
  it("takes each single match value", () => {
    for (const m of [{ subjectDn: "CN=a,O=b" }, { sanDns: "a.example.com" }, { sanUri: "spiffe://x/y" }, { sanIp: "::1" }, { sanEmail: "a@b.c" }]) {
      expect(issues({ tlsClientAuth: m }, { tls: TLS() })).toBe("");
    }
  });

  it("needs exactly one match value (RFC 8705 §2.1.2)", () => {
    expect(issues({ tlsClientAuth: {} }, { tls: TLS() })).toMatch(/exactly one of subjectDn, sanDns, sanUri, sanIp, sanEmail/);
    expect(issues({ tlsClientAuth: { subjectDn: "CN=a", sanDns: "a.example.com" } }, { tls: TLS() })).toMatch(/exactly one of subjectDn/);
  });

  it("refuses malformed match values", () => {
    expect(issues({ tlsClientAuth: { subjectDn: "not a dn" } }, { tls: TLS() })).toMatch(/subjectDn: not an RFC 4514/);
    expect(issues({ tlsClientAuth: { subjectDn: "CN=a\\" } }, { tls: TLS() })).toMatch(/subjectDn/);
    expect(issues({ tlsClientAuth: { subjectDn: "CN=#0403" } }, { tls: TLS() })).toMatch(/subjectDn/);
    expect(issues({ tlsClientAuth: { sanDns: "*.example.com" } }, { tls: TLS() })).toMatch(/sanDns/);
    expect(issues({ tlsClientAuth: { sanIp: "10.0.0" } }, { tls: TLS() })).toMatch(/sanIp/);
    expect(issues({ tlsClientAuth: { sanEmail: "nobody" } }, { tls: TLS() })).toMatch(/sanEmail/);
    expect(issues({ tlsClientAuth: { sanUri: "not a uri" } }, { tls: TLS() })).toMatch(/sanUri/);
  });

  it("needs the bridge to terminate TLS: tls_client_auth with a clientCaFile, self-signed with server.tls", () => {
    expect(issues({ tlsClientAuth: { sanDns: "a.example.com" } })).toMatch(/clients\[4\]\.tlsClientAuth: needs server.tls with a clientCaFile/);
    const { clientCaFile: _, ...noCa } = TLS();
    expect(issues({ tlsClientAuth: { sanDns: "a.example.com" } }, { tls: noCa })).toMatch(/needs server.tls with a clientCaFile/);
    const ss = { selfSignedTlsClientAuth: { jwks: { keys: [{ kty: "EC" }] } } };
    expect(issues(ss)).toMatch(/clients\[4\]\.selfSignedTlsClientAuth: needs server.tls/);
    expect(issues(ss, { tls: noCa })).toBe("");
  });

  it("allows one authentication method per client", () => {
    expect(issues({ tlsClientAuth: { sanDns: "a.example.com" }, secretHash: `sha256:${"A".repeat(43)}` }, { tls: TLS() }))
      .toMatch(/exactly one of secretHash, privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth/);
    expect(issues({ tlsClientAuth: { sanDns: "a.example.com" }, selfSignedTlsClientAuth: { jwks: { keys: [{}] } } }, { tls: TLS() }))
      .toMatch(/exactly one of secretHash/);
  });

  it("binds tokens to certificates only for an mTLS client", () => {
    expect(issues({ secretHash: `sha256:${"A".repeat(43)}`, certificateBoundTokens: true })).toMatch(/certificateBoundTokens: only for a tlsClientAuth or selfSignedTlsClientAuth client/);
    expect(issues({ tlsClientAuth: { sanDns: "a.example.com" }, certificateBoundTokens: true }, { tls: TLS() })).toBe("");
  });

  it("refuses at start-up a registered x5c that does not hold the JWK's key, and a private key", async () => {
    const tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile };
    const start = (keys: unknown[]): Promise<unknown> => startBridge({
      patch: (c) => {
        c.server = { tls };
        c.clients.push({ id: "ss", audiences: [API], selfSignedTlsClientAuth: { jwks: { keys } } });
      },
    }).then((b) => b.close());
    const mixed = { ...certJwk(pki.s1, false), x5c: (certJwk(pki.s2, true).x5c as string[]) };
    await expect(start([mixed])).rejects.toThrow(/x5c\[0\] does not hold this JWK's public key/);
    await expect(start([{ ...certJwk(pki.s1, true), x5c: ["not base64!"] }])).rejects.toThrow(/x5c must be a non-empty array/);
    await expect(start([{ ...certJwk(pki.s1, true), x5c: [] }])).rejects.toThrow(/x5c must be a non-empty array/);
    const withPrivate = { ...certJwk(pki.s1, false), d: "AAAA" };
    await expect(start([withPrivate])).rejects.toThrow(/private key material/);
    await expect(start([certJwk(pki.s1, true), certJwk(pki.s2, false)])).resolves.toBeUndefined();
  });
});

describe("the TLS listener (src/http/server.ts)", () => {
  /** A bridge with one self-signed client and server.tls without clientCaFile; POST /introspect with s1. */
  async function introspectOver(request: "auto" | false): Promise<{ status: number; reason: string | undefined }> {
    const tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile };
    const bridge = await startBridge({
      patch: (c) => {
        c.server = { tls };
        c.clients.push({ id: "ss", audiences: [API], introspect: true, selfSignedTlsClientAuth: { jwks: { keys: [certJwk(pki.s1, true)] } } });
      },
    });
    const config = parseConfig((() => {
      const c = baseConfig();
      c.server = { tls };
      c.clients.push({ id: "ss", audiences: [API], selfSignedTlsClientAuth: { jwks: { keys: [certJwk(pki.s1, true)] } } });
      return c;
    })());
    const server = createHttpServer(bridge.app, {
      ...config.server, requestClientCertificate: request === "auto" ? mtlsInUse(config.clients) : false,
    });
    server.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      return await new Promise((resolve, reject) => {
        const body = "token=x&client_id=ss";
        const req = httpsRequest({
          host: "127.0.0.1", port: (server.address() as AddressInfo).port, path: "/introspect", method: "POST", agent: false,
          ca: readFileSync(pki.caFile, "utf8"), cert: pki.s1.cert, key: pki.s1.key,
          headers: { "content-type": "application/x-www-form-urlencoded", "content-length": body.length },
        }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, reason: JSON.parse(Buffer.concat(chunks).toString()).error_description }));
        });
        req.on("error", reject);
        req.end(body);
      });
    } finally {
      server.closeAllConnections();
      server.close();
      await bridge.close();
    }
  }

  it("asks for a client certificate without a clientCaFile once some client uses mTLS", async () => {
    expect(await introspectOver("auto")).toEqual({ status: 200, reason: undefined });
  });

  it("without that, a client's certificate is never sent, hence never seen", async () => {
    expect(await introspectOver(false)).toEqual({ status: 401, reason: "client_certificate_missing" });
  });
});

describe("subject DN comparison (RFC 4514)", () => {
  const subjectOf = (dn: string): ReturnType<typeof certificateSubject> => certificateSubject(dn);

  it("matches the certificate's subject RDN by RDN, most specific first", () => {
    const cert = new X509Certificate(pki.clientA.cert);
    const got = certificateSubject(cert.subject)!;
    for (const ok of ["CN=client-a,O=Example,C=SE", "cn=client-a, o=Example , c=SE", "2.5.4.3=client-a,organizationName=Example,C=SE", "commonName=client-a,O=Example,countryName=SE"]) {
      expect(sameDn(got, parseDn(ok))).toBe(true);
    }
    for (const bad of ["C=SE,O=Example,CN=client-a", "CN=Client-A,O=Example,C=SE", "CN=client-a,O=Example", "CN=client-a,O=Example,C=SE,DC=x", "CN=client-a+OU=x,O=Example,C=SE", "CN=client-b,O=Example,C=SE"]) {
      expect(sameDn(got, parseDn(bad))).toBe(false);
    }
  });

  it("unescapes special characters and hex pairs on both sides; multi-valued RDNs in any order", () => {
    const node = subjectOf("C=US\nO=Acme\\, Inc\nOU=a + OU=b\nCN=client one")!;
    expect(sameDn(node, parseDn("CN=client one,OU=b+OU=a,O=Acme\\, Inc,C=US"))).toBe(true);
    expect(sameDn(node, parseDn("CN=client one,OU=a+OU=b,O=Acme\\2C Inc,C=US"))).toBe(true);
    expect(sameDn(node, parseDn("CN=client one,OU=a,OU=b,O=Acme\\, Inc,C=US"))).toBe(false);
    expect(sameDn(subjectOf("CN=J\\C3\\BCrgen")!, parseDn("CN=Jürgen"))).toBe(true);
    // A comma in a value is one value, not two RDNs.
    expect(sameDn(subjectOf("CN=a\\,O=b")!, parseDn("CN=a,O=b"))).toBe(false);
  });

  it("refuses what is not a DN", () => {
    for (const bad of ["", "CN", "=a", "CN=a,,O=b", "C N=a", "CN=a\\", "CN=#04024869"]) expect(dnProblem(bad)).toBeDefined();
    expect(dnProblem("CN=a,O=b")).toBeUndefined();
  });
});

describe("SAN parsing", () => {
  it("reads Node's subjectAltName, quoted values included", () => {
    expect(sanEntries("DNS:a.example, URI:https://x/y, IP Address:10.0.0.1, email:a@b.c")).toEqual([
      ["DNS", "a.example"], ["URI", "https://x/y"], ["IP Address", "10.0.0.1"], ["email", "a@b.c"],
    ]);
    expect(sanEntries("URI:\"https://x/a, DNS:evil.example\", DNS:b.example")).toEqual([["URI", "https://x/a, DNS:evil.example"], ["DNS", "b.example"]]);
    expect(sanEntries(undefined)).toEqual([]);
    expect(sanEntries("garbage")).toEqual([]);
  });
});
