/**
 * A steady load of real exchanges through the bridge's HTTP endpoint (each with a fresh, signed
 * assertion), recording every answer with its time, so a test can measure the window of 503s
 * around a failover and replay every assertion that got a token.
 */
import { exchange, signedAssertion, type TestBridge } from "../support/harness.js";

export interface Outcome {
  /** When the answer came (ms, wall clock). */
  at: number;
  status: number;
  reason: string | undefined;
  xml: string;
}

export class ExchangeLoad {
  readonly outcomes: Outcome[] = [];
  readonly #bridge: TestBridge;
  readonly #workers: Promise<void>[] = [];
  #running = false;

  constructor(bridge: TestBridge) {
    this.#bridge = bridge;
  }

  start(concurrency: number): void {
    this.#running = true;
    for (let i = 0; i < concurrency; i++) this.#workers.push(this.#loop());
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const xml = signedAssertion(this.#bridge);
      const res = await exchange(this.#bridge, { xml, scope: "read" });
      this.outcomes.push({ at: Date.now(), status: res.status, reason: res.body?.error_description, xml });
    }
  }

  async stop(): Promise<Outcome[]> {
    this.#running = false;
    await Promise.all(this.#workers);
    return this.outcomes;
  }

  /** Waits until `n` more answers of `status` came after `since` (ms), or throws after `timeoutMs`. */
  async until(pred: (o: Outcome) => boolean, n: number, since: number, timeoutMs: number, what: string): Promise<void> {
    const start = Date.now();
    while (this.outcomes.filter((o) => o.at >= since && pred(o)).length < n) {
      if (Date.now() - start > timeoutMs) throw new Error(`${what} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface Window {
  /** Answers that were not 200 after the fault, until the last of them. */
  failures: number;
  /** From the fault to the first 200 after the last failure (ms): what a caller saw. */
  unavailableMs: number;
  /** From the first to the last failure (ms). */
  failureSpanMs: number;
  byReason: Record<string, number>;
}

/** The unavailability window of a run, measured from `faultAt`. */
export function measure(outcomes: readonly Outcome[], faultAt: number): Window {
  const after = outcomes.filter((o) => o.at >= faultAt).sort((a, b) => a.at - b.at);
  const failed = after.filter((o) => o.status !== 200);
  const last = failed.at(-1);
  const recovered = last ? after.find((o) => o.status === 200 && o.at > last.at) : after.find((o) => o.status === 200);
  const byReason: Record<string, number> = {};
  for (const f of failed) {
    const k = `${f.status} ${f.reason ?? ""}`.trim();
    byReason[k] = (byReason[k] ?? 0) + 1;
  }
  return {
    failures: failed.length,
    unavailableMs: recovered ? recovered.at - faultAt : Number.NaN,
    failureSpanMs: failed.length ? last!.at - failed[0]!.at : 0,
    byReason,
  };
}
