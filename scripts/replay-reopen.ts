/**
 * Reopens a lost Redis replay store before its window has passed, or initialises a brand-new one
 * (the bridge cannot tell a first start from a lost store: both have no epoch marker).
 *
 *   npm run replay-reopen -- --operator <name> --reason "<why it is safe>"
 *     [--config <file>]   (default: $FEDBRIDGE_CONFIG, then config/fedbridge.example.yaml)
 *
 * Reopening early accepts again every token the store forgot that is still within its lifetime:
 * only for a store known to hold everything (e.g. restored from a backup) or a brand-new one.
 * Audited: one JSON line (event admin_audit, action replay_reopen) on stdout for the log pipeline,
 * and who/why/when in the marker itself, which every bridge instance logs when it reopens.
 */
import { parseArgs } from "node:util";
import { createRedisConnection } from "../src/redis/client.js";
import { storeKeyPrefix } from "../src/redis/hash-tag.js";
import { connectionOf } from "../src/redis/settings.js";
import { ConfigError, loadConfigFile } from "../src/config/load.js";
import { reopenReplayStore } from "../src/replay/epoch.js";
import { jsonLogger } from "../src/log/logger.js";

const { values } = parseArgs({
  options: {
    operator: { type: "string" },
    reason: { type: "string" },
    config: { type: "string" },
  },
});
const operator = values.operator?.trim() ?? "";
const reason = values.reason?.trim() ?? "";
if (!/^[A-Za-z0-9._@-]{1,64}$/.test(operator) || reason.length < 3 || reason.length > 500 || /[\u0000-\u001f\u007f]/.test(reason)) {
  process.stderr.write("usage: npm run replay-reopen -- --operator <name [A-Za-z0-9._@-]> --reason \"<why, 3-500 characters>\" [--config <file>]\n");
  process.exit(2);
}
const configPath = values.config ?? process.env.FEDBRIDGE_CONFIG ?? "config/fedbridge.example.yaml";
let replay;
try {
  replay = loadConfigFile(configPath).config.replay;
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`replay-reopen: invalid configuration (${configPath}): ${e.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}\n`);
  process.exit(1);
}
if (replay.store !== "redis") {
  process.stderr.write("replay-reopen: replay.store is not redis: the memory store cannot be lost this way\n");
  process.exit(2);
}
// The same connection (one server, Sentinel, Cluster) and key layout (hash tag) as the bridge's.
const client = createRedisConnection(connectionOf(replay), { connectTimeoutMs: 5_000 });
client.onError(() => undefined);
try {
  // Bounded: the client would otherwise keep retrying an unreachable Redis.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.connect(), new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("Redis did not answer within 5 s")), 5_000);
  })]).finally(() => clearTimeout(timer));
  const now = Date.now();
  const evalClient = { eval: (script: string, o: { keys: string[]; arguments: string[] }) => client.eval(script, o.keys, o.arguments) };
  const previous = await reopenReplayStore(evalClient, storeKeyPrefix(replay.keyPrefix, client.topology), { now, operator, reason });
  const log = jsonLogger((line) => process.stdout.write(line), () => now);
  log({
    event: "admin_audit", admin: operator, action: "replay_reopen", reason, key_prefix: replay.keyPrefix,
    previous_state: previous.previousUntil === undefined ? "no_marker" : previous.previousUntil > now ? "lost" : "open",
    ...(previous.previousUntil !== undefined && previous.previousUntil > now ? { cut_short_until: new Date(previous.previousUntil).toISOString() } : {}),
  });
  process.stderr.write(`replay-reopen: replay store ${replay.keyPrefix} is open\n`);
} catch (e) {
  process.stderr.write(`replay-reopen: failed: ${e instanceof Error ? e.message.split("\n")[0] : "error"}\n`);
  process.exitCode = 1;
} finally {
  await client.close();
}
