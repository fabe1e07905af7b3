/**
 * FEDBRIDGE_TEST_REDIS_URL: where the integration tests find the shared Redis (test/support/redis-url.ts),
 * so `npm test` runs against a Redis that is not on 127.0.0.1:6379.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_TEST_REDIS_URL, testRedisUrl } from "../support/redis-url.js";

describe("the test Redis address", () => {
  it("defaults to redis://127.0.0.1:6379 (unset or empty)", () => {
    expect(DEFAULT_TEST_REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(testRedisUrl({})).toBe(DEFAULT_TEST_REDIS_URL);
    expect(testRedisUrl({ FEDBRIDGE_TEST_REDIS_URL: "" })).toBe(DEFAULT_TEST_REDIS_URL);
    expect(testRedisUrl({ FEDBRIDGE_TEST_REDIS_URL: "  " })).toBe(DEFAULT_TEST_REDIS_URL);
  });

  it("takes a redis:// or rediss:// URL from FEDBRIDGE_TEST_REDIS_URL", () => {
    expect(testRedisUrl({ FEDBRIDGE_TEST_REDIS_URL: "redis://10.1.2.3:6380" })).toBe("redis://10.1.2.3:6380");
    expect(testRedisUrl({ FEDBRIDGE_TEST_REDIS_URL: " rediss://user:pw@redis.internal:6380/2 " })).toBe("rediss://user:pw@redis.internal:6380/2");
  });

  it("refuses anything else, loudly, rather than testing against a default the user did not mean", () => {
    for (const bad of ["127.0.0.1:6379", "http://127.0.0.1:6379", "redis://", "redis://a b"]) {
      expect(() => testRedisUrl({ FEDBRIDGE_TEST_REDIS_URL: bad }), bad).toThrow(/FEDBRIDGE_TEST_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    }
  });

  it("the test files that use the shared Redis take it from here (no hard-coded address left in their code)", async () => {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    // (Config-validation tests that only parse a redis:// string, without connecting, may name any address.)
    for (const f of ["replay/redis.integration.test.ts", "replay/multi-process.integration.test.ts", "admin/redis-shared.test.ts"]) {
      const text = readFileSync(join(import.meta.dirname, "..", f), "utf8");
      expect(text, f).toMatch(/import \{ TEST_REDIS_URL \} from "\.\.\/support\/redis-url\.js";/);
      const code = text.split("\n").filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l));
      expect(code.filter((l) => /6379/.test(l)), f).toEqual([]);
    }
  });
});
