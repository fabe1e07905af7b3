/**
 * Test harness: a bridge built from a test config (fixtures under test/fixtures), an injectable
 * clock, captured log lines, and helpers to call POST /token. Every test talks HTTP to the real
 * Express app through supertest; nothing in src/ is mocked.
 */
import { createHash } from "node:crypto";
import request from "supertest";
import type { Test } from "supertest";
import { createBridge, type Bridge, type BridgeOptions } from "../../src/bootstrap.js";
import { parseConfig } from "../../src/config/load.js";
import type { LogEvent } from "../../src/log/logger.js";
import type { ReplayStore } from "../../src/replay/store.js";
import { BRIDGE_ENTITY_ID, BRIDGE_ISSUER, FIXTURES_DIR, TOKEN_ENDPOINT } from "./constants.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "./independent-signers.js";
import { buildAssertion2, type Assertion2Options } from "./saml-builder.js";
import { checkLogLine } from "./log-hygiene.js";

export const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
export const SAML2 = "urn:ietf:params:oauth:token-type:saml2";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const API = "https://api.example.com";
export const OTHER_API = "https://other.example.com";

/** Test clients; secrets are test-only. */
export const CLIENTS = {
  c1: { id: "c1", secret: "c1-secret" },
  c2: { id: "c2", secret: "c2-secret" },
  imp: { id: "imp", secret: "imp-secret" },
  idp2only: { id: "idp2only", secret: "idp2only-secret" },
} as const;

const sha256 = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

/** The raw (pre-validation) test config; tests patch a copy of it. */
export function baseConfig(): Record<string, any> {
  return {
    issuer: BRIDGE_ISSUER,
    tokenEndpoint: TOKEN_ENDPOINT,
    saml: { entityId: BRIDGE_ENTITY_ID },
    tokens: { ttlSeconds: 300, clockSkewSeconds: 60 },
    signing: {
      keys: [
        { kid: "test-rs", alg: "RS256", privateKeyFile: "keys/bridge-signing.key" },
        { kid: "test-es-previous", alg: "ES256", privateKeyFile: "keys/bridge-signing-ec.key" },
      ],
    },
    clients: [
      {
        id: CLIENTS.c1.id, secretHash: sha256(CLIENTS.c1.secret),
        audiences: [API, OTHER_API], defaultAudience: API, scopes: ["read", "write"],
        idps: ["idp1", "idp2", "idp-ec"], mode: "delegation",
      },
      {
        id: CLIENTS.c2.id, secretHash: sha256(CLIENTS.c2.secret), grantTypes: [],
        audiences: [API], scopes: ["read"], idps: ["idp1"],
      },
      {
        id: CLIENTS.imp.id, secretHash: sha256(CLIENTS.imp.secret),
        audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"], mode: "impersonation",
      },
      {
        id: CLIENTS.idp2only.id, secretHash: sha256(CLIENTS.idp2only.secret),
        audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp2"],
      },
    ],
    audiences: [
      { id: API, scopes: ["read", "write", "admin"], defaultScopes: ["read"] },
      { id: OTHER_API, scopes: ["read"], defaultScopes: ["read"], tokenTtlSeconds: 60 },
    ],
    samlIdps: [
      {
        id: "idp1", metadataFile: "metadata/idp1.xml", recipients: [TOKEN_ENDPOINT],
        mapping: {
          subject: { nameId: true },
          claims: { role: { from: { name: "role" }, multi: true } },
          scopes: [
            { when: { name: "role" }, anyOf: ["user"], grant: ["read"] },
            { when: { name: "role" }, anyOf: ["editor", "admin"], grant: ["read", "write"] },
          ],
        },
      },
      {
        id: "idp2", metadataFile: "metadata/idp2.xml",
        mapping: { scopes: [{ grant: ["read"] }] },
      },
      {
        id: "idp-ec", metadataFile: "metadata/idp-ec.xml",
        mapping: { scopes: [{ grant: ["read"] }] },
      },
    ],
    replay: { store: "memory" },
    // The test IdPs and issuers stand for one user directory (src/policy/subject-namespace.ts):
    // without this, c1's idp1 + idp2 + idp-ec reaching one audience would be refused at start-up.
    userDirectory: "test-directory",
  };
}

