/**
 * Mutation testing (issue 8, docs/mutation-testing.md): every branch of jose's verdicts → reason
 * codes (src/jwt/refusals.ts), used by all JWT paths (trusted issuers' tokens and the bridge's own).
 * The verdicts are REAL ones: jose's jwtVerify run with the options that make it refuse each way,
 * so the test also pins the claim names and reasons ("missing", "invalid", "check_failed") jose uses.
 * Some of these never reach the mapping through the trusted-issuer verifier (it chooses the issuer
 * by `iss`, so jose's `iss` check cannot fail there): they are tested here, at the mapping.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  CompactSign, SignJWT, errors, importPKCS8, importSPKI, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyOptions,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { joseRefusal } from "../../src/jwt/refusals.js";
import { OAuthError, refuse } from "../../src/oauth/errors.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";

const NOW_S = 1_800_000_000;
let priv: CryptoKey;
let pub: CryptoKey;
beforeAll(async () => {
  const pem = readFileSync(JWT_KEYS.oidc, "utf8");
  priv = await importPKCS8(pem, "RS256");
  pub = await importSPKI(createPublicKey(createPrivateKey(pem)).export({ format: "pem", type: "spki" }) as string, "RS256");
});

const base: JWTPayload = { iss: "https://iss.test", sub: "alice", aud: "fedbridge", iat: NOW_S, exp: NOW_S + 300 };
const options: JWTVerifyOptions = { currentDate: new Date(NOW_S * 1000), clockTolerance: 0 };

/** jose's own verdict on a token (signed here with the TEST-ONLY oidc key), or undefined. */
async function verdict(payload: Record<string, unknown>, o: JWTVerifyOptions = {}, header: Record<string, unknown> = { alg: "RS256" }): Promise<unknown> {
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header as never).sign(priv);
  try {
    await jwtVerify(token, pub, { ...options, ...o });
  } catch (e) {
    return e;
  }
  return undefined;
}
async function mapped(payload: Record<string, unknown>, o: JWTVerifyOptions = {}, header?: Record<string, unknown>): Promise<string | undefined> {
  const e = await verdict(payload, o, header);
  expect(e, "jose accepted the token").toBeDefined();
  return joseRefusal(e)?.reason;
}
const without = (k: string): Record<string, unknown> => Object.fromEntries(Object.entries(base).filter(([n]) => n !== k));

