// TEST-ONLY trusted JWT issuers (a corporate OIDC IdP and a CI provider), a client that may
// exchange their tokens, claim builders, and a bridge whose JWKS fetches can be counted. The
// issuers are added to harness.ts's baseConfig through a patch; baseConfig itself is untouched.
import { createHash } from "node:crypto";
import type { FetchFn } from "../../src/jwt/keys.js";
import { API, startBridge, type TestBridge } from "./harness.js";

export const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
export const JWT = "urn:ietf:params:oauth:token-type:jwt";

/** The corporate OIDC IdP: RS256, JWKS file, the bridge registered there as client "fedbridge". */
export const CORP_ISS = "https://login.corp.test";
export const CORP_AUD = "fedbridge";
/** The CI provider (GitHub-Actions-like workload tokens): ES256 (and RS256), one-time use. */
export const CI_ISS = "https://token.actions.ci.test";
export const CI_AUD = "https://bridge.test";

export const JWT_CLIENT = { id: "jwt-app", secret: "jwt-app-secret" } as const;

const sha256 = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

export function corpIssuer(over: Record<string, unknown> = {}): Record<string, any> {
  return {
    id: "corp",
    issuer: CORP_ISS,
    jwksFile: "jwks/oidc.jwks.json",
    algorithms: ["RS256"],
    audiences: [CORP_AUD],
    tokenTypes: [ID_TOKEN, JWT],
    mapping: {
      subject: { nameId: true },
      claims: {
        email: { from: { name: "email" }, required: true, transform: "lowercase" },
        groups: { from: { name: "groups" }, multi: true, default: [] },
      },
      scopes: [
        { when: { name: "groups" }, anyOf: ["staff"], grant: ["read"] },
        { when: { name: "groups" }, anyOf: ["editors"], grant: ["read", "write"] },
      ],
      // G17: an unverified email never becomes a claim.
      require: [{ attribute: { name: "email_verified" }, anyOf: ["true"] }],
    },
    ...over,
  };
}

export function ciIssuer(over: Record<string, unknown> = {}): Record<string, any> {
  return {
    id: "ci",
    issuer: CI_ISS,
    jwksFile: "jwks/ci.jwks.json",
    algorithms: ["ES256", "RS256"],
    audiences: [CI_AUD],
    tokenTypes: [JWT],
    maxTokenAgeSeconds: 600,
    maxLifetimeSeconds: 3600,
    oneTimeUse: true,
    mapping: {
      subject: { nameId: true },
      claims: {
        repository: { from: { name: "repository" }, required: true },
        ref: { from: { name: "ref" }, required: true },
      },
      scopes: [{ grant: ["deploy"] }],
      require: [
        { attribute: { name: "repository" }, anyOf: ["acme/payments"] },
        { attribute: { name: "ref" }, anyOf: ["refs/heads/main"] },
      ],
    },
    ...over,
  };
}

/** Adds the issuers (default: corp and ci), the `deploy` scope and JWT_CLIENT to a raw config. */
export function withJwtIssuers(c: Record<string, any>, issuers: Record<string, any>[] = [corpIssuer(), ciIssuer()]): void {
  c.jwtIssuers = issuers;
  c.audiences[0].scopes.push("deploy");
  c.clients.push({
    id: JWT_CLIENT.id, secretHash: sha256(JWT_CLIENT.secret),
    audiences: [API], defaultAudience: API, scopes: ["read", "write", "deploy"],
    subjectTokenTypes: [ID_TOKEN, JWT, "urn:ietf:params:oauth:token-type:access_token"],
    actorTokenTypes: [JWT],
    idps: issuers.map((i) => i.id),
  });
}

const seconds = (ms: number): number => Math.floor(ms / 1000);
let jtiCounter = 0;

/** An ID token's claims from the corporate IdP; `undefined` removes a claim. */
export function corpClaims(nowMs: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = seconds(nowMs);
  return {
    iss: CORP_ISS, sub: "alice", aud: CORP_AUD, iat: now, exp: now + 300, auth_time: now - 30,
    acr: "urn:corp:mfa", email: "Alice@Corp.TEST", email_verified: true, groups: ["staff"],
    nonce: "n-0S6_WzA2Mj", ...over,
  };
}

/** A GitHub-Actions-like workload token's claims; each call has a fresh `jti`. */
export function ciClaims(nowMs: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = seconds(nowMs);
  return {
    iss: CI_ISS, sub: "repo:acme/payments:ref:refs/heads/main", aud: CI_AUD, iat: now, nbf: now - 5, exp: now + 300,
    jti: `ci-${process.pid}-${Date.now().toString(36)}-${++jtiCounter}`,
    repository: "acme/payments", repository_owner: "acme", repository_id: "123456", ref: "refs/heads/main",
    ref_type: "branch", workflow: "deploy", event_name: "push", run_id: "987654321", run_attempt: "1",
    runner_environment: "github-hosted", ...over,
  };
}

/** harness.ts's startBridge, with the injectable `fetch` (JWKS/discovery) and its timeout. */
export function startJwtBridge(options: {
  patch?: (c: Record<string, any>) => void;
  now?: number;
  fetch?: FetchFn;
  keyFetchTimeoutMs?: number;
} = {}): Promise<TestBridge> {
  return startBridge(options);
}
