/**
 * Mutation testing (issue 8, docs/mutation-testing.md): exact boundaries and output values of the
 * JWT verifier (src/jwt/verifier.ts) that the HTTP suites did not pin. The verifier is called
 * directly, with a fixed `now` and a registry built here, so each rule is seen on its own:
 * the token size bound (`>`, min(maxTokenBytes, 16 KiB)), the `kid` bound, the lifetime bound,
 * the `aud` shape, the ID-token `azp` rule with several audiences (OIDC Core §3.1.3.7), the `jti`
 * bound and the replay window, the time/auth_time/acr conversions, claims → attributes, and the
 * bounded try-each-key path for a token without `kid` (MAX_KEY_CANDIDATES).
 *
 * Well-formed tokens are signed by PyJWT (independent-jwt.ts) in one batch; only the shapes PyJWT
 * cannot write (a 1e400 number, an exact byte size) are signed here with node:crypto over the exact
 * segment text. All keys are the TEST-ONLY keys of test/fixtures/keys.
 */
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { JSONWebKeySet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { OAuthError } from "../../src/oauth/errors.js";
import type { MappingConfig } from "../../src/config/schema.js";
import { guardedKeys, localKeys } from "../../src/jwt/keys.js";
import { JwtIssuerRegistry, type TrustedJwtIssuer } from "../../src/jwt/registry.js";
import { jwtTokenVerifier } from "../../src/jwt/verifier.js";
import type { VerifiedSubject } from "../../src/subject/types.js";
import { KEYS_DIR } from "../support/constants.js";
import { JWT_KEYS, pySignMany, type PySignSpec } from "../support/independent-jwt.js";
import { ID_TOKEN, JWT } from "../support/jwt-fixtures.js";

const NOW_S = 1_800_000_000;
const NOW = NOW_S * 1000;
const SKEW = 60;
const ISS = "https://login.corp.test";
const AUD = "fedbridge";
/** A second audience of the same issuer (another registration of the bridge). */
const AUD2 = "fedbridge-eu";
const OTHER = "other-app";

const pem = (file: string): string => readFileSync(file, "utf8");
const publicJwk = (keyFile: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ ...(createPublicKey(createPrivateKey(pem(keyFile))).export({ format: "jwk" }) as Record<string, unknown>), ...extra });
const OIDC_JWKS = JSON.parse(readFileSync(new URL("../fixtures/jwks/oidc.jwks.json", import.meta.url), "utf8")) as JSONWebKeySet;

function issuer(over: Partial<TrustedJwtIssuer> & { jwks?: JSONWebKeySet } = {}): TrustedJwtIssuer {
  const { jwks = OIDC_JWKS, ...rest } = over;
  const local = localKeys(jwks);
  return {
    id: "corp", issuer: ISS, algorithms: ["RS256"], audiences: [AUD, AUD2], tokenTypes: [ID_TOKEN, JWT],
    maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 3600, oneTimeUse: false,
    mapping: {} as MappingConfig, binding: { actor: "azp", subject: false },
    keys: guardedKeys(() => local),
    ...rest,
  };
}

/** Runs the real verifier (built here, inside the test) and returns the subject or the reason code. */
async function verify(
  token: string,
  o: { type?: string; iss?: TrustedJwtIssuer; maxTokenBytes?: number; skew?: number; now?: number } = {},
): Promise<VerifiedSubject> {
  const v = jwtTokenVerifier(o.type ?? ID_TOKEN, {
    issuers: new JwtIssuerRegistry([o.iss ?? issuer()]), skewSeconds: o.skew ?? SKEW, maxTokenBytes: o.maxTokenBytes ?? 64 * 1024,
  });
  return v(token, o.now ?? NOW);
}
async function reason(token: string, o: Parameters<typeof verify>[1] = {}): Promise<string> {
  try {
    await verify(token, o);
  } catch (e) {
    // Only the one OAuth error family: a TypeError here would be a 500, never a refusal.
    expect(e).toBeInstanceOf(OAuthError);
    return (e as OAuthError).reason;
  }
  return "accepted";
}

