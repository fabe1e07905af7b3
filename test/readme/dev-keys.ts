/**
 * The development keys, created once even when several test files start at the same time: on a
 * fresh clone `npm start`'s dev-keys step would otherwise run in parallel test processes, and two
 * runs could each write an example IdP key and leave metadata that matches only one of them. A
 * lock directory (mkdir is atomic) serialises the creation; once the keys exist, dev-keys and
 * example-oidc-keys leave them alone, so the examples' own start-up steps change nothing.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");

export async function ensureDevKeys(): Promise<void> {
  mkdirSync(join(ROOT, "certs"), { recursive: true });
  const lock = join(ROOT, "certs", ".dev-keys.lock");
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after a minute (creating the keys takes a second).
      try {
        if (Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      if (i > 1200) throw new Error(`${lock}: still held after 120 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    execFileSync(process.execPath, [join(ROOT, "dist", "scripts", "dev-keys.js")], { cwd: ROOT, stdio: "ignore" });
    execFileSync(process.execPath, [join(ROOT, "dist", "scripts", "example-oidc-keys.js")], { cwd: ROOT, stdio: "ignore" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
