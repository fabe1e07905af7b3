/**
 * The README is the front door and the reference lives in docs/: every page is reachable from the
 * README, and every relative link (file and #anchor, GitHub's heading slugs) between the README and
 * the pages resolves, so moving a section cannot leave a dead link behind.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const PAGES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];

/** Markdown text outside fenced code blocks. */
function prose(page: string): string {
  let fenced = false;
  return readFileSync(join(ROOT, page), "utf8").split("\n").filter((l) => {
    if (l.startsWith("```")) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  }).join("\n");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(page).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!.toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, "").replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function links(page: string): { target: string; anchor: string | undefined }[] {
  return [...prose(page).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z]+:/i.test(href))
    .map((href) => {
      const [file, anchor] = href.split("#") as [string, string | undefined];
      const target = file === "" ? page : relative(ROOT, normalize(join(dirname(join(ROOT, page)), file)));
      return { target, anchor };
    });
}

describe("docs links", () => {
  it("the README links to every page of docs/", () => {
    const linked = new Set(links("README.md").map((l) => l.target));
    expect(PAGES.filter((p) => p !== "README.md" && !linked.has(p))).toEqual([]);
  });

  it("every relative link and anchor resolves", () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const { target, anchor } of links(page)) {
        if (!existsSync(join(ROOT, target))) broken.push(`${page} → ${target}`);
        else if (anchor !== undefined && target.endsWith(".md") && !anchors(target).has(anchor)) broken.push(`${page} → ${target}#${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("the README stays a front door (the reference lives in docs/)", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme.length).toBeLessThan(16_000);
    expect(readme).not.toContain("<!-- config-reference:start -->");
  });
});
