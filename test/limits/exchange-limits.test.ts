/**
 * Rate limits of the exchange (config rateLimits.perClient / perSource / perSubject), over the real
 * POST /token with the in-memory store: at the limit, one over, independence of keys, window reset,
 * and what a 429 is (RFC 6585 §4 with Retry-After, an OAuth error body, never a token, logged once).
 */
import { afterEach, describe, expect, it } from "vitest";
import { API, CLIENTS, exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";
import { buildAssertion2, randomSamlId } from "../support/saml-builder.js";
import { IDP2 } from "../support/constants.js";
import { BEARER, BEARER_CLIENT, HOP, expectLimited, hop, incomplete, limitedBridge, ownToken, sleep } from "./helpers.js";

const bridges: TestBridge[] = [];
afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.close()));
});
async function bridge(rateLimits: Record<string, unknown>): Promise<TestBridge> {
  const b = await limitedBridge(rateLimits);
  bridges.push(b);
  return b;
}
const rateLimitedLogs = (b: TestBridge, limit: string) => b.logs.filter((l) => l.event === "rate_limited" && l.limit === limit);

/** An idp2 assertion (xmlsec1): another source than idp1. */
function idp2Assertion(b: TestBridge, nameId = "alice@example.com"): string {
  const id = randomSamlId("_l");
  return signWithXmlsec1(buildAssertion2({ now: new Date(b.clock.now), issuer: IDP2, id, nameId }), id, { key: KEYS.idp2 });
}

describe("per client (rateLimits.perClient)", () => {
  it("lets max requests through, refuses the next with 429 + Retry-After, and logs it once", async () => {
    const b = await bridge({ perClient: { enabled: true, max: 3, windowSeconds: 60 } });
    for (let i = 0; i < 3; i++) expectError(await incomplete(b), 400, "invalid_request", "parameter_missing");
    for (let i = 0; i < 3; i++) expectLimited(await incomplete(b), 60);
    // A request that would succeed is refused as well, with no token.
    const res = await exchange(b, { xml: signedAssertion(b), scope: "read" });
    expectLimited(res, 60);
    expect(res.body.access_token).toBeUndefined();
    const logs = rateLimitedLogs(b, "client");
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ client: "c1", max: 3, window_seconds: 60 });
    expect(String(logs[0]!.key)).toMatch(/^\{client:[A-Za-z0-9_-]{22}\}$/);
    // The exchange log names the step that refused.
    expect(b.logs.filter((l) => l.event === "token_exchange" && l.reason === "rate_limited").every((l) => l.step === "limit_client")).toBe(true);
  });

  it("counts each client on its own: another client is not limited by c1's use", async () => {
    const b = await bridge({ perClient: { enabled: true, max: 2, windowSeconds: 60 } });
    for (let i = 0; i < 2; i++) await incomplete(b);
    expectLimited(await incomplete(b), 60);
    expectError(await incomplete(b, CLIENTS.imp), 400, "invalid_request", "parameter_missing");
    expectError(await incomplete(b, CLIENTS.imp), 400, "invalid_request", "parameter_missing");
    expectLimited(await incomplete(b, CLIENTS.imp), 60);
  });

  it("opens again when the window ends (Retry-After is honest)", async () => {
    // 2 s windows: the requests of one window must fit in it on a loaded machine.
    const b = await bridge({ perClient: { enabled: true, max: 2, windowSeconds: 2 } });
    await incomplete(b);
    await incomplete(b);
    const retry = expectLimited(await incomplete(b), 2);
    await sleep(retry * 1000 + 300);
    expectError(await incomplete(b), 400, "invalid_request", "parameter_missing");
    // A new window, a new count: logged once in each window.
    await incomplete(b);
    expectLimited(await incomplete(b), 2);
    expectLimited(await incomplete(b), 2);
    expect(rateLimitedLogs(b, "client")).toHaveLength(2);
  });

  it("limits the saml2-bearer grant (RFC 7522) the same way, as 429 rather than invalid_grant", async () => {
    const b = await bridge({ perClient: { enabled: true, max: 1, windowSeconds: 60 } });
    const bearer = (assertion: string) => b.http.post("/token").auth(BEARER_CLIENT.id, BEARER_CLIENT.secret).type("form")
      .send(new URLSearchParams({ grant_type: BEARER, assertion }).toString());
    expect((await bearer(toBase64Url(signedAssertion(b)))).status).toBe(200);
    expectLimited(await bearer(toBase64Url(signedAssertion(b))), 60);
  });

  it("a client's own rateLimit replaces perClient for it, and applies with perClient off", async () => {
    for (const perClient of [{ enabled: true, max: 100, windowSeconds: 60 }, { enabled: false }]) {
      const b = await limitedBridge({ perClient }, (c) => {
        c.clients.find((x: { id: string }) => x.id === "imp").rateLimit = { max: 2, windowSeconds: 30 };
      });
      bridges.push(b);
      await incomplete(b, CLIENTS.imp);
      await incomplete(b, CLIENTS.imp);
      expectLimited(await incomplete(b, CLIENTS.imp), 30);
      for (let i = 0; i < 5; i++) expectError(await incomplete(b), 400, "invalid_request", "parameter_missing");
      expect(rateLimitedLogs(b, "client")).toEqual([expect.objectContaining({ client: "imp", max: 2, window_seconds: 30 })]);
    }
  });

  it("is off by default: no rateLimits section, no limit", async () => {
    const b = await startBridge();
    bridges.push(b);
    for (let i = 0; i < 40; i++) expectError(await incomplete(b), 400, "invalid_request", "parameter_missing");
    expect(b.logs.some((l) => l.event === "rate_limited")).toBe(false);
  });

  it("an enabled limit with its defaults (600 / 60 s) does not get in the way of normal use", async () => {
    const b = await bridge({ perClient: { enabled: true } });
    for (let i = 0; i < 30; i++) expectError(await incomplete(b), 400, "invalid_request", "parameter_missing");
  });
});

