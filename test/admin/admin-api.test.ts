/**
 * The admin API over HTTP with the file store: onboarding an IdP at run time, optimistic
 * concurrency, validation that leaves the current metadata in place, the rollover guard, the
 * audit log, persistence across a restart, and admin authentication.
 */
import { createHash, generateKeyPairSync, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { exchange, startBridge, type TestBridge } from "../support/harness.js";
import { ATTACKER_CERT, IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor, signMetadataWithXmlsec1 } from "../support/metadata-builder.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { selfSignedCertificate } from "../../scripts/lib/self-signed-cert.js";

const ADMIN_TOKEN = "admin-token-for-tests-only-0123456789";
const ENTITY = "https://dyn.test/idp";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

const bridges: TestBridge[] = [];
afterEach(async () => {
  while (bridges.length) await bridges.pop()!.close();
});

async function adminBridge(dir = mkdtempSync(join(tmpdir(), "fedbridge-admin-"))): Promise<TestBridge & { dir: string }> {
  const b = await startBridge({
    patch: (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "file", directory: dir } };
      c.clients[0].idps.push("dyn");
    },
  });
  bridges.push(b);
  return Object.assign(b, { dir });
}

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
/** Records grant `read` unless the test says otherwise (a mapping that grants nothing issues nothing). */
const READ = { scopes: [{ grant: ["read"] }] };
const put = (b: TestBridge, id: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  b.http.put(`/admin/idps/${id}`).set({ ...auth, ...headers }).send({ mapping: READ, ...body });

function assertionFrom(b: TestBridge, key = KEYS.idp1): string {
  const id = `_dyn${Date.now()}${Math.random().toString(16).slice(2)}`;
  return signWithXmlsec1(buildAssertion2({ id, issuer: ENTITY, now: new Date(b.clock.now) }), id, { key });
}

describe("admin API", () => {
  it("onboards an IdP at run time: its assertions exchange immediately", async () => {
    const b = await adminBridge();
    expect((await exchange(b, { xml: assertionFrom(b) })).body.error_description).toBe("issuer_unknown");
    const res = await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.etag).toBe('"1"');
    expect(res.body).toMatchObject({ id: "dyn", entityId: ENTITY, source: "upload", editable: true, version: 1 });
    const ok = await exchange(b, { xml: assertionFrom(b) });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const list = await b.http.get("/admin/idps").set(auth);
    expect(list.body.idps.map((i: { id: string; source: string }) => `${i.id}:${i.source}`)).toEqual(["dyn:upload", "idp-ec:file", "idp1:file", "idp2:file"]);
    expect(b.logs.filter((l) => l.event === "admin_audit")).toEqual([
      expect.objectContaining({ admin: "alice", action: "create", idp: "dyn", version: 1, old_fingerprints: [], forced: false }),
    ]);
  });

  it("requires If-Match to replace, and refuses a stale one (no lost update)", async () => {
    const b = await adminBridge();
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]) });
    const body = { metadata: metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT]) };
    expect((await put(b, "dyn", body)).status).toBe(428);
    const first = await put(b, "dyn", body, { "If-Match": '"1"' });
    expect(first.status).toBe(200);
    expect(first.headers.etag).toBe('"2"');
    const second = await put(b, "dyn", body, { "If-Match": '"1"' });
    expect(second.status).toBe(412);
    expect(second.body).toEqual({ error: "precondition_failed" });
  });

  it("refuses invalid metadata with every reason, and the current metadata stays in place", async () => {
    const b = await adminBridge();
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]) });
    const bad = await put(b, "dyn", { metadata: metadataFor(ENTITY, [ATTACKER_CERT], { validUntil: new Date(b.clock.now - 1000) }) }, { "If-Match": '"1"' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: "invalid_metadata", reasons: ["metadata_expired", "rollover_no_shared_key"] });
    for (const xml of ["<not-metadata/>", `<!DOCTYPE x [<!ENTITY e "x">]>${metadataFor(ENTITY, [IDP1_CERT])}`]) {
      const res = await b.http.put("/admin/idps/dyn/metadata").set({ ...auth, "If-Match": '"1"', "Content-Type": "application/samlmetadata+xml" }).send(xml);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_metadata");
    }
    expect((await exchange(b, { xml: assertionFrom(b) })).status).toBe(200);
    expect((await b.http.get("/admin/idps/dyn").set(auth)).headers.etag).toBe('"1"');
  });

  it("rotates with overlap, refuses a non-overlapping swap, accepts it forced and audits that", async () => {
    const b = await adminBridge();
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]) });
    const xmlPut = (xml: string, etag: string, force = false) => b.http.put(`/admin/idps/dyn/metadata${force ? "?force=true" : ""}`)
      .set({ ...auth, "If-Match": etag, "Content-Type": "application/samlmetadata+xml" }).send(xml);
    expect((await xmlPut(metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT]), '"1"')).status).toBe(200);
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);
    expect((await xmlPut(metadataFor(ENTITY, [IDP1_NEXT_CERT]), '"2"')).status).toBe(200);
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1) })).body.error_description).toBe("signature_invalid");
    const swap = await xmlPut(metadataFor(ENTITY, [IDP2_CERT]), '"3"');
    expect(swap.status).toBe(400);
    expect(swap.body.reasons).toEqual(["rollover_no_shared_key"]);
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);
    expect((await xmlPut(metadataFor(ENTITY, [IDP2_CERT]), '"3"', true)).status).toBe(200);
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp2) })).status).toBe(200);
    const audit = b.logs.filter((l) => l.event === "admin_audit");
    expect(audit.map((a) => `${a.action}:${a.forced}`)).toEqual(["create:false", "rotate:false", "rotate:false", "rotate:true"]);
    expect(audit[3]!.old_fingerprints).not.toEqual(audit[3]!.new_fingerprints);
  });

  it("keeps records across a restart", async () => {
    const b = await adminBridge();
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]) });
    await b.close();
    bridges.pop();
    const again = await adminBridge(b.dir);
    expect((await exchange(again, { xml: assertionFrom(again) })).status).toBe(200);
  });

  it("deletes with If-Match; the IdP is gone at once", async () => {
    const b = await adminBridge();
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]) });
    expect((await b.http.delete("/admin/idps/dyn").set(auth)).status).toBe(428);
    expect((await b.http.delete("/admin/idps/dyn").set({ ...auth, "If-Match": '"1"' })).status).toBe(204);
    expect((await exchange(b, { xml: assertionFrom(b) })).body.error_description).toBe("issuer_unknown");
    expect(b.logs.some((l) => l.event === "admin_audit" && l.action === "delete")).toBe(true);
  });

  it("an IdP whose metadata does not list SAML 2.0 cannot present saml2 tokens", async () => {
    const b = await adminBridge();
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT], { protocols: "urn:oasis:names:tc:SAML:1.1:protocol" }) });
    expect((await exchange(b, { xml: assertionFrom(b) })).body.error_description).toBe("protocol_not_supported");
  });

  it("no IdP may take the bridge's own issuer as its entityID", async () => {
    const b = await adminBridge();
    const res = await put(b, "dyn", { metadata: metadataFor("https://bridge.test", [IDP1_CERT]) });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe("entity_id_in_use");
  });

  it("config-file IdPs are read-only, and an entityID cannot be taken twice", async () => {
    const b = await adminBridge();
    expect((await put(b, "idp1", { metadata: metadataFor(ENTITY, [IDP1_CERT]) })).status).toBe(409);
    const clash = await put(b, "dyn", { metadata: metadataFor("https://idp1.test/idp", [IDP1_CERT]) });
    expect(clash.status).toBe(409);
    expect(clash.body.error).toBe("entity_id_in_use");
  });

  it("validates the record with the config schema, naming each bad field", async () => {
    const b = await adminBridge();
    const res = await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]), allowSha1: "yes", mapping: { claims: { act: { from: { name: "x" } } } } });
    expect(res.status).toBe(400);
    expect(res.body.reasons).toEqual([
      expect.stringMatching(/^allowSha1: /),
      "mapping.claims.act: reserved claim: only the bridge sets it",
    ]);
  });

  it("flags signing certificates that expire soon", async () => {
    const b = await adminBridge();
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-cert-"));
    const soon = join(dir, "soon.crt");
    writeFileSync(soon, selfSignedCertificate(privateKey, createPublicKey(privateKey), "soon", 10));
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT, soon]) });
    const view = (await b.http.get("/admin/idps/dyn").set(auth)).body;
    expect(view.signingCertificates.map((c: { expiresSoon: boolean }) => c.expiresSoon)).toEqual([false, true]);
    await b.admin!.tick();
    await b.admin!.tick();
    expect(b.logs.filter((l) => l.event === "idp_certificate_expiring")).toHaveLength(1);
  });

  it("refuses every request without valid admin credentials", async () => {
    const b = await adminBridge();
    for (const headers of [{}, { Authorization: "Bearer wrong" }, { Authorization: `Basic ${Buffer.from(`alice:${ADMIN_TOKEN}`).toString("base64")}` }]) {
      const res = await b.http.get("/admin/idps").set(headers);
      expect(res.status).toBe(401);
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    }
    expect((await b.http.put("/admin/idps/dyn").send({ metadata: metadataFor(ENTITY, [IDP1_CERT]) })).status).toBe(401);
    // OAuth client credentials are not admin credentials.
    expect((await b.http.get("/admin/idps").auth("c1", "c1-secret")).status).toBe(401);
  });
});

