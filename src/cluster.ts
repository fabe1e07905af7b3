import cluster, { type Worker } from "node:cluster";
import { realpathSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { jsonLogger, type Logger } from "./log/logger.js";
import { serveClusterMetrics } from "./metrics/cluster.js";
import { EXIT_SHUTDOWN_CUT } from "./http/drain.js";

/**
 * Production entry point: one worker process per core (node:cluster), each running the very entry
 * point `npm start` runs (dist/src/main.js: config, keys, Redis, listen, and its SIGTERM drain), all
 * sharing one listening socket. Workers share nothing but Redis, so the config must use the Redis
 * replay store when there is more than one: a memory store would let one assertion be used once
 * per worker (SAML Profiles §4.1.4.5: bearer assertions must not be replayed).
 *
 *   node dist/src/cluster.js [--workers N]     (or FEDBRIDGE_WORKERS=N; default: one per core)
 *   FEDBRIDGE_CONFIG, PORT, HOST               as for dist/src/main.js, passed on to every worker
 *
 * The primary restarts a worker that dies (exponential back-off), gives up loudly (exit 1, every
 * worker stopped) on a crash loop, and on SIGTERM/SIGINT passes SIGTERM to every worker, waits for
 * each to drain and exit (each bounds its own drain by server.shutdownGraceMs), and exits 0; 3
 * (EXIT_SHUTDOWN_CUT) if a worker's drain was cut short: its grace ran out, a second signal came
 * (passed on to every worker, which then stop at once), or it outlived the grace and was killed.
 */

export const DEFAULT_CONFIG = "config/fedbridge.example.yaml";

/** Worker count from `--workers` or FEDBRIDGE_WORKERS (the flag wins); default one per core. */
export function workerCount(flag: string | undefined, env: string | undefined, cores: number): number | string {
  const raw = flag ?? env;
  if (raw === undefined || raw === "") return Math.max(1, cores);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > 256) return `--workers must be an integer 1-256 (got ${JSON.stringify(raw)})`;
  return n;
}

/**
 * What makes a config unfit for `workers` processes, or undefined. Only Redis is shared between
 * workers, so every store that must be exact across them has to be Redis.
 */
export function clusterConfigProblems(
  config: { replay: Pick<Config["replay"], "store">; admin?: { store: { kind: string } } | undefined },
  workers: number,
): string[] {
  if (workers <= 1) return [];
  const problems: string[] = [];
  if (config.replay.store !== "redis") {
    problems.push(`replay.store is "${config.replay.store}": with ${workers} workers it must be "redis" (a memory replay store is per process, so each worker would accept the same assertion once; replay must be exact across workers). Set replay.store: redis, or run with --workers 1.`);
  }
  if (config.admin && config.admin.store.kind !== "redis") {
    problems.push(`admin.store.kind is "${config.admin.store.kind}": with ${workers} workers it must be "redis" (a file store serves one instance; the others would not see an admin's changes). Use kind: redis, or run with --workers 1.`);
  }
  return problems;
}

