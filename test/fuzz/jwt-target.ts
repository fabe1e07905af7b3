/**
 * JWT-shaped fuzz inputs: compact-string mutations of a signed token, and header / payload edits
 * re-encoded around the original signature (or with none), for the JWT / ID token verifier and
 * the bridge's own access-token verifier.
 */
import fc from "fast-check";
import { CostRecord, applyAll, compactMutation, fuzzSeed, identityOf, refuseOrSame, type Mutation, type TokenVerifier } from "./support.js";

const b64json = (v: unknown): string => {
  let text: string;
  try {
    text = JSON.stringify(v) ?? "null";
  } catch {
    text = "{}"; // an earlier mutation nested it deeper than JSON.stringify can go
  }
  return Buffer.from(text).toString("base64url");
};
const parse = (seg: string): Record<string, unknown> => {
  try {
    const v = JSON.parse(Buffer.from(seg, "base64url").toString("utf8"));
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
};

type Edit = (o: Record<string, unknown>) => unknown;
const set = (k: string, v: unknown): Edit => (o) => ({ ...o, [k]: v });
const drop = (k: string): Edit => (o) => {
  const c = { ...o };
  delete c[k];
  return c;
};

const HEADER_EDITS: Edit[] = [
  set("alg", "none"), set("alg", "HS256"), set("alg", "RS384"), set("alg", "ES256"), set("alg", "PS256"), set("alg", "EdDSA"), set("alg", ""),
  set("alg", ["RS256"]), drop("alg"), set("typ", "at+jwt"), set("typ", "JWT"), drop("typ"), set("typ", 1), set("kid", "other"), drop("kid"),
  set("kid", "k".repeat(10_000)), set("kid", { a: 1 }), set("jku", "https://evil.test/jwks"), set("x5u", "https://evil.test/x5u"),
  set("jwk", { kty: "oct", k: "AAAA" }), set("crit", ["exp"]), set("crit", []), set("cty", "JWT"), set("b64", false), set("zip", "DEF"),
  set("__proto__", { alg: "none" }), () => [], () => null, () => "x",
];
const PAYLOAD_EDITS: Edit[] = [
  set("sub", "admin"), set("sub", 1), set("sub", ""), set("sub", ["a"]), drop("sub"), set("iss", "https://evil.test"), drop("iss"),
  set("aud", ["fedbridge", "other"]), set("aud", 7), set("exp", 9_999_999_999), set("exp", "9999999999"), drop("exp"), set("exp", -1),
  set("iat", 0), set("iat", 1e300), set("nbf", 9_999_999_999), set("scope", "admin"), set("client_id", "c2"), set("act", { sub: "x", act: { sub: "y" } }),
 set("may_act", { sub: 5 }), set("groups", ["admins"]), set("email_verified", "true"),
  set("__proto__", { sub: "admin" }), set("jti", ""), drop("jti"), () => [], () => 1,
];

const segment = fc.constantFrom(0, 1, 2);
/** Header/payload edits, segment shuffles and signature removal. */
const jwtEdit: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...HEADER_EDITS).map((e): Mutation => (t) => {
    const [h = "", p = "", s = ""] = t.split(".");
    return [b64json(e(parse(h))), p, s].join(".");
  }),
  fc.constantFrom(...PAYLOAD_EDITS).map((e): Mutation => (t) => {
    const [h = "", p = "", s = ""] = t.split(".");
    return [h, b64json(e(parse(p))), s].join(".");
  }),
  fc.tuple(fc.constantFrom(...HEADER_EDITS), fc.constantFrom(...PAYLOAD_EDITS), fc.boolean()).map(([he, pe, keepSig]): Mutation => (t) => {
    const [h = "", p = "", s = ""] = t.split(".");
    return [b64json(he(parse(h))), b64json(pe(parse(p))), keepSig ? s : ""].join(".");
  }),
  fc.tuple(segment, segment).map(([a, b]): Mutation => (t) => {
    const parts = t.split(".");
    const x = parts[a] ?? "";
    parts[a] = parts[b] ?? "";
    parts[b] = x;
    return parts.join(".");
  }),
  // Deep nesting, written as text (JSON.stringify itself would overflow on it).
  fc.constantFrom("act", "may_act", "groups", "aud").map((claim): Mutation => (t) => {
    const [h = "", p = "", s = ""] = t.split(".");
    const body = Buffer.from(p, "base64url").toString("utf8").replace(/}\s*$/, "");
    // Deep, yet within the 16 KiB JWT size limit so it reaches JSON parsing and the claim checks.
    const deep = claim === "act" ? `${'{"sub":"x","act":'.repeat(550)}{"sub":"x"}${"}".repeat(550)}` : `${"[".repeat(4_000)}${"]".repeat(4_000)}`;
    return [h, Buffer.from(`${body},"${claim}":${deep}}`).toString("base64url"), s].join(".");
  }),
  fc.constantFrom<Mutation>(
    (t) => `${t}.`, (t) => `${t}.${t.split(".")[2] ?? ""}`, (t) => t.split(".").slice(0, 2).join("."), (t) => `${t.split(".").slice(0, 2).join(".")}.`,
    (t) => ` ${t}`, (t) => `${t}\n`, (t) => t.replace(".", ".."),
  ),
);

export async function fuzzJwtVerifier(o: { name: string; verify: TokenVerifier; tokens: readonly string[]; runs: number }): Promise<CostRecord[]> {
  const baselines = await Promise.all(o.tokens.map(async (token) => ({ token, identity: identityOf(await o.verify(token)) })));
  const pick = fc.integer({ min: 0, max: baselines.length - 1 }).map((i) => baselines[i]!);

  const compactRec = new CostRecord(`${o.name} compact`);
  await fc.assert(fc.asyncProperty(pick, fc.array(compactMutation, { minLength: 1, maxLength: 3 }), async (b, ms) => {
    await refuseOrSame(compactRec, o.verify, b, applyAll(b.token, ms));
  }), { numRuns: o.runs, ...fuzzSeed() });
  compactRec.report();

  const editRec = new CostRecord(`${o.name} header/payload`);
  await fc.assert(fc.asyncProperty(pick, fc.array(fc.oneof(jwtEdit, jwtEdit, compactMutation), { minLength: 1, maxLength: 3 }), async (b, ms) => {
    await refuseOrSame(editRec, o.verify, b, applyAll(b.token, ms));
  }), { numRuns: o.runs, ...fuzzSeed() });
  editRec.report();
  return [compactRec, editRec];
}
