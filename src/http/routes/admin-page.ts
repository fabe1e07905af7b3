import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Router, type Response } from "express";

/**
 * GET /admin/: the admin web page (public/admin: static HTML, JS and CSS, no build step) over the
 * admin API. Only its three files are served, each with a strict Content-Security-Policy (no
 * inline script or style, no external resource, fetches only to this origin, no framing, no form
 * posts), no caching and no referrer. The page itself holds no secret: it asks for the admin token
 * and keeps it in memory.
 */
export const ADMIN_PAGE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self'",
  "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'",
].join("; ");

const FILES: Record<string, { file: string; type: string }> = {
  "/admin/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/admin/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/admin/admin.js": { file: "admin.js", type: "text/javascript; charset=utf-8" },
  "/admin/admin.css": { file: "admin.css", type: "text/css; charset=utf-8" },
};

/** The project root: the nearest directory above this module holding package.json (src/ or dist/src/). */
export function projectRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export function adminPageRoutes(directory = join(projectRoot(), "public", "admin")): Router {
  const contents = new Map<string, Buffer>();
  for (const name of new Set(Object.values(FILES).map((f) => f.file))) {
    try {
      contents.set(name, readFileSync(join(directory, name)));
    } catch {
      throw new Error(`admin page: cannot read ${join(directory, name)} (the public/ folder must ship with the bridge)`);
    }
  }
  const secure = (res: Response): void => {
    res.setHeader("Content-Security-Policy", ADMIN_PAGE_CSP);
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  };
  const router = Router({ strict: true, caseSensitive: true });
  router.get("/admin", (_req, res) => {
    secure(res);
    res.redirect(301, "/admin/");
  });
  for (const [path, { file, type }] of Object.entries(FILES)) {
    router.get(path, (_req, res) => {
      secure(res);
      res.setHeader("Content-Type", type);
      res.send(contents.get(file));
    });
  }
  return router;
}
