/**
 * Every curl example in README.md and docs/*.md runs as pasted against a shipped example config.
 *
 * A shell block (```sh) that calls curl must be marked with the command that starts the bridge it
 * talks to, on the line before the block: `<!-- example: npm start -->` (the quick start,
 * config/fedbridge.example.yaml) or `<!-- example: npm run start:next-hop -->` (the second example,
 * config/fedbridge.next-hop.example.yaml). For each such command this test starts the bridge exactly
 * that way, on the port the docs name (127.0.0.1:8080, the configs' `issuer`), then runs the marked
 * blocks of each page in order in one bash session, as a reader pasting them would. Only two things
 * differ from a reader's terminal, and neither changes what runs:
 *   - `npm` is a shim that runs package.json's script without its `npm run build` prefix (dist/ is
 *     built once before the suite, as `npm test` does), so each example token costs no compile;
 *   - `curl` gets `--fail-with-body`, and bash `set -euo pipefail`, so an HTTP error fails the block.
 * A block followed by a ```json block (the answer the docs show) must answer a JSON object with the
 * same member names.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDevKeys } from "./dev-keys.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const PAGES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
const MARKER = /^<!-- example: (.+?) -->$/;
const PORT = 8080;
const run = promisify(execFile);

interface Block {
  page: string;
  line: number;
  code: string;
  start: string | undefined;
  /** The JSON answer shown right after the block, if any. */
  shown: string | undefined;
}

/** Every ```sh block of a page, with its marker and the ```json block that follows it. */
function shellBlocks(page: string): Block[] {
  const lines = readFileSync(join(ROOT, page), "utf8").split("\n");
  const blocks: Block[] = [];
  const fenceEnd = (from: number): number => {
    let j = from + 1;
    while (j < lines.length && lines[j] !== "```") j++;
    return j;
  };
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith("```")) continue;
    const end = fenceEnd(i);
    if (lines[i] === "```sh") {
      let p = i - 1;
      while (p >= 0 && lines[p]!.trim() === "") p--;
      const marker = p >= 0 ? MARKER.exec(lines[p]!) : null;
      let n = end + 1;
      while (n < lines.length && lines[n]!.trim() === "") n++;
      const shown = lines[n] === "```json" ? lines.slice(n + 1, fenceEnd(n)).join("\n") : undefined;
      blocks.push({ page, line: i + 1, code: lines.slice(i + 1, end).join("\n"), start: marker?.[1], shown });
    }
    i = end;
  }
  return blocks;
}

const ALL = PAGES.flatMap(shellBlocks);
const CURL = /(^|[\s;|&(])curl\s/m;
/** A block's commands without their `# comments`. */
const commands = (code: string): string => code.split("\n").map((l) => l.replace(/(^|\s)#.*$/, "")).join("\n");
const RUNNABLE = ALL.filter((b) => b.start !== undefined);
const STARTS = [...new Set(RUNNABLE.map((b) => b.start!))];

let shimDir: string;

/** `npm run [-s] NAME [-- args…]` and `npm start`, as npm runs them, minus the build prefix. */
const NPM_SHIM = `#!/usr/bin/env node
const { spawnSync } = require("node:child_process");
const scripts = require(${JSON.stringify(join(ROOT, "package.json"))}).scripts;
let args = process.argv.slice(2);
let name;
if (args[0] === "start") { name = "start"; args = args.slice(1); }
else if (args[0] === "run") {
  args = args.slice(1);
  while (args[0] === "-s" || args[0] === "--silent") args.shift();
  name = args.shift();
} else { process.stderr.write("npm shim: unsupported: npm " + process.argv.slice(2).join(" ") + "\\n"); process.exit(2); }
if (args[0] === "--") args = args.slice(1);
if (!scripts[name]) { process.stderr.write("npm shim: no script " + name + "\\n"); process.exit(2); }
const strip = (cmd) => cmd.replace(/^npm run build --silent && /, "");
const quote = (a) => "'" + a.replace(/'/g, "'\\\\''") + "'";
for (const script of [scripts["pre" + name], scripts[name]]) {
  if (script === undefined) continue;
  const cmd = strip(script) + (script === scripts[name] && args.length ? " " + args.map(quote).join(" ") : "");
  const r = spawnSync("sh", ["-c", cmd], { stdio: "inherit", cwd: ${JSON.stringify(ROOT)} });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
`;

/** The environment of a reader's shell: the shim first on PATH, none of the bridge's variables set. */
function readerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${shimDir}:${process.env.PATH ?? ""}` };
  for (const k of ["FEDBRIDGE_CONFIG", "PORT", "HOST", "FEDBRIDGE_WORKERS", "NODE_OPTIONS"]) delete env[k];
  return env;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once("error", () => done(false));
    s.listen(port, "127.0.0.1", () => s.close(() => done(true)));
  });
}

/** Starts the bridge as the docs say (e.g. `npm start`) and waits for its "listening" line. */
async function startBridge(command: string): Promise<ChildProcess> {
  const args = command.split(/\s+/).slice(1);
  const child = spawn(join(shimDir, "npm"), args, { cwd: ROOT, env: readerEnv(), detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${command}: not listening after 90 s:\n${stderr}`)), 90_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes(`fedbridge listening on http://127.0.0.1:${PORT} `)) {
        clearTimeout(timer);
        ok();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${command} exited (${code}):\n${stderr}`));
    });
  });
  return child;
}

/** SIGTERM to the whole process group (the shim, sh, node), then wait until the port is free again. */
async function stopBridge(child: ChildProcess): Promise<void> {
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // already gone
  }
  for (let i = 0; i < 300 && !(await portIsFree(PORT)); i++) await new Promise((r) => setTimeout(r, 100));
}

const SEPARATOR = "@@docs-example-block-end@@";

/** The marked blocks of one page, in one bash session: one output per block. */
async function runPage(blocks: Block[]): Promise<string[]> {
  const script = [
    "set -euo pipefail",
    "curl() { command curl --fail-with-body \"$@\"; }",
    ...blocks.map((b) => `${b.code}\nprintf '\\n%s\\n' ${SEPARATOR}`),
  ].join("\n");
  try {
    const { stdout } = await run("bash", ["-c", script], { cwd: ROOT, env: readerEnv(), timeout: 180_000, maxBuffer: 16 << 20 });
    return stdout.split(`\n${SEPARATOR}\n`).slice(0, blocks.length);
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: unknown };
    const done = (err.stdout ?? "").split(`\n${SEPARATOR}\n`).length - 1;
    const failed = blocks[done];
    throw new Error(`${failed?.page}:${failed?.line}: the example failed (exit ${String(err.code)}):\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  }
}

