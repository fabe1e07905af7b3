/**
 * Review: server.trustProxy refuses `true` because trusting every hop lets any caller choose its own
 * address in X-Forwarded-For (a fresh address per guess escapes failedAuthPerAddress, or a victim's
 * address gets blocked). A CIDR that spans the whole address space, or most of it, is the same
 * thing spelled differently: 0.0.0.0/0, ::/0, and ::ffff:0:0/96 or ::/8 (every IPv4 client of a
 * dual-stack socket, seen as ::ffff:a.b.c.d). Ordinary ranges (10.0.0.0/8, 2001:db8::/32,
 * fd00::/8, a /104 of IPv4-mapped space) stay accepted.
 */
import { describe, expect, it } from "vitest";
import { configIssues } from "../support/config-issues.js";

const issuesOf = (trustProxy: unknown): string[] => configIssues((c) => void (c.server = { trustProxy }));

describe("server.trustProxy never trusts (nearly) every address", () => {
  it("refuses whole-space and near-whole-space ranges", () => {
    for (const bad of ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/4", "::/0", "::/1", "8000::/1", "::/8", "::ffff:0:0/96", "::ffff:0.0.0.0/100"]) {
      expect(issuesOf([bad]), bad).not.toEqual([]);
    }
  });

  it("keeps accepting real proxy ranges", () => {
    for (const ok of ["10.0.0.0/8", "172.16.0.0/12", "192.0.2.1", "2001:db8::/32", "fd00::/8", "::1", "::ffff:10.0.0.0/104", "loopback"]) {
      expect(issuesOf([ok]), ok).toEqual([]);
    }
  });
});
