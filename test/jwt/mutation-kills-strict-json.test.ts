/**
 * Mutation testing (issue 8, docs/mutation-testing.md): the exact nesting bound of the strict JSON
 * reader (src/jwt/strict-json.ts, MAX_JSON_DEPTH = 64) for objects, arrays and both mixed, the
 * caller's own bound, and that the bound is reached through the compact-JWS decoder too (a header or
 * payload nested one level too deep is token_invalid, exactly MAX_JSON_DEPTH is read).
 */
import { describe, expect, it } from "vitest";
import { decodeUnverified } from "../../src/jwt/compact.js";
import { MAX_JSON_DEPTH, StrictJsonError, parseStrictJson } from "../../src/jwt/strict-json.js";
import { OAuthError } from "../../src/oauth/errors.js";

const objects = (depth: number): string => `${'{"a":'.repeat(depth - 1)}{"a":1}${"}".repeat(depth - 1)}`;
const arrays = (depth: number): string => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
/** Alternating object / array levels, `depth` containers in all, the innermost holding a member. */
function mixed(depth: number): string {
  let open = "";
  let close = "";
  for (let i = 0; i < depth; i++) {
    const obj = i % 2 === 0;
    open += obj ? '{"x":' : "[";
    close = (obj ? "}" : "]") + close;
  }
  return `${open}1${close}`;
}
/** Empty containers side by side do not add up: only nesting counts. */
const wide = (n: number): string => `[${Array.from({ length: n }, () => "{}").join(",")}]`;

function failure(text: string, maxDepth?: number): string {
  try {
    if (maxDepth === undefined) parseStrictJson(text);
    else parseStrictJson(text, maxDepth);
  } catch (e) {
    expect(e).toBeInstanceOf(StrictJsonError);
    expect((e as StrictJsonError).name).toBe("StrictJsonError");
    return (e as StrictJsonError).failure;
  }
  return "ok";
}

describe("nesting depth: at most MAX_JSON_DEPTH (64) open containers, counted exactly", () => {
  it("the bound is 64 (a 16-deep act chain needs 17)", () => {
    expect(MAX_JSON_DEPTH).toBe(64);
  });

  it.each([
    ["objects", objects],
    ["arrays", arrays],
    ["alternating objects and arrays", mixed],
  ])("%s: 64 levels are read, 65 are too_deep", (_name, build) => {
    expect(failure(build(MAX_JSON_DEPTH))).toBe("ok");
    expect(failure(build(MAX_JSON_DEPTH - 1))).toBe("ok");
    expect(failure(build(MAX_JSON_DEPTH + 1))).toBe("too_deep");
    expect(failure(build(MAX_JSON_DEPTH + 20))).toBe("too_deep");
    expect(parseStrictJson(build(MAX_JSON_DEPTH))).toEqual(JSON.parse(build(MAX_JSON_DEPTH)));
  });

  it("an object opening the 65th level inside 64 arrays, and an array inside 64 objects, are too_deep", () => {
    expect(failure(`${"[".repeat(64)}{}${"]".repeat(64)}`)).toBe("too_deep");
    expect(failure(`${"[".repeat(63)}{}${"]".repeat(63)}`)).toBe("ok");
    expect(failure(`${'{"a":'.repeat(64)}[]${"}".repeat(64)}`)).toBe("too_deep");
    expect(failure(`${'{"a":'.repeat(63)}[]${"}".repeat(63)}`)).toBe("ok");
  });

  it("closing containers gives the depth back: many siblings at the limit are fine", () => {
    expect(failure(wide(1000))).toBe("ok");
    expect(failure(`[${Array.from({ length: 50 }, () => arrays(MAX_JSON_DEPTH - 1)).join(",")}]`)).toBe("ok");
    expect(failure(`{${Array.from({ length: 50 }, (_, i) => `"k${i}":${objects(MAX_JSON_DEPTH - 1)}`).join(",")}}`)).toBe("ok");
  });

  it("a caller's own bound is exact too", () => {
    for (const max of [1, 2, 3, 17]) {
      for (const build of [objects, arrays, mixed]) {
        expect(failure(build(max), max)).toBe("ok");
        expect(failure(build(max + 1), max)).toBe("too_deep");
      }
    }
    expect(failure("1", 0)).toBe("ok");
    expect(failure("{}", 0)).toBe("too_deep");
  });

  it("syntax is decided before depth, duplicates at any depth still found at the limit", () => {
    expect(failure(`${"[".repeat(70)}`)).toBe("syntax");
    const dup = `${'{"a":'.repeat(63)}{"b":1,"b":2}${"}".repeat(63)}`;
    expect(failure(dup)).toBe("duplicate_member");
  });
});

describe("member names: what counts as a name, compared after unescaping", () => {
  it("strings outside objects are values, never names: top-level strings and arrays of equal strings are fine", () => {
    expect(parseStrictJson('"a"')).toBe("a");
    expect(parseStrictJson('["a","a","a"]')).toEqual(["a", "a", "a"]);
    expect(parseStrictJson('[{"a":1},"a","a"]')).toEqual([{ a: 1 }, "a", "a"]);
    expect(parseStrictJson('{"a":["a","a"],"b":"a"}')).toEqual({ a: ["a", "a"], b: "a" });
  });

  it("an escaped name equals its plain spelling, in either order", () => {
    expect(failure('{"a":1,"\\u0061":2}')).toBe("duplicate_member");
    expect(failure('{"\\u0061":1,"a":2}')).toBe("duplicate_member");
    expect(failure('{"a\\/b":1,"a/b":2}')).toBe("duplicate_member");
    expect(failure('{"a":1,"\\u0062":2}')).toBe("ok");
  });

  it("escaped quotes and backslashes inside strings do not end them early", () => {
    expect(failure('{"a\\"b":1,"a\\"b":2}')).toBe("duplicate_member");
    expect(failure('{"x":"\\\\","x":1}')).toBe("duplicate_member");
    expect(failure('{"x":"\\",\\"y\\":1","y":2}')).toBe("ok");
    expect(failure('{"k\\\\":1,"k\\\\":2}')).toBe("duplicate_member");
    expect(parseStrictJson('{"x":"\\"}","y":"{\\""}')).toEqual({ x: '"}', y: '{"' });
  });
});

describe("through the compact-JWS decoder (every JWT path)", () => {
  const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64url");
  const reason = (token: string): string => {
    try {
      decodeUnverified(token);
    } catch (e) {
      expect(e).toBeInstanceOf(OAuthError);
      return (e as OAuthError).reason;
    }
    return "ok";
  };
  const header = b64('{"alg":"RS256"}');

  it("a payload member nested 63 levels (64 with the claims object) is read; one more is token_invalid", () => {
    const payload = (levels: number) => b64(`{"sub":"alice","deep":${arrays(levels)}}`);
    expect(reason(`${header}.${payload(MAX_JSON_DEPTH - 1)}.c2ln`)).toBe("ok");
    expect(reason(`${header}.${payload(MAX_JSON_DEPTH)}.c2ln`)).toBe("token_invalid");
  });

  it("the header is bounded the same way", () => {
    const h = (levels: number) => b64(`{"alg":"RS256","x":${objects(levels)}}`);
    const p = b64('{"sub":"alice"}');
    expect(reason(`${h(MAX_JSON_DEPTH - 1)}.${p}.c2ln`)).toBe("ok");
    expect(reason(`${h(MAX_JSON_DEPTH)}.${p}.c2ln`)).toBe("token_invalid");
  });
});