/** The last JSON object a block printed. */
function lastJsonObject(output: string): Record<string, unknown> | undefined {
  for (const line of output.split("\n").reverse()) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      return JSON.parse(t) as Record<string, unknown>;
    } catch {
      continue;
    }
  }
  return undefined;
}

beforeAll(() => {
  shimDir = mkdtempSync(join(tmpdir(), "fedbridge-docs-"));
  writeFileSync(join(shimDir, "npm"), NPM_SHIM);
  chmodSync(join(shimDir, "npm"), 0o755);
});
afterAll(() => rmSync(shimDir, { recursive: true, force: true }));

describe("the docs' shell examples", () => {
  it("every shell block that calls curl names the bridge it runs against", () => {
    const unmarked = ALL.filter((b) => CURL.test(commands(b.code)) && b.start === undefined).map((b) => `${b.page}:${b.line}`);
    expect(unmarked).toEqual([]);
    expect(RUNNABLE.length).toBeGreaterThanOrEqual(8);
  });

  it("every marker names a way to start the bridge that package.json has", () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    for (const start of STARTS) {
      const m = /^npm (?:start|run (\S+))$/.exec(start);
      expect(m, start).not.toBeNull();
      expect(scripts[m![1] ?? "start"], start).toBeDefined();
    }
    expect(STARTS.sort()).toEqual(["npm run start:next-hop", "npm start"]);
  });
});

describe.each(STARTS)("the examples marked `%s`", (start) => {
  let bridge: ChildProcess | undefined;
  beforeAll(async () => {
    expect(await portIsFree(PORT), `127.0.0.1:${PORT} is taken: the docs' examples need it (stop the bridge running there)`).toBe(true);
    // The admin example starts from an empty store, as docs/admin.md says to start over.
    if (start === "npm run start:next-hop") rmSync(join(ROOT, "certs", "example-admin-idps"), { recursive: true, force: true });
    // Created once for every test file; the start command's own dev-keys step then changes nothing.
    await ensureDevKeys();
    bridge = await startBridge(start);
  }, 120_000);
  afterAll(async () => {
    if (bridge) await stopBridge(bridge);
  });

  const pages = [...new Set(RUNNABLE.filter((b) => b.start === start).map((b) => b.page))];
  it.each(pages)("%s runs as pasted", async (page) => {
    const blocks = RUNNABLE.filter((b) => b.start === start && b.page === page);
    const outputs = await runPage(blocks);
    blocks.forEach((b, i) => {
      if (b.shown === undefined) return;
      const shown = JSON.parse(b.shown) as Record<string, unknown>;
      const got = lastJsonObject(outputs[i] ?? "");
      expect(got, `${page}:${b.line} printed no JSON object`).toBeDefined();
      expect(Object.keys(got!).sort(), `${page}:${b.line}: the answer's members`).toEqual(Object.keys(shown).sort());
    });
  }, 240_000);
});
