// Cross-App Access: explain shows the ID-JAG the bridge would issue (nothing signed, nothing
// marked); the configuration refuses what cannot work; the TLS listener's files are checked.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { parse } from "yaml";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import type { TLSSocket } from "node:tls";
import { createHttpServer, listen, urlOf } from "../../src/http/server.js";
import { fetchTrusting, makeTestPki } from "./tls-ca.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { configIssues } from "../support/config-issues.js";
import { CLIENTS, signedAssertion, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";
import { C1_AT_CHAT, CHAT_API, ID_JAG, RAS_ISS, idpPatch, startIdpBridge } from "./support.js";

const ADMIN_TOKEN = "admin-token-for-tests-only-idjag-0123456789";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

describe("explain (POST /admin/idps/{id}/explain) with requested_token_type id-jag", () => {
  let bridge: TestBridge;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fedbridge-idjag-admin-"));
    bridge = await startIdpBridge((c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "file", directory: dir } };
    });
  });
  afterAll(async () => {
    await bridge.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const explain = (body: Record<string, unknown>) => bridge.http.post("/admin/idps/idp1/explain").set("Authorization", `Bearer ${ADMIN_TOKEN}`).send(body);

  it("reports each step and the grant's claims, and burns nothing", async () => {
    const token = toBase64Url(signedAssertion(bridge));
    const res = await explain({ subject_token: token, client_id: CLIENTS.c1.id, audience: [RAS_ISS], requested_token_type: ID_JAG });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.ok).toBe(true);
    const steps = res.body.steps.map((s: { step: string }) => s.step);
    expect(steps).toEqual(expect.arrayContaining(["resolve_id_jag_audience", "verify_subject_token", "map_subject", "decide_scope", "decide_id_jag_subject", "decide_lifetime", "consume_tokens"]));
    expect(steps).not.toContain("issue_id_jag");
    expect(res.body.steps.find((s: { step: string }) => s.step === "resolve_id_jag_audience").detail).toEqual({
      resource_authorization_server: "chat", audience: RAS_ISS, client_id: C1_AT_CHAT.id, resources: [CHAT_API],
    });
    expect(res.body.claims).toMatchObject({ iss: BRIDGE_ISSUER, sub: "alice@example.com", aud: RAS_ISS, client_id: C1_AT_CHAT.id, resource: CHAT_API, scope: "chat.read" });
    expect(res.body.claims.jti).toBeUndefined();
    // Nothing was marked used: the real exchange still succeeds.
    const real = await bridge.http.post("/token").type("form").auth(CLIENTS.c1.id, CLIENTS.c1.secret).send(new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", requested_token_type: ID_JAG, subject_token: token,
      subject_token_type: "urn:ietf:params:oauth:token-type:saml2", audience: RAS_ISS,
    }).toString());
    expect(real.status, JSON.stringify(real.body)).toBe(200);
  });

  it("names the failing step", async () => {
    const res = await explain({ subject_token: toBase64Url(signedAssertion(bridge)), client_id: CLIENTS.imp.id, audience: [RAS_ISS], requested_token_type: ID_JAG });
    expect(res.body.ok).toBe(false);
    expect(res.body.steps.at(-1)).toEqual({ step: "resolve_id_jag_audience", ok: false, reason: "id_jag_audience_unknown" });
  });
});

