/** Scope decisions (src/policy/scope.ts): the intersection, never wider. */
import { describe, expect, it } from "vitest";
import { decideScope, parseScope } from "../../src/policy/scope.js";
import type { AudienceConfig } from "../../src/config/schema.js";

const api: AudienceConfig = { id: "api", scopes: ["read", "write", "admin"], defaultScopes: ["read"] };
const other: AudienceConfig = { id: "other", scopes: ["read"], defaultScopes: ["read"] };

describe("parseScope", () => {
  it("splits on single spaces and removes duplicates", () => {
    expect(parseScope("read write read")).toEqual(["read", "write"]);
    expect(parseScope(undefined)).toBeUndefined();
  });
  it.each(["read\twrite", "read  write", " read", "read ", 'a"b', "a\\b", "é"])("refuses %j", (s) => {
    expect(() => parseScope(s)).toThrow("scope_invalid");
  });
});

describe("decideScope", () => {
  const granted = new Set(["read", "write"]);
  it("is requested ∩ client ∩ every audience ∩ granted", () => {
    expect(decideScope(["read", "write"], ["read", "write"], [api], granted)).toEqual(["read", "write"]);
    expect(() => decideScope(["admin"], ["read", "write", "admin"], [api], granted)).toThrow("scope_not_allowed");
    expect(() => decideScope(["write"], ["read"], [api], granted)).toThrow("scope_not_allowed");
    expect(() => decideScope(["write"], ["read", "write"], [api, other], granted)).toThrow("scope_not_allowed");
  });
  it("without a request, grants the audiences' defaults through the same intersection", () => {
    expect(decideScope(undefined, ["read"], [api], granted)).toEqual(["read"]);
    expect(decideScope(undefined, ["read", "write"], [api, other], granted)).toEqual(["read"]);
  });
  it("never yields an empty scope: a token without `scope` reads as unrestricted to many resource servers", () => {
    const noDefaults: AudienceConfig = { id: "nd", scopes: ["read"], defaultScopes: [] };
    const adminOnly: AudienceConfig = { id: "ao", scopes: ["admin"], defaultScopes: ["admin"] };
    // the client may not have the default; the mapping grants nothing; the audience has no default;
    // the audiences' defaults have nothing in common with what the others allow
    expect(() => decideScope(undefined, ["write"], [api], granted)).toThrow("scope_empty");
    expect(() => decideScope(undefined, ["read"], [api], new Set())).toThrow("scope_empty");
    expect(() => decideScope(undefined, ["read"], [noDefaults], granted)).toThrow("scope_empty");
    expect(() => decideScope(undefined, ["read", "write"], [api, adminOnly], granted)).toThrow("scope_empty");
    expect(() => decideScope(undefined, [], [api], granted)).toThrow("scope_empty");
  });
});
