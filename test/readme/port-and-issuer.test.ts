/**
 * The README's "Another port" section, as a test. `PORT` moves only the listener: the URLs the
 * bridge says (`iss`, discovery, the SAML Recipient it accepts) stay those of `issuer` in the config;
 * the section's commands (a copy of the example config with 9090 for 8080, `PORT=9090`, the example
 * IdP told the new recipient) move both.
 *
 * The block's `sed` line runs as pasted, in a scratch folder laid out like the repository (its
 * `config/`, with `certs/` and `metadata/` linked to the real ones) so that no `config/local.yaml`
 * of the reader's is overwritten; the bridge runs as `npm start` does after its build.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "../support/harness.js";
import { ensureDevKeys } from "./dev-keys.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const SAML2 = "urn:ietf:params:oauth:token-type:saml2";

/** The README block after `<!-- another-port -->`. */
function block(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const m = /<!-- another-port -->\n```sh\n([\s\S]*?)\n```/.exec(readme);
  if (m === null) throw new Error("README: the another-port block is missing");
  return m[1]!.split("\n");
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once("error", () => done(false));
    s.listen(port, "127.0.0.1", () => s.close(() => done(true)));
  });
}

/** `npm start` after its build: dev keys (created once for every test file), then dist/src/main.js. */
async function start(env: Record<string, string>): Promise<ChildProcess> {
  await ensureDevKeys();
  const child = spawn(process.execPath, [join(ROOT, "dist", "src", "main.js")], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`not listening after 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes("fedbridge listening on")) {
        clearTimeout(timer);
        ok();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`exited (${code}):\n${stderr}`));
    });
  });
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  await new Promise<void>((done) => {
    child.once("exit", () => done());
    child.kill("SIGTERM");
  });
}

/** What `npm run -s example-assertion -- …` prints. */
async function exampleAssertion(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(ROOT, "dist", "scripts", "example-assertion.js"), ...args], { cwd: ROOT });
  return stdout.trim();
}

async function exchange(port: number, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from("legacy-app:legacy-app-dev-secret").toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: GRANT, subject_token_type: SAML2, subject_token: token, audience: "https://orders.example.org", scope: "orders:read" }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function discovery(port: number): Promise<Record<string, unknown>> {
  return (await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
}

describe("README: another port (PORT and issuer)", () => {
  let scratch: string;
  beforeAll(async () => {
    expect(await portIsFree(9090), "127.0.0.1:9090 is taken: the README's example uses it").toBe(true);
    scratch = mkdtempSync(join(tmpdir(), "fedbridge-port-"));
    mkdirSync(join(scratch, "config"));
    copyFileSync(join(ROOT, "config", "fedbridge.example.yaml"), join(scratch, "config", "fedbridge.example.yaml"));
    symlinkSync(join(ROOT, "certs"), join(scratch, "certs"));
    symlinkSync(join(ROOT, "metadata"), join(scratch, "metadata"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("PORT alone moves the listener, not iss, discovery or the accepted Recipient", async () => {
    const bridge = await start({ PORT: "9090" });
    try {
      expect((await discovery(9090)).issuer).toBe("http://127.0.0.1:8080");
      expect((await discovery(9090)).token_endpoint).toBe("http://127.0.0.1:8080/token");
      const moved = await exchange(9090, await exampleAssertion("--recipient", "http://127.0.0.1:9090/token"));
      expect(moved.body).toEqual({ error: "invalid_request", error_description: "recipient_mismatch" });
      const res = await exchange(9090, await exampleAssertion());
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(decodeJwt(res.body.access_token as string).payload.iss).toBe("http://127.0.0.1:8080");
    } finally {
      await stop(bridge);
    }
  }, 120_000);

  it("the README's commands move both", async () => {
    const [sed, startLine, , tokenLine] = block();
    expect(startLine).toBe("FEDBRIDGE_CONFIG=config/local.yaml PORT=9090 npm start");
    await run("bash", ["-c", sed!], { cwd: scratch });
    const bridge = await start({ FEDBRIDGE_CONFIG: join(scratch, "config", "local.yaml"), PORT: "9090" });
    try {
      const meta = await discovery(9090);
      expect(meta.issuer).toBe("http://127.0.0.1:9090");
      expect(meta.token_endpoint).toBe("http://127.0.0.1:9090/token");
      expect(meta.jwks_uri).toBe("http://127.0.0.1:9090/.well-known/jwks.json");
      const args = /example-assertion -- (.+)\)$/.exec(tokenLine!)![1]!.split(" ");
      const res = await exchange(9090, await exampleAssertion(...args));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(decodeJwt(res.body.access_token as string).payload.iss).toBe("http://127.0.0.1:9090");
    } finally {
      await stop(bridge);
    }
  }, 120_000);
});