const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => {
  const c: Record<string, unknown> = { iss: ISS, sub: "alice", aud: AUD, iat: NOW_S, exp: NOW_S + 300, ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
};

// ---- tokens, signed once by PyJWT ----------------------------------------------------------------------

const LONG_KID = "k".repeat(256);
const TOO_LONG_KID = "k".repeat(257);
/** Five RSA keys of other test identities, none with kid: a rollover set bigger than MAX_KEY_CANDIDATES (4). */
const CANDIDATES = ["attacker.key", "idp1.key", "idp2.key", "idp11.key", "oidc-rs-next.key"].map((f) => path.join(KEYS_DIR, f));
const JTI_1024 = "j".repeat(1024);

const SPECS = {
  plain: { claims: claims() },
  kid256: { header: { kid: LONG_KID }, claims: claims() },
  kid257: { header: { kid: TOO_LONG_KID }, claims: claims() },
  lifetimeMax: { claims: claims({ exp: NOW_S + 3600 }) },
  lifetimeMaxOlder: { claims: claims({ iat: NOW_S - 100, exp: NOW_S - 100 + 3600 }) },
  lifetimeOver: { claims: claims({ exp: NOW_S + 3601 }) },
  lifetimeOverOlder: { claims: claims({ iat: NOW_S - 100, exp: NOW_S - 100 + 3601 }) },
  lifetimeOne: { claims: claims({ iat: NOW_S - 30, exp: NOW_S - 29 }) },
  expEqualsIat: { claims: claims({ iat: NOW_S - 30, exp: NOW_S - 30 }) },
  audNumber: { claims: claims({ aud: [AUD, 7] }) },
  audNull: { claims: claims({ aud: [AUD, null] }) },
  audObject: { claims: claims({ aud: [AUD, { aud: AUD }] }) },
  audNested: { claims: claims({ aud: [AUD, [AUD]] }) },
  audBool: { claims: claims({ aud: [AUD, true] }) },
  audNumberAzp: { claims: claims({ aud: [AUD, 7], azp: AUD }) },
  audNumberFirstAzp: { claims: claims({ aud: [7, AUD], azp: AUD }) },
  twoAudNoAzp: { claims: claims({ aud: [AUD, OTHER] }) },
  oneAudArrayNoAzp: { claims: claims({ aud: [AUD] }) },
  oneAudArrayOtherAzp: { claims: claims({ aud: [AUD], azp: OTHER }) },
  stringAudOtherAzp: { claims: claims({ aud: AUD, azp: OTHER }) },
  twoAudAzp: { claims: claims({ aud: [AUD, OTHER], azp: AUD }) },
  twoAudAzp2: { claims: claims({ aud: [OTHER, AUD2], azp: AUD2 }) },
  threeAudAzp: { claims: claims({ aud: [OTHER, AUD, "third"], azp: AUD }) },
  ownAudsAzp: { claims: claims({ aud: [AUD, AUD2], azp: AUD2 }) },
  ownAudsNoAzp: { claims: claims({ aud: [AUD, AUD2] }) },
  twoAudOtherAzp: { claims: claims({ aud: [AUD, OTHER], azp: OTHER }) },
  twoAudNumberAzp: { claims: claims({ aud: [AUD, OTHER], azp: 7 }) },
  twoAudArrayAzp: { claims: claims({ aud: [AUD, OTHER], azp: [AUD] }) },
  twoAudNullAzp: { claims: claims({ aud: [AUD, OTHER], azp: null }) },
  twoAudEmptyAzp: { claims: claims({ aud: [AUD, OTHER], azp: "" }) },
  jti1024: { claims: claims({ jti: JTI_1024 }) },
  jti1025: { claims: claims({ jti: `${JTI_1024}j` }) },
  jtiOne: { claims: claims({ jti: "x" }) },
  jtiEmpty: { claims: claims({ jti: "" }) },
  jtiZero: { claims: claims({ jti: 0 }) },
  jtiNull: { claims: claims({ jti: null }) },
  jtiFalse: { claims: claims({ jti: false }) },
  jtiArray: { claims: claims({ jti: ["x"] }) },
  full: {
    header: { kid: "oidc-rs-1" },
    claims: claims({
      iat: NOW_S - 20, exp: NOW_S + 280, nbf: NOW_S - 20, auth_time: NOW_S - 90, acr: "urn:corp:mfa", azp: AUD,
      email: "alice@corp.test", email_verified: true, level: 3, ratio: 0.5, groups: ["staff", "editors"],
      mixed: ["a", 1, false], none: [], withObject: ["a", { b: 1 }], withNull: ["a", null], address: { country: "NL" },
      nothing: null, act: { sub: "upstream" }, may_act: { sub: "svc" },
    }),
  },
  authTimeString: { claims: claims({ auth_time: String(NOW_S - 90), acr: 42 }) },
  authTimeZero: { claims: claims({ auth_time: 0, acr: "" }) },
  authTimeArray: { claims: claims({ auth_time: [NOW_S], acr: ["urn:corp:mfa"] }) },
} satisfies Record<string, Omit<PySignSpec, "key" | "alg">>;

const tokens = {} as Record<keyof typeof SPECS, string>;
/** candidateTokens[i]: signed by CANDIDATES[i], no kid; candidateTokens[5]: by the corporate IdP's key (in no set). */
let candidateTokens: string[] = [];
let expiredByFirstCandidate: string;
let notYetByFirstCandidate: string;

/**
 * pySignMany, remembered in the OS temp folder under the hash of the exact input. The claims use a
 * fixed clock and RS256 (PKCS #1 v1.5) signatures are deterministic, so a remembered token is
 * byte for byte what PyJWT would write again; this only spares the Python start and key loads
 * (seconds on a loaded machine) on every rerun, e.g. once per mutant under Stryker.
 */
function pySignManyCached(specs: PySignSpec[]): string[] {
  const key = createHash("sha256").update(JSON.stringify(specs)).update(specs.map((s) => pem(s.key)).join("")).digest("hex").slice(0, 32);
  const file = path.join(os.tmpdir(), `fedbridge-mutation-kills-${key}.json`);
  try {
    const cached = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (Array.isArray(cached) && cached.length === specs.length && cached.every((t) => typeof t === "string")) return cached as string[];
  } catch {
    // not there yet (or unreadable): sign below
  }
  const tokens = pySignMany(specs);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(tokens));
  renameSync(tmp, file);
  return tokens;
}

