/**
 * No token, assertion or secret ever reaches the log. Every line the bridge writes (through the
 * real JSON logger, at level debug so nothing is filtered away) during a broad set of real
 * exchanges — SAML 2.0 issued, replayed, tampered, expired, for another audience; OIDC ID tokens
 * issued, badly signed, for another audience, malformed; the bridge's own token re-exchanged and
 * introspected; wrong client secrets by Basic and by POST; garbage and unsupported token types —
 * is scanned for fragments of every credential involved: the subject tokens (base64 of XML, JWT
 * segments, the raw XML's telltale text), the issued access tokens, and the client secrets.
 * It also checks that no line needed the logger's redaction pass: the callers themselves are clean.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, importPKCS8 } from "jose";
import request from "supertest";
import { createBridge, type Bridge } from "../../src/bootstrap.js";
import { parseConfig } from "../../src/config/load.js";
import { jsonLogger } from "../../src/log/logger.js";
import { ACCESS_TOKEN_TYPE, API, CLIENTS, GRANT, SAML2, baseConfig } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { JWT_KEYS } from "../support/independent-jwt.js";
import { ID_TOKEN, JWT_CLIENT, corpClaims, withJwtIssuers } from "../support/jwt-fixtures.js";

const lines: string[] = [];
let bridge: Bridge;
let now = Date.now();
/** Every credential the suite sends or receives: none may show in any log line. */
const secrets: string[] = [];
const statuses: number[] = [];

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function post(path: string, fields: Record<string, string>, client: { id: string; secret: string } = CLIENTS.c1, how: "basic" | "post" = "basic"): Promise<request.Response> {
  secrets.push(client.secret);
  let req = request(bridge.app).post(path).type("form");
  if (how === "basic") req = req.auth(client.id, client.secret);
  const res = await req.send(form(how === "post" ? { ...fields, client_id: client.id, client_secret: client.secret } : fields));
  statuses.push(res.status);
  if (typeof res.body?.access_token === "string") secrets.push(res.body.access_token);
  return res;
}

let n = 0;
function assertion(o: Parameters<typeof buildAssertion2>[0] = {}, key = KEYS.idp1): string {
  const id = `_scan${process.pid}_${++n}_${Date.now().toString(36)}`;
  const xml = signWithXmlsec1(buildAssertion2({ now: new Date(now), ...o, id }), id, { key });
  const token = toBase64Url(xml);
  secrets.push(token, Buffer.from(xml).toString("base64"));
  return token;
}

async function idToken(over: Record<string, unknown> = {}, keyFile = JWT_KEYS.oidc): Promise<string> {
  const key = await importPKCS8(readFileSync(keyFile, "utf8"), "RS256");
  const t = await new SignJWT(corpClaims(now, over)).setProtectedHeader({ alg: "RS256", kid: "oidc-rs-1" }).sign(key);
  secrets.push(t);
  return t;
}

const exchangeFields = (token: string, type = SAML2, extra: Record<string, string> = {}): Record<string, string> => ({
  grant_type: GRANT, subject_token: token, subject_token_type: type, ...extra,
});