describe("jose's verdicts as reason codes", () => {
  it("exp passed, or iat older than the maximum age: token_expired (JWTExpired, claims exp and iat)", async () => {
    const expired = await verdict({ ...base, iat: NOW_S - 600, exp: NOW_S - 1 });
    expect(expired).toBeInstanceOf(errors.JWTExpired);
    expect(joseRefusal(expired)?.reason).toBe("token_expired");
    const old = await verdict({ ...base, iat: NOW_S - 601 }, { maxTokenAge: 600 });
    expect(old).toMatchObject({ claim: "iat", reason: "check_failed" });
    expect(joseRefusal(old)?.reason).toBe("token_expired");
  });

  it("aud absent or not accepted: audience_mismatch", async () => {
    expect(await mapped(without("aud"), { audience: "fedbridge" })).toBe("audience_mismatch");
    expect(await mapped({ ...base, aud: "other" }, { audience: "fedbridge" })).toBe("audience_mismatch");
    expect(await mapped({ ...base, aud: ["a", "b"] }, { audience: ["fedbridge", "x"] })).toBe("audience_mismatch");
  });

  it("sub absent: subject_missing; another sub than required: subject_invalid", async () => {
    expect(await mapped(without("sub"), { requiredClaims: ["sub"] })).toBe("subject_missing");
    expect(await mapped(without("sub"), { subject: "alice" })).toBe("subject_missing");
    expect(await mapped({ ...base, sub: "bob" }, { subject: "alice" })).toBe("subject_invalid");
  });

  it("iss absent: issuer_missing; another iss than expected: issuer_mismatch", async () => {
    expect(await mapped(without("iss"), { issuer: "https://iss.test" })).toBe("issuer_missing");
    expect(await mapped(without("iss"), { requiredClaims: ["iss"] })).toBe("issuer_missing");
    expect(await mapped({ ...base, iss: "https://evil.test" }, { issuer: "https://iss.test" })).toBe("issuer_mismatch");
    expect(await mapped(base, { issuer: ["https://a.test", "https://b.test"] })).toBe("issuer_mismatch");
  });

  it("the header's typ not the expected one: token_type_mismatch", async () => {
    expect(await mapped(base, { typ: "at+jwt" }, { alg: "RS256", typ: "JWT" })).toBe("token_type_mismatch");
    expect(await mapped(base, { typ: "at+jwt" }, { alg: "RS256" })).toBe("token_type_mismatch");
  });

  it.each(["exp", "iat", "nbf"])("%s absent when required: timestamp_missing; not a number: timestamp_invalid", async (claim) => {
    expect(await mapped(without(claim), { requiredClaims: [claim] })).toBe("timestamp_missing");
    expect(await mapped({ ...base, [claim]: String(NOW_S) })).toBe("timestamp_invalid");
    expect(await mapped({ ...base, [claim]: null })).toBe("timestamp_invalid");
  });

  it("nbf or iat in the future: assertion_not_yet_valid", async () => {
    const nbf = await verdict({ ...base, nbf: NOW_S + 1 });
    expect(nbf).toMatchObject({ claim: "nbf", reason: "check_failed" });
    expect(joseRefusal(nbf)?.reason).toBe("assertion_not_yet_valid");
    expect(await mapped({ ...base, iat: NOW_S + 1, exp: NOW_S + 300 }, { maxTokenAge: 600 })).toBe("assertion_not_yet_valid");
  });

  it("any other claim jose refuses (a required jti, a custom claim): token_invalid", async () => {
    expect(await mapped(base, { requiredClaims: ["jti"] })).toBe("token_invalid");
    expect(await mapped(base, { requiredClaims: ["nonce"] })).toBe("token_invalid");
    expect(joseRefusal(new errors.JWTClaimValidationFailed("x", {}))?.reason).toBe("token_invalid");
    expect(joseRefusal(new errors.JWTClaimValidationFailed("x", {}, "azp", "missing"))?.reason).toBe("token_invalid");
    expect(joseRefusal(new errors.JWTClaimValidationFailed("x", {}, "jti", "invalid"))?.reason).toBe("token_invalid");
  });

  it("an algorithm not allowed: signature_algorithm_forbidden", async () => {
    const e = await verdict(base, { algorithms: ["ES256", "PS256"] });
    expect(e).toBeInstanceOf(errors.JOSEAlgNotAllowed);
    expect(joseRefusal(e)?.reason).toBe("signature_algorithm_forbidden");
  });

  it("everything else jose refuses (signature, structure, unknown kid, crit): token_invalid", async () => {
    const token = await new SignJWT(base).setProtectedHeader({ alg: "RS256" }).sign(priv);
    const [h, p] = token.split(".");
    const refusals: unknown[] = [];
    for (const [t, key] of [
      [`${h}.${p}.${"A".repeat(342)}`, pub],
      ["a.b", pub],
      [token, async () => { throw new errors.JWKSNoMatchingKey(); }],
      // jose will not write an unknown crit extension: PyJWT does
      [pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { crit: ["foo"], foo: 1 }, claims: base }), pub],
    ] as const) {
      try {
        await jwtVerify(t, key as never, options);
      } catch (e) {
        refusals.push(e);
      }
    }
    expect(refusals).toHaveLength(4);
    for (const e of refusals) {
      expect(e).toBeInstanceOf(errors.JOSEError);
      expect(e).not.toBeInstanceOf(errors.JOSEAlgNotAllowed);
      expect(joseRefusal(e)?.reason).toBe("token_invalid");
    }
  });

  it("the bridge's own refusals pass through unchanged (a 503 keeps its Retry-After)", () => {
    const own = new OAuthError("issuer_keys_unavailable", { retryAfterSeconds: 42 });
    expect(joseRefusal(own)).toBe(own);
    const r = refuse("replayed");
    expect(joseRefusal(r)).toBe(r);
  });

  it("anything that is not a jose verdict is not mapped (a bug must surface)", () => {
    for (const e of [new TypeError("x"), new Error("x"), "token_invalid", undefined, null, { claim: "aud" }]) {
      expect(joseRefusal(e)).toBeUndefined();
    }
  });
});