describe("explain (dry run)", () => {
  const explain = (b: TestBridge, id: string, body: Record<string, unknown>) =>
    b.http.post(`/admin/idps/${id}/explain`).set(auth).send(body);

  it("reports every step and the claims of the token that would be issued, issuing nothing", async () => {
    const b = await adminBridge();
    const xml = signWithXmlsec1(buildAssertion2({ id: "_explain1", now: new Date(b.clock.now), attributes: [{ name: "role", values: ["editor"] }] }), "_explain1", { key: KEYS.idp1 });
    const token = Buffer.from(xml).toString("base64url");
    const res = await explain(b, "idp1", { subject_token: token, client_id: "c1", audience: ["https://api.example.com"], scope: "read write" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.ok).toBe(true);
    // The token endpoint's own steps, in its order, without the two that have effects.
    expect(res.body.steps.map((s: { step: string }) => s.step)).toEqual([
      "authorize_grant", "authorize_token_types", "resolve_targets", "verify_subject_token", "verify_actor_token",
      "authorize_sources", "map_subject", "decide_scope", "decide_actor", "decide_lifetime", "consume_tokens",
    ]);
    const byName = (n: string) => res.body.steps.find((s: { step: string }) => s.step === n).detail;
    const verify = byName("verify_subject_token");
    expect(verify).toMatchObject({ issuer: "https://idp1.test/idp", subject: "alice@example.com", assertion_id: "_explain1" });
    expect(verify.verified_by_key).toMatch(/^[0-9a-f]{64}$/);
    expect(byName("map_subject").granted_scopes).toEqual(["read", "write"]);
    expect(byName("decide_actor").act).toEqual({ sub: "c1" });
    expect(res.body.claims).toMatchObject({ sub: "alice@example.com", aud: "https://api.example.com", scope: "read write", act: { sub: "c1" }, client_id: "c1" });
    expect(b.logs.some((l) => l.event === "token_exchange")).toBe(false);
    // Nothing was consumed: the same assertion still exchanges.
    expect((await exchange(b, { xml, scope: "read" })).status).toBe(200);
  });

  it("names the exact step and reason of a refusal", async () => {
    const b = await adminBridge();
    const xml = signWithXmlsec1(buildAssertion2({ id: "_explain2", now: new Date(b.clock.now - 3_600_000) }), "_explain2", { key: KEYS.idp1 });
    const res = await explain(b, "idp1", { subject_token: Buffer.from(xml).toString("base64url") });
    expect(res.body).toEqual({ ok: false, steps: [{ step: "verify_subject_token", ok: false, reason: "assertion_stale" }] });
    const fresh = signWithXmlsec1(buildAssertion2({ id: "_explain3", now: new Date(b.clock.now) }), "_explain3", { key: KEYS.idp1 });
    const scope = await explain(b, "idp1", { subject_token: Buffer.from(fresh).toString("base64url"), client_id: "c1", scope: "write" });
    expect(scope.body.ok).toBe(false);
    expect(scope.body.steps.at(-1)).toEqual({ step: "decide_scope", ok: false, reason: "scope_not_allowed" });
  });

  it("says when the assertion was already used, without using it", async () => {
    const b = await adminBridge();
    const xml = signWithXmlsec1(buildAssertion2({ id: "_explain4", now: new Date(b.clock.now) }), "_explain4", { key: KEYS.idp1 });
    const token = Buffer.from(xml).toString("base64url");
    expect((await explain(b, "idp1", { subject_token: token, client_id: "c1" })).body.ok).toBe(true);
    expect((await exchange(b, { xml })).status).toBe(200);
    const after = await explain(b, "idp1", { subject_token: token, client_id: "c1" });
    expect(after.body.steps.at(-1)).toEqual({ step: "consume_tokens", ok: false, reason: "replayed" });
  });

  it("is for admins only", async () => {
    const b = await adminBridge();
    expect((await b.http.post("/admin/idps/idp1/explain").send({ subject_token: "x" })).status).toBe(401);
  });
});

describe("pinned metadata-signing certificates", () => {
  async function pinnedBridge(): Promise<TestBridge> {
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-admin-"));
    const b = await startBridge({
      patch: (c) => {
        c.admin = {
          tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "file", directory: dir },
          metadataSigningCertFiles: ["keys/idp2.crt"],
        };
        c.clients[0].idps.push("dyn");
      },
    });
    bridges.push(b);
    return b;
  }

  it("accepts metadata signed (by xmlsec1) with a pinned certificate", async () => {
    const b = await pinnedBridge();
    const signed = signMetadataWithXmlsec1(metadataFor(ENTITY, [IDP1_CERT], { id: "_md1" }), "_md1", KEYS.idp2);
    const res = await put(b, "dyn", { metadata: signed });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect((await exchange(b, { xml: assertionFrom(b) })).status).toBe(200);
  });

  it("refuses unsigned metadata, and metadata signed by another key, or tampered after signing", async () => {
    const b = await pinnedBridge();
    const unsigned = await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT], { id: "_md2" }) });
    expect(unsigned.body).toEqual({ error: "invalid_metadata", reasons: ["metadata_signature_missing"] });
    const other = signMetadataWithXmlsec1(metadataFor(ENTITY, [IDP1_CERT], { id: "_md3" }), "_md3", KEYS.attacker);
    expect((await put(b, "dyn", { metadata: other })).body).toEqual({ error: "invalid_metadata", reasons: ["metadata_signature_invalid"] });
    // Swap the IdP's signing certificate after the federation operator signed: the signature breaks.
    const signed = signMetadataWithXmlsec1(metadataFor(ENTITY, [IDP1_CERT], { id: "_md4" }), "_md4", KEYS.idp2);
    const idp1b64 = readFileSync(IDP1_CERT, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const attackerB64 = readFileSync(ATTACKER_CERT, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const tampered = signed.replace(idp1b64, attackerB64);
    expect(tampered).not.toBe(signed);
    expect((await put(b, "dyn", { metadata: tampered })).body).toEqual({ error: "invalid_metadata", reasons: ["metadata_signature_invalid"] });
    expect((await exchange(b, { xml: assertionFrom(b) })).body.error_description).toBe("issuer_unknown");
  });
});

