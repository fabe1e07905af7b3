/**
 * DPoP test support: proofs made here with jose's SignJWT (or by hand for the shapes no library
 * will sign, alg none), a bridge on the REAL test Redis under a random key prefix (deleted after),
 * and the token request over supertest with any DPoP header lines. Keys are generated per run
 * (test keys only, never written anywhere).
 */
import { KeyObject, createHash, randomUUID, sign } from "node:crypto";
import { createClient } from "redis";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { TEST_REDIS_URL } from "../support/redis-url.js";
import { API, CLIENTS, GRANT, SAML2, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { TOKEN_ENDPOINT } from "../support/constants.js";
import { toBase64Url } from "../support/independent-signers.js";

export const DPOP_API = "https://dpop-only.example.com";
export const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
/** Test-only client secrets. */
export const DPOP_CLIENT = { id: "dpop-req", secret: "dpop-req-secret" } as const;

export interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
}

export async function proofKey(alg: string, options: { modulusLength?: number } = {}): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

export interface ProofOptions {
  /** Seconds; default: the bridge clock's now. */
  iat?: number;
  htm?: string;
  htu?: string;
  jti?: string;
  nonce?: string;
  /** Changes to the protected header (a value undefined deletes the member). */
  header?: Record<string, unknown>;
  /** Changes to the claims (a value undefined deletes the claim). */
  claims?: Record<string, unknown>;
  /** Sign with this key instead (the header's jwk stays the proof key's). */
  signWith?: CryptoKey | Uint8Array;
}

/** A DPoP proof JWT (RFC 9449 §4.2) for POST to the configured token endpoint, signed by jose. */
export async function makeProof(key: ProofKey, nowMs: number, o: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: o.jti ?? randomUUID(),
    htm: o.htm ?? "POST",
    htu: o.htu ?? TOKEN_ENDPOINT,
    iat: o.iat ?? Math.floor(nowMs / 1000),
    ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
  };
  apply(claims, o.claims);
  const header: Record<string, unknown> = { typ: "dpop+jwt", alg: key.alg, jwk: key.publicJwk };
  apply(header, o.header);
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(o.signWith ?? key.privateKey);
}

