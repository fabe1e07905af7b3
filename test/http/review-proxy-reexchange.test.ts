/**
 * Review: a SAML ProxyRestriction (SAML Core §2.5.1.6) binds every token issued on the basis of the
 * assertion, not only the first. "A SAML relying party acting as an asserting party MUST NOT issue
 * an assertion that itself violates the restrictions specified in this condition on the basis of an
 * assertion containing such a condition": the bridge's token is one such assertion, and the
 * re-exchange of that token (RFC 8693 next hop) is a further one. Before, the restriction was checked
 * on the first hop only, so a second hop escaped both its Count and its Audience list. Now the issued
 * token carries it on (claim `proxy_restriction`: the count left and the audiences), and every
 * re-exchange is held to it. Fixtures signed by xmlsec1.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TOKEN_TYPE, GRANT, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { buildAssertion2, randomSamlId } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { BRIDGE_ENTITY_ID } from "../support/constants.js";

const A = "https://a.example.com";
const B = "https://b.example.com";
const secret = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const GATEWAY = { id: "gateway", secret: "gateway-secret" };
const SVC = { id: "svc", secret: "svc-secret" };

let b: TestBridge;
beforeAll(async () => {
  b = await startBridge({
    patch: (c) => {
      c.audiences.push(
        { id: A, scopes: ["read"], defaultScopes: ["read"] },
        { id: B, scopes: ["read"], defaultScopes: ["read"] },
      );
      c.clients.push(
        { id: GATEWAY.id, secretHash: secret(GATEWAY.secret), audiences: [A, B], scopes: ["read"], idps: ["idp1"] },
        { id: SVC.id, secretHash: secret(SVC.secret), audiences: [A, B], scopes: ["read"], subjectTokenTypes: [ACCESS_TOKEN_TYPE] },
      );
    },
  });
});
afterAll(async () => {
  await b?.close();
});

const proxy = (count: string | undefined, audiences: string[] = []): string =>
  `<saml:ProxyRestriction${count === undefined ? "" : ` Count="${count}"`}>${audiences.map((a) => `<saml:Audience>${a}</saml:Audience>`).join("")}</saml:ProxyRestriction>`;

function withConditions(extra: string): string {
  const id = randomSamlId("_a");
  const xml = buildAssertion2({ id, now: new Date(b.clock.now) });
  const edited = xml.replace("</saml:AudienceRestriction>", `</saml:AudienceRestriction>${extra}`);
  if (extra !== "") expect(edited).not.toBe(xml);
  return signWithXmlsec1(edited, id, { key: KEYS.idp1 });
}

/** First hop: the SAML assertion for audience `aud`; returns the issued token. */
async function firstHop(conditions: string, aud: string): Promise<string> {
  const res = await exchange(b, { xml: withConditions(conditions), client: GATEWAY, audience: aud, scope: "read" });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token as string;
}

function reexchange(token: string, audience: string) {
  const form = new URLSearchParams({ grant_type: GRANT, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, audience, scope: "read" });
  return b.http.post("/token").auth(SVC.id, SVC.secret).type("form").send(form.toString());
}

async function ok(token: string, audience: string): Promise<string> {
  const res = await reexchange(token, audience);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token as string;
}

describe("review: a ProxyRestriction binds the re-exchange of the bridge's token too", () => {
  it("Count=\"1\": the first token is the one indirection; its re-exchange → proxy_restriction_forbids", async () => {
    const t1 = await firstHop(proxy("1"), A);
    expect(decodeJwt(t1).payload.proxy_restriction).toEqual({ count: 0 });
    for (const aud of [A, B]) expectError(await reexchange(t1, aud), 400, "invalid_request", "proxy_restriction_forbids");
  });

  it("Count=\"2\": one re-exchange, not two", async () => {
    const t1 = await firstHop(proxy("2", [BRIDGE_ENTITY_ID]), A);
    const t2 = await ok(t1, B);
    expect(decodeJwt(t2).payload.proxy_restriction).toEqual({ count: 0 });
    expectError(await reexchange(t2, A), 400, "invalid_request", "proxy_restriction_forbids");
  });

  it("Audiences beyond the bridge: a re-exchange to an audience not listed → proxy_audience_not_allowed; a listed one → 200", async () => {
    const t1 = await firstHop(proxy(undefined, [BRIDGE_ENTITY_ID, A]), A);
    expect(decodeJwt(t1).payload.proxy_restriction).toEqual({ aud: [A] });
    expectError(await reexchange(t1, B), 400, "invalid_target", "proxy_audience_not_allowed");
    const t2 = await ok(t1, A);
    expectError(await reexchange(t2, B), 400, "invalid_target", "proxy_audience_not_allowed");
  });

  it("Count and Audiences together: both bind the next hop", async () => {
    const t1 = await firstHop(proxy("1", [BRIDGE_ENTITY_ID, A, B]), A);
    expectError(await reexchange(t1, B), 400, "invalid_request", "proxy_restriction_forbids");
    const u1 = await firstHop(proxy("3", [BRIDGE_ENTITY_ID, A]), A);
    expectError(await reexchange(u1, B), 400, "invalid_target", "proxy_audience_not_allowed");
  });

  it("no ProxyRestriction, or one naming only the bridge without Count: no claim, re-exchange as before", async () => {
    for (const conditions of ["", proxy(undefined, [BRIDGE_ENTITY_ID])]) {
      const t1 = await firstHop(conditions, A);
      expect(decodeJwt(t1).payload).not.toHaveProperty("proxy_restriction");
      const t2 = await ok(t1, B);
      await ok(t2, A);
    }
  });
});
