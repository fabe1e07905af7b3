import { ReplayStoreUnavailable, type ReplayStore } from "./store.js";

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
    const now = this.#now();
    const until = this.#entries.get(key);
    if (until !== undefined && until > now) return false;
    if (until === undefined && this.#entries.size >= this.#max) {
      this.#sweep(now);
      if (this.#entries.size >= this.#max) throw new ReplayStoreUnavailable("memory replay store is full");
    }
    this.#entries.set(key, now + ttlMs);
    return true;
  }

  #sweep(now: number): void {
    for (const [k, until] of this.#entries) if (until <= now) this.#entries.delete(k);
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}