describe("per source (rateLimits.perSource)", () => {
  it("counts verified tokens per IdP; another source is independent", async () => {
    const b = await bridge({ perSource: { enabled: true, max: 2, windowSeconds: 60 } });
    for (const nameId of ["a@example.com", "b@example.com"]) {
      expect((await exchange(b, { xml: signedAssertion(b, { nameId }), scope: "read" })).status).toBe(200);
    }
    expectLimited(await exchange(b, { xml: signedAssertion(b, { nameId: "c@example.com" }), scope: "read" }), 60);
    // idp2 (and the bridge's own tokens, source "self") have budgets of their own.
    const res = await exchange(b, { xml: idp2Assertion(b), audience: API });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(rateLimitedLogs(b, "source")).toEqual([expect.objectContaining({ idp: "idp1", client: "c1" })]);
    expect(b.logs.find((l) => l.reason === "rate_limited")?.step).toBe("limit_source");
  });

  it("does not count tokens that fail verification: forged tokens cannot spend an IdP's budget", async () => {
    const b = await bridge({ perSource: { enabled: true, max: 2, windowSeconds: 60 } });
    for (let i = 0; i < 5; i++) {
      const id = randomSamlId("_f");
      const forged = signWithXmlsec1(buildAssertion2({ now: new Date(b.clock.now), id }), id, { key: KEYS.attacker });
      expectError(await exchange(b, { xml: forged }), 400, "invalid_request", "signature_invalid");
    }
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
    expect((await exchange(b, { xml: signedAssertion(b), scope: "read" })).status).toBe(200);
    expectLimited(await exchange(b, { xml: signedAssertion(b), scope: "read" }), 60);
  });

  it("a limited request does not consume its one-time assertion: it exchanges once the window ends", { timeout: 60_000 }, async () => {
    const b = await bridge({ perSource: { enabled: true, max: 1, windowSeconds: 2 } });
    // Signed beforehand (xmlsec1 takes a while): both requests fall in one window.
    const first = signedAssertion(b);
    const xml = signedAssertion(b);
    expect((await exchange(b, { xml: first, scope: "read" })).status).toBe(200);
    const retry = expectLimited(await exchange(b, { xml, scope: "read" }), 2);
    await sleep(retry * 1000 + 300);
    const again = await exchange(b, { xml, scope: "read" });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    // And it is one-time still: the replay check ran after the limit, not instead of it.
    await sleep(2_300);
    expectError(await exchange(b, { xml, scope: "read" }), 400, "invalid_request", "replayed");
  });
});

