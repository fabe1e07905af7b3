// TEST-ONLY Cross-App Access set-up: bridge A as the IdP authorization server (issuing ID-JAGs for
// the resource authorization server RAS_ISS) and bridge B as that resource authorization server
// (trusting A's ID-JAGs). Keys are the test fixtures (test/fixtures/keys/README.md); the JWKS of A
// that B trusts is written at test time into a temp dir.
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { CLIENTS, startBridge, type TestBridge } from "../support/harness.js";
import { CORP_AUD, corpIssuer, withJwtIssuers, JWT_CLIENT } from "../support/jwt-fixtures.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";
import { KEYS_DIR } from "../support/constants.js";

export const ID_JAG = "urn:ietf:params:oauth:token-type:id-jag";
export const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** The resource authorization server (bridge B) and its protected resource. */
export const RAS_ISS = "https://as.chat.test/";
export const CHAT_API = "https://api.chat.test/";
export const CHAT_FILES = "https://api.chat.test/files";
/** The identifier of the corporate IdP's relying party "wiki" (JWT_CLIENT) at that IdP. */
export const WIKI_AT_CORP = "wiki-app";
/** The client ids the two bridge-A clients are known by at the resource authorization server. */
export const WIKI_AT_CHAT = { id: "wiki-at-chat", secret: "wiki-at-chat-secret" } as const;
export const C1_AT_CHAT = { id: "c1-at-chat", secret: "c1-at-chat-secret" } as const;
/** Bridge A's RSA signing key (its `test-rs` kid), used to forge grants with PyJWT. */
export const BRIDGE_A_KEY = path.join(KEYS_DIR, "bridge-signing.key");

const sha256 = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

/** Bridge A: the corporate OIDC IdP and idp1 (SAML) as sources, one resource authorization server. */
export function idpPatch(c: Record<string, any>): void {
  withJwtIssuers(c, [corpIssuer({ audiences: [CORP_AUD, WIKI_AT_CORP] })]);
  const corp = c.jwtIssuers[0];
  corp.mapping.scopes.push({ when: { name: "groups" }, anyOf: ["staff"], grant: ["chat.read", "chat.history"] });
  c.samlIdps[0].mapping.scopes.push({ when: { name: "role" }, anyOf: ["user"], grant: ["chat.read", "chat.history"] });
  c.samlIdps[0].mapping.claims.email = { from: { name: "mail" } };
  const wiki = c.clients.find((x: any) => x.id === JWT_CLIENT.id);
  wiki.issuerParties = { corp: [WIKI_AT_CORP] };
  c.resourceAuthorizationServers = [{
    id: "chat",
    issuer: RAS_ISS,
    grantTtlSeconds: 300,
    clients: [
      { client: JWT_CLIENT.id, clientId: WIKI_AT_CHAT.id, resources: [CHAT_API, CHAT_FILES], scopes: ["chat.read", "chat.history"], defaultScopes: ["chat.read"] },
      { client: CLIENTS.c1.id, clientId: C1_AT_CHAT.id, resources: [CHAT_API], scopes: ["chat.read"], defaultScopes: ["chat.read"] },
    ],
  }];
}

export function startIdpBridge(patch?: (c: Record<string, any>) => void, now?: number): Promise<TestBridge> {
  return startBridge({ patch: (c) => { idpPatch(c); patch?.(c); }, ...(now !== undefined ? { now } : {}) });
}

/** A temp dir holding bridge A's public JWKS (as B's jwtIssuers[].jwksFile). */
export function writeJwks(jwks: unknown): { file: string; dispose(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "fedbridge-idjag-"));
  const file = path.join(dir, "bridge-a.jwks.json");
  writeFileSync(file, JSON.stringify(jwks));
  return { file, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bridge B: issuer RAS_ISS, trusting bridge A's ID-JAGs, with the two clients A names. */
export function rasPatch(jwksFile: string, over: Record<string, unknown> = {}): (c: Record<string, any>) => void {
  return (c) => {
    c.issuer = RAS_ISS;
    c.tokenEndpoint = `${RAS_ISS}token`;
    c.jwtIssuers = [{
      id: "bridge-a", issuer: BRIDGE_ISSUER, jwksFile, algorithms: ["RS256", "ES256"],
      audiences: ["unused"], tokenTypes: ["urn:ietf:params:oauth:token-type:id_token"],
      idJag: { maxLifetimeSeconds: 600 },
      mapping: {
        subject: { nameId: true },
        claims: { email: { from: { name: "email" } } },
        scopes: [{ grant: ["chat.read", "chat.history"] }],
      },
      ...over,
    }];
    c.audiences = [
      { id: CHAT_API, scopes: ["chat.read", "chat.history"], defaultScopes: [] },
      { id: CHAT_FILES, scopes: ["chat.read"], defaultScopes: [] },
    ];
    c.clients = [
      { id: WIKI_AT_CHAT.id, secretHash: sha256(WIKI_AT_CHAT.secret), grantTypes: [JWT_BEARER], audiences: [CHAT_API, CHAT_FILES], defaultAudience: CHAT_API, scopes: ["chat.read", "chat.history"], idps: ["bridge-a"] },
      { id: C1_AT_CHAT.id, secretHash: sha256(C1_AT_CHAT.secret), grantTypes: [JWT_BEARER], audiences: [CHAT_API], defaultAudience: CHAT_API, scopes: ["chat.read"], idps: ["bridge-a"] },
      { id: "no-grant", secretHash: sha256("no-grant-secret"), audiences: [CHAT_API], idps: ["bridge-a"] },
    ];
  };
}

const seconds = (ms: number): number => Math.floor(ms / 1000);
let jti = 0;

/** Claims of a valid ID-JAG from bridge A for bridge B; `undefined` removes one. */
export function grantClaims(nowMs: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = seconds(nowMs);
  const claims: Record<string, unknown> = {
    iss: BRIDGE_ISSUER, sub: "alice", aud: RAS_ISS, client_id: WIKI_AT_CHAT.id,
    jti: `jag-${process.pid}-${Date.now().toString(36)}-${++jti}`, iat: now, exp: now + 300,
    resource: CHAT_API, scope: "chat.read chat.history", auth_time: now - 30, acr: "urn:corp:mfa", amr: ["pwd", "otp"],
    email: "alice@corp.test", ...over,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

/** An ID-JAG signed by PyJWT with bridge A's key (an independent JOSE implementation). */
export function pyGrant(claims: Record<string, unknown>, header: Record<string, unknown> = { typ: "oauth-id-jag+jwt", kid: "test-rs" }, key = BRIDGE_A_KEY): string {
  return pySign({ key, alg: "RS256", header, claims });
}

export { JWT_KEYS };
