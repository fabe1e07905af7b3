import type { Logger } from "../log/logger.js";
import { createRedisConnection, type RedisConnection } from "../redis/client.js";
import { connectionOf, type RedisConnectionSettings } from "../redis/settings.js";

/**
 * The rate limiters' own connection to the Redis the replay store uses (config `replay.redisUrl`
 * or `replay.redis`: one server, Sentinel or Cluster, through the shared factory of src/redis).
 *
 * A connection of its own, not the replay store's: a backlog of limiter commands behind a slow
 * server must never delay a replay mark, and the two fail differently (limits open, replay closed).
 * The factory's clients have no offline queue: while Redis is away a limiter call fails at once
 * (and the limit fails open) instead of queueing behind the reconnect.
 */
export function limitsRedisConnection(
  replay: { redis?: RedisConnectionSettings | undefined; redisUrl?: string | undefined },
  timeoutMs: number,
  log: Logger,
): RedisConnection {
  const connection = createRedisConnection(connectionOf(replay), { connectTimeoutMs: Math.max(timeoutMs, 500) });
  let lastError = "";
  connection.onError((e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    // Each distinct failure once, not on every reconnect attempt; never a key or a value.
    if (message !== lastError) log({ event: "rate_limit_redis_error", detail: message.slice(0, 200) });
    lastError = message;
  });
  connection.onReady(() => {
    if (lastError !== "") log({ event: "rate_limit_redis_ready" });
    lastError = "";
  });
  return connection;
}
