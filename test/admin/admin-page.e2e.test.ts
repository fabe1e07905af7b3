/**
 * The admin page end to end in a real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core) against a bridge listening on a real port: sign in, upload metadata from a
 * file, see the IdP listed with its certificate expiry, explain an xmlsec1-signed assertion, see
 * an invalid upload refused with its reasons while the old metadata stays active (proved over
 * HTTP), and the page's security: CSP and friends on every file, the token never in the URL or in
 * storage, server data rendered as text.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchange, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP2_CERT } from "../support/constants.js";
import { metadataFor } from "../support/metadata-builder.js";
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

async function upload(id: string, file: string): Promise<void> {
  await page.fill("#upload-id", id);
  await page.setInputFiles("#upload-file", file);
  await page.click("#upload-button");
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
    expect((await bridge.http.get("/admin/admin.js")).text).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|localStorage/);
  });

  it("sign in, upload, list, explain, an invalid upload refused while the old metadata stays active", async () => {
    const response = await page.goto(`${base}/admin/`);
    expect(response!.status()).toBe(200);
    expect(response!.headers()["content-security-policy"]).toBe(CSP);

    // A wrong token is refused; the right one signs in.
    await page.fill("#token", "not-the-admin-token");
    await page.click("#sign-in-button");
    await expect.poll(() => page.textContent("#status")).toMatch(/refused/);
    expect(await page.isVisible("#app")).toBe(false);
    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#sign-in-button");
    await page.waitForSelector("#app", { state: "visible" });
    expect(await page.inputValue("#token")).toBe("");
    await row("idp1").waitFor();
    expect(await row("idp1").textContent()).toContain("config file (read-only)");

    // Upload metadata from a file: the IdP is listed with its certificate's expiry.
    await upload("dyn", metadataFile("dyn.xml", metadataFor(ENTITY, [IDP1_CERT])));
    await expect.poll(() => page.textContent("#upload-result")).toContain("Created dyn: now version 1");
    await row("dyn").waitFor();
    const view = (await bridge.http.get("/admin/idps/dyn").set(auth)).body;
    const notAfter: string = view.signingCertificates[0].notAfter;
    expect(await row("dyn").locator("time.not-after").allTextContents()).toEqual([notAfter]);
    expect(await row("dyn").locator("td.entity").textContent()).toBe(ENTITY);
    expect(await row("dyn").textContent()).toContain("upload");

    // Explain a fresh xmlsec1-signed assertion, pasted as XML (the page base64url-encodes it).
    await row("dyn").locator("button", { hasText: "Explain" }).click();
    expect(await page.inputValue("#explain-idp")).toBe("dyn");
    await page.fill("#explain-token", assertionFrom());
    await page.fill("#explain-client", "c1");
    await page.click("#explain-button");
    await page.locator("#explain-result ol.steps li").first().waitFor();
    const steps = page.locator("#explain-result ol.steps li");
    // The token endpoint's own steps, in its order: the first is the grant check, and the
    // signature verification is among them.
    expect(await steps.first().locator(".step-name").textContent()).toBe("authorize_grant");
    expect(await steps.locator(".step-name").allTextContents()).toContain("verify_subject_token");
    expect(await page.locator("#explain-result li.failed").count()).toBe(0);
    expect(await page.textContent("#explain-result .summary")).toMatch(/Accepted/);
    const claims = await page.locator("#explain-result pre.claims").textContent();
    expect(JSON.parse(claims!)).toMatchObject({ sub: expect.any(String), client_id: "c1" });

    // An assertion signed by a key the metadata does not hold: the failed step is highlighted.
    await page.fill("#explain-token", assertionFrom(KEYS.idp2));
    await page.click("#explain-button");
    await page.locator("#explain-result li.failed").waitFor();
    expect(await page.textContent("#explain-result li.failed")).toContain("signature_invalid");

    // An invalid rotation (expired, and no key shared with the current metadata) is refused with its reasons.
    const bad = metadataFor(ENTITY, [IDP2_CERT], { validUntil: new Date(bridge.clock.now - 60_000) });
    await upload("dyn", metadataFile("bad.xml", bad));
    await page.locator("#upload-result li.reason").first().waitFor();
    expect(await page.locator("#upload-result li.reason").allTextContents()).toEqual(["metadata_expired", "rollover_no_shared_key"]);
    expect(await page.textContent("#upload-result")).toContain("invalid_metadata");

    // Over HTTP: the old metadata is still the one in force.
    expect((await bridge.http.get("/admin/idps/dyn").set(auth)).headers.etag).toBe('"1"');
    expect((await exchange(bridge, { xml: assertionFrom() })).status).toBe(200);
    expect((await exchange(bridge, { xml: assertionFrom(KEYS.idp2) })).body.error_description).toBe("signature_invalid");

    // A rotation with overlap goes through, using the listing's version as If-Match.
    await upload("dyn", metadataFile("next.xml", metadataFor(ENTITY, [IDP1_CERT, IDP2_CERT])));
    await expect.poll(() => page.textContent("#upload-result")).toContain("Rotated dyn: now version 2");
    await expect.poll(() => row("dyn").locator("time.not-after").count()).toBe(2);

    // The token was never put in the URL, a cookie or storage.
    expect(page.url()).toBe(`${base}/admin/`);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
    expect(stored).not.toContain(ADMIN_TOKEN);
    expect(consoleErrors.filter((m) => /Content Security Policy|pageerror/i.test(m))).toEqual([]);
  });

  it("renders server data as text, never as markup", async () => {
    const entity = `https://xss.test/"><img src=x id=pwned onerror="document.title='pwned'">`;
    const attr = entity.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const res = await bridge.http.put("/admin/idps/xss").set(auth).send({ metadata: metadataFor(attr, [IDP2_CERT]) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await page.click("#reload");
    await row("xss").waitFor();
    expect(await row("xss").locator("td.entity").textContent()).toBe(entity);
    expect(await page.locator("#pwned").count()).toBe(0);
    expect(await page.title()).toBe("fedbridge admin");
  });
});
