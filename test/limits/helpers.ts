/**
 * Helpers of the rate-limit tests: a bridge with `rateLimits` patched in, a HOP client that
 * re-exchanges the bridge's own access tokens (no one-time use: the same token can be sent again and
 * again, and needs no replay store), and a 429 check. Secrets here are test-only.
 */
import { createHash } from "node:crypto";
import { expect } from "vitest";
import { ACCESS_TOKEN_TYPE, API, CLIENTS, GRANT, exchange, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";

export const HOP = { id: "hop", secret: "hop-secret" } as const;
export const BEARER_CLIENT = { id: "bearer", secret: "bearer-secret" } as const;
export const BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer";

const sha256 = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

export type Rule = { enabled?: boolean; max: number; windowSeconds: number };

/** The test config's extra clients: HOP (re-exchanges own tokens) and BEARER (RFC 7522 grant). */
export function withLimitClients(c: Record<string, any>): void {
  c.clients.push(
    { id: HOP.id, secretHash: sha256(HOP.secret), audiences: [API], scopes: ["read"], subjectTokenTypes: [ACCESS_TOKEN_TYPE] },
    { id: BEARER_CLIENT.id, secretHash: sha256(BEARER_CLIENT.secret), grantTypes: [BEARER], audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"] },
  );
}

export function limitedBridge(rateLimits: Record<string, unknown>, patch?: (c: Record<string, any>) => void): Promise<TestBridge> {
  return startBridge({
    patch: (c) => {
      withLimitClients(c);
      c.rateLimits = rateLimits;
      patch?.(c);
    },
  });
}

/** A fresh access token of the bridge for API (c1, via an idp1 assertion with this NameID). */
export async function ownToken(b: TestBridge, nameId = "alice@example.com"): Promise<string> {
  const res = await exchange(b, { xml: signedAssertion(b, { nameId }), scope: "read" });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token as string;
}

/** HOP re-exchanges one of the bridge's own tokens for API. */
export function hop(b: Pick<TestBridge, "http">, token: string, client: { id: string; secret: string } = HOP) {
  const form = new URLSearchParams({ grant_type: GRANT, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, audience: API });
  return b.http.post("/token").auth(client.id, client.secret).type("form").send(form.toString());
}

/** A request of `client` that fails in read_request (no subject_token): cheap, and past limit_client. */
export function incomplete(b: Pick<TestBridge, "http">, client: { id: string; secret: string } = CLIENTS.c1) {
  return b.http.post("/token").auth(client.id, client.secret).type("form").send(new URLSearchParams({ grant_type: GRANT }).toString());
}

/** A failed client authentication (wrong secret) for this client id, by HTTP Basic. */
export function wrongSecret(b: Pick<TestBridge, "http">, id: string, headers: Record<string, string> = {}) {
  let req = b.http.post("/token").auth(id, "not-the-secret").type("form");
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  return req.send(new URLSearchParams({ grant_type: GRANT }).toString());
}

/** The client's right secret, by HTTP Basic; a request that then fails in read_request (400). */
export function rightSecret(b: Pick<TestBridge, "http">, client: { id: string; secret: string }, headers: Record<string, string> = {}) {
  let req = b.http.post("/token").auth(client.id, client.secret).type("form");
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  return req.send(new URLSearchParams({ grant_type: GRANT }).toString());
}

/** A 429 of the rate limits: the OAuth error body, Retry-After within the window, never a token. */
export function expectLimited(res: { status: number; body: any; headers: Record<string, any> }, windowSeconds: number): number {
  expect({ status: res.status, body: res.body }).toEqual({ status: 429, body: { error: "temporarily_unavailable", error_description: "rate_limited" } });
  expect(res.headers["cache-control"]).toBe("no-store");
  const retry = Number(res.headers["retry-after"]);
  expect(Number.isInteger(retry) && retry >= 1 && retry <= windowSeconds, `Retry-After ${res.headers["retry-after"]}`).toBe(true);
  expect(res.headers["www-authenticate"]).toBeUndefined();
  return retry;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
