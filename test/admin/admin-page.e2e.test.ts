/**
 * The admin console end to end in a real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core) against a bridge listening on a real port: sign in; onboard from a file and from
 * a URL with a preview (entityID, SSO endpoints, certificate CN, key, expiry, checks) before
 * saving; explain an xmlsec1-signed assertion; rotate with a key diff and the rollover state; edit
 * settings and mapping with errors beside the field (from the schema and from the server); see
 * the audit (refusals with their reasons) and the retired IdPs; refused actions show their
 * reasons while the old metadata stays active (proved over HTTP); and the page's security: CSP and
 * friends on every file, the token never in the URL or in storage, server data rendered as text.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchange, startBridge, type TestBridge } from "../support/harness.js";
import { ATTACKER_CERT, IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
import { freePort } from "../support/redis-process.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, type KeyPair } from "../support/independent-signers.js";

const ADMIN_TOKEN = "admin-token-for-the-e2e-test-0123456789";
const ENTITY = "https://dyn.test/idp";
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

let bridge: TestBridge;
let server: Server;
let base: string;
let browser: Browser;
let page: Page;
const work = mkdtempSync(join(tmpdir(), "fedbridge-e2e-"));
const consoleErrors: string[] = [];

beforeAll(async () => {
  bridge = await startBridge({
    adminTickMs: 0,
    patch: (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "file", directory: join(work, "idps") } };
      c.clients[0].idps.push("dyn");
    },
  });
  server = bridge.app.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage();
  page.setDefaultTimeout(5_000);
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
});

afterAll(async () => {
  await browser?.close();
  if (server) await new Promise((r) => server.close(r));
  await bridge?.close();
});

function assertionFrom(key: KeyPair = KEYS.idp1): string {
  const id = `_e2e${Date.now()}${Math.random().toString(16).slice(2)}`;
  return signWithXmlsec1(buildAssertion2({ id, issuer: ENTITY, now: new Date(bridge.clock.now) }), id, { key });
}

function metadataFile(name: string, xml: string): string {
  const file = join(work, name);
  writeFileSync(file, xml);
  return file;
}

const row = (id: string) => page.locator(`tr.idp[data-id="${id}"]`);
const tab = (name: string) => page.click(`button.tab[data-tab="${name}-section"]`);
const field = (form: string, path: string) => page.locator(`#${form}-fields div.field[data-path="${path}"], #${form}-settings div.field[data-path="${path}"]`);

/** An IdP's metadata with a SingleSignOnService endpoint (what an admin checks in the preview). */
function withSso(xml: string): string {
  return xml.replace("</md:IDPSSODescriptor>", '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://dyn.test/sso"/></md:IDPSSODescriptor>');
}

async function signIn(): Promise<void> {
  await page.fill("#token", ADMIN_TOKEN);
  await page.click("#sign-in-button");
  await page.waitForSelector("#app", { state: "visible" });
}

async function onboardFile(id: string, file: string, scopes = '[{"grant":["read"]}]'): Promise<void> {
  await tab("onboard");
  await page.fill("#onboard-id", id);
  await page.check("#onboard-source-file");
  await page.setInputFiles("#onboard-file", file);
  await field("onboard", "mapping.scopes").locator("textarea").fill(scopes);
  await page.click("#onboard-preview-button");
  await page.locator("#onboard-preview .preview-summary").waitFor();
}

async function rotateWith(id: string, file: string): Promise<void> {
  await tab("rotate");
  await page.selectOption("#rotate-idp", id);
  await page.setInputFiles("#rotate-file", file);
  await page.click("#rotate-button");
}

