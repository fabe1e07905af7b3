/**
 * `jwtIssuers` at start-up: static JWKS files are loaded relative to the config file and checked
 * (public asymmetric keys only, RSA ≥ 2048, at least one key fitting the issuer's algorithms), each
 * problem a ConfigError naming the field; the id_token / jwt token types are registered (and
 * advertised) only for what the configured issuers accept.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/load.js";
import { exchange, expectError } from "../support/harness.js";
import { KEYS_DIR } from "../support/constants.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";
import {
  ID_TOKEN, JWT, JWT_CLIENT, corpClaims, corpIssuer, ciIssuer, startJwtBridge, withJwtIssuers,
} from "../support/jwt-fixtures.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "fedbridge-jwks-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writeJwks(name: string, body: unknown): string {
  const file = path.join(tmp, name);
  writeFileSync(file, typeof body === "string" ? body : JSON.stringify(body));
  return file;
}
const pem = (file: string): string => readFileSync(file, "utf8");
const publicJwk = (keyFile: string): Record<string, unknown> =>
  createPublicKey(createPrivateKey(pem(keyFile))).export({ format: "jwk" }) as Record<string, unknown>;
const privateJwk = (keyFile: string): Record<string, unknown> =>
  createPrivateKey(pem(keyFile)).export({ format: "jwk" }) as Record<string, unknown>;

async function configIssues(issuers: Record<string, unknown>[]): Promise<{ path: string; message: string }[]> {
  try {
    const b = await startJwtBridge({ patch: (c) => withJwtIssuers(c, issuers) });
    await b.close();
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  return [];
}

describe("jwksFile loading", () => {
  it("resolves jwksFile against the config file's folder (and accepts an absolute path)", async () => {
    const abs = writeJwks("abs.json", JSON.parse(readFileSync(path.join(KEYS_DIR, "../jwks/oidc.jwks.json"), "utf8")));
    expect(await configIssues([corpIssuer()])).toEqual([]);
    expect(await configIssues([corpIssuer({ jwksFile: abs })])).toEqual([]);
  });

  it.each([
    ["a missing file", () => "jwks/nope.json", /cannot read jwks\/nope\.json \(ENOENT\)/],
    ["not JSON", () => writeJwks("bad.json", "{keys:"), /is not JSON/],
    ["not a JWK Set", () => writeJwks("set.json", { kty: "RSA" }), /not a JWK Set/],
    ["an empty JWK Set", () => writeJwks("empty.json", { keys: [] }), /no keys/],
    ["a private key", () => writeJwks("priv.json", { keys: [{ ...privateJwk(JWT_KEYS.oidc), kid: "k" }] }), /private key material/],
    ["a symmetric key", () => writeJwks("oct.json", { keys: [{ kty: "oct", k: "c2VjcmV0", kid: "k" }] }), /kty must be RSA, EC or OKP/],
    ["an RSA key under 2048 bits", () => writeJwks("weak.json", { keys: [{ ...publicJwk(path.join(KEYS_DIR, "weak1024.key")), kid: "w" }] }), /at least 2048 bits/],
    ["an encryption key", () => writeJwks("enc.json", { keys: [{ ...publicJwk(JWT_KEYS.oidc), use: "enc" }] }), /use is not "sig"/],
    ["a broken key", () => writeJwks("broken.json", { keys: [{ kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" }] }), /not a valid public key/],
  ])("refuses %s: ConfigError at jwtIssuers[0].jwksFile", async (_name, file, message) => {
    const issues = await configIssues([corpIssuer({ jwksFile: file() })]);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("jwtIssuers[0].jwksFile");
    expect(issues[0]!.message).toMatch(message);
  });

  it("refuses a JWKS with no key fitting the issuer's algorithms", async () => {
    const issues = await configIssues([corpIssuer(), ciIssuer({ algorithms: ["RS256"] })]);
    expect(issues).toEqual([{ path: "jwtIssuers[1].jwksFile", message: expect.stringMatching(/no key fits the issuer's algorithms \(RS256\)/) }]);
  });

  it("refuses two issuers with the same iss", async () => {
    const issues = await configIssues([corpIssuer(), corpIssuer({ id: "corp-again" })]);
    expect(issues).toEqual([{ path: "jwtIssuers[1].issuer", message: "same issuer as jwtIssuers[0]" }]);
  });

  it("refuses HMAC algorithms and 'none' in the schema", async () => {
    for (const alg of ["HS256", "none"]) {
      const issues = await configIssues([corpIssuer({ algorithms: [alg] })]);
      expect(issues.map((i) => i.path)).toEqual(["jwtIssuers[0].algorithms[0]"]);
    }
  });
});

describe("registered token types follow the configured issuers", () => {
  it("without jwtIssuers, id_token and jwt are neither accepted nor advertised", async () => {
    const b = await startJwtBridge();
    try {
      const meta = (await b.http.get("/.well-known/oauth-authorization-server")).body;
      expect(meta.token_exchange_subject_token_types_supported).not.toContain(ID_TOKEN);
      expect(meta.token_exchange_subject_token_types_supported).not.toContain(JWT);
      const res = await exchange(b, { rawToken: "a.b.c", tokenType: ID_TOKEN });
      expectError(res, 400, "invalid_request", "subject_token_type_unsupported");
    } finally {
      await b.close();
    }
  });

  it("an issuer listing only id_token: jwt is not registered, id_token is", async () => {
    const b = await startJwtBridge({ patch: (c) => withJwtIssuers(c, [corpIssuer({ tokenTypes: [ID_TOKEN] })]) });
    try {
      const meta = (await b.http.get("/.well-known/oauth-authorization-server")).body;
      expect(meta.token_exchange_subject_token_types_supported).toContain(ID_TOKEN);
      expect(meta.token_exchange_subject_token_types_supported).not.toContain(JWT);
      const token = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(b.clock.now) });
      expect((await exchange(b, { rawToken: token, tokenType: ID_TOKEN, client: JWT_CLIENT })).status).toBe(200);
      expectError(await exchange(b, { rawToken: token, tokenType: JWT, client: JWT_CLIENT }), 400, "invalid_request", "subject_token_type_unsupported");
    } finally {
      await b.close();
    }
  });

  it("with two issuers, each is held to its own token types (token_type_mismatch)", async () => {
    const b = await startJwtBridge({
      patch: (c) => withJwtIssuers(c, [corpIssuer({ tokenTypes: [ID_TOKEN] }), ciIssuer()]),
    });
    try {
      const token = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(b.clock.now) });
      expectError(await exchange(b, { rawToken: token, tokenType: JWT, client: JWT_CLIENT }), 400, "invalid_request", "token_type_mismatch");
    } finally {
      await b.close();
    }
  });

  it("a tighter limits.maxTokenBytes also bounds JWTs", async () => {
    const b = await startJwtBridge({
      patch: (c) => {
        withJwtIssuers(c, [corpIssuer()]);
        c.limits = { maxTokenBytes: 1024 };
      },
    });
    try {
      const token = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(b.clock.now, { pad: "x".repeat(800) }) });
      expectError(await exchange(b, { rawToken: token, tokenType: ID_TOKEN, client: JWT_CLIENT }), 400, "invalid_request", "token_too_large");
    } finally {
      await b.close();
    }
  });
});
