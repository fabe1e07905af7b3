/**
 * `npm run hash-secret` (dist/scripts/hash-secret.js): names what it prints after the config field
 * it is for (clients[].secretHash, admin.tokens[].tokenHash), and `--scrypt` on a terminal asks for
 * the secret (twice, without echo) instead of waiting silently on stdin. The terminal runs are real
 * pseudo-terminals (util-linux `script`).
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verifySecret } from "../../src/clients/secret-hash.js";
import { ROOT, until } from "./processes.js";

const SCRIPT = join(ROOT, "dist", "scripts", "hash-secret.js");
const run = (args: string[], input?: string) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", input: input ?? "", timeout: 60_000 });

describe("hash-secret names its output after the config field", () => {
  it("no option: a client secret, `secret:` and `secretHash:` (clients[].secretHash)", async () => {
    const r = run([]);
    expect(r.status).toBe(0);
    const m = /^secret: +(\S+)\nsecretHash: (sha256:\S+)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(await verifySecret(m![1]!, m![2]!)).toBe(true);
    expect(r.stderr).toMatch(/clients\[\]\.secretHash/);
  });

  it("--admin: a bearer token, `token:` and `tokenHash:` in the form admin.tokens[].tokenHash accepts", async () => {
    const r = run(["--admin"]);
    expect(r.status).toBe(0);
    const m = /^token: +(\S+)\ntokenHash: (sha256:[A-Za-z0-9_-]{43})\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(await verifySecret(m![1]!, m![2]!)).toBe(true);
    expect(m![1]!.length).toBeGreaterThanOrEqual(43);
    expect(r.stdout).not.toMatch(/secret/);
    expect(r.stderr).toMatch(/admin\.tokens\[\]\.tokenHash/);
  });

  it("--scrypt from a pipe: the hash alone on stdout, verifying the secret", async () => {
    const r = run(["--scrypt"], "a secret I chose myself\n");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^scrypt:16384:8:1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+\n$/);
    expect(await verifySecret("a secret I chose myself", r.stdout.trim())).toBe(true);
  });

  it("refuses: a short secret, --admin with --scrypt, an unknown option (exit 2, usage)", () => {
    const short = run(["--scrypt"], "short\n");
    expect(short.status).toBe(2);
    expect(short.stderr).toMatch(/secret too short \(12 characters at least\)/);
    expect(short.stdout).toBe("");
    const both = run(["--admin", "--scrypt"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--admin and --scrypt do not go together/);
    const unknown = run(["--secret"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/usage: npm run -s hash-secret/);
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--admin .*\n.*admin\.tokens\[\]\.tokenHash/);
  });
});

/** hash-secret --scrypt on a pseudo-terminal: answers each prompt once it is shown. */
async function onTerminal(answers: string[]): Promise<{ code: number | null; screen: string }> {
  const child = spawn("script", ["-qfec", `${process.execPath} ${SCRIPT} --scrypt`, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
  let screen = "";
  child.stdout.on("data", (d: Buffer) => (screen += d.toString()));
  child.stderr.on("data", (d: Buffer) => (screen += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const prompts = [/Client secret to hash \(12 characters at least, not shown\): $/, /The same again: $/];
  for (const [i, answer] of answers.entries()) {
    await until(`prompt ${i + 1}`, () => prompts[i]!.test(screen) || child.exitCode !== null, 30_000);
    if (child.exitCode !== null) break;
    child.stdin.write(`${answer}\r`);
  }
  const code = await exited;
  return { code, screen };
}

describe("hash-secret --scrypt on a terminal", () => {
  it("asks for the secret, then for it again, echoing neither; prints the hash", async () => {
    const secret = "correct horse battery";
    const { code, screen } = await onTerminal([secret, secret]);
    expect(code, screen).toBe(0);
    expect(screen).not.toContain(secret);
    const hash = /(scrypt:16384:8:1:\S+)/.exec(screen)![1]!;
    expect(await verifySecret(secret, hash)).toBe(true);
  }, 60_000);

  it("two different entries: nothing hashed, exit 2", async () => {
    const { code, screen } = await onTerminal(["correct horse battery", "correct horse batterY"]);
    expect(code).toBe(2);
    expect(screen).toMatch(/the two entries differ; nothing hashed/);
    expect(screen).not.toMatch(/scrypt:/);
  }, 60_000);

  it("a short entry is refused at once, without a second prompt", async () => {
    const { code, screen } = await onTerminal(["short"]);
    expect(code).toBe(2);
    expect(screen).not.toMatch(/The same again/);
    expect(screen).toMatch(/secret too short/);
  }, 60_000);
});