describe("admin page (headless Chromium)", () => {
  it("serves the page with a strict CSP and no-store on every file", async () => {
    for (const path of ["/admin/", "/admin/admin.js", "/admin/admin.css"]) {
      const res = await bridge.http.get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-security-policy"], path).toBe(CSP);
      expect(res.headers["x-frame-options"], path).toBe("DENY");
      expect(res.headers["referrer-policy"], path).toBe("no-referrer");
      expect(res.headers["cache-control"], path).toBe("no-store");
      expect(res.headers["x-content-type-options"], path).toBe("nosniff");
    }
    const redirect = await bridge.http.get("/admin");
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe("/admin/");
    // No script or style inline, nothing from elsewhere; no innerHTML in the script.
    const html = (await bridge.http.get("/admin/")).text;
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=|https?:\/\//i);
    expect((await bridge.http.get("/admin/admin.js")).text).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|localStorage|sessionStorage|document\.cookie/);
  });

  it("sign in, onboard from a file with a preview, explain, rotate with a key diff; refusals show their reasons", async () => {
    const response = await page.goto(`${base}/admin/`);
    expect(response!.status()).toBe(200);
    expect(response!.headers()["content-security-policy"]).toBe(CSP);

    // A wrong token is refused; the right one signs in.
    await page.fill("#token", "not-the-admin-token");
    await page.click("#sign-in-button");
    await expect.poll(() => page.textContent("#status")).toMatch(/refused/);
    expect(await page.isVisible("#app")).toBe(false);
    await signIn();
    expect(await page.inputValue("#token")).toBe("");
    await row("idp1").waitFor();
    expect(await row("idp1").textContent()).toContain("config file (read-only)");
    // The bridge's own SP metadata (what an IdP admin imports) and the API description are linked.
    expect(await page.getAttribute("#sp-metadata", "href")).toBe("/saml/metadata");
    expect(await page.getAttribute("#openapi", "href")).toBe("/admin/openapi.json");
    // Ids are never broken mid-word.
    expect(await row("idp1").locator("td.id").evaluate((e) => getComputedStyle(e).whiteSpace)).toBe("nowrap");

    // Onboard from a file: the preview shows identity, endpoints, certificates and checks first.
    await onboardFile("dyn", metadataFile("dyn.xml", withSso(metadataFor(ENTITY, [IDP1_CERT]))));
    const preview = page.locator("#onboard-preview");
    expect(await preview.locator(".preview-summary").textContent()).toMatch(/All checks pass/);
    expect(await preview.locator("dl.facts").textContent()).toContain(ENTITY);
    expect(await preview.locator("ul.sso li").allTextContents()).toEqual(["urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect → https://dyn.test/sso"]);
    expect(await preview.locator("tr.preview-cert td.cn").allTextContents()).toEqual(["idp1.test"]);
    expect(await preview.locator("tr.preview-cert td.key").allTextContents()).toEqual(["RSA 2048 bits"]);
    expect(await preview.locator("tr.preview-cert td.expires").textContent()).toMatch(/^in \d+ days$/);
    expect(await preview.locator("li.check.pass .check-name").allTextContents()).toEqual(["metadata", "entity_id", "entity_id_free", "rollover"]);
    // Nothing was saved by the preview.
    expect((await bridge.http.get("/admin/idps/dyn").set(auth)).status).toBe(404);
    await page.click("#onboard-save-button");
    await expect.poll(() => page.textContent("#onboard-result")).toContain("Created dyn: now version 1");
    await tab("idps");
    await row("dyn").waitFor();
    const view = (await bridge.http.get("/admin/idps/dyn").set(auth)).body;
    const notAfter: string = view.signingCertificates[0].notAfter;
    expect(await row("dyn").locator("time.not-after").allTextContents()).toEqual([notAfter]);
    expect(await row("dyn").locator("td.entity").textContent()).toBe(ENTITY);

    // Explain a fresh xmlsec1-signed assertion, pasted as XML (the page base64url-encodes it).
    await row("dyn").locator("button", { hasText: "Explain" }).click();
    expect(await page.inputValue("#explain-idp")).toBe("dyn");
    expect(await page.locator("#explain-type option").allTextContents()).toEqual(["SAML 2.0 assertion", "SAML 1.1 assertion"]);
    await page.fill("#explain-token", assertionFrom());
    await page.fill("#explain-client", "c1");
    await page.click("#explain-button");
    await page.locator("#explain-result ol.steps li").first().waitFor();
    const steps = page.locator("#explain-result ol.steps li");
    expect(await steps.first().locator(".step-name").textContent()).toBe("authorize_grant");
    expect(await steps.locator(".step-name").allTextContents()).toContain("verify_subject_token");
    expect(await page.locator("#explain-result li.failed").count()).toBe(0);
    expect(await page.textContent("#explain-result .summary")).toMatch(/Accepted/);
    const claims = await page.locator("#explain-result pre.claims").textContent();
    expect(JSON.parse(claims!)).toMatchObject({ sub: expect.any(String), client_id: "c1" });
    // With an audience, a scope and an actor token: passed to the same steps, a refusal named.
    await page.fill("#explain-token", assertionFrom());
    await page.fill("#explain-audience", "https://api.example.com");
    await page.fill("#explain-scope", "read");
    await page.fill("#explain-actor", "not.a.jwt");
    await page.click("#explain-button");
    await page.locator("#explain-result li.failed").waitFor();
    expect(await page.textContent("#explain-result .summary")).toMatch(/Refused/);
    expect(await page.locator("#explain-result li.failed .step-reason").textContent()).toMatch(/^: [a-z_]+$/);
    await page.fill("#explain-actor", "");
    await page.fill("#explain-audience", "");
    await page.fill("#explain-scope", "");

    // An assertion signed by a key the metadata does not hold: the failed step is highlighted.
    await page.fill("#explain-token", assertionFrom(KEYS.idp2));
    await page.click("#explain-button");
    await page.locator("#explain-result li.failed").waitFor();
    expect(await page.textContent("#explain-result li.failed")).toContain("signature_invalid");

    // An invalid rotation (expired, and no key shared with the entity's keys) is refused with its reasons.
    const bad = metadataFor(ENTITY, [IDP2_CERT], { validUntil: new Date(bridge.clock.now - 60_000) });
    await rotateWith("dyn", metadataFile("bad.xml", bad));
    await page.locator("#rotate-result li.reason").first().waitFor();
    expect(await page.locator("#rotate-result li.reason").allTextContents()).toEqual(["metadata_expired", "rollover_no_shared_key"]);
    expect(await page.textContent("#rotate-result")).toContain("invalid_metadata");
    // Over HTTP: the old metadata is still the one in force.
    expect((await bridge.http.get("/admin/idps/dyn").set(auth)).headers.etag).toBe('"1"');
    expect((await exchange(bridge, { xml: assertionFrom() })).status).toBe(200);

    // A rotation with overlap: the preview shows the key diff, then it goes through.
    await page.setInputFiles("#rotate-file", metadataFile("next.xml", metadataFor(ENTITY, [IDP1_CERT, IDP2_CERT])));
    await page.click("#rotate-preview-button");
    await page.locator("#rotate-preview ul.key-diff li").first().waitFor();
    expect((await page.locator("#rotate-preview ul.key-diff li").allTextContents()).map((t) => t.split(":")[0])).toEqual(["kept", "added"]);
    await page.click("#rotate-button");
    await expect.poll(() => page.textContent("#rotate-result")).toContain("Rotated dyn: now version 2");
    await expect.poll(() => page.textContent("#rotate-state .rollover-state")).toMatch(/Rollover in progress: 2 signing keys/);
    expect(await page.locator("#rotate-state ol.key-history li").count()).toBe(2);
    await tab("idps");
    await expect.poll(() => row("dyn").locator("time.not-after").count()).toBe(2);

    // The token was never put in the URL, a cookie or storage.
    expect(page.url()).toBe(`${base}/admin/`);
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
    expect(stored).not.toContain(ADMIN_TOKEN);
    expect(consoleErrors.filter((m) => /Content Security Policy|pageerror/i.test(m))).toEqual([]);
  });

  it("onboard by URL with a preview; a refused onboarding shows why", async () => {
    const doc = withSso(metadataFor("https://url.test/idp", [IDP1_NEXT_CERT]));
    const server = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/samlmetadata+xml" });
      res.end(doc);
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/md`;
      await tab("onboard");
      await page.fill("#onboard-id", "byurl");
      await page.check("#onboard-source-url");
      await page.fill("#onboard-url", url);
      await page.click("#onboard-preview-button");
      await expect.poll(() => page.locator("#onboard-preview dl.facts").textContent()).toContain("https://url.test/idp");
      await page.click("#onboard-save-button");
      await expect.poll(() => page.textContent("#onboard-result")).toContain("Created byurl: now version 1");
      expect((await bridge.http.get("/admin/idps/byurl").set(auth)).body).toMatchObject({ source: "url", metadataUrl: url });
      // The same entityID under another id: the preview fails a check, and saving is refused with the reason.
      await page.fill("#onboard-id", "byurl2");
      await page.click("#onboard-preview-button");
      await page.locator("#onboard-preview li.check.fail").first().waitFor();
      expect(await page.locator("#onboard-preview li.check.fail .check-name").allTextContents()).toEqual(["entity_id_free"]);
      await page.click("#onboard-save-button");
      await page.locator("#onboard-result .error-code").waitFor();
      expect(await page.textContent("#onboard-result")).toContain("entity_id_in_use");
      // A URL that cannot be fetched: the cause is named.
      await page.fill("#onboard-url", `http://127.0.0.1:${await freePort()}/md`);
      await page.click("#onboard-preview-button");
      await page.locator("#onboard-preview li.reason").waitFor();
      expect(await page.locator("#onboard-preview li.reason").allTextContents()).toEqual(["fetch_connection_refused"]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("settings and mapping: field errors beside the field (from the schema and from the server), then a saved change in the audit", async () => {
    await tab("idps");
    await row("dyn").locator("button", { hasText: "Settings" }).click();
    await field("settings", "allowSha1").waitFor();
    // Schema-driven: a number below its minimum is refused beside the field, before any request.
    await field("settings", "maxAssertionAgeSeconds").locator("input").fill("-5");
    await page.click("#settings-save");
    await expect.poll(() => field("settings", "maxAssertionAgeSeconds").locator(".field-error").textContent()).toMatch(/greater than 0|at least/);
    await field("settings", "maxAssertionAgeSeconds").locator("input").fill("");
    // Server-side: a reserved claim in the mapping is refused, the reason beside mapping.claims.
    await field("settings", "mapping.claims").locator("textarea").fill('{"act":{"from":{"name":"x"}}}');
    await page.click("#settings-save");
    await expect.poll(() => field("settings", "mapping.claims").locator(".field-error").textContent()).toContain("reserved claim");
    expect(await page.textContent("#settings-result")).toContain("invalid_request");
    // A valid change is saved and audited field by field.
    await field("settings", "mapping.claims").locator("textarea").fill("{}");
    await field("settings", "allowSha1").locator("input").check();
    await page.click("#settings-save");
    await expect.poll(() => page.textContent("#settings-result")).toContain("Saved the settings of dyn: now version 3");
    await tab("audit");
    await page.locator("tr.audit-entry").first().waitFor();
    const details = await page.locator("tr.audit-entry.applied td.details").allTextContents();
    expect(details.some((d) => d.includes("allowSha1: false → true"))).toBe(true);
    // Refused requests are in the audit too, with the reason.
    const refused = await page.locator("tr.audit-entry.refused td.details").allTextContents();
    expect(refused.some((d) => d.includes("rollover_no_shared_key"))).toBe(true);
    expect(refused.some((d) => d.includes("entity_id_in_use"))).toBe(true);
    // Filtered by action.
    await page.selectOption("#audit-action", "rotate");
    await page.click("#audit-search");
    await expect.poll(async () => [...new Set(await page.locator("tr.audit-entry td.action").allTextContents())]).toEqual(["rotate"]);
    expect(await page.textContent("#audit-retention")).toMatch(/last \d+ entries/);
  });

  it("a deleted IdP is listed as retired, with why it still blocks re-creation", async () => {
    page.once("dialog", (d) => void d.accept());
    await tab("idps");
    await row("byurl").locator("button", { hasText: "Delete" }).click();
    await expect.poll(() => page.textContent("#status")).toContain("Deleted byurl");
    await tab("retired");
    await page.locator('tr.tombstone[data-id="byurl"]').waitFor();
    expect(await page.locator('tr.tombstone[data-id="byurl"] td.blocks').textContent()).toMatch(/needs a signing key shared with these, or force/);
  });

  it("renders server data as text, never as markup", async () => {
    const entity = `https://xss.test/"><img src=x id=pwned onerror="document.title='pwned'">`;
    const attr = entity.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const res = await bridge.http.put("/admin/idps/xss").set(auth).send({ metadata: metadataFor(attr, [ATTACKER_CERT]) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await tab("idps");
    await page.click("#reload");
    await row("xss").waitFor();
    expect(await row("xss").locator("td.entity").textContent()).toBe(entity);
    expect(await page.locator("#pwned").count()).toBe(0);
    expect(await page.title()).toBe("fedbridge admin");
  });
});
