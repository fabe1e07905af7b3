/**
 * Runs the BUILT command line (`node dist/src/cli/main.js`, built by `npm run build`) as a user
 * would, and writes the configs it is run against: harness.ts's baseConfig (with the JWT issuers of
 * jwt-fixtures.ts) with every file path made absolute into test/fixtures (TEST-ONLY keys).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { stringify } from "yaml";
import { baseConfig } from "../support/harness.js";
import { FIXTURES_DIR } from "../support/constants.js";
import { withJwtIssuers } from "../support/jwt-fixtures.js";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "dist", "src", "cli", "main.js");
export const TMP = mkdtempSync(join(tmpdir(), "fedbridge-cli-"));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], o: { input?: string; env?: Record<string, string> } = {}): Run {
  const env = { ...process.env, ...o.env };
  delete env.FEDBRIDGE_CONFIG;
  if (o.env?.FEDBRIDGE_CONFIG) env.FEDBRIDGE_CONFIG = o.env.FEDBRIDGE_CONFIG;
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", input: o.input ?? "", timeout: 60_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking the test's event loop (for a bridge the test itself serves). */
export function cliAsync(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("exit", (status) => done({ status, stdout, stderr }));
  });
}

/** Parses the one JSON line --json prints. */
export function json(r: Run): any {
  const lines = r.stdout.trim().split("\n");
  if (lines.length !== 1) throw new Error(`expected one JSON line, got: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(lines[0]!);
}

const abs = (p: string): string => (isAbsolute(p) ? p : join(FIXTURES_DIR, p));

export function absolutize(c: Record<string, any>): Record<string, any> {
  for (const k of c.signing.keys) {
    if (k.privateKeyFile) k.privateKeyFile = abs(k.privateKeyFile);
    if (k.publicKeyFile) k.publicKeyFile = abs(k.publicKeyFile);
  }
  for (const i of c.samlIdps ?? []) i.metadataFile = abs(i.metadataFile);
  for (const j of c.jwtIssuers ?? []) if (j.jwksFile) j.jwksFile = abs(j.jwksFile);
  return c;
}

/** A valid config (SAML IdPs, JWT issuers, in-memory replay), patched, written to a temp file. */
export function writeConfig(patch: (c: Record<string, any>) => void = () => undefined): string {
  const c = baseConfig();
  withJwtIssuers(c);
  absolutize(c);
  patch(c);
  return writeRaw(stringify(c));
}

export function writeRaw(text: string): string {
  const file = join(TMP, `config-${randomBytes(4).toString("hex")}.yaml`);
  writeFileSync(file, text);
  return file;
}