describe("per subject (rateLimits.perSubject)", () => {
  it("counts one subject across clients; other subjects and the same name at another IdP are independent", async () => {
    const b = await bridge({ perSubject: { enabled: true, max: 2, windowSeconds: 60 } });
    expect((await exchange(b, { xml: signedAssertion(b, { nameId: "alice@example.com" }), scope: "read" })).status).toBe(200);
    expect((await exchange(b, { xml: signedAssertion(b, { nameId: "alice@example.com" }), client: CLIENTS.imp })).status).toBe(200);
    expectLimited(await exchange(b, { xml: signedAssertion(b, { nameId: "alice@example.com" }), scope: "read" }), 60);
    expect((await exchange(b, { xml: signedAssertion(b, { nameId: "bob@example.com" }), scope: "read" })).status).toBe(200);
    expect((await exchange(b, { xml: idp2Assertion(b, "alice@example.com"), audience: API })).status).toBe(200);
  });

  it("never writes the subject into a log line (the key is a hash)", async () => {
    const b = await bridge({ perSubject: { enabled: true, max: 1, windowSeconds: 60 } });
    await exchange(b, { xml: signedAssertion(b, { nameId: "carol@example.com" }), scope: "read" });
    expectLimited(await exchange(b, { xml: signedAssertion(b, { nameId: "carol@example.com" }), scope: "read" }), 60);
    const [line] = rateLimitedLogs(b, "subject");
    expect(line).toMatchObject({ limit: "subject", idp: "idp1", client: "c1" });
    expect(JSON.stringify(line)).not.toContain("carol");
    expect(String(line!.key)).toMatch(/^\{subject:[A-Za-z0-9_-]{22}\}$/);
  });

  it("limits re-exchanges of the bridge's own tokens by their subject too (source: self)", async () => {
    const b = await bridge({ perSubject: { enabled: true, max: 2, windowSeconds: 60 } });
    const token = await ownToken(b, "dave@example.com"); // idp1: dave's first count there
    expect((await hop(b, token)).status).toBe(200);
    expect((await hop(b, token)).status).toBe(200);
    expectLimited(await hop(b, token), 60);
    expect(rateLimitedLogs(b, "subject")).toEqual([expect.objectContaining({ idp: "self", client: HOP.id })]);
  });
});

describe("where the limit steps sit, in every grant", () => {
  it("limit_client first; limit_source and limit_subject after authorize_sources, before consume_tokens", async () => {
    const grants = [
      (await import("../../src/grants/token-exchange.js")).tokenExchangeGrant,
      (await import("../../src/grants/saml2-bearer.js")).saml2BearerGrant,
      (await import("../../src/grants/jwt-bearer.js")).jwtBearerGrant,
      (await import("../../src/grants/id-jag-exchange.js")).idJagExchangeGrant,
    ];
    for (const g of grants) {
      const names: string[] = g.steps.map((s) => s.name);
      const at = (n: string) => names.indexOf(n);
      expect(at("limit_client"), g.grantType).toBe(0);
      for (const n of ["limit_source", "limit_subject"]) {
        expect(at(n), `${g.grantType} ${n}`).toBeGreaterThan(at("authorize_sources"));
        expect(at(n), `${g.grantType} ${n}`).toBeLessThan(at("consume_tokens"));
      }
      expect(at("authorize_sources"), g.grantType).toBeGreaterThan(0);
    }
  });
});
