/**
 * Issue 11: the JWT signature is checked by node:crypto (src/jwt/jws-verify.ts) instead of jose's
 * WebCrypto path. Differential: for every algorithm the bridge accepts (config JWT_ALGORITHMS),
 * generated valid tokens and mutated ones (signature bits, lengths and encodings, alg swaps, keys
 * of another type or size, kid, crit / b64, payload edits, PSS salt lengths, ECDSA high-S) get the
 * SAME verdict (success, or the same jose error class) from
 *   - jose's `compactVerify` and our `verifyCompactJws`, and
 *   - jose's `jwtVerify` and our `verifyCompactJwt` (claims: exp / nbf / iat / maxTokenAge / aud /
 *     iss / required claims around the boundaries, with clock tolerance), with equal payloads.
 * The only listed difference: a token compact.ts's strict decoder refuses (non-canonical
 * base64url, duplicate members) never reaches either verifier in the bridge, and is not compared.
 *
 * Keys are generated here (test keys, never written anywhere). Runs: FUZZ_RUNS (default 150 per
 * property: RSA signing is slow), e.g. `FUZZ_RUNS=5000 npx vitest run test/jwt/node-crypto-verify.test.ts`.
 */
import { constants, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import fc from "fast-check";
import { compactVerify, createLocalJWKSet, errors, exportJWK, jwtVerify, type CryptoKey, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeUnverified } from "../../src/jwt/compact.js";
import { verifyCompactJws, verifyCompactJwt } from "../../src/jwt/jws-verify.js";
import { JWT_ALGORITHMS } from "../../src/oauth/constants.js";
import { fuzzRuns } from "../fuzz/runs.js";

const RUNS = fuzzRuns(150);
/** Each property runs RUNS × 4 cases; a long run (FUZZ_RUNS) gets the time it needs. */
const PROPERTY_TIMEOUT_MS = 120_000 + RUNS * 4 * 60;
type Alg = (typeof JWT_ALGORITHMS)[number];

interface TestKey { kid: string; privateKey: KeyObject; jwk: JWK }

/** node:crypto signing parameters per JWS alg (RFC 7518 §3); `salt` overrides PSS's salt length. */
function signParams(alg: string, key: KeyObject, o: { salt?: number; der?: boolean } = {}): [string | null, KeyObject | Record<string, unknown>] {
  if (alg.startsWith("RS")) return [`sha${alg.slice(2)}`, key];
  if (alg.startsWith("PS")) return [`sha${alg.slice(2)}`, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: o.salt ?? Number(alg.slice(2)) / 8 }];
  if (alg.startsWith("ES")) return [`sha${alg.slice(2)}`, { key, dsaEncoding: o.der ? "der" : "ieee-p1363" }];
  return [null, key];
}

const b64u = (v: unknown): string => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

function signToken(header: Record<string, unknown>, payload: Record<string, unknown> | string, alg: string, key: KeyObject, o: { salt?: number; der?: boolean } = {}): string {
  const input = `${b64u(header)}.${typeof payload === "string" ? payload : b64u(payload)}`;
  const [digest, k] = signParams(alg, key, o);
  return `${input}.${sign(digest, Buffer.from(input), k as KeyObject).toString("base64url")}`;
}

const keyPair = (alg: string, rsaBits = 2048): KeyObject => {
  if (alg.startsWith("RS") || alg.startsWith("PS")) return generateKeyPairSync("rsa", { modulusLength: rsaBits }).privateKey;
  if (alg === "ES256") return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  if (alg === "ES384") return generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey;
  if (alg === "ES512") return generateKeyPairSync("ec", { namedCurve: "secp521r1" }).privateKey;
  return generateKeyPairSync("ed25519").privateKey;
};

let keys: Record<Alg, TestKey>;
/** Same kty/alg as `keys[alg]`, another key: a signature by it must never verify under keys[alg]. */
let impostors: Record<Alg, KeyObject>;
let smallRsa: TestKey;
/** Two RS256 keys without kid: a token without kid meets JWKSMultipleMatchingKeys. */
let twins: [TestKey, TestKey];
let jwks: ReturnType<typeof createLocalJWKSet>;
let twinJwks: ReturnType<typeof createLocalJWKSet>;

