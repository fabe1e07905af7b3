/**
 * One `sub`, one person (src/policy/subject-namespace.ts): sources whose subjects can reach one
 * audience must have distinct subject namespaces (subjectPrefix values of which neither is a
 * prefix of the other), unless they are declared to be one user directory with one prefix.
 * Refused at start-up with a message naming the path, refused at admin onboarding with a reason,
 * and shown by explain.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { createBridge } from "../../src/bootstrap.js";
import { subjectNamespaceProblems, compatibleNamespaces, type NamespaceSource } from "../../src/policy/subject-namespace.js";
import { API, OTHER_API, baseConfig, decodeJwt, exchange, startBridge, type TestBridge } from "../support/harness.js";
import { FIXTURES_DIR, IDP1_CERT } from "../support/constants.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { metadataFor } from "../support/metadata-builder.js";
import { withJwtIssuers } from "../support/jwt-fixtures.js";

const src = (id: string, subjectPrefix?: string, userDirectory?: string): NamespaceSource => ({ id, path: ["samlIdps", id.length], subjectPrefix, userDirectory });
const client = (id: string, audiences: string[], idps: string[]) => ({ id, audiences, idps });

describe("compatibleNamespaces", () => {
  it.each([
    ["no prefixes", undefined, undefined, false],
    ["one prefix, the other none (\"\" is a prefix of everything)", "a:", undefined, false],
    ["the same prefix", "a:", "a:", false],
    ["a prefix of the other (a: / a:b:)", "a:", "a:b:", false],
    ["a prefix of the other without separators (corp / corporate)", "corp", "corporate", false],
    ["distinct prefixes", "a:", "b:", true],
    ["distinct prefixes sharing a start (ab: / ac:)", "ab:", "ac:", true],
  ])("%s", (_n, pa, pb, ok) => {
    expect(compatibleNamespaces(src("x", pa), src("y", pb))).toBe(ok);
    expect(compatibleNamespaces(src("y", pb), src("x", pa))).toBe(ok);
  });

  it.each([
    ["one directory, no prefixes", undefined, undefined, true],
    ["one directory, one prefix", "corp:", "corp:", true],
    ["one directory, overlapping prefixes (corp: / none)", "corp:", undefined, false],
    ["one directory, overlapping prefixes (a: / a:b:)", "a:", "a:b:", false],
    ["one directory, distinct prefixes", "a:", "b:", true],
  ])("%s", (_n, pa, pb, ok) => {
    expect(compatibleNamespaces(src("x", pa, "corp"), src("y", pb, "corp"))).toBe(ok);
  });

  it("two different directories are two namespaces", () => {
    expect(compatibleNamespaces(src("x", undefined, "corp"), src("y", undefined, "partner"))).toBe(false);
    expect(compatibleNamespaces(src("x", undefined, "corp"), src("y"))).toBe(false);
  });
});

describe("subjectNamespaceProblems", () => {
  const sources = [src("a"), src("b"), src("c", "c:")];

  it("finds two sources reaching one audience through one client, or through two clients", () => {
    expect(subjectNamespaceProblems([client("one", ["api"], ["a", "b"])], sources)).toHaveLength(1);
    expect(subjectNamespaceProblems([client("one", ["api"], ["a"]), client("two", ["api", "x"], ["b"])], sources)).toHaveLength(1);
  });

  it("accepts sources that never reach one audience", () => {
    expect(subjectNamespaceProblems([client("one", ["api"], ["a"]), client("two", ["other"], ["b"])], sources)).toEqual([]);
  });

  it("reports each pair once, naming the audience, the clients and both sources", () => {
    const problems = subjectNamespaceProblems([client("one", ["api", "other"], ["a", "b"]), client("two", ["api"], ["b", "a"])], sources);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toContain('"api"');
    expect(problems[0]!.message).toContain('("a" through clients "one", "two"; "b" through clients "one", "two")');
    expect(problems[0]!.message).toMatch(/"a" \(no subjectPrefix\).*"b" \(no subjectPrefix\)/);
  });

  it("a source with a prefix still collides with one without", () => {
    expect(subjectNamespaceProblems([client("one", ["api"], ["a", "c"])], sources)).toHaveLength(1);
  });

  it("ignores ids that are not sources (admin-managed IdPs are checked at onboarding)", () => {
    expect(subjectNamespaceProblems([client("one", ["api"], ["a", "later"])], sources)).toEqual([]);
  });

  it("only: reports just the pairs involving that source", () => {
    const all = [client("one", ["api"], ["a", "b", "c"])];
    expect(subjectNamespaceProblems(all, sources)).toHaveLength(3);
    expect(subjectNamespaceProblems(all, sources, "c")).toHaveLength(2);
  });
});

// ---- start-up ---------------------------------------------------------------------------------------------

/** The harness config without its blanket test directory: the bridge's default. */
function defaultConfig(): Record<string, any> {
  const c = baseConfig();
  delete c.userDirectory;
  return c;
}
const issuesOf = (raw: unknown): { path: string; message: string }[] => {
  try {
    parseConfig(raw);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return [...e.issues];
  }
};

