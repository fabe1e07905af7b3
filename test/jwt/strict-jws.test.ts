/**
 * One strict compact-JWS decoder for every JWT path (src/jwt/compact.ts, src/jwt/strict-json.ts):
 * exactly three segments, canonical base64url (no whitespace, no padding, no unused trailing bits,
 * no standard-alphabet characters), JSON objects, no repeated member name at any depth, and only
 * then jose. Each malformed shape is signed with the issuer's REAL key (node:crypto over the exact
 * segment text), so nothing but the decoder can refuse it, and each is sent down every path: an ID
 * token, a JWT, the bridge's own token as subject and as actor, and introspection.
 */
import { createHash, createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TOKEN_TYPE, API, decodeJwt, exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_SIGNING_KEY } from "../support/constants.js";
import { JWT_KEYS } from "../support/independent-jwt.js";
import { ID_TOKEN, JWT, JWT_CLIENT, corpClaims, withJwtIssuers } from "../support/jwt-fixtures.js";
import { decodeUnverified, canonicalBase64url } from "../../src/jwt/compact.js";
import { parseStrictJson } from "../../src/jwt/strict-json.js";

const secret = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const HOP = { id: "hop", secret: "hop-secret" };
const RS = { id: "rs", secret: "rs-secret" };

let bridge: TestBridge;
let own: string;
beforeAll(async () => {
  bridge = await startBridge({
    patch: (c) => {
      withJwtIssuers(c);
      c.clients.push(
        { id: HOP.id, secretHash: secret(HOP.secret), audiences: [API], scopes: ["read"], subjectTokenTypes: [ACCESS_TOKEN_TYPE], actorTokenTypes: [ACCESS_TOKEN_TYPE] },
        { id: RS.id, secretHash: secret(RS.secret), audiences: [API], introspect: true },
      );
    },
  });
  const res = await exchange(bridge, { xml: signedAssertion(bridge), client: { id: "c1", secret: "c1-secret" } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  own = res.body.access_token;
});
afterAll(() => bridge.close());

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64url");
const rsaKey = (file: string) => createPrivateKey(readFileSync(file, "utf8"));
/** RS256 over exactly `h.p`, whatever those segments are: the issuer's real signature. */
function signRaw(h: string, p: string, keyFile: string): string {
  return `${h}.${p}.${sign("sha256", Buffer.from(`${h}.${p}`, "ascii"), rsaKey(keyFile)).toString("base64url")}`;
}

/** The same bytes, one more base64url text: flips unused trailing bits of the last character. */
function withUnusedBits(segment: string): string {
  if (segment.length % 4 === 0) throw new Error("no unused bits in a 4n-character segment");
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = alphabet.indexOf(segment.at(-1)!);
  const unused = segment.length % 4 === 2 ? 4 : 2;
  const changed = alphabet[last ^ 1]!;
  if (unused < 1 || Buffer.from(segment.slice(0, -1) + changed, "base64url").compare(Buffer.from(segment, "base64url")) !== 0) {
    throw new Error("not a same-bytes variant");
  }
  return segment.slice(0, -1) + changed;
}
/** A JSON text whose base64url has unused bits (length not a multiple of 3). */
function padTo(json: string, mod: 1 | 2): string {
  let out = json;
  while (Buffer.byteLength(out) % 3 !== mod) out = `${out} `;
  return out;
}

// ---- the paths ------------------------------------------------------------------------------------------

type Path = { name: string; keyFile: string; header: () => Record<string, unknown>; claims: () => Record<string, unknown>; send: (t: string) => Promise<void> };
const refusedAs = (reason: string) => (res: { status: number; body: any; headers: Record<string, any> }) => expectError(res, 400, "invalid_request", reason);

const PATHS: Path[] = [
  {
    name: "ID token (subject)", keyFile: JWT_KEYS.oidc, header: () => ({ alg: "RS256", kid: "oidc-rs-1" }), claims: () => corpClaims(bridge.clock.now),
    send: async (t) => refusedAs("token_invalid")(await exchange(bridge, { rawToken: t, tokenType: ID_TOKEN, client: JWT_CLIENT })),
  },
  {
    name: "JWT (subject)", keyFile: JWT_KEYS.oidc, header: () => ({ alg: "RS256", kid: "oidc-rs-1", typ: "JWT" }), claims: () => corpClaims(bridge.clock.now),
    send: async (t) => refusedAs("token_invalid")(await exchange(bridge, { rawToken: t, tokenType: JWT, client: JWT_CLIENT })),
  },
  {
    name: "own access token (subject)", keyFile: BRIDGE_SIGNING_KEY, header: () => ({ alg: "RS256", kid: "test-rs", typ: "at+jwt" }), claims: () => decodeJwt(own).payload,
    send: async (t) => refusedAs("token_invalid")(await exchange(bridge, { rawToken: t, tokenType: ACCESS_TOKEN_TYPE, client: HOP, audience: API })),
  },
  {
    name: "own access token (actor)", keyFile: BRIDGE_SIGNING_KEY, header: () => ({ alg: "RS256", kid: "test-rs", typ: "at+jwt" }), claims: () => ({ ...decodeJwt(own).payload, client_id: HOP.id }),
    send: async (t) => refusedAs("token_invalid")(await exchange(bridge, {
      rawToken: own, tokenType: ACCESS_TOKEN_TYPE, client: HOP, audience: API, extra: { actor_token: t, actor_token_type: ACCESS_TOKEN_TYPE },
    })),
  },
  {
    name: "introspection", keyFile: BRIDGE_SIGNING_KEY, header: () => ({ alg: "RS256", kid: "test-rs", typ: "at+jwt" }), claims: () => decodeJwt(own).payload,
    send: async (t) => {
      const res = await bridge.http.post("/introspect").auth(RS.id, RS.secret).type("form").send(new URLSearchParams({ token: t }).toString());
      expect(res.body).toEqual({ active: false });
    },
  },
];

describe.each(PATHS)("$name", (path) => {
  const good = (): string => signRaw(b64(JSON.stringify(path.header())), b64(JSON.stringify(path.claims())), path.keyFile);

  it("control: the canonical token, signed the same way, is accepted", async () => {
    const t = good();
    if (path.name === "introspection") {
      const res = await bridge.http.post("/introspect").auth(RS.id, RS.secret).type("form").send(new URLSearchParams({ token: t }).toString());
      expect(res.body.active).toBe(true);
    } else if (path.name === "own access token (actor)") {
      const res = await exchange(bridge, { rawToken: own, tokenType: ACCESS_TOKEN_TYPE, client: HOP, audience: API, extra: { actor_token: t, actor_token_type: ACCESS_TOKEN_TYPE } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    } else {
      const type = path.name.startsWith("ID") ? ID_TOKEN : path.name.startsWith("JWT") ? JWT : ACCESS_TOKEN_TYPE;
      const res = await exchange(bridge, { rawToken: t, tokenType: type, client: type === ACCESS_TOKEN_TYPE ? HOP : JWT_CLIENT, audience: API });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  });

  it.each([" ", "\n", "\t", "\r\n"])("whitespace %j inside the signature segment", async (ws) => {
    const [h, p, s] = good().split(".");
    await path.send(`${h}.${p}.${s!.slice(0, 20)}${ws}${s!.slice(20)}`);
  });

  it("whitespace inside the header or payload segment (signed as sent)", async () => {
    const h = b64(JSON.stringify(path.header()));
    const p = b64(JSON.stringify(path.claims()));
    await path.send(signRaw(`${h.slice(0, 8)} ${h.slice(8)}`, p, path.keyFile));
    await path.send(signRaw(h, `${p.slice(0, 8)}\n${p.slice(8)}`, path.keyFile));
  });

  it("padding (=) on any segment", async () => {
    const h = b64(JSON.stringify(path.header()));
    const p = padTo(JSON.stringify(path.claims()), 1);
    const pe = b64(p);
    await path.send(signRaw(h, `${pe}==`, path.keyFile));
    const [hh, pp, s] = good().split(".");
    await path.send(`${hh}.${pp}.${s}==`);
  });

  it("unused trailing bits in the signature segment (same bytes, another text)", async () => {
    const [h, p, s] = good().split(".");
    await path.send(`${h}.${p}.${withUnusedBits(s!)}`);
  });

  it("unused trailing bits in the payload and in the header segment (signed as sent)", async () => {
    const h = b64(padTo(JSON.stringify(path.header()), 1));
    const p = b64(padTo(JSON.stringify(path.claims()), 2));
    await path.send(signRaw(h, withUnusedBits(p), path.keyFile));
    await path.send(signRaw(withUnusedBits(h), p, path.keyFile));
  });

  it("standard base64 characters (+ /) and a 4n+1 length", async () => {
    const [h, p, s] = good().split(".");
    await path.send(`${h}.${p}.${s!.replace(/-/g, "+").replace(/_/g, "/")}${/[-_]/.test(s!) ? "" : "+"}`);
    await path.send(`${h}.${p}.${s}A`.length % 4 === 1 ? `${h}.${p}.${s}A` : `${h}.${p}.${s}AA`);
  });

  it("not three segments, or an empty header or payload", async () => {
    const [h, p, s] = good().split(".");
    for (const t of [`${h}.${p}`, `${h}.${p}.${s}.`, `${h}.${p}.${s}.${s}`, `.${p}.${s}`, `${h}..${s}`]) await path.send(t);
  });

  it("a repeated member name in the header, at the top of the payload, nested, or spelled with escapes", async () => {
    const header = JSON.stringify(path.header());
    const claims = JSON.stringify(path.claims());
    const dupHeader = header.replace(/^\{/, '{"alg":"none",');
    const dupSub = claims.replace(/^\{/, '{"sub":"mallory",');
    const dupEscaped = claims.replace(/^\{/, '{"\\u0073ub":"mallory",');
    const dupNested = claims.replace(/^\{/, '{"x_profile":{"role":"user","role":"admin"},');
    const dupInArray = claims.replace(/^\{/, '{"x_list":[{"a":1},{"b":1,"b":2}],');
    for (const [h, p] of [[dupHeader, claims], [header, dupSub], [header, dupEscaped], [header, dupNested], [header, dupInArray]]) {
      await path.send(signRaw(b64(h!), b64(p!), path.keyFile));
    }
  });

  it("a header or payload that is not UTF-8 JSON object text", async () => {
    const h = b64(JSON.stringify(path.header()));
    const p = b64(JSON.stringify(path.claims()));
    await path.send(signRaw(h, Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString("base64url"), path.keyFile));
    await path.send(signRaw(h, b64("[1]"), path.keyFile));
    await path.send(signRaw(b64("null"), p, path.keyFile));
    await path.send(signRaw(h, b64(`${JSON.stringify(path.claims())}x`), path.keyFile));
  });
});

describe("the bridge's own tokens: claims the next hop relies on", () => {
  const resigned = (over: Record<string, unknown>): string =>
    signRaw(b64(JSON.stringify({ alg: "RS256", kid: "test-rs", typ: "at+jwt" })), b64(JSON.stringify({ ...decodeJwt(own).payload, ...over })), BRIDGE_SIGNING_KEY);
  const hop = (t: string) => exchange(bridge, { rawToken: t, tokenType: ACCESS_TOKEN_TYPE, client: HOP, audience: API });

  it("a sub that is not a string, or breaks the subject-identifier rule: subject_invalid", async () => {
    for (const sub of [42, ["alice"], { sub: "alice" }, null, "", " alice", "a".repeat(1025), "ali\u202ece"]) {
      expectError(await hop(resigned({ sub })), 400, "invalid_request", "subject_invalid");
    }
  });

  it("a client_id, scope or idp of the wrong type: token_invalid", async () => {
    for (const over of [{ client_id: 7 }, { client_id: ["c1"] }, { scope: ["read"] }, { idp: 1 }]) {
      expectError(await hop(resigned(over)), 400, "invalid_request", "token_invalid");
    }
  });
});

// ---- the decoder and the JSON scanner as units ----------------------------------------------------------

describe("canonicalBase64url", () => {
  it("accepts exactly the canonical encoding of any bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const text = Buffer.from(bytes).toString("base64url");
      expect(Buffer.compare(canonicalBase64url(text), Buffer.from(bytes))).toBe(0);
    }), { numRuns: 300 });
  });

  it("refuses every other text that Node would decode to the same bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.constantFrom("pad", "bits", "space", "plus"), (bytes, how) => {
      const text = Buffer.from(bytes).toString("base64url");
      let variant: string;
      if (how === "pad") variant = `${text}=`;
      else if (how === "space") variant = `${text.slice(0, 1)} ${text.slice(1)}`;
      else if (how === "plus") variant = `${text}+`;
      else {
        fc.pre(text.length % 4 !== 0);
        variant = withUnusedBits(text);
      }
      expect(() => canonicalBase64url(variant)).toThrow("token_invalid");
    }), { numRuns: 300 });
  });
});

describe("parseStrictJson (differential against JSON.parse)", () => {
  it("agrees with JSON.parse on every JSON text without repeated names", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
      const text = JSON.stringify(value);
      expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    }), { numRuns: 500 });
  });

  it("refuses a repeated name wherever it is planted, however it is escaped", () => {
    const escapes = (name: string): fc.Arbitrary<string> =>
      fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length })
        .map((flags) => [...name].map((ch, i) => (flags[i] ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}` : ch)).join(""));
    fc.assert(fc.property(
      fc.jsonValue({ maxDepth: 3 }),
      fc.array(fc.constantFrom("object", "array"), { maxLength: 6 }),
      fc.string({ minLength: 1, maxLength: 6 }).filter((n) => /^[a-z]+$/.test(n)).chain((n) => fc.tuple(fc.constant(n), escapes(n))),
      (value, nesting, [name, spelled]) => {
        // A sentinel nested at a random depth beside random JSON, then replaced by the duplicate.
        let planted: unknown = "__DUP__";
        for (const kind of nesting) planted = kind === "object" ? { k: planted, v: value } : [value, planted];
        const text = JSON.stringify({ w: value, p: planted }).replace('"__DUP__"', `{"${name}":1,"${spelled}":2}`);
        expect(() => JSON.parse(text)).not.toThrow();
        expect(() => parseStrictJson(text)).toThrow("duplicate_member");
      },
    ), { numRuns: 500 });
  });

  it("bounds nesting depth, and names the failure", () => {
    expect(() => parseStrictJson(`${"[".repeat(65)}${"]".repeat(65)}`)).toThrow("too_deep");
    expect(() => parseStrictJson(`${'{"a":'.repeat(65)}1${"}".repeat(65)}`)).toThrow("too_deep");
    expect(parseStrictJson(`${"[".repeat(64)}${"]".repeat(64)}`)).toBeDefined();
    expect(() => parseStrictJson('{"a":1,"a":1}')).toThrow("duplicate_member");
    expect(() => parseStrictJson("{'a':1}")).toThrow("syntax");
  });

  it("does not mistake values, strings with quotes, or sibling objects for repeated names", () => {
    for (const ok of ['{"a":"a","b":"a"}', '{"a":{"a":1},"b":{"a":1}}', '{"a\\"b":1,"a":2}', '[{"a":1},{"a":1}]', '{"a":["a","a"]}', '{"":1,"a":{"":2}}']) {
      expect(parseStrictJson(ok)).toEqual(JSON.parse(ok));
    }
  });
});

describe("decodeUnverified", () => {
  it("returns header and payload of a canonical token and refuses 2 or 4 segments", () => {
    const t = `${b64('{"alg":"RS256"}')}.${b64('{"sub":"a"}')}.${b64("sig")}`;
    expect(decodeUnverified(t)).toEqual({ header: { alg: "RS256" }, payload: { sub: "a" } });
    expect(() => decodeUnverified(t.split(".").slice(0, 2).join("."))).toThrow("token_invalid");
    expect(() => decodeUnverified(`${t}.x`)).toThrow("token_invalid");
  });
});

