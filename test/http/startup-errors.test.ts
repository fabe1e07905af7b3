/**
 * The deployed entry point (`node dist/src/main.js`, built by `npm test`): a listen error (busy port,
 * an address this host does not have, a host that does not resolve) is named on stderr and the
 * process exits non-zero, promptly; never "listening on null", never up without listening. And the
 * config's `server` timeouts reach the real process.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { baseConfig } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { openSocket } from "./http-client.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
let configFile: string;
let held: Server;
let heldPort: number;

beforeAll(async () => {
  const c = baseConfig();
  for (const k of c.signing.keys) k.privateKeyFile = join(FIXTURES_DIR, k.privateKeyFile);
  for (const i of c.samlIdps) i.metadataFile = join(FIXTURES_DIR, i.metadataFile);
  c.server = { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 };
  configFile = join(mkdtempSync(join(tmpdir(), "fedbridge-start-")), "config.yaml");
  writeFileSync(configFile, stringify(c));
  held = createServer();
  held.listen(0, "127.0.0.1");
  await once(held, "listening");
  heldPort = (held.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => held.close(() => r())));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/** Runs main.js until it exits (or kills it after `limitMs` and says so). */
function run(env: Record<string, string>, limitMs = 15_000): Promise<Run> {
  return new Promise((resolvePromise) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [join(ROOT, "dist", "src", "main.js")], {
      env: { ...process.env, FEDBRIDGE_CONFIG: configFile, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stderr, stdout, ms: Date.now() - t0 });
    });
  });
}

describe("listen errors stop the process with a message and a non-zero exit", () => {
  it("a port another process holds: 'already in use', exit 1", async () => {
    const r = await run({ PORT: String(heldPort), HOST: "127.0.0.1" });
    expect(r.signal, "the process stayed up without listening").toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${heldPort}: the address is already in use (EADDRINUSE)`);
    expect(r.stderr).not.toMatch(/listening on/);
    expect(r.stdout).not.toMatch(/"event":"listening"/);
  });

  it("the same port on every address (HOST 0.0.0.0 while 127.0.0.1 is held): in use too", async () => {
    const r = await run({ PORT: String(heldPort), HOST: "0.0.0.0" });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already in use \(EADDRINUSE\)/);
  });

  it("an address this host does not have: EADDRNOTAVAIL, exit 1", async () => {
    const r = await run({ PORT: "0", HOST: "192.0.2.77" }); // TEST-NET-1 (RFC 5737)
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot listen on 192.0.2.77:0: the address is not available on this host (EADDRNOTAVAIL)");
  });

  it("a host name that does not resolve: its error code, exit 1", async () => {
    const r = await run({ PORT: "0", HOST: "no-such-host.invalid" });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot listen on no-such-host\.invalid:0: listen failed \(E[A-Z_]+\)/);
  });

  it("a free port: listening on its real URL; the config's server timeouts apply to the process", async () => {
    const child = spawn(process.execPath, [join(ROOT, "dist", "src", "main.js")], {
      env: { ...process.env, FEDBRIDGE_CONFIG: configFile, PORT: "0", HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let stderr = "";
      child.stdout!.resume();
      const url = await new Promise<string>((res, rej) => {
        child.stderr!.on("data", (d: Buffer) => {
          stderr += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+) /.exec(stderr);
          if (m) res(m[1]!);
        });
        child.on("exit", (code) => rej(new Error(`exited ${code}: ${stderr}`)));
      });
      const { socket, closed } = await openSocket(Number(new URL(url).port));
      const timer = setInterval(() => socket.destroyed || socket.write("X"), 300);
      socket.write("POST /token HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      const { atMs } = await closed;
      clearInterval(timer);
      expect(atMs).toBeLessThan(1_000 + 1_500); // server.headersTimeoutMs 1000
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
});