export interface TestClock {
  now: number;
  advance(ms: number): void;
}

export interface TestBridge extends Bridge {
  clock: TestClock;
  logs: LogEvent[];
  http: ReturnType<typeof request>;
}

export async function startBridge(
  options: {
    patch?: (c: Record<string, any>) => void; now?: number; replay?: ReplayStore;
  } & Pick<BridgeOptions, "adminTickMs" | "fetch" | "keyFetchTimeoutMs" | "metadataFetch"> = {},
): Promise<TestBridge> {
  const { patch, now, replay, ...passThrough } = options;
  const raw = baseConfig();
  patch?.(raw);
  const clock: TestClock = {
    now: now ?? Date.now(),
    advance(ms) {
      this.now += ms;
    },
  };
  const logs: LogEvent[] = [];
  const bridge = await createBridge(
    { config: parseConfig(raw), baseDir: FIXTURES_DIR },
    { now: () => clock.now, log: (e) => { logs.push(e); checkLogLine(e); }, ...(replay ? { replay } : {}), ...passThrough },
  );
  return { ...bridge, clock, logs, http: request(bridge.app) };
}

export interface ExchangeOptions {
  /** XML (encoded to base64url here) or an already encoded value via `rawToken`. */
  xml?: string;
  rawToken?: string;
  tokenType?: string;
  audience?: string | string[];
  resource?: string | string[];
  scope?: string;
  client?: { id: string; secret: string };
  /** "basic" (default), "post", or "none". */
  auth?: "basic" | "post" | "none";
  extra?: Record<string, string | string[]>;
}

/** POST /token with a token-exchange request; returns the supertest request (await it). */
export function exchange(bridge: Pick<TestBridge, "http">, o: ExchangeOptions): Test {
  const client = o.client ?? CLIENTS.c1;
  const form = new URLSearchParams();
  form.append("grant_type", GRANT);
  if (o.rawToken !== undefined || o.xml !== undefined) form.append("subject_token", o.rawToken ?? toBase64Url(o.xml!));
  form.append("subject_token_type", o.tokenType ?? SAML2);
  for (const a of [o.audience ?? []].flat()) form.append("audience", a);
  for (const r of [o.resource ?? []].flat()) form.append("resource", r);
  if (o.scope !== undefined) form.append("scope", o.scope);
  for (const [k, v] of Object.entries(o.extra ?? {})) for (const x of [v].flat()) form.append(k, x);
  const auth = o.auth ?? "basic";
  if (auth === "post") {
    form.append("client_id", client.id);
    form.append("client_secret", client.secret);
  }
  let req = bridge.http.post("/token").type("form");
  if (auth === "basic") req = req.auth(encodeURIComponent(client.id), encodeURIComponent(client.secret));
  return req.send(form.toString());
}

/** Decode a JWT's header and payload without verifying (tests verify separately with jose). */
export function decodeJwt(token: string): { header: Record<string, any>; payload: Record<string, any> } {
  const [h, p] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h!, "base64url").toString("utf8")),
    payload: JSON.parse(Buffer.from(p!, "base64url").toString("utf8")),
  };
}

/** Assert an OAuth error response in one line: status, `error` and reason code. */
export function expectError(res: { status: number; body: any; headers: Record<string, any> }, status: number, error: string, reason: string): void {
  const got = { status: res.status, error: res.body?.error, reason: res.body?.error_description };
  const want = { status, error, reason };
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
  if (res.headers["cache-control"] !== "no-store") throw new Error("missing Cache-Control: no-store");
}

let counter = 0;
/** A fresh, valid assertion from idp1, signed by xmlsec1 (an independent implementation). */
export function signedAssertion(bridge: Pick<TestBridge, "clock">, o: Assertion2Options = {}): string {
  const id = o.id ?? `_t${process.pid}_${Date.now().toString(36)}_${++counter}`;
  return signWithXmlsec1(buildAssertion2({ now: new Date(bridge.clock.now), ...o, id }), id, { key: KEYS.idp1 });
}
