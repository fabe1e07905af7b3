import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { loadConfigFile, ConfigError } from "./config/load.js";
import { createBridge } from "./bootstrap.js";
import { jsonLogger } from "./log/logger.js";
import { createHttpServer, listen, ListenError, urlOf } from "./http/server.js";

/**
 * Process entry point: the only module that reads the environment.
 *   FEDBRIDGE_CONFIG  config file (default: the bundled example, config/fedbridge.example.yaml)
 *   PORT              listen port (default 8080); HOST listen address (default 127.0.0.1)
 * Exit codes: 0 after SIGINT/SIGTERM, 1 on a start-up failure (config, keys, listen), 2 on bad PORT.
 */
const DEFAULT_CONFIG = "config/fedbridge.example.yaml";

export interface ServeOptions {
  configPath: string;
  port: number;
  host: string;
}

/**
 * Builds the bridge and listens: the reusable part of start-up (a cluster worker runs exactly this).
 * Rejects on any start-up failure, after releasing what was opened (so the process can exit).
 */
export async function serve(o: ServeOptions): Promise<{ url: string; stop(): Promise<void> }> {
  const now = (): number => Date.now();
  const log = jsonLogger((line) => process.stdout.write(line), now);
  const loaded = loadConfigFile(o.configPath);
  const bridge = await createBridge(loaded, { now, log });
  const server = createHttpServer(bridge.app, loaded.config.server);
  let url: string;
  try {
    url = urlOf(await listen(server, o.port, o.host));
  } catch (e) {
    await bridge.close().catch(() => undefined);
    throw e;
  }
  log({ event: "listening", url, config: o.configPath });
  return {
    url,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => {
        void bridge.close().finally(resolve);
      });
      server.closeIdleConnections();
    }),
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
  const shutdown = (): void => {
    void running.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
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