beforeAll(() => {
  const names = Object.keys(SPECS) as (keyof typeof SPECS)[];
  const signed = pySignManyCached([
    ...names.map((n): PySignSpec => ({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, ...SPECS[n] })),
    ...[...CANDIDATES, JWT_KEYS.oidc].map((key): PySignSpec => ({ key, alg: "RS256", header: {}, claims: claims() })),
    { key: CANDIDATES[0]!, alg: "RS256", header: {}, claims: claims({ iat: NOW_S - 600, exp: NOW_S - 120 }) },
    { key: CANDIDATES[0]!, alg: "RS256", header: {}, claims: claims({ nbf: NOW_S + 600 }) },
  ]);
  names.forEach((n, i) => { tokens[n] = signed[i]!; });
  candidateTokens = signed.slice(names.length, names.length + 6);
  [expiredByFirstCandidate, notYetByFirstCandidate] = signed.slice(names.length + 6) as [string, string];
}, 60_000);

/** RS256 by node:crypto over exactly the given header and payload TEXT (shapes PyJWT cannot write). */
function signRaw(header: string, payload: string, keyFile: string = JWT_KEYS.oidc): string {
  const h = Buffer.from(header, "utf8").toString("base64url");
  const p = Buffer.from(payload, "utf8").toString("base64url");
  return `${h}.${p}.${sign("sha256", Buffer.from(`${h}.${p}`, "ascii"), createPrivateKey(pem(keyFile))).toString("base64url")}`;
}
const RAW_HEADER = JSON.stringify({ alg: "RS256", kid: "oidc-rs-1" });

// ---- the rules -----------------------------------------------------------------------------------------