async function testKey(kid: string, privateKey: KeyObject, extra: Record<string, unknown>): Promise<TestKey> {
  const { createPublicKey } = await import("node:crypto");
  return { kid, privateKey, jwk: { ...(await exportJWK(createPublicKey(privateKey))), kid, use: "sig", ...extra } };
}

beforeAll(async () => {
  // One RSA key per alg family would do; one per alg keeps kid → alg unambiguous. The JWK of odd
  // algs carries `alg`, the others not, so both of jose's key-selection paths are exercised.
  const entries = await Promise.all(JWT_ALGORITHMS.map(async (alg, i) => [alg, await testKey(`k-${alg}`, keyPair(alg), i % 2 ? { alg } : {})] as const));
  keys = Object.fromEntries(entries) as Record<Alg, TestKey>;
  impostors = Object.fromEntries(JWT_ALGORITHMS.map((alg) => [alg, keyPair(alg)])) as Record<Alg, KeyObject>;
  smallRsa = await testKey("k-small", keyPair("RS256", 1024), {});
  jwks = createLocalJWKSet({ keys: [...Object.values(keys).map((k) => k.jwk), smallRsa.jwk] });
  const t1 = await testKey("t1", keyPair("RS256"), {});
  const t2 = await testKey("t2", keyPair("RS256"), {});
  twins = [t1, t2];
  const withoutKid = ({ kid: _kid, ...jwk }: JWK): JWK => jwk;
  twinJwks = createLocalJWKSet({ keys: [withoutKid(t1.jwk), withoutKid(t2.jwk)] });
}, 120_000);

/** A verdict to compare: "ok", or the jose error code (with claim and reason for claim failures), or TypeError. */
async function verdict(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return "ok";
  } catch (e) {
    if (e instanceof errors.JWTClaimValidationFailed || e instanceof errors.JWTExpired) return `${e.code}:${e.claim}:${e.reason}`;
    if (e instanceof errors.JOSEError) return e.code;
    if (e instanceof TypeError) return "TypeError";
    throw e;
  }
}

const NOW_S = 1_800_000_000;

