/**
 * No admin request answers 500: every bad body, header or parameter is a 4xx with an error code
 * (and reasons where there is more to say), on every admin endpoint that takes a body. The four
 * found in a black-box run are here (a Latin-1 JSON charset, an unknown Content-Encoding, a bogus
 * XML charset on rotation, JSON nested 300,000 deep), with many more of each class.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { jsonDepth } from "../../src/admin/body.js";
import { ConfigError, validate } from "../../src/config/load.js";
import { adminIdpInput } from "../../src/config/schema.js";

const TOKEN = "admin-token-for-bad-body-tests-0123456789";
const auth = { Authorization: `Bearer ${TOKEN}` };
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const ENTITY = "https://dyn.test/idp";
const GOOD = JSON.stringify({ metadata: metadataFor(ENTITY, [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }] } });

let b: TestBridge;
beforeAll(async () => {
  b = await startBridge({
    adminTickMs: 0,
    patch: (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(TOKEN) }], store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-bad-")) } };
    },
  });
  expect((await b.http.put("/admin/idps/dyn").set({ ...auth, "Content-Type": "application/json" }).send(GOOD)).status).toBe(201);
});
afterAll(async () => {
  await b?.close();
});

const deepArrays = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
const deepObjects = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
const deepInField = (n: number) => `{"metadata":"x","mapping":${deepObjects(n)}}`;

type Case = { name: string; method: "put" | "post"; path: string; headers: Record<string, string>; body: string | Buffer; status: number | number[]; error?: string };
const JSON_CT = { "Content-Type": "application/json" };
const XML_CT = { "Content-Type": "application/samlmetadata+xml", "If-Match": '"1"' };
const cases: Case[] = [];
const jsonEndpoints: [string, "put" | "post", string][] = [["create", "put", "/admin/idps/new1"], ["preview", "post", "/admin/preview"], ["explain", "post", "/admin/idps/dyn/explain"]];
for (const [what, method, path] of jsonEndpoints) {
  cases.push(
    { name: `${what}: application/json; charset=iso-8859-1`, method, path, headers: { "Content-Type": "application/json; charset=iso-8859-1" }, body: GOOD, status: 415, error: "unsupported_charset" },
    { name: `${what}: charset=utf-16`, method, path, headers: { "Content-Type": "application/json; charset=utf-16" }, body: GOOD, status: 415, error: "unsupported_charset" },
    { name: `${what}: charset=x-bogus`, method, path, headers: { "Content-Type": "application/json;charset=\"x-bogus\"" }, body: GOOD, status: 415, error: "unsupported_charset" },
    { name: `${what}: Content-Encoding x-bogus`, method, path, headers: { ...JSON_CT, "Content-Encoding": "x-bogus" }, body: GOOD, status: 415, error: "unsupported_content_encoding" },
    { name: `${what}: Content-Encoding gzip (not accepted: no decompression)`, method, path, headers: { ...JSON_CT, "Content-Encoding": "gzip" }, body: GOOD, status: 415, error: "unsupported_content_encoding" },
    { name: `${what}: Content-Encoding list`, method, path, headers: { ...JSON_CT, "Content-Encoding": "identity, br" }, body: GOOD, status: 415, error: "unsupported_content_encoding" },
    { name: `${what}: 300,000 nested arrays`, method, path, headers: JSON_CT, body: deepArrays(300_000), status: [400, 413] },
    { name: `${what}: 300,000 nested objects`, method, path, headers: JSON_CT, body: deepObjects(300_000), status: [400, 413] },
    { name: `${what}: 5,000 nested objects in a field`, method, path, headers: JSON_CT, body: deepInField(5_000), status: 400 },
    { name: `${what}: 40 nested arrays`, method, path, headers: JSON_CT, body: deepArrays(40), status: 400 },
    { name: `${what}: invalid UTF-8`, method, path, headers: JSON_CT, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), status: 400 },
    { name: `${what}: not JSON`, method, path, headers: JSON_CT, body: "{metadata:", status: 400 },
    { name: `${what}: empty`, method, path, headers: JSON_CT, body: "", status: [400, 415] },
    { name: `${what}: null`, method, path, headers: JSON_CT, body: "null", status: 400 },
    { name: `${what}: a number`, method, path, headers: JSON_CT, body: "1e999", status: 400 },
    { name: `${what}: an array`, method, path, headers: JSON_CT, body: "[1,2]", status: 400 },
    { name: `${what}: __proto__ key`, method, path, headers: JSON_CT, body: '{"__proto__":{"force":true},"metadata":"x"}', status: 400 },
    { name: `${what}: text/plain`, method, path, headers: { "Content-Type": "text/plain" }, body: GOOD, status: [400, 415] },
    { name: `${what}: no Content-Type`, method, path, headers: {}, body: GOOD, status: [400, 415] },
    { name: `${what}: too large`, method, path, headers: JSON_CT, body: `{"metadata":"${"x".repeat(1_300_000)}"}`, status: 413 },
  );
}
cases.push(
  { name: "rotate: text/xml; charset=x-bogus", method: "put", path: "/admin/idps/dyn/metadata", headers: { ...XML_CT, "Content-Type": "text/xml; charset=x-bogus" }, body: metadataFor(ENTITY, [IDP1_CERT]), status: 415, error: "unsupported_charset" },
  { name: "rotate: application/xml; charset=iso-8859-1", method: "put", path: "/admin/idps/dyn/metadata", headers: { ...XML_CT, "Content-Type": "application/xml; charset=iso-8859-1" }, body: metadataFor(ENTITY, [IDP1_CERT]), status: 415, error: "unsupported_charset" },
  { name: "rotate: Content-Encoding deflate", method: "put", path: "/admin/idps/dyn/metadata", headers: { ...XML_CT, "Content-Encoding": "deflate" }, body: metadataFor(ENTITY, [IDP1_CERT]), status: 415, error: "unsupported_content_encoding" },
  { name: "rotate: application/json", method: "put", path: "/admin/idps/dyn/metadata", headers: { ...XML_CT, "Content-Type": "application/json" }, body: "{}", status: 415 },
  { name: "rotate: empty", method: "put", path: "/admin/idps/dyn/metadata", headers: XML_CT, body: "", status: 415 },
  { name: "rotate: invalid UTF-8", method: "put", path: "/admin/idps/dyn/metadata", headers: XML_CT, body: Buffer.from([0x3c, 0x61, 0xc3, 0x28, 0x2f, 0x3e]), status: 400 },
  { name: "rotate: 100,000 nested elements", method: "put", path: "/admin/idps/dyn/metadata", headers: XML_CT, body: `${"<a>".repeat(100_000)}${"</a>".repeat(100_000)}`, status: 400 },
  { name: "rotate: not XML", method: "put", path: "/admin/idps/dyn/metadata", headers: XML_CT, body: "<<<", status: 400 },
  { name: "rotate: force=maybe", method: "put", path: "/admin/idps/dyn/metadata?force=maybe", headers: XML_CT, body: metadataFor(ENTITY, [IDP1_CERT]), status: 400 },
  { name: "rotate: force twice", method: "put", path: "/admin/idps/dyn/metadata?force=true&force=true", headers: XML_CT, body: metadataFor(ENTITY, [IDP1_CERT]), status: 400 },
  { name: "rotate: weak If-Match", method: "put", path: "/admin/idps/dyn/metadata", headers: { ...XML_CT, "If-Match": 'W/"1"' }, body: metadataFor(ENTITY, [IDP1_CERT]), status: 412 },
  { name: "create: malformed percent-encoding in the id", method: "put", path: "/admin/idps/%E0%A4%A", headers: JSON_CT, body: GOOD, status: 400 },
  { name: "create: unicode id", method: "put", path: "/admin/idps/%C3%A9t%C3%A9", headers: JSON_CT, body: GOOD, status: 400 },
  { name: "create: huge If-Match", method: "put", path: "/admin/idps/dyn", headers: { ...JSON_CT, "If-Match": `"${"9".repeat(400)}"` }, body: GOOD, status: 412 },
  { name: "preview: unknown field", method: "post", path: "/admin/preview", headers: JSON_CT, body: '{"metadata":"x","nope":1}', status: 400 },
  { name: "preview: metadataUrl not a URL", method: "post", path: "/admin/preview", headers: JSON_CT, body: '{"metadataUrl":"::"}', status: 400 },
);

describe("no admin request answers 500", () => {
  it(`${cases.length} bad bodies, headers and parameters: each a 4xx with an error code`, async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const res = await b.http[c.method](c.path).set({ ...auth, ...c.headers }).send(c.body);
      const want = Array.isArray(c.status) ? c.status : [c.status];
      if (!want.includes(res.status) || typeof res.body?.error !== "string" || (c.error && res.body.error !== c.error)) {
        failures.push(`${c.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    // Nothing was changed, and the bridge still answers.
    const view = await b.http.get("/admin/idps/dyn").set(auth);
    expect(view.headers.etag).toBe('"1"');
    expect(b.logs.filter((l) => l.event === "admin_internal_error")).toEqual([]);
  }, 60_000);

  it("the refused requests are audited with who, what and why", async () => {
    const entries = (await b.http.get("/admin/audit?limit=200&actor=alice").set(auth)).body.entries as Record<string, any>[];
    const charset = entries.find((e) => e.error === "unsupported_charset" && e.action === "rotate");
    expect(charset).toMatchObject({ outcome: "refused", status: 415, idp: "dyn", method: "PUT", path: "/admin/idps/dyn/metadata" });
    expect(entries.filter((e) => e.outcome === "refused").length).toBeGreaterThan(cases.length / 2);
    const anon = await b.http.put("/admin/idps/dyn").set({ Authorization: "Bearer wrong-token-0123456789" }).send({});
    expect(anon.status).toBe(401);
    const after = (await b.http.get("/admin/audit?actor=unauthenticated").set(auth)).body.entries;
    expect(after[0]).toMatchObject({ outcome: "refused", status: 401, error: "unauthorized", action: "put", idp: "dyn" });
  });

  it("the config loader's checks do not recurse: 300,000 levels are a ConfigError, not a stack overflow", () => {
    for (const wrap of [(o: unknown) => ({ a: o }), (o: unknown) => [o], (o: unknown) => ({ mapping: o })]) {
      let deep: unknown = { __proto_: 1 };
      for (let i = 0; i < 300_000; i++) deep = wrap(deep);
      expect(() => validate(adminIdpInput, { metadata: "x", mapping: { claims: deep } })).toThrow(ConfigError);
    }
    // The poison-key check still finds a key at depth, with its path.
    let poisoned: unknown = JSON.parse('{"__proto__": 1}');
    for (let i = 0; i < 1000; i++) poisoned = { a: poisoned };
    const err = ((): ConfigError | undefined => {
      try {
        validate(adminIdpInput, poisoned);
        return undefined;
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err?.issues[0]).toEqual({ path: `${Array(1000).fill("a").join(".")}.__proto__`, message: "reserved key name" });
  });

  it("depth is counted without parsing or recursion, strings and escapes aside", () => {
    expect(jsonDepth(deepArrays(1_000_000))).toBe(1_000_000);
    expect(jsonDepth('{"a":"[[[[[\\"[[[["}')).toBe(1);
    expect(jsonDepth('[{"a":[{}]}]')).toBe(4);
  });
});
