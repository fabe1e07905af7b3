import { ReplayStoreUnavailable, type ReplayStore, type ReplayStoreStatus } from "./store.js";

/**
 * Single-process replay store (the embedded default). Bounded: when full even after dropping
 * expired entries, it refuses new marks (the exchange fails with 503) instead of forgetting live
 * entries, which would reopen replay.
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #entries = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { maxEntries: number; now: () => number }) {
    this.#max = options.maxEntries;
    this.#now = options.now;
  }

  async markUsed(key: string, ttlMs: number): Promise<boolean> {
    return this.markAllUsed([{ key, ttlMs }]);
  }

  // Synchronous from check to set: one event-loop turn, so it is atomic in this process.
  async markAllUsed(entries: readonly { key: string; ttlMs: number }[]): Promise<boolean> {
    const now = this.#now();
    if (entries.some((e) => (this.#entries.get(e.key) ?? 0) > now)) return false;
    const fresh = entries.filter((e) => !this.#entries.has(e.key)).length;
    if (this.#entries.size + fresh > this.#max) {
      this.#sweep(now);
      if (this.#entries.size + entries.filter((e) => !this.#entries.has(e.key)).length > this.#max) {
        throw new ReplayStoreUnavailable("memory replay store is full");
      }
    }
    for (const e of entries) this.#entries.set(e.key, now + e.ttlMs);
    return true;
  }

  async anyUsed(keys: readonly string[]): Promise<boolean> {
    const now = this.#now();
    return keys.some((k) => (this.#entries.get(k) ?? 0) > now);
  }

  #sweep(now: number): void {
    for (const [k, until] of this.#entries) if (until <= now) this.#entries.delete(k);
  }

  async ready(): Promise<boolean> {
    return true;
  }

  /** Never lost: it lives and dies with the process, whose restart is a new store only for itself. */
  async status(): Promise<ReplayStoreStatus> {
    return { state: "up" };
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}
