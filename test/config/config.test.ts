/**
 * Configuration: strict zod validation, cross-checks, files resolved at start-up, and a process
 * that exits non-zero naming the path of every bad field. The config reference (docs/configuration.md)
 * is generated from the same schema, and this suite fails when the two drift apart.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError, loadConfigFile } from "../../src/config/load.js";
import { configReferenceMarkdown } from "../../src/config/reference.js";
import { REASONS } from "../../src/oauth/errors.js";
import { parseIssues } from "../support/config-issues.js";
import { baseConfig, startBridge } from "../support/harness.js";

const ROOT = resolve(import.meta.dirname, "..", "..");

function patched(patch: (c: Record<string, any>) => void): Record<string, any> {
  const c = baseConfig();
  patch(c);
  return c;
}

describe("config schema", () => {
  it("accepts the bundled example config", () => {
    const { config } = loadConfigFile(join(ROOT, "config", "fedbridge.example.yaml"));
    expect(config.clients.map((c) => c.id)).toEqual(["legacy-app", "gateway"]);
    expect(config.replay.store).toBe("memory");
  });

  it("accepts the test config", () => {
    expect(parseIssues(baseConfig())).toEqual([]);
  });

  it("refuses an unknown key anywhere (a typo is an error)", () => {
    expect(parseIssues(patched((c) => (c.isuer = "x")))).toEqual([expect.stringMatching(/^\(root\): .*isuer/)]);
    expect(parseIssues(patched((c) => (c.clients[0].scope = ["read"])))).toEqual([expect.stringMatching(/^clients\[0\]: .*scope/)]);
    expect(parseIssues(patched((c) => (c.samlIdps[0].mapping.claims.role.mutli = true))))
      .toEqual([expect.stringMatching(/^samlIdps\[0\]\.mapping\.claims\.role: .*mutli/)]);
  });

  it("names the path of a wrongly typed field", () => {
    expect(parseIssues(patched((c) => (c.tokens.ttlSeconds = "300")))).toEqual([expect.stringMatching(/^tokens\.ttlSeconds: /)]);
    expect(parseIssues(patched((c) => (c.issuer = "not a url")))).toEqual([expect.stringMatching(/^issuer: /)]);
    expect(parseIssues(patched((c) => (c.clients[1].secretHash = "plaintext")))).toEqual([expect.stringMatching(/^clients\[1\]\.secretHash: /)]);
  });

  it("reports every bad field, not just the first", () => {
    const issues = parseIssues(patched((c) => {
      c.tokens.clockSkewSeconds = -1;
      c.audiences[0].scopes = "read";
    }));
    expect(issues).toHaveLength(2);
  });

  it("refuses duplicate ids", () => {
    expect(parseIssues(patched((c) => c.clients.push({ ...c.clients[0] }))))
      .toContain('clients[4].id: duplicate id "c1"');
    expect(parseIssues(patched((c) => c.audiences.push({ ...c.audiences[0] }))))
      .toContain('audiences[2].id: duplicate id "https://api.example.com"');
    expect(parseIssues(patched((c) => c.samlIdps.push({ ...c.samlIdps[0] }))))
      .toContain('samlIdps[3].id: duplicate id "idp1"');
    expect(parseIssues(patched((c) => (c.signing.keys[1].kid = "test-rs"))))
      .toContain('signing.keys[1].kid: duplicate kid "test-rs"');
  });

  it("refuses references that do not resolve", () => {
    expect(parseIssues(patched((c) => c.clients[0].audiences.push("https://nowhere"))))
      .toContain('clients[0].audiences[2]: unknown audience "https://nowhere"');
    expect(parseIssues(patched((c) => c.clients[0].idps.push("ghost")))).toContain('clients[0].idps[3]: unknown SAML IdP or JWT issuer "ghost"');
    expect(parseIssues(patched((c) => (c.clients[2].defaultAudience = "https://other.example.com"))))
      .toContain("clients[2].defaultAudience: must be one of the client's audiences");
    expect(parseIssues(patched((c) => c.audiences[1].defaultScopes.push("write"))))
      .toContain(`audiences[1].defaultScopes[1]: "write" is not in this audience's scopes`);
  });

  it("refuses a saml2-bearer client without a default audience (RFC 7522 has no audience parameter)", () => {
    expect(parseIssues(patched((c) => (c.clients[2].grantTypes = ["urn:ietf:params:oauth:grant-type:saml2-bearer"], delete c.clients[2].defaultAudience))))
      .toContain("clients[2].defaultAudience: required for the saml2-bearer grant (RFC 7522 has no audience parameter)");
  });

  it("refuses an audience whose mayAct names no client", () => {
    expect(parseIssues(patched((c) => (c.audiences[0].mayAct = "nobody")))).toContain('audiences[0].mayAct: unknown client "nobody"');
  });

  it("refuses a JWT issuer that claims the bridge's own issuer", () => {
    expect(parseIssues(patched((c) => c.jwtIssuers = [{ id: "me", issuer: c.issuer, jwksFile: "jwks/oidc.jwks.json", audiences: ["x"] }])))
      .toContain("jwtIssuers[0].issuer: must differ from the bridge's own issuer");
  });

  it("refuses a redis store without a URL", () => {
    expect(parseIssues(patched((c) => (c.replay = { store: "redis" })))).toContain("replay.redisUrl: required when store is redis");
  });

  it("refuses signing keys without a private key", () => {
    expect(parseIssues(patched((c) => (c.signing.keys = [{ kid: "k", alg: "RS256", publicKeyFile: "x.pem" }]))))
      .toContain("signing.keys: at least one key needs a privateKeyFile");
  });

  it.each(["sub", "act", "may_act", "scope", "client_id", "iss", "aud", "exp", "jti", "__proto__", "constructor"])(
    "refuses a mapping onto the reserved claim %s",
    (claim) => {
      const c = baseConfig();
      Object.defineProperty(c.samlIdps[0].mapping.claims, claim, { value: { from: { name: "x" } }, enumerable: true });
      expect(parseIssues(c)).toEqual([
        `samlIdps[0].mapping.claims.${claim}: ${claim.startsWith("__") || claim === "constructor" ? "reserved key name" : "reserved claim: only the bridge sets it"}`,
      ]);
    },
  );

  it("refuses clock skew that would switch time checks off or be absurd", () => {
    expect(parseIssues(patched((c) => (c.tokens.clockSkewSeconds = -1)))[0]).toMatch(/^tokens\.clockSkewSeconds: /);
    expect(parseIssues(patched((c) => (c.tokens.clockSkewSeconds = 3600)))[0]).toMatch(/^tokens\.clockSkewSeconds: /);
  });

  it("a YAML __proto__ key neither pollutes nor passes", () => {
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-cfg-"));
    const file = join(dir, "c.yaml");
    writeFileSync(file, `${stringify(baseConfig())}\n__proto__:\n  polluted: true\n`);
    expect(() => loadConfigFile(file)).toThrow(ConfigError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("files named by the config", () => {
  const fails = async (patch: (c: Record<string, any>) => void): Promise<string[]> => {
    try {
      await startBridge({ patch });
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    throw new Error("bridge started");
  };

  it("names a missing metadata file", async () => {
    expect(await fails((c) => (c.samlIdps[1].metadataFile = "metadata/missing.xml")))
      .toEqual([expect.stringMatching(/^samlIdps\[1\]\.metadataFile: cannot read/)]);
  });

  it("refuses metadata whose signing key is under 2048 bits", async () => {
    expect(await fails((c) => (c.samlIdps[1].metadataFile = "metadata/idp-weak.xml")))
      .toEqual([expect.stringMatching(/^samlIdps\[1\]\.metadataFile: RSA signing key of 1024 bits/)]);
  });

  it("refuses metadata that is not metadata", async () => {
    expect(await fails((c) => (c.samlIdps[1].metadataFile = "keys/README.md")))
      .toEqual([expect.stringMatching(/^samlIdps\[1\]\.metadataFile: /)]);
  });

  it("refuses an entityId the metadata does not hold", async () => {
    expect(await fails((c) => (c.samlIdps[1].entityId = "https://idp2.test/other")))
      .toEqual([expect.stringMatching(/^samlIdps\[1\]\.metadataFile: no IdP entity/)]);
  });

  it("refuses an IdP whose entityID is the bridge's own issuer", async () => {
    expect(await fails((c) => (c.issuer = "https://idp2.test/idp", c.tokenEndpoint = "https://idp2.test/idp/token")))
      .toEqual([expect.stringMatching(/^samlIdps\[1\]\.metadataFile: entityID must differ from the bridge's own issuer/)]);
  });

  it("refuses two IdPs with one entityID (the Issuer must select one IdP)", async () => {
    expect(await fails((c) => c.samlIdps.push({ id: "idp1-again", metadataFile: "metadata/idp1.xml" })))
      .toEqual(["samlIdps[3].metadataFile: entityID https://idp1.test/idp is also samlIdps[0]'s"]);
  });

  it("names a missing signing key file", async () => {
    expect(await fails((c) => (c.signing.keys[0].privateKeyFile = "keys/nope.key")))
      .toEqual([expect.stringMatching(/^signing\.keys\[0\]\.privateKeyFile: cannot read/)]);
  });

  it("refuses a key that does not fit its alg", async () => {
    expect(await fails((c) => (c.signing.keys[0].alg = "ES256")))
      .toEqual([expect.stringMatching(/^signing\.keys\[0\]\.alg: ES256 needs an EC key/)]);
  });
});

describe("start-up", () => {
  it("exits non-zero and prints the path of each bad field", () => {
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-cfg-"));
    const file = join(dir, "bad.yaml");
    const c = baseConfig();
    c.tokens.ttlSeconds = 0;
    c.clients[0].idps.push("ghost");
    writeFileSync(file, stringify(c));
    const run = spawnSync(process.execPath, [join(ROOT, "dist", "src", "main.js")], {
      env: { ...process.env, FEDBRIDGE_CONFIG: file, PORT: "0" },
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("tokens.ttlSeconds: ");
    expect(run.stderr).toContain('clients[0].idps[3]: unknown SAML IdP or JWT issuer "ghost"');
  });
});

describe("docs (the README links to them)", () => {
  it("lists every reason code the bridge can answer with in the reason-code table of docs/api.md", () => {
    const api = readFileSync(join(ROOT, "docs", "api.md"), "utf8");
    // The table under "## Errors and reason codes", up to the next heading.
    const section = /\n## Errors and reason codes\n([\s\S]*?)(?=\n## )/.exec(api);
    expect(section, "docs/api.md: ## Errors and reason codes").not.toBeNull();
    const rows = (section?.[1] ?? "").split("\n").filter((l) => l.startsWith("|")).join("\n");
    const missing = Object.keys(REASONS).filter((r) => !rows.includes(`\`${r}\``));
    expect(missing).toEqual([]);
  });

  it("documents every config field in docs/configuration.md, exactly as the schema says (npm run docs)", () => {
    const page = readFileSync(join(ROOT, "docs", "configuration.md"), "utf8");
    const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(page);
    expect(m, "docs/configuration.md config reference markers").not.toBeNull();
    expect(m![1]).toBe(configReferenceMarkdown());
  });
});