type Mutation =
  | { kind: "none" } | { kind: "flipSig"; at: number; bit: number } | { kind: "truncSig"; n: number; front: boolean }
  | { kind: "padSig"; n: number; front: boolean } | { kind: "emptySig" } | { kind: "randomSig"; seed: number }
  | { kind: "der" } | { kind: "highS" } | { kind: "salt"; salt: number } | { kind: "swapAlg"; to: Alg; resign: boolean }
  | { kind: "impostor" } | { kind: "otherKid"; to: Alg } | { kind: "noKid" } | { kind: "unknownKid" } | { kind: "smallRsa" }
  | { kind: "crit"; crit: unknown; b64: unknown } | { kind: "payloadBit"; at: number } | { kind: "algNotAllowed" }
  | { kind: "headerAlg"; alg: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ kind: "none" }),
  fc.record({ kind: fc.constant("flipSig" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncSig" as const), n: fc.integer({ min: 1, max: 3 }), front: fc.boolean() }),
  fc.record({ kind: fc.constant("padSig" as const), n: fc.integer({ min: 1, max: 2 }), front: fc.boolean() }),
  fc.constant<Mutation>({ kind: "emptySig" }),
  fc.record({ kind: fc.constant("randomSig" as const), seed: fc.nat() }),
  fc.constant<Mutation>({ kind: "der" }),
  fc.constant<Mutation>({ kind: "highS" }),
  fc.record({ kind: fc.constant("salt" as const), salt: fc.constantFrom(0, 20, 31, 33, 48, 64) }),
  fc.record({ kind: fc.constant("swapAlg" as const), to: fc.constantFrom(...JWT_ALGORITHMS), resign: fc.boolean() }),
  fc.constant<Mutation>({ kind: "impostor" }),
  fc.record({ kind: fc.constant("otherKid" as const), to: fc.constantFrom(...JWT_ALGORITHMS) }),
  fc.constant<Mutation>({ kind: "noKid" }),
  fc.constant<Mutation>({ kind: "unknownKid" }),
  fc.constant<Mutation>({ kind: "smallRsa" }),
  fc.record({
    kind: fc.constant("crit" as const),
    crit: fc.constantFrom<unknown>(["b64"], ["b64", "b64"], ["exp"], [], [""], "b64", ["b64", "exp"], [1], null),
    b64: fc.constantFrom<unknown>(true, false, "true", undefined, null),
  }),
  fc.record({ kind: fc.constant("payloadBit" as const), at: fc.nat() }),
  fc.constant<Mutation>({ kind: "algNotAllowed" }),
  fc.record({ kind: fc.constant("headerAlg" as const), alg: fc.constantFrom<unknown>("none", "HS256", "", 7, "Ed25519", "rs256") }),
);

/** ECDSA signature (r || s) with s replaced by n − s: the same signature, the other "half". */
const CURVE_ORDER: Record<string, bigint> = {
  ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  ES384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  ES512: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};
function highS(alg: string, sig: Buffer): Buffer {
  const n = CURVE_ORDER[alg];
  if (n === undefined) return sig;
  const half = sig.length / 2;
  const s = BigInt(`0x${sig.subarray(half).toString("hex")}`);
  const s2 = Buffer.from((n - s).toString(16).padStart(half * 2, "0"), "hex");
  return Buffer.concat([sig.subarray(0, half), s2]);
}

/** The token of `alg` with `claims`, mutated. Returns the allowed algorithms too. */
function build(alg: Alg, claims: Record<string, unknown>, m: Mutation): { token: string; allowed: Set<string>; set: "main" | "twins" } {
  const k = keys[alg];
  let header: Record<string, unknown> = { alg, kid: k.kid, typ: "JWT" };
  let key = k.privateKey;
  let signAlg: string = alg;
  let o: { salt?: number; der?: boolean } = {};
  let allowed = new Set<string>(JWT_ALGORITHMS);
  let set: "main" | "twins" = "main";
  switch (m.kind) {
    case "der": o = { der: true }; break;
    case "salt": o = { salt: m.salt }; break;
    case "swapAlg": header = { ...header, alg: m.to }; if (m.resign) signAlg = m.to; break;
    case "impostor": key = impostors[alg]; break;
    case "otherKid": header = { ...header, kid: keys[m.to].kid }; break;
    case "noKid": { const { kid: _k, ...rest } = header; header = rest; if (alg === "RS256") { set = "twins"; key = twins[Number(claims.sub === "b")]!.privateKey; } break; }
    case "unknownKid": header = { ...header, kid: "nobody" }; break;
    case "smallRsa": if (alg.startsWith("RS") || alg.startsWith("PS")) { header = { ...header, kid: smallRsa.kid }; key = smallRsa.privateKey; } break;
    case "crit": header = { ...header, crit: m.crit, ...(m.b64 === undefined ? {} : { b64: m.b64 }) }; break;
    case "algNotAllowed": allowed = new Set(JWT_ALGORITHMS.filter((a) => a !== alg)); break;
    case "headerAlg": header = { ...header, alg: m.alg }; break;
    default: break;
  }
  let token: string;
  try {
    token = signToken(header, claims, signAlg, key, o);
  } catch {
    // An alg swap across key types cannot be signed with this key: keep the original signature.
    token = `${b64u(header)}.${b64u(claims)}.${signToken({ alg, kid: k.kid, typ: "JWT" }, claims, alg, k.privateKey).split(".")[2]}`;
  }
  const [h, p, s] = token.split(".") as [string, string, string];
  let sig: Buffer = Buffer.from(s, "base64url");
  switch (m.kind) {
    case "flipSig": if (sig.length) sig[m.at % sig.length]! ^= 1 << m.bit; break;
    case "truncSig": sig = m.front ? sig.subarray(m.n) : sig.subarray(0, sig.length - m.n); break;
    case "padSig": sig = m.front ? Buffer.concat([Buffer.alloc(m.n), sig]) : Buffer.concat([sig, Buffer.alloc(m.n)]); break;
    case "emptySig": sig = Buffer.alloc(0); break;
    case "randomSig": sig = Buffer.from(Array.from(sig, (_, i) => (m.seed * 31 + i * 17) & 0xff)); break;
    case "highS": sig = highS(alg, sig); break;
    default: break;
  }
  let payload = p;
  if (m.kind === "payloadBit") {
    const bytes = Buffer.from(p, "base64url");
    const i = m.at % bytes.length;
    // Stay JSON: change a letter or digit into another (only where there is one).
    const c = bytes[i]!;
    if ((c >= 0x61 && c < 0x7a) || (c >= 0x30 && c < 0x39)) bytes[i] = c + 1;
    payload = bytes.toString("base64url");
  }
  return { token: `${h}.${payload}.${sig.toString("base64url")}`, allowed, set };
}

const claimsArb = fc.record({
  sub: fc.constantFrom("a", "b", "user-1"),
  email: fc.emailAddress(),
  groups: fc.array(fc.constantFrom("staff", "editors"), { maxLength: 3 }),
});

/** Our path as the bridge runs it: the strict decoder first; what it refuses is not compared (listed above). */
function decoded(token: string): Record<string, unknown> | undefined {
  try {
    return decodeUnverified(token).header;
  } catch {
    return undefined;
  }
}

describe("node:crypto JWS verification agrees with jose's compactVerify", () => {
  it("valid and mutated tokens of every allowed algorithm", async () => {
    const seen = new Map<string, number>();
    await fc.assert(fc.asyncProperty(fc.constantFrom(...JWT_ALGORITHMS), claimsArb, mutation, async (alg, claims, m) => {
      const { token, allowed, set } = build(alg, { iss: "https://issuer.test", ...claims }, m);
      const header = decoded(token);
      if (header === undefined) return;
      const keySet = set === "twins" ? twinJwks : jwks;
      const theirs = await verdict(() => compactVerify(token, keySet, { algorithms: [...allowed] }));
      const ours = await verdict(() => verifyCompactJws(token, header, keySet, allowed));
      expect(ours, `${alg} ${JSON.stringify(m)}`).toBe(theirs);
      seen.set(theirs, (seen.get(theirs) ?? 0) + 1);
    }), { numRuns: RUNS * 4 });
    // The runs met both outcomes (a differential that only ever compared failures would prove little).
    expect(seen.get("ok") ?? 0).toBeGreaterThan(0);
    expect(seen.get("ERR_JWS_SIGNATURE_VERIFICATION_FAILED") ?? 0).toBeGreaterThan(0);
  }, PROPERTY_TIMEOUT_MS);

  it("each algorithm verifies its own valid token and refuses a flipped signature (both paths)", async () => {
    for (const alg of JWT_ALGORITHMS) {
      const { token } = build(alg, { sub: "a" }, { kind: "none" });
      const header = decodeUnverified(token).header;
      await expect(verifyCompactJws(token, header, jwks, new Set(JWT_ALGORITHMS))).resolves.toMatchObject({ protectedHeader: { alg } });
      await expect(compactVerify(token, jwks, { algorithms: [alg] })).resolves.toBeDefined();
      const bad = build(alg, { sub: "a" }, { kind: "flipSig", at: 5, bit: 0 }).token;
      await expect(verifyCompactJws(bad, decodeUnverified(bad).header, jwks, new Set(JWT_ALGORITHMS))).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed);
    }
  }, 60_000);

  it("the shapes that must be refused are refused, by both, for the same reason", async () => {
    const all = new Set<string>(JWT_ALGORITHMS);
    const cases: [Alg, Mutation, string][] = [
      ["ES256", { kind: "der" }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"], // RFC 7518 §3.4: R||S, never DER
      ["ES384", { kind: "truncSig", n: 1, front: false }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
      ["PS256", { kind: "salt", salt: 0 }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"], // §3.5: salt = hash length
      ["PS384", { kind: "salt", salt: 32 }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
      ["RS256", { kind: "smallRsa" }, "TypeError"], // < 2048 bits
      ["RS256", { kind: "otherKid", to: "ES256" }, "ERR_JWKS_NO_MATCHING_KEY"], // an EC key for an RSA alg
      // (the PS384 JWK names no alg, so the RS384 token finds it: a PSS signature under PKCS #1 v1.5)
      ["PS384", { kind: "swapAlg", to: "RS384", resign: false }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
      ["PS256", { kind: "swapAlg", to: "RS256", resign: false }, "ERR_JWKS_NO_MATCHING_KEY"], // its JWK says alg PS256
      ["EdDSA", { kind: "impostor" }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
      ["RS256", { kind: "crit", crit: ["exp"], b64: undefined }, "ERR_JOSE_NOT_SUPPORTED"],
      ["RS256", { kind: "crit", crit: ["b64"], b64: undefined }, "ERR_JWS_INVALID"],
      ["RS256", { kind: "crit", crit: ["b64"], b64: "true" }, "ERR_JWS_INVALID"],
      ["RS256", { kind: "crit", crit: [], b64: true }, "ERR_JWS_INVALID"],
      ["RS256", { kind: "algNotAllowed" }, "ERR_JOSE_ALG_NOT_ALLOWED"],
      ["RS256", { kind: "headerAlg", alg: "none" }, "ERR_JOSE_ALG_NOT_ALLOWED"],
      ["RS256", { kind: "headerAlg", alg: 7 }, "ERR_JWS_INVALID"],
      ["ES256", { kind: "unknownKid" }, "ERR_JWKS_NO_MATCHING_KEY"],
    ];
    for (const [alg, m, expected] of cases) {
      const { token, allowed } = build(alg, { sub: "a" }, m);
      const header = decodeUnverified(token).header;
      expect(await verdict(() => compactVerify(token, jwks, { algorithms: [...(m.kind === "algNotAllowed" ? allowed : all)] })), `jose ${alg} ${JSON.stringify(m)}`).toBe(expected);
      expect(await verdict(() => verifyCompactJws(token, header, jwks, m.kind === "algNotAllowed" ? allowed : all)), `ours ${alg} ${JSON.stringify(m)}`).toBe(expected);
    }
    // ECDSA signatures are malleable ((r, n − s) verifies too): jose/WebCrypto accept it, so do we.
    const { token } = build("ES256", { sub: "a" }, { kind: "highS" });
    expect(await verdict(() => verifyCompactJws(token, decodeUnverified(token).header, jwks, all))).toBe("ok");
    // b64: false is a valid JWS but never a JWT.
    const unencoded = build("RS256", { sub: "a" }, { kind: "crit", crit: ["b64"], b64: false }).token;
    expect(await verdict(() => verifyCompactJws(unencoded, decodeUnverified(unencoded).header, jwks, all))).toBe("ok");
    expect(await verdict(() => verifyCompactJwt(unencoded, decodeUnverified(unencoded).header, jwks, all, {}))).toBe("ERR_JWT_INVALID");
    expect(await verdict(() => jwtVerify(unencoded, jwks, {}))).toBe("ERR_JWT_INVALID");
  }, 60_000);

  it("a token without kid among several matching keys: JWKSMultipleMatchingKeys from both (the caller tries each)", async () => {
    const { token } = build("RS256", { sub: "a" }, { kind: "noKid" });
    const header = decodeUnverified(token).header;
    expect(await verdict(() => verifyCompactJws(token, header, twinJwks, new Set(["RS256"])))).toBe("ERR_JWKS_MULTIPLE_MATCHING_KEYS");
    expect(await verdict(() => compactVerify(token, twinJwks, { algorithms: ["RS256"] }))).toBe("ERR_JWKS_MULTIPLE_MATCHING_KEYS");
    // One candidate CryptoKey at a time, as src/jwt/verifier.ts does.
    const candidates = await twinJwks({ alg: "RS256" }, { payload: "", signature: "" }).catch((e: unknown) => e as AsyncIterable<CryptoKey>);
    const verdicts: string[] = [];
    for await (const key of candidates as AsyncIterable<CryptoKey>) verdicts.push(await verdict(() => verifyCompactJws(token, header, key, new Set(["RS256"]))));
    expect(verdicts.sort()).toEqual(["ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "ok"]);
  });
});

describe("node:crypto JWT verification agrees with jose's jwtVerify (claims)", () => {
  const timeArb = fc.option(fc.oneof(fc.integer({ min: NOW_S - 7300, max: NOW_S + 7300 }), fc.constantFrom<unknown>(NOW_S - 60, NOW_S + 60, NOW_S - 61, NOW_S + 61, NOW_S, "1800000000", null, 1.5e9 + 0.5)), { nil: undefined });
  const claimSet = fc.record({
    iss: fc.option(fc.constantFrom<unknown>("https://issuer.test", "https://other.test", 5), { nil: undefined }),
    sub: fc.option(fc.constantFrom<unknown>("a", "b", ""), { nil: undefined }),
    aud: fc.option(fc.constantFrom<unknown>("fedbridge", "other", ["other", "fedbridge"], ["other"], [], 1), { nil: undefined }),
    exp: timeArb, iat: timeArb, nbf: timeArb,
    jti: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
  }, { requiredKeys: [] });
  const optionsArb = fc.record({
    skew: fc.constantFrom(0, 60, 300),
    maxAge: fc.option(fc.constantFrom(60, 3600), { nil: undefined }),
    required: fc.subarray(["exp", "iat", "sub", "iss", "aud", "jti"]),
  });

  it("generated claim sets, every algorithm, with and without mutations", async () => {
    const seen = new Set<string>();
    await fc.assert(fc.asyncProperty(fc.constantFrom(...JWT_ALGORITHMS), claimSet, optionsArb, fc.oneof(fc.constant<Mutation>({ kind: "none" }), fc.constant<Mutation>({ kind: "none" }), mutation), async (alg, rawClaims, opt, m) => {
      const claims = Object.fromEntries(Object.entries(rawClaims).filter(([, v]) => v !== undefined)) as Record<string, unknown>;
      const { token, allowed, set } = build(alg, claims, m);
      const header = decoded(token);
      if (header === undefined) return;
      const keySet = set === "twins" ? twinJwks : jwks;
      const options = {
        issuer: "https://issuer.test", audience: ["fedbridge", "fedbridge-eu"], requiredClaims: opt.required,
        clockTolerance: opt.skew, currentDate: new Date(NOW_S * 1000), ...(opt.maxAge === undefined ? {} : { maxTokenAge: opt.maxAge }),
      };
      let theirPayload: unknown;
      let ourPayload: unknown;
      const theirs = await verdict(async () => ({ payload: theirPayload } = await jwtVerify(token, keySet, { ...options, algorithms: [...allowed] })));
      const ours = await verdict(async () => ({ payload: ourPayload } = await verifyCompactJwt(token, header, keySet, allowed, options)));
      expect(ours, `${alg} ${JSON.stringify(claims)} ${JSON.stringify(opt)} ${JSON.stringify(m)}`).toBe(theirs);
      expect(ourPayload).toEqual(theirPayload);
      seen.add(theirs);
    }), { numRuns: RUNS * 4 });
    // Both sides of the boundaries were met: success, expiry, not-yet-valid, missing claims.
    expect(seen).toContain("ok");
    expect(seen).toContain("ERR_JWT_EXPIRED:exp:check_failed");
    expect([...seen].some((v) => v.endsWith(":missing"))).toBe(true);
  }, PROPERTY_TIMEOUT_MS);
});

describe("the key checks: a CryptoKey given directly, of every algorithm, type, size and usage", () => {
  it("agrees with jose's compactVerify for every (token alg, key) pair", async () => {
    const { createPublicKey } = await import("node:crypto");
    const subtle = globalThis.crypto.subtle;
    const der = (b: Buffer): Uint8Array<ArrayBuffer> => new Uint8Array(b);
    const rsaSpki = (k: KeyObject): Uint8Array<ArrayBuffer> => der(createPublicKey(k).export({ type: "spki", format: "der" }));
    const rsa2048 = keys.RS256.privateKey;
    type Variant = [name: string, make: () => Promise<CryptoKey>];
    const variants: Variant[] = [];
    for (const hash of ["SHA-256", "SHA-384", "SHA-512"]) {
      for (const name of ["RSASSA-PKCS1-v1_5", "RSA-PSS"]) {
        variants.push([`${name} ${hash}`, () => subtle.importKey("spki", rsaSpki(rsa2048), { name, hash }, true, ["verify"]) as Promise<CryptoKey>]);
      }
    }
    variants.push(["RSASSA-PKCS1-v1_5 SHA-256 without the verify usage", () => subtle.importKey("spki", rsaSpki(rsa2048), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, []) as Promise<CryptoKey>]);
    variants.push(["RSASSA-PKCS1-v1_5 SHA-256, 1024 bits", () => subtle.importKey("spki", rsaSpki(smallRsa.privateKey), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]) as Promise<CryptoKey>]);
    variants.push(["RSASSA-PKCS1-v1_5 SHA-256, private", () => subtle.importKey("pkcs8", der(rsa2048.export({ type: "pkcs8", format: "der" })), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["sign"]) as Promise<CryptoKey>]);
    for (const [alg, curve] of [["ES256", "P-256"], ["ES384", "P-384"], ["ES512", "P-521"]] as const) {
      variants.push([`ECDSA ${curve}`, () => subtle.importKey("spki", der(createPublicKey(keys[alg].privateKey).export({ type: "spki", format: "der" })), { name: "ECDSA", namedCurve: curve }, true, ["verify"]) as Promise<CryptoKey>]);
    }
    variants.push(["ECDSA P-256 as ECDH", () => subtle.importKey("spki", der(createPublicKey(keys.ES256.privateKey).export({ type: "spki", format: "der" })), { name: "ECDH", namedCurve: "P-256" }, true, []) as Promise<CryptoKey>]);
    variants.push(["Ed25519", () => subtle.importKey("spki", der(createPublicKey(keys.EdDSA.privateKey).export({ type: "spki", format: "der" })), { name: "Ed25519" }, true, ["verify"]) as Promise<CryptoKey>]);
    const all = new Set<string>(JWT_ALGORITHMS);
    const outcomes = new Set<string>();
    for (const [name, make] of variants) {
      const key = await make();
      for (const alg of JWT_ALGORITHMS) {
        // Signed by the key the variant was made from, where that key can sign this alg.
        const signer = name.includes("1024") ? smallRsa.privateKey
          : name.startsWith("RSA") ? rsa2048
            : name.startsWith("Ed") ? keys.EdDSA.privateKey
              : keys[(name.includes("P-384") ? "ES384" : name.includes("P-521") ? "ES512" : "ES256") as Alg].privateKey;
        let token: string;
        try {
          token = signToken({ alg }, { sub: "a" }, alg, signer);
        } catch {
          token = `${b64u({ alg })}.${b64u({ sub: "a" })}.AAAA`;
        }
        const header = decodeUnverified(token).header;
        const theirs = await verdict(() => compactVerify(token, key, { algorithms: [alg] }));
        const ours = await verdict(() => verifyCompactJws(token, header, key, all));
        expect(ours, `${alg} with ${name}`).toBe(theirs);
        outcomes.add(theirs);
      }
    }
    // Every variant verifies the alg it was made for, and refuses (TypeError, as jose) every other.
    expect(outcomes).toEqual(new Set(["ok", "TypeError"]));
  }, 120_000);

  it("anything but a CryptoKey from the resolver is refused (jose's JWK Sets only hand out CryptoKeys)", async () => {
    const { token } = build("RS256", { sub: "a" }, { kind: "none" });
    const header = decodeUnverified(token).header;
    const { createPublicKey } = await import("node:crypto");
    const resolver = async () => createPublicKey(keys.RS256.privateKey) as unknown as CryptoKey;
    expect(await verdict(() => verifyCompactJws(token, header, resolver, new Set(["RS256"])))).toBe("TypeError");
  });
});
