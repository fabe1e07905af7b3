import { describe, expect, it } from "vitest";
import { MemoryReplayStore } from "../../src/replay/memory.js";
import { ReplayStoreUnavailable, replayKey } from "../../src/replay/store.js";

/** A store on a clock the test moves by hand. */
function storeWithClock(maxEntries = 1000): { store: MemoryReplayStore; clock: { now: number } } {
  const clock = { now: Date.UTC(2030, 0, 1) };
  return { store: new MemoryReplayStore({ maxEntries, now: () => clock.now }), clock };
}

describe("MemoryReplayStore", () => {
  it("first mark is true, a second mark of the same key is false", async () => {
    const { store } = storeWithClock();
    expect(await store.markUsed("k1", 10_000)).toBe(true);
    expect(await store.markUsed("k1", 10_000)).toBe(false);
    expect(await store.markUsed("k1", 10_000)).toBe(false);
    // other keys are independent
    expect(await store.markUsed("k2", 10_000)).toBe(true);
  });

  it("concurrent marks of one key: exactly one true", async () => {
    const { store } = storeWithClock();
    const results = await Promise.all(Array.from({ length: 50 }, () => store.markUsed("same", 10_000)));
    expect(results.filter((r) => r)).toHaveLength(1);
  });

  it("an entry lives exactly ttl: still used at ttl-1 ms, free again at ttl", async () => {
    const { store, clock } = storeWithClock();
    expect(await store.markUsed("k", 5_000)).toBe(true);
    clock.now += 4_999;
    expect(await store.markUsed("k", 5_000)).toBe(false);
    clock.now += 1; // until = set time + ttl; an entry with until <= now is expired
    expect(await store.markUsed("k", 5_000)).toBe(true);
    // and the re-mark starts a new ttl
    clock.now += 4_999;
    expect(await store.markUsed("k", 5_000)).toBe(false);
  });

  it("a refused second mark does not extend the entry", async () => {
    const { store, clock } = storeWithClock();
    expect(await store.markUsed("k", 1_000)).toBe(true);
    clock.now += 900;
    expect(await store.markUsed("k", 60_000)).toBe(false);
    clock.now += 100;
    expect(await store.markUsed("k", 1_000)).toBe(true);
  });

  it("is bounded: a full store refuses new keys with ReplayStoreUnavailable, and never forgets live ones", async () => {
    const { store, clock } = storeWithClock(3);
    for (const k of ["a", "b", "c"]) expect(await store.markUsed(k, 10_000)).toBe(true);
    await expect(store.markUsed("d", 10_000)).rejects.toBeInstanceOf(ReplayStoreUnavailable);
    // the refusal neither recorded "d" nor evicted a live entry
    for (const k of ["a", "b", "c"]) expect(await store.markUsed(k, 10_000)).toBe(false);
    clock.now += 9_999;
    await expect(store.markUsed("d", 10_000)).rejects.toBeInstanceOf(ReplayStoreUnavailable);
    for (const k of ["a", "b", "c"]) expect(await store.markUsed(k, 10_000)).toBe(false);
  });

  it("a full store sweeps expired entries first and then accepts the new key", async () => {
    const { store, clock } = storeWithClock(3);
    expect(await store.markUsed("short1", 1_000)).toBe(true);
    expect(await store.markUsed("short2", 1_000)).toBe(true);
    expect(await store.markUsed("long", 60_000)).toBe(true);
    clock.now += 1_000; // short1, short2 expired; long still live
    expect(await store.markUsed("n1", 60_000)).toBe(true);
    expect(await store.markUsed("n2", 60_000)).toBe(true);
    // full again with three live entries: refused, and the live ones are still remembered
    await expect(store.markUsed("n3", 60_000)).rejects.toBeInstanceOf(ReplayStoreUnavailable);
    for (const k of ["long", "n1", "n2"]) expect(await store.markUsed(k, 60_000)).toBe(false);
  });

  it("re-marking an expired key in a full store needs no free slot", async () => {
    const { store, clock } = storeWithClock(2);
    expect(await store.markUsed("a", 1_000)).toBe(true);
    expect(await store.markUsed("b", 60_000)).toBe(true);
    clock.now += 1_000;
    expect(await store.markUsed("a", 1_000)).toBe(true);
    expect(await store.markUsed("a", 1_000)).toBe(false);
  });

  it("ready() is true; close() forgets everything", async () => {
    const { store } = storeWithClock();
    expect(await store.ready()).toBe(true);
    expect(await store.markUsed("k", 10_000)).toBe(true);
    await store.close();
    expect(await store.markUsed("k", 10_000)).toBe(true);
  });
});

describe("replayKey", () => {
  it("separates issuers: one ID under two issuers gives two keys, and both are accepted once", async () => {
    const a = replayKey("https://idp1.test/idp", "_id1");
    const b = replayKey("https://idp2.test/idp", "_id1");
    expect(a).not.toBe(b);
    const { store } = storeWithClock();
    expect(await store.markUsed(a, 10_000)).toBe(true);
    expect(await store.markUsed(b, 10_000)).toBe(true);
    expect(await store.markUsed(a, 10_000)).toBe(false);
  });

  it("is deterministic and separates IDs under one issuer", () => {
    expect(replayKey("https://idp1.test/idp", "_x")).toBe(replayKey("https://idp1.test/idp", "_x"));
    expect(replayKey("https://idp1.test/idp", "_x")).not.toBe(replayKey("https://idp1.test/idp", "_y"));
  });

  it("cannot be shifted across the issuer/ID boundary", () => {
    // naive concatenation would make these equal
    expect(replayKey("https://idp.test/a", "b")).not.toBe(replayKey("https://idp.test/", "ab"));
  });

  it("is a fixed-size base64url hash whatever the input", () => {
    for (const id of ["", "_short", "x".repeat(100_000), "<evil key=\"*\">\r\n"]) {
      expect(replayKey("https://idp1.test/idp", id)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });
});

describe("MemoryReplayStore.markAllUsed", () => {
  it("marks all or nothing", async () => {
    const store = new MemoryReplayStore({ maxEntries: 100, now: () => 0 });
    expect(await store.markAllUsed([{ key: "s", ttlMs: 1000 }, { key: "a", ttlMs: 1000 }])).toBe(true);
    // "a" is used: nothing of this batch may be recorded, so "fresh" stays usable.
    expect(await store.markAllUsed([{ key: "fresh", ttlMs: 1000 }, { key: "a", ttlMs: 1000 }])).toBe(false);
    expect(await store.markUsed("fresh", 1000)).toBe(true);
  });
});

describe("MemoryReplayStore.anyUsed", () => {
  it("reads without marking", async () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 100, now: () => now });
    expect(await store.anyUsed(["k"])).toBe(false);
    expect(await store.markUsed("k", 1000)).toBe(true); // the read above marked nothing
    expect(await store.anyUsed(["other", "k"])).toBe(true);
    now = 1000;
    expect(await store.anyUsed(["k"])).toBe(false);
  });
});