describe("deleting is no way around the rollover guard", () => {
  it("re-creating a deleted IdP needs a key shared with its last metadata, or force (audited)", async () => {
    const b = await adminBridge();
    await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT]) });
    expect((await b.http.delete("/admin/idps/dyn").set({ ...auth, "If-Match": '"1"' })).status).toBe(204);
    expect((await b.http.get("/admin/idps/dyn").set(auth)).status).toBe(404);
    // Same id, no shared key: refused; under another id with the same entityID: refused too.
    const swap = await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP2_CERT]) });
    expect(swap.body).toEqual({ error: "invalid_metadata", reasons: ["rollover_no_shared_key"] });
    const renamed = await put(b, "dyn2", { metadata: metadataFor(ENTITY, [IDP2_CERT]) });
    expect(renamed.body).toEqual({ error: "invalid_metadata", reasons: ["rollover_no_shared_key"] });
    expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp2) })).body.error_description).toBe("issuer_unknown");
    // With an overlap it is a normal re-creation; forced, it is accepted and audited as forced.
    expect((await put(b, "dyn", { metadata: metadataFor(ENTITY, [IDP1_CERT, IDP2_CERT]) })).status).toBe(201);
    expect((await b.http.delete("/admin/idps/dyn").set({ ...auth, "If-Match": '"3"' })).status).toBe(204);
    expect((await put(b, "dyn", { metadata: metadataFor(ENTITY, [ATTACKER_CERT]), force: true })).status).toBe(201);
    const audit = b.logs.filter((l) => l.event === "admin_audit" && l.action !== "explain");
    expect(audit.map((a) => `${a.action}:${a.forced}`)).toEqual(["create:false", "delete:false", "create:false", "delete:false", "create:true"]);
  });
});