describe("configuration", () => {
  const issues = (patch: (c: Record<string, any>) => void): string[] => configIssues(idpPatch, patch);

  it("accepts the test set-up", () => {
    expect(issues(() => undefined)).toEqual([]);
  });

  it("refuses an unknown client, a duplicate, defaults outside scopes, the bridge's own issuer, duplicate issuers", () => {
    expect(issues((c) => { c.resourceAuthorizationServers[0].clients[0].client = "nobody"; }).join("\n")).toContain('unknown client "nobody"');
    expect(issues((c) => { c.resourceAuthorizationServers[0].clients.push({ ...c.resourceAuthorizationServers[0].clients[1] }); }).join("\n")).toContain("listed twice");
    expect(issues((c) => { c.resourceAuthorizationServers[0].clients[1].defaultScopes = ["chat.history"]; }).join("\n")).toContain("is not in this entry's scopes");
    expect(issues((c) => { c.resourceAuthorizationServers[0].issuer = BRIDGE_ISSUER; }).join("\n")).toContain("must differ from the bridge's own issuer");
    expect(issues((c) => { c.resourceAuthorizationServers.push({ ...c.resourceAuthorizationServers[0], id: "chat2" }); }).join("\n")).toContain("same issuer as another");
    expect(issues((c) => { c.resourceAuthorizationServers[0].grantTtlSeconds = 7200; }).length).toBeGreaterThan(0);
    expect(issues((c) => { c.jwtIssuers[0].idJag = { maxLifetimeSeconds: 7200 }; }).length).toBeGreaterThan(0);
  });

  it("server.tls: an unreadable file is a ConfigError naming the field", () => {
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-tls-missing-"));
    try {
      const make = () => createHttpServer(() => undefined, { headersTimeoutMs: 5000, requestTimeoutMs: 10000, keepAliveTimeoutMs: 5000, tls: { certFile: "none.crt", keyFile: "none.key" } }, dir);
      expect(make).toThrow(ConfigError);
      try {
        make();
      } catch (e) {
        expect((e as ConfigError).issues[0]!.path).toBe("server.tls.certFile");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("docs/cross-app-access.md", () => {
  const page = readFileSync(join(import.meta.dirname, "..", "..", "docs", "cross-app-access.md"), "utf8");
  const yamlBlocks = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, any>);

  it("its complete example is a valid configuration", () => {
    const complete = yamlBlocks.find((b) => b.issuer !== undefined && b.resourceAuthorizationServers !== undefined);
    expect(complete).toBeDefined();
    // The page leaves the secret hash to `npm run hash-secret`.
    expect(complete!.clients[0].secretHash).toBe("sha256:…");
    complete!.clients[0].secretHash = hash("wiki-secret");
    expect(() => parseConfig(complete)).not.toThrow();
  });

  it("its resource-side and TLS fragments are valid in a configuration", () => {
    const resource = yamlBlocks.find((b) => b.jwtIssuers?.[0]?.idJag !== undefined)!;
    const tls = yamlBlocks.find((b) => b.server?.tls !== undefined)!;
    resource.clients[0].secretHash = hash("f53f-secret");
    const config = {
      issuer: "https://as.chat.example/", saml: { entityId: "https://as.chat.example/saml" },
      signing: { keys: [{ kid: "k", alg: "ES256", privateKeyFile: "k.pem" }] },
      audiences: [{ id: "https://api.chat.example/", scopes: ["chat.read", "chat.history"] }],
      ...resource, ...tls,
    };
    expect(() => parseConfig(config)).not.toThrow();
  });
});

describe("server.tls listener", () => {
  it("serves HTTPS with the configured certificate, requesting (not requiring) a client certificate with clientCaFile", async () => {
    const pki = makeTestPki();
    const server = createHttpServer((req, res) => {
      res.end(JSON.stringify({ tls: (req.socket as TLSSocket).encrypted === true, peer: (req.socket as TLSSocket).getPeerCertificate?.()?.subject ?? null }));
    }, { headersTimeoutMs: 5000, requestTimeoutMs: 10000, keepAliveTimeoutMs: 500, tls: { certFile: "server.crt", keyFile: "server.key", clientCaFile: "ca.crt" } }, pki.dir);
    try {
      const addr = await listen(server, 0, "127.0.0.1");
      const res = await fetchTrusting(pki.caCert)(`${urlOf(addr, "https").replace("127.0.0.1", "localhost")}/`);
      expect(res.status).toBe(200);
      expect((await res.json()).tls).toBe(true);
      // Plain HTTP on the TLS port gets no HTTP answer.
      await expect(fetch(`http://127.0.0.1:${addr.port}/`)).rejects.toThrow();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      pki.dispose();
    }
  });
});
