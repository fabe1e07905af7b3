/**
 * The trust invariant's rule (src/admin/key-history.ts) on its own: an entity's keys change only by
 * overlap (a key valid now, trusted before) or force; an entityID changes only by force. The
 * property tests (invariants.property.test.ts) check that every path calls it.
 */
import { describe, expect, it } from "vitest";
import { entityChange, keyChange, legacyKeys } from "../../src/admin/key-history.js";

describe("keyChange", () => {
  it("first onboarding, overlap, shrinking and unchanged keys need no force", () => {
    expect(keyChange({ previous: undefined, next: ["a"], validNow: ["a"], force: false })).toMatchObject({ ok: true, forced: false, added: ["a"] });
    expect(keyChange({ previous: [], next: ["a"], validNow: ["a"], force: false })).toMatchObject({ ok: true, forced: false });
    expect(keyChange({ previous: ["a"], next: ["a", "b"], validNow: ["a", "b"], force: false })).toEqual({ ok: true, forced: false, kept: ["a"], added: ["b"], removed: [] });
    expect(keyChange({ previous: ["a", "b"], next: ["b"], validNow: ["b"], force: false })).toEqual({ ok: true, forced: false, kept: ["b"], added: [], removed: ["a"] });
    // Dropping to a subset whose key has expired adds nothing: no new trust.
    expect(keyChange({ previous: ["a", "b"], next: ["a"], validNow: [], force: false })).toMatchObject({ ok: true, forced: false });
  });

  it("refuses every shape of unforced swap", () => {
    const refused = { ok: false, reasons: ["rollover_no_shared_key"] };
    // Disjoint sets.
    expect(keyChange({ previous: ["a"], next: ["b"], validNow: ["b"], force: false })).toEqual(refused);
    // The shared key is expired in the new document: it vouches for nothing.
    expect(keyChange({ previous: ["a"], next: ["a", "b"], validNow: ["b"], force: false })).toEqual(refused);
    // Several new keys, none shared.
    expect(keyChange({ previous: ["a", "b"], next: ["c", "d"], validNow: ["c", "d"], force: false })).toEqual(refused);
    // A "shared" key that is only valid, not present in the new set, does not count either.
    expect(keyChange({ previous: ["a"], next: ["b"], validNow: ["b"], force: false })).toEqual(refused);
  });

  it("force accepts a swap and says it was forced (only when it was needed)", () => {
    expect(keyChange({ previous: ["a"], next: ["b"], validNow: ["b"], force: true })).toEqual({ ok: true, forced: true, kept: [], added: ["b"], removed: ["a"] });
    expect(keyChange({ previous: ["a"], next: ["a", "b"], validNow: ["a", "b"], force: true })).toMatchObject({ ok: true, forced: false });
  });
});

describe("entityChange", () => {
  it("a record keeps its entityID unless forced", () => {
    expect(entityChange({ from: undefined, to: "x", force: false })).toEqual({ ok: true, moved: false, forced: false });
    expect(entityChange({ from: "x", to: "x", force: false })).toEqual({ ok: true, moved: false, forced: false });
    expect(entityChange({ from: "x", to: "y", force: false })).toEqual({ ok: false, reasons: ["entity_id_change_requires_force"] });
    expect(entityChange({ from: "x", to: "x/", force: false })).toEqual({ ok: false, reasons: ["entity_id_change_requires_force"] });
    expect(entityChange({ from: "x", to: "y", force: true })).toEqual({ ok: true, moved: true, forced: true });
  });

  it("legacy stores: the newest record naming the entity gives its last keys", () => {
    const records = [
      { entityId: "x", keys: ["a"], updatedAt: "2026-01-01T00:00:00Z" },
      { entityId: "x", keys: ["b"], updatedAt: "2026-02-01T00:00:00Z" },
      { entityId: "y", keys: ["c"], updatedAt: "2026-03-01T00:00:00Z" },
    ];
    expect(legacyKeys(records, "x")).toEqual(["b"]);
    expect(legacyKeys(records, "z")).toBeUndefined();
  });
});
