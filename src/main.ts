import { loadConfigFile, ConfigError } from "./config/load.js";
import { createBridge } from "./bootstrap.js";
import { jsonLogger } from "./log/logger.js";

/**
 * Process entry point: the only module that reads the environment.
 *   FEDBRIDGE_CONFIG  config file (default: the bundled example, config/fedbridge.example.yaml)
 *   PORT              listen port (default 8080); HOST listen address (default 127.0.0.1)
 */
const DEFAULT_CONFIG = "config/fedbridge.example.yaml";

async function main(): Promise<void> {
  const configPath = process.env.FEDBRIDGE_CONFIG ?? DEFAULT_CONFIG;
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? "127.0.0.1";
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`fedbridge: PORT must be an integer 0-65535\n`);
    process.exit(2);
  }
  const now = (): number => Date.now();
  const log = jsonLogger((line) => process.stdout.write(line), now);
  let bridge;
  try {
    bridge = await createBridge(loadConfigFile(configPath), { now, log });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`fedbridge: invalid configuration (${configPath}):\n`);
      for (const issue of e.issues) process.stderr.write(`  - ${issue.path}: ${issue.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const server = bridge.app.listen(port, host, () => {
    const addr = server.address();
    const where = typeof addr === "object" && addr ? `http://${addr.address.includes(":") ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
    log({ event: "listening", url: where, config: configPath });
    process.stderr.write(`fedbridge listening on ${where} (config ${configPath})\n`);
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  const shutdown = (): void => {
    server.close(() => {
      void bridge.close().finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((e: unknown) => {
  // Start-up errors are the bridge's own (files, keys, ports): their message is what the operator needs.
  const message = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : "error";
  process.stderr.write(`fedbridge: failed to start: ${message}\n`);
  process.exit(1);
});