describe("token size: refused only when longer than min(limits.maxTokenBytes, 16 KiB) (verifier.ts:57, :59)", () => {
  it("a signed token exactly as long as maxTokenBytes is verified; one character less allowed is token_too_large", async () => {
    const t = tokens.plain;
    expect(await reason(t, { maxTokenBytes: t.length })).toBe("accepted");
    expect(await reason(t, { maxTokenBytes: t.length + 1 })).toBe("accepted");
    expect(await reason(t, { maxTokenBytes: t.length - 1 })).toBe("token_too_large");
    expect(await reason(t, { maxTokenBytes: 10 })).toBe("token_too_large");
  });

  it("the bound is checked before parsing: at the limit a non-JWT is token_invalid, one over it token_too_large", async () => {
    for (const n of [100, 4096]) {
      expect(await reason("A".repeat(n), { maxTokenBytes: n })).toBe("token_invalid");
      expect(await reason("A".repeat(n + 1), { maxTokenBytes: n })).toBe("token_too_large");
      expect(await reason(`${"A".repeat(n - 4)}.b.c`, { maxTokenBytes: n })).toBe("token_invalid");
      expect(await reason(`${"A".repeat(n - 3)}.b.c`, { maxTokenBytes: n })).toBe("token_too_large");
    }
  });

  it("a larger maxTokenBytes never lifts the 16 KiB cap (RFC 8725 §3, catalogue G15)", async () => {
    for (const maxTokenBytes of [16 * 1024, 16 * 1024 + 1, 64 * 1024, 1024 * 1024]) {
      expect(await reason("A".repeat(16 * 1024), { maxTokenBytes })).toBe("token_invalid");
      expect(await reason("A".repeat(16 * 1024 + 1), { maxTokenBytes })).toBe("token_too_large");
    }
  });

  it("a signed, otherwise valid token of exactly 16 KiB is verified; the same claims one byte longer are not", async () => {
    const sized = (total: number): string => {
      // the RS256 signature of a 2048-bit key is always 342 base64url characters
      const h = Buffer.from(RAW_HEADER).toString("base64url");
      // start a little below the padding that fills the payload segment, then step one byte at a time
      const start = Math.floor(((total - h.length - 344) * 3) / 4) - JSON.stringify(claims({ pad: "" })).length - 8;
      for (let pad = start; pad < start + 64; pad++) {
        const payload = JSON.stringify(claims({ pad: "x".repeat(pad) }));
        if (h.length + 1 + Buffer.from(payload).toString("base64url").length + 1 + 342 === total) return signRaw(RAW_HEADER, payload);
      }
      throw new Error(`no padding gives ${total}`);
    };
    const exact = sized(16 * 1024);
    expect(exact.length).toBe(16 * 1024);
    expect(await reason(exact, { maxTokenBytes: 1024 * 1024 })).toBe("accepted");
    // base64url cannot end a segment on every length: one over is reached with two more characters
    const over = sized(16 * 1024 + 2);
    expect(await reason(over, { maxTokenBytes: 1024 * 1024 })).toBe("token_too_large");
  });
});

describe("kid: a string of at most 256 characters, else token_invalid before any key is looked at (verifier.ts:72)", () => {
  const withKids = (...kids: string[]): JSONWebKeySet => ({ keys: kids.map((kid) => publicJwk(JWT_KEYS.oidc, { kid, alg: "RS256", use: "sig" })) }) as JSONWebKeySet;

  it("a 256-character kid that names the issuer's key is verified", async () => {
    const s = await verify(tokens.kid256, { iss: issuer({ jwks: withKids(LONG_KID) }) });
    expect(s.keyId).toBe(LONG_KID);
  });

  it("a 257-character kid is refused even though the issuer's JWKS has a key with exactly that kid", async () => {
    expect(await reason(tokens.kid257, { iss: issuer({ jwks: withKids(TOO_LONG_KID, LONG_KID) }) })).toBe("token_invalid");
  });

  it("a kid that is not a string (null, a number, an array, an object) is token_invalid, never a crash", async () => {
    const jwks = { keys: [publicJwk(JWT_KEYS.oidc, { alg: "RS256" })] } as JSONWebKeySet;
    // PyJWT refuses to write these headers: signed here over the exact header text
    for (const kid of [null, 7, ["oidc-rs-1"], { kid: "oidc-rs-1" }, true]) {
      const t = signRaw(JSON.stringify({ alg: "RS256", kid }), JSON.stringify(claims()));
      expect(await reason(t, { iss: issuer({ jwks }) })).toBe("token_invalid");
    }
    // the same key set verifies the same claims without a kid
    expect(await reason(candidateTokens[5]!, { iss: issuer({ jwks }) })).toBe("accepted");
  });
});