describe("start-up refuses colliding sources, naming the path", () => {
  it("two (three) IdPs with no prefix reaching one audience", () => {
    const issues = issuesOf(defaultConfig());
    expect(issues.map((i) => i.path)).toEqual(["samlIdps[1].mapping", "samlIdps[2].mapping", "samlIdps[2].mapping"]);
    expect(issues[0]!.message).toBe(
      'subjects from samlIdps[0] "idp1" (no subjectPrefix) and samlIdps[1] "idp2" (no subjectPrefix) both reach audience ' +
      '"https://api.example.com" ("idp1" through clients "c1", "c2", "imp"; "idp2" through clients "c1", "idp2only"): ' +
      "one identifier asserted by both would become the same `sub`. " +
      "Give each source a mapping.subjectPrefix that is not a prefix of the other's, or, if both assert identifiers from " +
      "one user directory, declare it (the same mapping.userDirectory, or the top-level userDirectory) and use the same subjectPrefix",
    );
  });

  it("a SAML IdP and an OIDC issuer asserting the same identifier", () => {
    const c = defaultConfig();
    c.samlIdps = [c.samlIdps[0]];
    for (const cl of c.clients) cl.idps = cl.idps.filter((i: string) => i === "idp1");
    withJwtIssuers(c);
    c.clients.find((x: any) => x.id === "jwt-app").idps = ["corp", "idp1"];
    const issues = issuesOf(c);
    expect(issues.map((i) => i.path)).toContain("jwtIssuers[0].mapping");
    expect(issues.find((i) => i.path === "jwtIssuers[0].mapping")!.message).toMatch(/samlIdps\[0\] "idp1".*jwtIssuers\[0\] "corp"/);
  });

  it("prefix-of-prefix: a: and a:b: are one namespace", () => {
    const c = defaultConfig();
    c.samlIdps[0].mapping.subjectPrefix = "a:";
    c.samlIdps[1].mapping.subjectPrefix = "a:b:";
    c.samlIdps[2].mapping.subjectPrefix = "ec:";
    expect(issuesOf(c).map((i) => i.path)).toEqual(["samlIdps[1].mapping"]);
  });

  it("distinct prefixes start", () => {
    const c = defaultConfig();
    c.samlIdps.forEach((s: any, i: number) => { s.mapping.subjectPrefix = `idp${i}:`; });
    expect(issuesOf(c)).toEqual([]);
  });

  it("a declared user directory starts, with one prefix; with overlapping prefixes it does not", () => {
    const perSource = defaultConfig();
    for (const s of perSource.samlIdps) s.mapping.userDirectory = "corp-ad";
    expect(issuesOf(perSource)).toEqual([]);
    const topLevel = defaultConfig();
    topLevel.userDirectory = "corp-ad";
    expect(issuesOf(topLevel)).toEqual([]);
    topLevel.samlIdps[1].mapping.subjectPrefix = "corp:";
    expect(issuesOf(topLevel).map((i) => i.path)).toEqual(["samlIdps[1].mapping", "samlIdps[2].mapping"]);
    const two = defaultConfig();
    two.samlIdps[0].mapping.userDirectory = "corp-ad";
    two.samlIdps[1].mapping.userDirectory = "partner-ad";
    two.samlIdps[2].mapping.userDirectory = "corp-ad";
    expect(issuesOf(two).map((i) => i.path)).toEqual(["samlIdps[1].mapping", "samlIdps[2].mapping"]);
  });

  it("createBridge refuses it with the same ConfigError", async () => {
    await expect(createBridge({ config: parseConfig(baseConfig()), baseDir: FIXTURES_DIR }, { now: Date.now, log: () => undefined }).then((b) => b.close()))
      .resolves.toBeUndefined();
    expect(() => parseConfig(defaultConfig())).toThrow(/samlIdps\[1\]\.mapping: subjects from samlIdps\[0\] "idp1"/);
  });
});

