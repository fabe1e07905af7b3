import { ReplayStoreUnavailable, type ReplayStore, type ReplayStoreStatus } from "../replay/store.js";
import type { BridgeMetrics, ReplayState } from "./metrics.js";

/**
 * The replay store, observed: each operation's latency and failures, and the store's state for
 * fedbridge_replay_store_state (its own status(), read at scrape time, or `closed` once the bridge
 * closed it). A decorator, so the stores themselves know nothing of metrics.
 */
export function observedReplayStore<S extends ReplayStore & { start?(): void }>(store: S, metrics: BridgeMetrics): ReplayStore & { start?(): void } {
  let closed = false;
  const timed = async (operation: "mark" | "read", run: () => Promise<boolean>): Promise<boolean> => {
    const end = metrics.replayDuration.startTimer({ operation });
    try {
      const fresh = await run();
      end({ outcome: operation === "mark" ? (fresh ? "new" : "used") : (fresh ? "used" : "new") });
      return fresh;
    } catch (e) {
      const kind = e instanceof ReplayStoreUnavailable ? (e.lost ? "lost" : "unavailable") : "error";
      end({ outcome: kind });
      metrics.replayErrors.inc({ operation, kind });
      throw e;
    }
  };
  metrics.sources.replayState = async (): Promise<ReplayState> => (closed ? "closed" : stateOf(await store.status()));
  return {
    markUsed: (key, ttlMs) => timed("mark", () => store.markUsed(key, ttlMs)),
    markAllUsed: (entries) => timed("mark", () => store.markAllUsed(entries)),
    anyUsed: (keys) => timed("read", () => store.anyUsed(keys)),
    ready: () => store.ready(),
    status: () => store.status(),
    close: async () => {
      closed = true;
      await store.close();
    },
    ...(store.start ? { start: () => store.start!() } : {}),
  };
}

/** ReplayStoreStatus.state as a metric state (a state added to the store later counts as down until listed). */
function stateOf(s: ReplayStoreStatus): ReplayState {
  const state = s.state as string;
  return state === "up" || state === "lost" || state === "closed" ? state : "down";
}