describe("a key jose will not use (an RSA key under 2048 bits in a fetched JWKS): token_invalid, never a crash (verifier.ts:152)", () => {
  it("jose's TypeError is not a verdict it maps, so the verifier's own fallback refuses", async () => {
    const weak = path.join(KEYS_DIR, "weak1024.key");
    const jwks = { keys: [publicJwk(weak, { kid: "weak", alg: "RS256" })] } as JSONWebKeySet;
    const t = signRaw(JSON.stringify({ alg: "RS256", kid: "weak" }), JSON.stringify(claims()), weak);
    expect(await reason(t, { iss: issuer({ jwks }) })).toBe("token_invalid");
    const noKid = signRaw(JSON.stringify({ alg: "RS256" }), JSON.stringify(claims()), weak);
    expect(await reason(noKid, { iss: issuer({ jwks }) })).toBe("token_invalid");
  });
});

describe("lifetime: exp after iat, exp − iat at most maxLifetimeSeconds (time-checks.ts checkLifetime, from verifier.ts)", () => {
  it("exactly maxLifetimeSeconds is accepted, one second more is token_lifetime_too_long", async () => {
    expect(await reason(tokens.lifetimeMax)).toBe("accepted");
    expect(await reason(tokens.lifetimeMaxOlder)).toBe("accepted");
    expect(await reason(tokens.lifetimeOver)).toBe("token_lifetime_too_long");
    expect(await reason(tokens.lifetimeOverOlder)).toBe("token_lifetime_too_long");
  });

  it("the bound is the issuer's: 3599 s refuses what 3600 s accepts", async () => {
    expect(await reason(tokens.lifetimeMax, { iss: issuer({ maxLifetimeSeconds: 3599 }) })).toBe("token_lifetime_too_long");
    expect(await reason(tokens.lifetimeOver, { iss: issuer({ maxLifetimeSeconds: 3601 }) })).toBe("accepted");
  });

  it("one second of lifetime is accepted; exp equal to iat is timestamp_invalid", async () => {
    expect(await reason(tokens.lifetimeOne)).toBe("accepted");
    expect(await reason(tokens.expEqualsIat)).toBe("timestamp_invalid");
  });
});

describe("aud: a string or a non-empty array of strings (verifier.ts:90)", () => {
  it("an array naming the bridge next to a non-string member is audience_mismatch (jose only looks for a match)", async () => {
    for (const t of [tokens.audNumber, tokens.audNull, tokens.audObject, tokens.audNested, tokens.audBool]) {
      expect(await reason(t, { type: JWT })).toBe("audience_mismatch");
    }
  });

  it("also for an ID token whose azp names the bridge (so the azp rule is not what refuses it)", async () => {
    expect(await reason(tokens.audNumberAzp)).toBe("audience_mismatch");
    expect(await reason(tokens.audNumberFirstAzp)).toBe("audience_mismatch");
  });

  it("a string or an array of strings is accepted", async () => {
    expect(await reason(tokens.plain, { type: JWT })).toBe("accepted");
    expect(await reason(tokens.twoAudNoAzp, { type: JWT })).toBe("accepted");
    expect(await reason(tokens.oneAudArrayNoAzp, { type: JWT })).toBe("accepted");
  });
});