export interface RestartPolicyOptions {
  /** First restart delay; doubled after each further crash of the same worker slot. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A worker that stayed up this long has recovered: its slot's crash count starts again. */
  stableMs: number;
  /** This many crashes of one slot in a row (none stable in between) is a crash loop. */
  maxConsecutiveCrashes: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = { baseDelayMs: 250, maxDelayMs: 10_000, stableMs: 30_000, maxConsecutiveCrashes: 5 };

export type RestartDecision = { action: "restart"; delayMs: number } | { action: "give-up"; crashes: number };

/** Back-off and crash-loop detection per worker slot. Time is passed in. */
export class RestartPolicy {
  readonly #crashes = new Map<number, number>();
  constructor(private readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {}

  /** A worker of `slot`, started at `startedAt`, died at `now`. */
  crashed(slot: number, startedAt: number, now: number): RestartDecision {
    const o = this.options;
    const previous = now - startedAt >= o.stableMs ? 0 : (this.#crashes.get(slot) ?? 0);
    const crashes = previous + 1;
    this.#crashes.set(slot, crashes);
    if (crashes >= o.maxConsecutiveCrashes) return { action: "give-up", crashes };
    return { action: "restart", delayMs: Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (crashes - 1)) };
  }
}

interface Slot {
  worker: Worker | undefined;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * How long past server.shutdownGraceMs the primary waits for a worker before killing it: the worker
 * exits by itself at its grace; this covers a worker too stuck to run its own timer.
 */
export const KILL_MARGIN_MS = 5_000;

function runPrimary(workers: number, configPath: string, graceMs: number, log: Logger, now: () => number): void {
  const say = (line: string): void => void process.stderr.write(`fedbridge cluster: ${line}\n`);
  const policy = new RestartPolicy();
  const slots: Slot[] = [];
  let stopping = false;
  let listening = 0;
  let exitCode = 0;

  cluster.setupPrimary({ exec: fileURLToPath(new URL("./main.js", import.meta.url)), args: [] });

  const fork = (slot: number): void => {
    const worker = cluster.fork({ FEDBRIDGE_WORKER: String(slot) });
    const s = (slots[slot] ??= { worker: undefined, startedAt: 0, timer: undefined });
    s.worker = worker;
    s.startedAt = now();
    s.timer = undefined;
    let announced = false;
    worker.on("listening", (address) => {
      if (announced) return;
      announced = true;
      listening++;
      log({ event: "worker_listening", worker: slot, pid: worker.process.pid ?? null });
      if (listening === workers) say(`${workers} worker${workers === 1 ? "" : "s"} listening on port ${address.port} (config ${configPath})`);
    });
    worker.on("exit", (code, signal) => {
      if (announced) listening--;
      s.worker = undefined;
      if (stopping) {
        // Our own SIGTERM can end a worker still starting, before it handles the signal: clean too.
        if (code === EXIT_SHUTDOWN_CUT || signal === "SIGKILL") exitCode = Math.max(exitCode, EXIT_SHUTDOWN_CUT);
        else if (code !== 0 && signal !== "SIGTERM" && exitCode === 0) exitCode = 1;
        log({ event: "worker_stopped", worker: slot, code, signal });
        if (slots.every((x) => x.worker === undefined)) finish();
        return;
      }
      const decision = policy.crashed(slot, s.startedAt, now());
      log({ event: "worker_died", worker: slot, pid: worker.process.pid ?? null, code, signal, action: decision.action });
      if (decision.action === "give-up") {
        say(`worker ${slot} crashed ${decision.crashes} times in a row (last: ${signal ?? `exit code ${code}`}): crash loop, giving up; stopping every worker`);
        exitCode = 1;
        stop();
        return;
      }
      say(`worker ${slot} died (${signal ?? `exit code ${code}`}); restarting in ${decision.delayMs} ms`);
      s.timer = setTimeout(() => fork(slot), decision.delayMs);
    });
  };

  let killTimer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (killTimer) clearTimeout(killTimer);
    say(`stopped (exit ${exitCode})`);
    process.exit(exitCode);
  };
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const s of slots) if (s.timer) clearTimeout(s.timer);
    for (const s of slots) s.worker?.process.kill("SIGTERM");
    if (slots.every((x) => x.worker === undefined)) {
      finish();
      return;
    }
    killTimer = setTimeout(() => {
      say(`workers still running ${graceMs + KILL_MARGIN_MS} ms after SIGTERM: killing them`);
      exitCode = Math.max(exitCode, EXIT_SHUTDOWN_CUT);
      for (const s of slots) s.worker?.process.kill("SIGKILL");
    }, graceMs + KILL_MARGIN_MS);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal: every worker gets a second SIGTERM, which makes it stop at once (main.ts).
      say(`${signal} again: stopping ${slots.filter((s) => s.worker).length} worker(s) now`);
      for (const s of slots) s.worker?.process.kill("SIGTERM");
      return;
    }
    say(`${signal}: draining ${slots.filter((s) => s.worker).length} worker(s)`);
    stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  for (let i = 0; i < workers; i++) fork(i);
}

function main(): void {
  const fail = (code: number, line: string): never => {
    process.stderr.write(`fedbridge cluster: ${line}\n`);
    process.exit(code);
  };
  let values: { workers?: string | undefined };
  try {
    ({ values } = parseArgs({ options: { workers: { type: "string" } } }));
  } catch (e) {
    return fail(2, (e as Error).message);
  }
  const workers = workerCount(values.workers, process.env.FEDBRIDGE_WORKERS, availableParallelism());
  if (typeof workers === "string") return fail(2, workers);
  // The primary checks the config once, so a bad one fails here with its paths instead of as a
  // crash loop of workers; each worker still loads it itself (main.js).
  const configPath = process.env.FEDBRIDGE_CONFIG ?? DEFAULT_CONFIG;
  let config: Config;
  try {
    config = loadConfigFile(configPath).config;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`fedbridge cluster: invalid configuration (${configPath}):\n`);
      for (const issue of e.issues) process.stderr.write(`  - ${issue.path}: ${issue.message}\n`);
      process.exit(1);
    }
    return fail(1, `cannot load ${configPath}: ${(e as Error).message.split("\n")[0]}`);
  }
  const problems = clusterConfigProblems(config, workers);
  if (problems.length > 0) {
    process.stderr.write(`fedbridge cluster: configuration ${configPath} cannot run ${workers} workers:\n`);
    for (const p of problems) process.stderr.write(`  - ${p}\n`);
    process.exit(1);
  }
  // Every worker's metrics, aggregated, on metrics.port: the workers never listen there (metrics/cluster.ts).
  if (config.metrics.enabled && config.metrics.port === undefined) {
    return fail(1, "metrics.enabled needs metrics.port under the cluster: the primary serves every worker's metrics there (a worker's /metrics on the shared port would show one random worker's share)");
  }
  serveClusterMetrics(config.metrics).then(
    (m) => m && process.stderr.write(`fedbridge cluster: metrics of every worker on ${m.url}/metrics\n`),
    (e: unknown) => fail(1, `cannot serve metrics: ${(e as Error).message}`),
  );
  const now = (): number => Date.now();
  runPrimary(workers, configPath, config.server.shutdownGraceMs, jsonLogger((line) => process.stdout.write(line), now), now);
}

// Imported by tests for its pure parts; run as the entry point otherwise.
const entry = process.argv[1];
if (cluster.isPrimary && entry !== undefined && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(entry)) main();
