/** Audience and resource resolution (src/policy/targets.ts, RFC 8693 §2.1, RFC 8707 §2). */
import { describe, expect, it } from "vitest";
import { resolveTargets } from "../../src/policy/targets.js";
import type { AudienceConfig } from "../../src/config/schema.js";

const audiences = new Map<string, AudienceConfig>([
  ["https://api.example.com", { id: "https://api.example.com", scopes: [], defaultScopes: [] }],
  ["orders", { id: "orders", scopes: [], defaultScopes: [] }],
]);
const client = { audiences: ["https://api.example.com", "orders"], defaultAudience: "orders" };

describe("resolveTargets", () => {
  it("accepts allowed audiences and resources, without duplicates", () => {
    const t = resolveTargets({ audience: ["orders", "orders"], resource: ["https://api.example.com"] }, client, audiences, 5);
    expect(t.map((a) => a.id)).toEqual(["orders", "https://api.example.com"]);
  });
  it("falls back to the default audience", () => {
    expect(resolveTargets({ audience: [], resource: [] }, client, audiences, 5).map((a) => a.id)).toEqual(["orders"]);
    expect(() => resolveTargets({ audience: [], resource: [] }, { audiences: ["orders"] }, audiences, 5)).toThrow("target_missing");
  });
  it("refuses unknown or not-allowed targets", () => {
    expect(() => resolveTargets({ audience: ["nope"], resource: [] }, client, audiences, 5)).toThrow("target_not_allowed");
    expect(() => resolveTargets({ audience: ["orders"], resource: [] }, { audiences: ["https://api.example.com"] }, audiences, 5)).toThrow("target_not_allowed");
  });
  it("requires resources to be absolute URIs without fragments", () => {
    for (const r of ["orders", "/api", "https://api.example.com#x", ""]) {
      expect(() => resolveTargets({ audience: [], resource: [r] }, client, audiences, 5)).toThrow(/target_invalid/);
    }
  });
  it("caps the number of targets", () => {
    expect(() => resolveTargets({ audience: ["orders", "orders", "orders"], resource: [] }, client, audiences, 2)).toThrow("target_too_many");
  });
});