describe("ID token azp with several audiences (OIDC Core §3.1.3.7; verifier.ts:93, :163, :165)", () => {
  it("several audiences: azp must be one of the issuer's audiences", async () => {
    expect(await reason(tokens.twoAudAzp)).toBe("accepted");
    expect(await reason(tokens.twoAudAzp2)).toBe("accepted");
    expect(await reason(tokens.threeAudAzp)).toBe("accepted");
    expect(await reason(tokens.ownAudsAzp)).toBe("accepted");
  });

  it("several audiences without azp, or with azp naming another party or not a string: audience_mismatch", async () => {
    for (const t of [
      tokens.twoAudNoAzp, tokens.ownAudsNoAzp, tokens.twoAudOtherAzp, tokens.twoAudNumberAzp,
      tokens.twoAudArrayAzp, tokens.twoAudNullAzp, tokens.twoAudEmptyAzp,
    ]) {
      expect(await reason(t)).toBe("audience_mismatch");
    }
  });

  it("one audience (a string or a one-element array): azp is not consulted", async () => {
    expect(await reason(tokens.oneAudArrayNoAzp)).toBe("accepted");
    expect(await reason(tokens.oneAudArrayOtherAzp)).toBe("accepted");
    expect(await reason(tokens.stringAudOtherAzp)).toBe("accepted");
    expect(await reason(tokens.plain)).toBe("accepted");
  });

  it("the rule is the ID token's: the same tokens as plain JWTs are accepted", async () => {
    for (const t of [tokens.twoAudNoAzp, tokens.ownAudsNoAzp, tokens.twoAudOtherAzp, tokens.twoAudNumberAzp]) {
      expect(await reason(t, { type: JWT })).toBe("accepted");
    }
  });
});

describe("one-time use: jti a non-empty string of at most 1024 characters; the replay window (verifier.ts:96-99)", () => {
  const once = (over: Partial<TrustedJwtIssuer> = {}) => issuer({ oneTimeUse: true, ...over });

  it("a 1024-character jti is accepted and kept until exp + skew; 1025 characters is jti_invalid", async () => {
    const s = await verify(tokens.jti1024, { iss: once() });
    expect(s.oneTimeUse).toEqual({ id: JTI_1024, keepUntil: (NOW_S + 300 + SKEW) * 1000 });
    expect(await reason(tokens.jti1025, { iss: once() })).toBe("jti_invalid");
  });

  it("keepUntil is exp plus the clock skew, in milliseconds, for any skew", async () => {
    for (const skew of [0, 1, 30, 300]) {
      const s = await verify(tokens.jtiOne, { iss: once(), skew });
      expect(s.oneTimeUse).toEqual({ id: "x", keepUntil: (NOW_S + 300 + skew) * 1000 });
    }
  });

  it("an empty or non-string jti is jti_invalid; none at all is jti_missing", async () => {
    for (const t of [tokens.jtiEmpty, tokens.jtiZero, tokens.jtiNull, tokens.jtiFalse, tokens.jtiArray]) {
      expect(await reason(t, { iss: once() })).toBe("jti_invalid");
    }
    expect(await reason(tokens.plain, { iss: once() })).toBe("jti_missing");
  });

  it("an issuer that is not one-time use ignores jti entirely", async () => {
    for (const t of [tokens.jti1025, tokens.jtiEmpty, tokens.jtiNull, tokens.plain]) {
      const s = await verify(t);
      expect(s.oneTimeUse).toBeUndefined();
    }
  });
});

