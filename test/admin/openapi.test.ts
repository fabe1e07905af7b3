/**
 * The OpenAPI 3.1 description the bridge serves (GET /admin/openapi.json) against the real API:
 * every response the tests provoke (success and refusal, on every operation) validates, with
 * Ajv's JSON Schema 2020-12 validator (the dialect of OpenAPI 3.1), against the schema the
 * description names for that path, method and status; and every operation described is one the
 * bridge routes.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";

const TOKEN = "admin-token-for-openapi-tests-0123456789";
const auth = { Authorization: `Bearer ${TOKEN}` };
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const ENTITY = "https://dyn.test/idp";

let b: TestBridge;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
beforeAll(async () => {
  b = await startBridge({
    adminTickMs: 0,
    patch: (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(TOKEN) }], store: { kind: "file", directory: mkdtempSync(join(tmpdir(), "fedbridge-openapi-")) } };
    },
  });
  const res = await b.http.get("/admin/openapi.json");
  expect(res.status).toBe(200);
  doc = res.body;
  ajv.addSchema(doc, "openapi");
});
afterAll(async () => {
  await b?.close();
});

const seen = new Set<string>();
/** Validates one real response against the description's schema for it. */
function conforms(template: string, method: string, res: { status: number; body: unknown; headers: Record<string, string> }): void {
  const op = doc.paths[template]?.[method];
  expect(op, `${method} ${template} is described`).toBeDefined();
  const described = op.responses[String(res.status)];
  expect(described, `${method} ${template} ${res.status} is described`).toBeDefined();
  seen.add(`${method} ${template} ${res.status}`);
  const ref = described.content?.["application/json"]?.schema?.$ref as string | undefined;
  if (!ref) return;
  const validate = ajv.getSchema(`openapi${ref}`)!;
  const ok = validate(res.body);
  expect(ok, `${method} ${template} ${res.status}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(res.body).slice(0, 300)}`).toBe(true);
}

describe("the admin API's OpenAPI 3.1 description", () => {
  it("is OpenAPI 3.1 with JSON Schema 2020-12 components that compile", () => {
    expect(doc.openapi).toBe("3.1.0");
    for (const name of Object.keys(doc.components.schemas)) expect(ajv.getSchema(`openapi#/components/schemas/${name}`), name).toBeDefined();
  });

  it("matches the real responses of every operation, successes and refusals", async () => {
    const xml = metadataFor(ENTITY, [IDP1_CERT]);
    conforms("/admin/idps", "get", await b.http.get("/admin/idps").set(auth));
    conforms("/admin/idps", "get", await b.http.get("/admin/idps"));
    conforms("/admin/preview", "post", await b.http.post("/admin/preview").set(auth).send({ metadata: xml, id: "dyn" }));
    conforms("/admin/preview", "post", await b.http.post("/admin/preview").set(auth).send({ metadata: "<x/>" }));
    conforms("/admin/preview", "post", await b.http.post("/admin/preview").set(auth).send({ nope: 1 }));
    conforms("/admin/idps/{id}", "put", await b.http.put("/admin/idps/dyn").set(auth).send({ metadata: xml, mapping: { scopes: [{ grant: ["read"] }] } }));
    conforms("/admin/idps/{id}", "put", await b.http.put("/admin/idps/dyn").set(auth).send({ metadata: xml }));
    conforms("/admin/idps/{id}", "put", await b.http.put("/admin/idps/dyn").set({ ...auth, "If-Match": '"9"' }).send({ metadata: xml }));
    conforms("/admin/idps/{id}", "put", await b.http.put("/admin/idps/dyn").set({ ...auth, "If-Match": '"1"' }).send({ metadata: xml, allowSha1: "no" }));
    conforms("/admin/idps/{id}", "put", await b.http.put("/admin/idps/idp1").set(auth).send({ metadata: xml }));
    conforms("/admin/idps/{id}", "put", await b.http.put("/admin/idps/dyn").set({ ...auth, "Content-Type": "application/json; charset=latin1" }).send("{}"));
    conforms("/admin/idps/{id}", "put", await b.http.put("/admin/idps/dyn").set({ ...auth, "If-Match": '"1"' }).send({ metadata: xml, allowSha1: true }));
    conforms("/admin/idps/{id}", "get", await b.http.get("/admin/idps/dyn").set(auth));
    conforms("/admin/idps/{id}", "get", await b.http.get("/admin/idps/nope").set(auth));
    conforms("/admin/idps/{id}/keys", "get", await b.http.get("/admin/idps/dyn/keys").set(auth));
    conforms("/admin/idps/{id}/metadata", "get", await b.http.get("/admin/idps/dyn/metadata").set(auth));
    const put = (body: string, etag: string) => b.http.put("/admin/idps/dyn/metadata").set({ ...auth, "If-Match": etag, "Content-Type": "application/samlmetadata+xml" }).send(body);
    conforms("/admin/idps/{id}/metadata", "put", await put(metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT]), '"2"'));
    conforms("/admin/idps/{id}/metadata", "put", await put(metadataFor(ENTITY, [IDP2_CERT]), '"3"'));
    conforms("/admin/idps/{id}/metadata", "put", await put(metadataFor(ENTITY, [IDP2_CERT]), '"1"'));
    conforms("/admin/idps/{id}/metadata", "put", await b.http.put("/admin/idps/dyn/metadata").set(auth).send(metadataFor(ENTITY, [IDP1_CERT])));
    conforms("/admin/idps/{id}/refresh", "post", await b.http.post("/admin/idps/dyn/refresh").set(auth));
    conforms("/admin/tombstones", "get", await b.http.get("/admin/tombstones").set(auth));
    conforms("/admin/audit", "get", await b.http.get("/admin/audit?limit=5").set(auth));
    conforms("/admin/audit", "get", await b.http.get("/admin/audit?limit=0").set(auth));
    conforms("/admin/schema/idp", "get", await b.http.get("/admin/schema/idp").set(auth));
    conforms("/admin/idps/{id}", "delete", await b.http.delete("/admin/idps/dyn").set(auth));
    conforms("/admin/idps/{id}", "delete", await b.http.delete("/admin/idps/dyn").set({ ...auth, "If-Match": '"3"' }));
    conforms("/admin/idps/{id}", "delete", await b.http.delete("/admin/idps/dyn").set({ ...auth, "If-Match": '"4"' }));
    conforms("/admin/tombstones", "get", await b.http.get("/admin/tombstones").set(auth));
    conforms("/admin/audit", "get", await b.http.get("/admin/audit?limit=200").set(auth));
    // Every described operation was exercised at least once.
    const ops = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item as object).filter((k) => k !== "parameters").map((m) => `${m} ${p}`));
    const exercised = new Set([...seen].map((s) => s.split(" ").slice(0, 2).join(" ")));
    expect(ops.filter((o) => !exercised.has(o))).toEqual([]);
  });
});
