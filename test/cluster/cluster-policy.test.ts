/** The cluster supervisor's pure rules: worker count, what a multi-worker config needs, back-off and crash loops. */
import { describe, expect, it } from "vitest";
import { clusterConfigProblems, RestartPolicy, workerCount } from "../../src/cluster.js";

describe("worker count", () => {
  it("defaults to one per core, at least one", () => {
    expect(workerCount(undefined, undefined, 2)).toBe(2);
    expect(workerCount(undefined, "", 8)).toBe(8);
    expect(workerCount(undefined, undefined, 0)).toBe(1);
  });
  it("the flag wins over FEDBRIDGE_WORKERS", () => {
    expect(workerCount("3", "5", 2)).toBe(3);
    expect(workerCount(undefined, "5", 2)).toBe(5);
  });
  it("refuses anything but an integer 1-256", () => {
    for (const bad of ["0", "-1", "1.5", "1e2", "two", " 2", "0x2", "257", "99999999999999999999"]) {
      expect(workerCount(bad, undefined, 2), bad).toMatch(/--workers must be an integer 1-256/);
      expect(workerCount(undefined, bad, 2), `env ${bad}`).toMatch(/--workers must be an integer 1-256/);
    }
  });
});

describe("a config for several workers", () => {
  const redis = { store: "redis" as const };
  const memory = { store: "memory" as const };
  const admin = (kind: "file" | "redis"): { store: { kind: string } } => ({ store: { kind } });

  it("needs the Redis replay store with more than one worker", () => {
    expect(clusterConfigProblems({ replay: memory, admin: undefined }, 2)).toEqual([expect.stringMatching(/replay\.store is "memory": with 2 workers it must be "redis"/)]);
    expect(clusterConfigProblems({ replay: memory, admin: undefined }, 64)).toHaveLength(1);
  });
  it("needs a Redis admin store with more than one worker", () => {
    expect(clusterConfigProblems({ replay: redis, admin: admin("file") }, 2)).toEqual([expect.stringMatching(/admin\.store\.kind is "file"/)]);
    expect(clusterConfigProblems({ replay: memory, admin: admin("file") }, 3)).toHaveLength(2);
  });
  it("accepts Redis stores with many workers, and anything with one", () => {
    expect(clusterConfigProblems({ replay: redis, admin: admin("redis") }, 16)).toEqual([]);
    expect(clusterConfigProblems({ replay: redis, admin: undefined }, 2)).toEqual([]);
    expect(clusterConfigProblems({ replay: memory, admin: admin("file") }, 1)).toEqual([]);
  });
});

describe("restart policy", () => {
  const o = { baseDelayMs: 100, maxDelayMs: 1_000, stableMs: 10_000, maxConsecutiveCrashes: 5 };

  it("backs off exponentially, capped, then gives up on the fifth crash in a row", () => {
    const p = new RestartPolicy({ ...o, maxConsecutiveCrashes: 7 });
    const delays = [0, 1, 2, 3, 4, 5].map((i) => p.crashed(0, i * 100, i * 100 + 50));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000].map((d) => ({ action: "restart", delayMs: d })));
    expect(p.crashed(0, 700, 750)).toEqual({ action: "give-up", crashes: 7 });
  });

  it("a worker that stayed up past stableMs starts its count again", () => {
    const p = new RestartPolicy(o);
    for (let i = 0; i < 4; i++) expect(p.crashed(0, 0, 1).action).toBe("restart");
    expect(p.crashed(0, 0, 10_000)).toEqual({ action: "restart", delayMs: 100 });
    for (let i = 0; i < 3; i++) expect(p.crashed(0, 0, 1).action).toBe("restart");
    expect(p.crashed(0, 0, 1)).toEqual({ action: "give-up", crashes: 5 });
  });

  it("counts each worker slot on its own", () => {
    const p = new RestartPolicy(o);
    for (let i = 0; i < 4; i++) {
      expect(p.crashed(0, 0, 1).action).toBe("restart");
      expect(p.crashed(1, 0, 1).action).toBe("restart");
    }
    expect(p.crashed(1, 0, 1).action).toBe("give-up");
    expect(p.crashed(2, 0, 1)).toEqual({ action: "restart", delayMs: 100 });
  });
});
