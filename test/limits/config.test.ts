/**
 * The rateLimits and server.trustProxy settings: defaults (every limit off), what start-up refuses,
 * and the key derivation (limits/keys.ts): hashed, bounded, one party per IPv4 address or IPv6 /64.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { addressParty, limitKey } from "../../src/limits/keys.js";
import { configIssues } from "../support/config-issues.js";
import { baseConfig } from "../support/harness.js";

describe("config", () => {
  it("defaults: memory store, every limit off (with suggested values), no trusted proxy", () => {
    const config = parseConfig(baseConfig());
    expect(config.rateLimits.store).toBe("memory");
    for (const rule of [config.rateLimits.perClient, config.rateLimits.perSource, config.rateLimits.perSubject,
      config.rateLimits.failedAuthPerClientId, config.rateLimits.failedAuthPerAddress]) {
      expect(rule.enabled).toBe(false);
      expect(rule.max).toBeGreaterThan(0);
    }
    expect(config.server.trustProxy).toBe(false);
  });

  it("enabling a limit alone takes the suggested max and window", () => {
    const c = baseConfig();
    c.rateLimits = { failedAuthPerAddress: { enabled: true } };
    expect(parseConfig(c).rateLimits.failedAuthPerAddress).toEqual({ enabled: true, max: 50, windowSeconds: 300 });
  });

  it("refuses a Redis store without the replay store's Redis, and bad limits", () => {
    expect(configIssues((c) => { c.rateLimits = { store: "redis" }; })).toEqual([expect.stringMatching(/^rateLimits\.store: .*replay\.redisUrl/)]);
    expect(configIssues((c) => { c.rateLimits = { store: "redis" }; c.replay = { store: "memory", redisUrl: "redis://127.0.0.1:6379" }; })).toEqual([]);
    expect(configIssues((c) => { c.rateLimits = { perClient: { enabled: true, max: 0 } }; })).toHaveLength(1);
    expect(configIssues((c) => { c.rateLimits = { perClient: { enabled: true, windowSeconds: 0.5 } }; })).toHaveLength(1);
    expect(configIssues((c) => { c.rateLimits = { perClients: {} }; })).toHaveLength(1);
    expect(configIssues((c) => { c.rateLimits = { keyPrefix: "{tag}" }; })).toHaveLength(1);
  });

  it("server.trustProxy: false, a hop count or a list of addresses/CIDRs/named ranges; never true", () => {
    for (const ok of [false, 1, 3, ["10.0.0.0/8"], ["loopback", "uniquelocal", "192.0.2.1", "2001:db8::/32", "::1"]]) {
      expect(configIssues((c) => { c.server = { trustProxy: ok }; }), JSON.stringify(ok)).toEqual([]);
    }
    for (const bad of [true, 0, 11, [], ["*"], ["10.0.0.0/33"], ["2001:db8::/129"], ["10.0.0/8"], ["example.com"], ["10.0.0.0/8/8"], "loopback"]) {
      expect(configIssues((c) => { c.server = { trustProxy: bad }; }), JSON.stringify(bad)).not.toEqual([]);
    }
  });
});

describe("keys", () => {
  it("hash every identity into a bounded, hash-tagged key; parts are not ambiguous", () => {
    const k = limitKey("subject", "idp1", "alice@example.com");
    expect(k).toMatch(/^\{subject:[A-Za-z0-9_-]{22}\}$/);
    expect(k).not.toContain("alice");
    expect(limitKey("subject", "ab", "c")).not.toBe(limitKey("subject", "a", "bc"));
    expect(limitKey("client", "x")).not.toBe(limitKey("failed_auth_client", "x"));
    expect(limitKey("failed_auth_client", "z".repeat(100_000))).toHaveLength(k.length - "subject".length + "failed_auth_client".length);
  });

  it("one party per IPv4 address and per IPv6 /64; a mapped IPv4 is its IPv4; anything else is one unknown party", () => {
    expect(addressParty("203.0.113.9")).toBe("203.0.113.9");
    expect(addressParty("::ffff:203.0.113.9")).toBe("203.0.113.9");
    expect(addressParty("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(addressParty("2001:0db8:0001:0002:ffff:0:0:9")).toBe("2001:db8:1:2::/64");
    expect(addressParty("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressParty("::1")).toBe("0:0:0:0::/64");
    expect(addressParty("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressParty("::ffff:1.2.3.4:5")).toBe("unknown");
    for (const junk of [undefined, "", "example.com", "1.2.3", "1.2.3.4.5", "x".repeat(1000)]) expect(addressParty(junk)).toBe("unknown");
  });
});
