/**
 * The generated config reference (docs/configuration.md, `npm run docs`) says one thing per field:
 * no field listed twice, unions of objects shown as their alternatives with the members of each,
 * never as "object or object". (test/config checks the page matches the generator.)
 */
import { describe, expect, it } from "vitest";
import { configReferenceMarkdown } from "../../src/config/reference.js";

const rows = configReferenceMarkdown().split("\n").slice(2).map((line) => {
  const cells = line.slice(2, -2).split(/ (?<!\\)\| /);
  return { field: cells[0]!.replace(/`/g, ""), type: cells[1]!, requirement: cells[2]!, description: cells[3] ?? "" };
});
const row = (field: string) => rows.find((r) => r.field === field);

describe("config reference", () => {
  it("lists every field once", () => {
    const seen = new Map<string, number>();
    for (const r of rows) seen.set(r.field, (seen.get(r.field) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
  });

  it("never says a union is 'object or object'", () => {
    expect(rows.filter((r) => /\bobject or object\b/.test(r.type)).map((r) => r.field)).toEqual([]);
  });

  it("shows mapping.subject as its two alternatives, each member required only in its own", () => {
    for (const base of ["samlIdps[].mapping.subject", "jwtIssuers[].mapping.subject"]) {
      expect(row(base)?.type).toBe("one of: `{ nameId }`, `{ attribute }`");
      expect(row(`${base}.nameId`)?.requirement).toBe("**required** with `{ nameId }`; not allowed otherwise");
      expect(row(`${base}.attribute`)?.requirement).toBe("**required** with `{ attribute }`; not allowed otherwise");
      expect(row(`${base}.attribute.name`)?.requirement).toBe("optional");
    }
  });

  it("shows admin.store's discriminator once, and which store each member belongs to", () => {
    expect(row("admin.store")?.type).toBe('one of: `kind: "file"`, `kind: "redis"`');
    expect(rows.filter((r) => r.field === "admin.store.kind")).toHaveLength(1);
    expect(row("admin.store.kind")?.type).toBe('`"file"` / `"redis"`');
    expect(row("admin.store.directory")?.requirement).toBe('**required** with `kind: "file"`; not allowed otherwise');
    expect(row("admin.store.redisUrl")?.requirement).toMatch(/ with `kind: "redis"`; not allowed otherwise$/);
    expect(row("admin.store.keyPrefix")?.requirement).toBe('default `"fedbridge:idps:"` with `kind: "redis"`; not allowed otherwise');
  });

  it("says what a map holds", () => {
    expect(row("clients[].issuerParties")?.type).toBe("map of list of string");
  });

  it("gives every field a description a user can act on", () => {
    const bare = rows.filter((r) => r.description.trim() === "").map((r) => r.field);
    expect(bare).toEqual([]);
  });
});
