/**
 * The Redis connection settings (one server, Sentinel, Cluster; the older redisUrl still valid),
 * the WAIT settings and the hash-tag layout of store keys. No Redis needed.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { hashTagOf, storeKeyPrefix } from "../../src/redis/hash-tag.js";
import { connectionOf, topologyOf } from "../../src/redis/settings.js";
import { configIssues } from "../support/config-issues.js";
import { baseConfig } from "../support/harness.js";

const sentinel = { sentinel: { name: "fb", sentinels: [{ host: "10.0.0.1", port: 26379 }] } };
const cluster = { cluster: { rootNodes: ["redis://10.0.0.1:7000"] } };

describe("replay.redis / admin.store.redis", () => {
  it("accepts { url }, { sentinel }, { cluster } and the older redisUrl", () => {
    for (const redis of [{ url: "redis://127.0.0.1:6379" }, sentinel, cluster]) {
      expect(configIssues((c) => (c.replay = { store: "redis", redis }))).toEqual([]);
    }
    expect(configIssues((c) => (c.replay = { store: "redis", redisUrl: "redis://127.0.0.1:6379" }))).toEqual([]);
    const parsed = parseConfig({ ...baseConfig(), replay: { store: "redis", redis: sentinel } });
    expect(parsed.replay.redis).toMatchObject({ sentinel: { name: "fb", tls: false, masterPoolSize: 4 } });
    expect(parsed.replay).toMatchObject({ waitReplicas: 0, waitTimeoutMs: 250 });
  });

  it("refuses no connection, both forms at once, and malformed ones", () => {
    expect(configIssues((c) => (c.replay = { store: "redis" }))).toContain("replay.redisUrl: required when store is redis");
    expect(configIssues((c) => (c.replay = { store: "redis", redisUrl: "redis://a:1", redis: cluster }))).toContain("replay.redis: give redis or redisUrl, not both");
    expect(configIssues((c) => (c.replay = { store: "redis", redis: { url: "http://a:1" } })).length).toBeGreaterThan(0);
    expect(configIssues((c) => (c.replay = { store: "redis", redis: { sentinel: { name: "fb", sentinels: [] } } })).length).toBeGreaterThan(0);
    expect(configIssues((c) => (c.replay = { store: "redis", redis: { cluster: { rootNodes: [] } } })).length).toBeGreaterThan(0);
    expect(configIssues((c) => (c.replay = { store: "redis", redis: { ...cluster, ...sentinel } })).length).toBeGreaterThan(0);
    expect(configIssues((c) => (c.replay = { store: "redis", redis: { sentinel: { ...sentinel.sentinel, extra: 1 } } })).length).toBeGreaterThan(0);
  });

  it("waitReplicas: bounded, and its timeout must fit in replay.timeoutMs", () => {
    expect(configIssues((c) => (c.replay = { store: "redis", redis: sentinel, waitReplicas: 1, waitTimeoutMs: 100, timeoutMs: 1_000 }))).toEqual([]);
    expect(configIssues((c) => (c.replay = { store: "redis", redis: sentinel, waitReplicas: 1, waitTimeoutMs: 1_000, timeoutMs: 1_000 })))
      .toContain("replay.waitTimeoutMs: must be below replay.timeoutMs");
    expect(configIssues((c) => (c.replay = { store: "redis", redis: sentinel, waitReplicas: -1 })).length).toBeGreaterThan(0);
    expect(configIssues((c) => (c.replay = { store: "redis", redis: sentinel, waitReplicas: 1.5 })).length).toBeGreaterThan(0);
    expect(configIssues((c) => (c.replay = { store: "redis", redis: sentinel, waitReplicas: 17 })).length).toBeGreaterThan(0);
  });

  it("the admin store needs exactly one of redisUrl or redis", () => {
    const admin = (store: Record<string, unknown>) => (c: Record<string, any>) => {
      c.admin = { tokens: [{ id: "ops", tokenHash: `sha256:${"A".repeat(43)}` }], store: { kind: "redis", ...store } };
    };
    expect(configIssues(admin({ redis: cluster }))).toEqual([]);
    expect(configIssues(admin({ redisUrl: "redis://127.0.0.1:6379" }))).toEqual([]);
    expect(configIssues(admin({}))).toContain("admin.store.redisUrl: give exactly one of redisUrl or redis");
    expect(configIssues(admin({ redis: cluster, redisUrl: "redis://127.0.0.1:6379" }))).toContain("admin.store.redisUrl: give exactly one of redisUrl or redis");
  });

  it("connectionOf prefers redis, falls back to redisUrl; topologyOf names the kind", () => {
    expect(connectionOf({ redisUrl: "redis://a:1" })).toEqual({ url: "redis://a:1" });
    expect(connectionOf({ redis: cluster as never, redisUrl: undefined })).toBe(cluster);
    expect(() => connectionOf({})).toThrow();
    expect(topologyOf({ url: "redis://a:1" })).toBe("single");
    expect(topologyOf(sentinel as never)).toBe("sentinel");
    expect(topologyOf(cluster)).toBe("cluster");
  });
});

describe("hash tags (Redis Cluster specification: keys sharing {tag} share a slot)", () => {
  it("hashTagOf follows Redis' rule: first '{', next '}', not empty", () => {
    expect(hashTagOf("a{b}c")).toBe("b");
    expect(hashTagOf("{fedbridge:replay:}x")).toBe("fedbridge:replay:");
    expect(hashTagOf("a{}b{c}")).toBeUndefined(); // an empty first tag: the whole key is hashed
    expect(hashTagOf("a{b")).toBeUndefined();
    expect(hashTagOf("ab}")).toBeUndefined();
    expect(hashTagOf("a{b}{c}")).toBe("b");
  });

  it("one server and Sentinel keep the prefix (existing key names stay); a cluster wraps an untagged one", () => {
    expect(storeKeyPrefix("fedbridge:replay:", "single")).toBe("fedbridge:replay:");
    expect(storeKeyPrefix("fedbridge:replay:", "sentinel")).toBe("fedbridge:replay:");
    expect(storeKeyPrefix("fedbridge:replay:", "cluster")).toBe("{fedbridge:replay:}");
    expect(storeKeyPrefix("fb:{r}:", "cluster")).toBe("fb:{r}:");
    expect(storeKeyPrefix("fb:{}:", "cluster")).toBe("{fb:{}:}");
    expect(hashTagOf(`${storeKeyPrefix("fb:{}:", "cluster")}!epoch`)).toBe("fb:{");
  });
});
