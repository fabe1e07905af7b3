/** The hashing queue's invariant, deterministically: never more running than allowed, never more waiting; the rest refused at once. */
import { describe, expect, it } from "vitest";
import { HashQueue, HashQueueFull } from "../../src/clients/hash-queue.js";

describe("HashQueue", () => {
  for (const [maxConcurrent, maxQueued] of [[1, 0], [2, 16], [4, 3]] as const) {
    it(`${maxConcurrent} running, ${maxQueued} waiting at most; the rest refused; slots handed over, none lost`, async () => {
      const q = new HashQueue({ maxConcurrent, maxQueued });
      let running = 0;
      let peak = 0;
      const releases: (() => void)[] = [];
      const job = () => q.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => releases.push(r));
        running--;
        return true;
      });
      const jobs = Array.from({ length: 40 }, () => job().then(() => "done", (e: unknown) => (e instanceof HashQueueFull ? "shed" : "other")));
      await new Promise((r) => setTimeout(r, 0));
      expect(q.pending).toBe(maxConcurrent + maxQueued);
      while (releases.length > 0 || running > 0) {
        releases.shift()?.();
        await new Promise((r) => setTimeout(r, 0));
      }
      const outcomes = await Promise.all(jobs);
      expect(peak).toBe(maxConcurrent);
      expect(outcomes.filter((o) => o === "done")).toHaveLength(maxConcurrent + maxQueued);
      expect(outcomes.filter((o) => o === "shed")).toHaveLength(40 - maxConcurrent - maxQueued);
      expect(q.pending).toBe(0);
      // a failing job frees its slot too
      await expect(q.run(async () => { throw new Error("boom"); })).rejects.toThrow("boom");
      expect(q.pending).toBe(0);
      expect(await q.run(async () => 7)).toBe(7);
    });
  }
});