describe("the verified subject: times in ms, auth_time, acr, claims as attributes (verifier.ts:102-120, :173-194)", () => {
  it("carries the verified values, converted exactly", async () => {
    const s = await verify(tokens.full);
    expect(s).toMatchObject({
      tokenType: ID_TOKEN,
      source: { id: "corp", issuer: ISS },
      subject: "alice",
      nameIdFormat: undefined,
      issuedAt: (NOW_S - 20) * 1000,
      expiresAt: (NOW_S + 280) * 1000,
      notAfter: (NOW_S + 280) * 1000,
      authTime: (NOW_S - 90) * 1000,
      acr: "urn:corp:mfa",
      oneTimeUse: undefined,
      act: { sub: "upstream" },
      mayAct: { sub: "svc" },
      granted: undefined,
      keyId: "oidc-rs-1",
      party: { kind: "named", id: AUD },
    });
  });

  it("claims become attributes: strings, numbers and booleans as text, scalar arrays as values; objects, null, mixed arrays and act/may_act never", async () => {
    const s = await verify(tokens.full);
    const attr = (name: string, values: string[]) => ({ name, friendlyName: undefined, nameFormat: undefined, values });
    expect(s.attributes).toEqual([
      attr("iss", [ISS]), attr("sub", ["alice"]), attr("aud", [AUD]),
      attr("iat", [String(NOW_S - 20)]), attr("exp", [String(NOW_S + 280)]), attr("nbf", [String(NOW_S - 20)]),
      attr("auth_time", [String(NOW_S - 90)]), attr("acr", ["urn:corp:mfa"]), attr("azp", [AUD]),
      attr("email", ["alice@corp.test"]), attr("email_verified", ["true"]), attr("level", ["3"]), attr("ratio", ["0.5"]),
      attr("groups", ["staff", "editors"]), attr("mixed", ["a", "1", "false"]), attr("none", []),
    ]);
  });

  it("a non-finite number (1e400 in the JSON text) is neither an attribute nor an auth_time", async () => {
    const payload = `{"iss":"${ISS}","sub":"alice","aud":"${AUD}","iat":${NOW_S},"exp":${NOW_S + 300},`
      + `"auth_time":1e400,"big":1e400,"bigs":[1,-1e400],"ok":1e3}`;
    const s = await verify(signRaw(RAW_HEADER, payload));
    expect(s.authTime).toBeUndefined();
    const names = s.attributes.map((a) => a.name);
    expect(names).not.toContain("big");
    expect(names).not.toContain("bigs");
    expect(names).not.toContain("auth_time");
    expect(s.attributes.find((a) => a.name === "ok")?.values).toEqual(["1000"]);
  });

  it("auth_time only as a number, acr only as a string", async () => {
    expect(await verify(tokens.authTimeString)).toMatchObject({ authTime: undefined, acr: undefined });
    expect(await verify(tokens.authTimeZero)).toMatchObject({ authTime: 0, acr: "" });
    expect(await verify(tokens.authTimeArray)).toMatchObject({ authTime: undefined, acr: undefined });
    const s = await verify(tokens.plain);
    expect(s).toMatchObject({ authTime: undefined, acr: undefined, keyId: "oidc-rs-1", party: { kind: "none" } });
  });
});

describe("no kid and several keys that fit: at most MAX_KEY_CANDIDATES (4) are tried (verifier.ts:134-149)", () => {
  const set = (n: number): TrustedJwtIssuer => issuer({ jwks: { keys: CANDIDATES.slice(0, n).map((k) => publicJwk(k)) } as JSONWebKeySet });

  it("the key that signed is found among the first four, whichever position it has", async () => {
    for (let i = 0; i < 4; i++) {
      const s = await verify(candidateTokens[i]!, { iss: set(4) });
      expect(s.subject).toBe("alice");
      expect(s.keyId).toBeUndefined();
    }
    expect(await reason(candidateTokens[1]!, { iss: set(2) })).toBe("accepted");
    expect(await reason(candidateTokens[3]!, { iss: set(5) })).toBe("accepted");
  });

  it("a fifth key is never tried: the token it signed is token_invalid", async () => {
    expect(await reason(candidateTokens[4]!, { iss: set(5) })).toBe("token_invalid");
  });

  it("a key in none of the candidates: token_invalid (the last signature failure)", async () => {
    for (const n of [2, 3, 4, 5]) expect(await reason(candidateTokens[5]!, { iss: set(n) })).toBe("token_invalid");
  });

  it("once a key verifies the signature, its claim verdict is final: not overwritten by the next key's signature failure", async () => {
    for (const n of [2, 4]) {
      expect(await reason(expiredByFirstCandidate, { iss: set(n) })).toBe("token_expired");
      expect(await reason(notYetByFirstCandidate, { iss: set(n) })).toBe("assertion_not_yet_valid");
    }
  });
});
