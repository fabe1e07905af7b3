/**
 * A bound on concurrent secret hashing. scrypt runs on the libuv thread pool, which also serves
 * token signing and file reads: without a bound, a burst of requests with made-up client ids queues
 * unbounded hashing ahead of every legitimate exchange. At most `maxConcurrent` hashes run; at most
 * `maxQueued` wait; anything beyond is refused at once (the caller answers 503 with Retry-After), so
 * the backlog, and with it the delay any request can suffer here, stays bounded.
 */
export class HashQueueFull extends Error {
  override name = "HashQueueFull";
}

export class HashQueue {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;

  constructor(options: { maxConcurrent: number; maxQueued: number }) {
    this.#maxConcurrent = options.maxConcurrent;
    this.#maxQueued = options.maxQueued;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running < this.#maxConcurrent) {
      this.#running++;
    } else {
      if (this.#waiting.length >= this.#maxQueued) throw new HashQueueFull("too many client authentications in progress");
      // The slot is handed over by the finishing job (#running stays counted), so none is lost.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  get pending(): number {
    return this.#running + this.#waiting.length;
  }
}