/** An unsigned proof (`alg: none`, empty signature): no library signs that. */
export function unsignedProof(key: ProofKey, nowMs: number): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b64({ typ: "dpop+jwt", alg: "none", jwk: key.publicJwk })}.${b64({ jti: randomUUID(), htm: "POST", htu: TOKEN_ENDPOINT, iat: Math.floor(nowMs / 1000) })}.`;
}

/**
 * A JWS signed by node:crypto over exactly the header and claims TEXT given (so a repeated member,
 * a missing alg or an RSA-1024 key, which jose refuses to produce, can be sent). ES256 or RS256.
 */
export function rawJws(headerJson: string, claimsJson: string, key: CryptoKey | KeyObject, hash: "ES256" | "RS256"): string {
  const input = `${Buffer.from(headerJson).toString("base64url")}.${Buffer.from(claimsJson).toString("base64url")}`;
  const keyObject = key instanceof KeyObject ? key : KeyObject.from(key);
  const sig = sign("sha256", Buffer.from(input), hash === "ES256" ? { key: keyObject, dsaEncoding: "ieee-p1363" } : keyObject);
  return `${input}.${sig.toString("base64url")}`;
}

function apply(target: Record<string, unknown>, changes: Record<string, unknown> | undefined): void {
  for (const [k, v] of Object.entries(changes ?? {})) {
    if (v === undefined) delete target[k];
    else target[k] = v;
  }
}

export interface TokenRequest {
  bridge: TestBridge;
  /** DPoP header lines (none: no header). */
  dpop?: string[];
  client?: { id: string; secret: string };
  /** Default API; null: no audience parameter. */
  audience?: string | null;
  resource?: string;
  subjectToken?: string;
  subjectTokenType?: string;
  actorToken?: string;
  actorTokenType?: string;
  grantType?: string;
}

/** POST /token (token exchange of a fresh idp1 assertion unless a subject token is given). */
export async function tokenRequest(r: TokenRequest): Promise<{ status: number; body: any; headers: Record<string, any> }> {
  const client = r.client ?? CLIENTS.c1;
  const form = new URLSearchParams();
  const grant = r.grantType ?? GRANT;
  form.append("grant_type", grant);
  if (grant === GRANT) {
    form.append("subject_token", r.subjectToken ?? toBase64Url(signedAssertion(r.bridge)));
    form.append("subject_token_type", r.subjectTokenType ?? SAML2);
    if (r.audience !== null) form.append("audience", r.audience ?? API);
  } else {
    form.append("assertion", r.subjectToken ?? toBase64Url(signedAssertion(r.bridge)));
  }
  if (r.resource !== undefined) form.append("resource", r.resource);
  if (r.actorToken !== undefined) {
    form.append("actor_token", r.actorToken);
    form.append("actor_token_type", r.actorTokenType ?? ACCESS_TOKEN);
  }
  let req = r.bridge.http.post("/token").type("form").auth(client.id, client.secret);
  // An array value goes out as one header line per element (node:http setHeader).
  if (r.dpop !== undefined && r.dpop.length > 0) req = r.dpop.length === 1 ? req.set("DPoP", r.dpop[0]!) : req.set("DPoP", r.dpop as unknown as string);
  const res = await req.send(form.toString());
  return { status: res.status, body: res.body, headers: res.headers };
}

/** The base test config plus DPoP's clients and audience; the replay store is the test Redis. */
export function dpopConfig(c: Record<string, any>, keyPrefix: string): void {
  c.replay = { store: "redis", redisUrl: TEST_REDIS_URL, keyPrefix };
  c.audiences.push({ id: DPOP_API, scopes: ["read"], defaultScopes: ["read"], requireDpop: true });
  const c1 = c.clients[0];
  c1.audiences.push(DPOP_API);
  c1.subjectTokenTypes = [SAML2, ACCESS_TOKEN];
  c1.actorTokenTypes = [ACCESS_TOKEN];
  c1.introspect = true;
  c.clients.push({
    id: DPOP_CLIENT.id, secretHash: `sha256:${sha256b64(DPOP_CLIENT.secret)}`, dpop: "required",
    grantTypes: [GRANT, "urn:ietf:params:oauth:grant-type:saml2-bearer"],
    audiences: [API], defaultAudience: API, scopes: ["read"], idps: ["idp1"],
  });
}

function sha256b64(s: string): string {
  return createHash("sha256").update(s).digest("base64url");
}

/** A bridge on the test Redis under a fresh key prefix; `keyPrefixes` collects them for cleanup. */
export async function redisBridge(
  keyPrefixes: string[], patch?: (c: Record<string, any>) => void, options: { keyPrefix?: string; now?: number } = {},
): Promise<TestBridge> {
  const keyPrefix = options.keyPrefix ?? `fedbridge:test:dpop:${randomUUID()}:`;
  keyPrefixes.push(keyPrefix);
  const bridge = await startBridge({
    ...(options.now !== undefined ? { now: options.now } : {}),
    patch: (c) => {
      dpopConfig(c, keyPrefix);
      patch?.(c);
    },
  });
  for (let i = 0; i < 100 && (await bridge.http.get("/readyz")).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
  return bridge;
}

/** Deletes every key under the given prefixes from the test Redis (only ours). */
export async function deleteKeys(prefixes: readonly string[]): Promise<void> {
  const redis = createClient({ url: TEST_REDIS_URL, socket: { reconnectStrategy: false } });
  redis.on("error", () => undefined);
  await redis.connect();
  try {
    for (const prefix of prefixes) {
      for await (const keys of redis.scanIterator({ MATCH: `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, COUNT: 500 })) {
        if (keys.length > 0) await redis.del(keys);
      }
    }
  } finally {
    await redis.quit();
  }
}