beforeAll(async () => {
  const raw = baseConfig();
  withJwtIssuers(raw);
  raw.log = { level: "debug" };
  raw.metrics = { enabled: true };
  raw.clients[0].subjectTokenTypes = [SAML2, ACCESS_TOKEN_TYPE];
  raw.clients[0].introspect = true;
  bridge = await createBridge({ config: parseConfig(raw), baseDir: FIXTURES_DIR }, { now: () => now, log: jsonLogger((l) => lines.push(l), () => now) });

  // SAML 2.0
  const good = assertion();
  const issued = await post("/token", exchangeFields(good));
  expect(issued.status).toBe(200);
  await post("/token", exchangeFields(good)); // replay
  const tampered = Buffer.from(assertion(), "base64url").toString("utf8").replace("<saml:AttributeValue>user<", "<saml:AttributeValue>admin<");
  secrets.push(toBase64Url(tampered));
  await post("/token", exchangeFields(toBase64Url(tampered)));
  await post("/token", exchangeFields(assertion({ now: new Date(now - 3_600_000) }))); // expired
  await post("/token", exchangeFields(assertion({ audiences: ["https://someone-else.test"] })));
  await post("/token", exchangeFields(assertion({}, KEYS.idp2))); // signed by another IdP's key
  await post("/token", exchangeFields(assertion(), SAML2, { audience: API }), CLIENTS.c1, "post");
  // OIDC ID tokens
  await post("/token", exchangeFields(await idToken(), ID_TOKEN), JWT_CLIENT);
  await post("/token", exchangeFields(await idToken({}, JWT_KEYS.attacker), ID_TOKEN), JWT_CLIENT);
  await post("/token", exchangeFields(await idToken({ aud: "another-rp" }), ID_TOKEN), JWT_CLIENT);
  const mangled = (await idToken()).split(".").map((p, i) => (i === 1 ? p.slice(0, -4) : p)).join(".");
  secrets.push(mangled);
  await post("/token", exchangeFields(mangled, ID_TOKEN), JWT_CLIENT);
  // The bridge's own token: next hop, and introspection.
  await post("/token", exchangeFields(issued.body.access_token, ACCESS_TOKEN_TYPE));
  await post("/introspect", { token: issued.body.access_token });
  // Wrong secrets (Basic and POST), garbage, unsupported type, an oversized token.
  const wrong = { id: CLIENTS.c1.id, secret: "Wr0ng-s3cret-that-must-not-leak" };
  await post("/token", exchangeFields(assertion()), wrong);
  await post("/token", exchangeFields(assertion()), wrong, "post");
  const garbage = Buffer.from("<not-xml>secret-garbage-payload-9f8e7d</not-xml>".repeat(4)).toString("base64url");
  secrets.push(garbage);
  await post("/token", exchangeFields(garbage));
  await post("/token", exchangeFields(assertion(), "urn:x:unknown-type"));
  await post("/token", exchangeFields("A".repeat(200_000)));
  now += 1000;
});
afterAll(() => bridge.close());

/** Every 16-character window (stride 8) of a credential, and the whole of a short one. */
function fragments(secret: string): string[] {
  if (secret.length <= 24) return [secret];
  const out: string[] = [];
  for (let i = 0; i + 16 <= secret.length; i += 8) out.push(secret.slice(i, i + 16));
  return out;
}

describe("the log never carries a token, assertion or secret", () => {
  it("wrote the exchanges it served, one line each, with levels and request ids", () => {
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.some((s) => s === 400)).toBe(true);
    expect(statuses.some((s) => s === 401)).toBe(true);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const exchanges = parsed.filter((l) => l.event === "token_exchange");
    expect(exchanges.length).toBeGreaterThanOrEqual(14);
    for (const l of parsed) expect(["debug", "info", "warn", "error"]).toContain(l.level);
    for (const l of exchanges) expect(l.request_id).toMatch(/^[0-9a-f-]{36}$/);
    // Debug level: the JWKS of the corp issuer is a file, so nothing fetched; the level filter let all through.
    expect(new Set(exchanges.map((l) => l.request_id)).size).toBe(exchanges.length);
  });

  it("contains no fragment of any credential in any line", () => {
    const all = lines.join("");
    expect(secrets.length).toBeGreaterThan(20);
    for (const s of secrets) {
      for (const f of fragments(s)) {
        if (all.includes(f)) throw new Error(`a log line contains a fragment of a credential: …${f}…`);
      }
    }
    // The raw XML's telltale text, and JWT headers, in any encoding we sent.
    for (const marker of ["<saml", "Assertion>", "SignatureValue", "eyJhbGci", "PD94", "PHNhbWw", "BEGIN", "secret-garbage"]) {
      expect(all, marker).not.toContain(marker);
    }
  });

  it("needed no redaction: the callers log identifiers only", () => {
    for (const l of lines) expect(JSON.parse(l).redacted, l).toBeUndefined();
  });
});

describe("the scan itself", () => {
  it("would catch a leaked fragment (self-test of the scanner)", () => {
    const token = secrets.find((s) => s.startsWith("eyJ"))!;
    const leaked = `{"event":"x","detail":"${token.slice(40, 80)}"}`;
    expect(fragments(token).some((f) => leaked.includes(f))).toBe(true);
  });
});
