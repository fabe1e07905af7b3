import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { loadConfigFile, ConfigError } from "./config/load.js";
import { createBridge } from "./bootstrap.js";
import { jsonLogger } from "./log/logger.js";
import { createHttpServer, listen, ListenError, mtlsInUse, urlOf } from "./http/server.js";
import { Drain, EXIT_SHUTDOWN_CUT, within } from "./http/drain.js";
import { Readiness } from "./http/routes/health.js";

/**
 * Process entry point: the only module that reads the environment.
 *   FEDBRIDGE_CONFIG  config file (default: the bundled example, config/fedbridge.example.yaml)
 *   PORT              listen port (default 8080); HOST listen address (default 127.0.0.1)
 * Exit codes: 0 after SIGINT/SIGTERM once every exchange in flight finished and Redis is closed;
 * 1 on a start-up failure (config, keys, metadata, listen); 2 on bad PORT; 3 when a shutdown was
 * cut short (server.shutdownGraceMs passed first, or a second SIGINT/SIGTERM came).
 */
const DEFAULT_CONFIG = "config/fedbridge.example.yaml";

export interface ServeOptions {
  configPath: string;
  port: number;
  host: string;
}

export interface Serving {
  url: string;
  /**
   * The graceful stop (http/drain.ts): /readyz 503, the listener closes after server.shutdownDelayMs,
   * exchanges in flight finish, then Redis closes; all within server.shutdownGraceMs. Resolves
   * with the exit code: 0, or EXIT_SHUTDOWN_CUT when the grace ran out or `cut()` was called.
   */
  stop(): Promise<number>;
  /** Ends a stop in progress at once (a second signal). */
  cut(): void;
}

/**
 * Builds the bridge and listens: the reusable part of start-up (a cluster worker runs exactly this).
 * Rejects on any start-up failure, after releasing what was opened (so the process can exit).
 */
export async function serve(o: ServeOptions): Promise<Serving> {
  const now = (): number => Date.now();
  const log = jsonLogger((line) => process.stdout.write(line), now);
  const loaded = loadConfigFile(o.configPath);
  const { shutdownGraceMs, shutdownDelayMs } = loaded.config.server;
  const readiness = new Readiness();
  const bridge = await createBridge(loaded, { now, log, readiness });
  const drain = new Drain(readiness);
  const server = createHttpServer(drain.handler(bridge.app), { ...loaded.config.server, requestClientCertificate: mtlsInUse(loaded.config.clients) }, loaded.baseDir);
  drain.track(server);
  let url: string;
  try {
    url = urlOf(await listen(server, o.port, o.host), loaded.config.server.tls ? "https" : "http");
  } catch (e) {
    await bridge.close().catch(() => undefined);
    throw e;
  }
  log({ event: "listening", url, config: o.configPath });
  let cutNow: () => void = () => undefined;
  const cutSignal = new Promise<"cut">((resolve) => {
    cutNow = () => resolve("cut");
  });
  return {
    url,
    stop: async () => {
      const start = now();
      const outcome = await drain.drain({ graceMs: shutdownGraceMs, delayMs: shutdownDelayMs, log, now });
      // Redis last: every exchange that was in flight has used the replay store by now. Bounded by
      // what is left of the grace (a stalled Redis must not hold the exit).
      const closed = await Promise.race([
        within(bridge.close().then(() => true as const, () => false as const), shutdownGraceMs - (now() - start), false as const),
        cutSignal.then(() => false as const),
      ]);
      log({ event: "shutdown_complete", outcome, redis_closed: closed, ms: now() - start });
      return outcome === "drained" && closed ? 0 : EXIT_SHUTDOWN_CUT;
    },
    cut: () => {
      drain.cut();
      cutNow();
    },
  };
}

async function main(): Promise<void> {
  const configPath = process.env.FEDBRIDGE_CONFIG ?? DEFAULT_CONFIG;
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? "127.0.0.1";
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`fedbridge: PORT must be an integer 0-65535\n`);
    process.exit(2);
  }
  let running;
  try {
    running = await serve({ configPath, port, host });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`fedbridge: invalid configuration (${configPath}):\n`);
      for (const issue of e.issues) process.stderr.write(`  - ${issue.path}: ${issue.message}\n`);
      process.exit(1);
    }
    if (e instanceof ListenError) {
      process.stderr.write(`fedbridge: failed to start: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  process.stderr.write(`fedbridge listening on ${running.url} (config ${configPath})\n`);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal: the operator wants out now. Cut the drain (connections still open are
      // closed) and exit EXIT_SHUTDOWN_CUT; no further waiting.
      process.stderr.write(`fedbridge: ${signal} again: stopping now, exchanges still in flight are cut off (exit ${EXIT_SHUTDOWN_CUT})\n`);
      running.cut();
      return;
    }
    stopping = true;
    process.stderr.write(`fedbridge: ${signal}: draining (readyz 503; exchanges in flight finish)\n`);
    void running.stop().then(
      (code) => {
        process.stderr.write(code === 0 ? "fedbridge: stopped\n" : `fedbridge: shutdown cut short (exit ${code})\n`);
        process.exit(code);
      },
      () => process.exit(EXIT_SHUTDOWN_CUT),
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

// Run only as the entry point: a cluster worker imports `serve` without starting a second bridge.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((e: unknown) => {
    // Start-up errors are the bridge's own (files, keys, ports): their message is what the operator needs.
    const message = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : "error";
    process.stderr.write(`fedbridge: failed to start: ${message}\n`);
    process.exit(1);
  });
}