// ---- admin onboarding and explain ----------------------------------------------------------------------------

const ADMIN_TOKEN = "namespace-admin-token";
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const ENTITY = "https://dyn.test/idp";

describe("admin onboarding and explain", () => {
  let b: TestBridge;
  beforeAll(async () => {
    b = await startBridge({
      adminTickMs: 0,
      patch: (c) => {
        delete c.userDirectory;
        c.samlIdps[0].mapping.subjectPrefix = "idp1:";
        c.samlIdps[1].mapping.subjectPrefix = "idp2:";
        c.samlIdps[2].mapping.subjectPrefix = "ec:";
        c.admin = {
          tokens: [{ id: "alice", tokenHash: `sha256:${createHash("sha256").update(ADMIN_TOKEN).digest("base64url")}` }],
          store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-ns-")) },
        };
        c.clients[0].idps.push("dyn");
      },
    });
  });
  afterAll(() => b.close());
  const put = (id: string, mapping: Record<string, unknown>, ifMatch?: string) =>
    b.http.put(`/admin/idps/${id}`).set({ ...auth, ...(ifMatch ? { "If-Match": ifMatch } : {}) }).send({ metadata: metadataFor(ENTITY, [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }], ...mapping } });

  it("refuses an IdP that would collide, with the reason, whatever the shape of the overlap", async () => {
    for (const mapping of [{}, { subjectPrefix: "idp1:" }, { subjectPrefix: "idp1:x:" }, { subjectPrefix: "idp" }, { userDirectory: "elsewhere" }]) {
      const res = await put("dyn", mapping);
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body.error).toBe("subject_namespace_collision");
      expect(res.body.reasons[0]).toMatch(/both reach audience "https:\/\/api\.example\.com" \(.*"dyn" through clients "c1"\)/);
      expect(res.body.reasons[0]).toContain('admin IdP "dyn"');
    }
    expect((await b.http.get("/admin/idps/dyn").set(auth)).status).toBe(404);
  });

  it("accepts a distinct prefix; a replacement that would collide is refused and changes nothing", async () => {
    const created = await put("dyn", { subjectPrefix: "dyn:" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const replaced = await put("dyn", { subjectPrefix: "idp2:" }, created.headers.etag);
    expect(replaced.status).toBe(409);
    expect(replaced.body.error).toBe("subject_namespace_collision");
    const id = "_ns1";
    const xml = signWithXmlsec1(buildAssertion2({ id, issuer: ENTITY, now: new Date(b.clock.now) }), id, { key: KEYS.idp1 });
    const res = await exchange(b, { xml, audience: OTHER_API });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.sub).toBe("dyn:alice@example.com");
  });

  it("explain shows the namespace applied", async () => {
    const id = "_ns2";
    const xml = signWithXmlsec1(buildAssertion2({ id, now: new Date(b.clock.now) }), id, { key: KEYS.idp1 });
    const res = await b.http.post("/admin/idps/idp1/explain").set(auth).send({ subject_token: Buffer.from(xml).toString("base64url"), client_id: "c1", audience: [API] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const map = res.body.steps.find((s: { step: string }) => s.step === "map_subject").detail;
    expect(map.subject_namespace).toEqual({ subject_prefix: "idp1:", user_directory: null });
    expect(map.sub).toBe("idp1:alice@example.com");
  });
});

describe("explain with a declared directory", () => {
  it("shows the top-level userDirectory for a source that declares none", async () => {
    const b = await startBridge({
      adminTickMs: 0,
      patch: (c) => {
        c.admin = {
          tokens: [{ id: "alice", tokenHash: `sha256:${createHash("sha256").update(ADMIN_TOKEN).digest("base64url")}` }],
          store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-ns-")) },
        };
      },
    });
    try {
      const id = "_ns3";
      const xml = signWithXmlsec1(buildAssertion2({ id, now: new Date(b.clock.now) }), id, { key: KEYS.idp1 });
      const res = await b.http.post("/admin/idps/idp1/explain").set(auth).send({ subject_token: Buffer.from(xml).toString("base64url") });
      const map = res.body.steps.find((s: { step: string }) => s.step === "map_subject").detail;
      expect(map.subject_namespace).toEqual({ subject_prefix: "", user_directory: "test-directory" });
    } finally {
      await b.close();
    }
  });
});
