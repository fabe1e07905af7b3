import { z } from "zod";

/**
 * How the bridge reaches Redis, shared by every Redis user (replay store, admin record store, rate
 * limiter): one server (or a proxy) by URL, a Sentinel-managed master, or a Redis Cluster. The
 * clients are node-redis' own (createClient, createSentinel, createCluster); src/redis/client.ts.
 */
const redisUrl = z.string().max(2_048).regex(/^rediss?:\/\//, "redis:// or rediss:// URL");
const node = z.strictObject({
  host: z.string().min(1).max(255).describe("Host name or address."),
  port: z.number().int().min(1).max(65_535).describe("Port."),
});

export const redisConnectionSchema = z.union([
  z.strictObject({
    url: redisUrl.describe("One Redis server (or a proxy in front of one): redis://[user:password@]host:port[/db]; rediss:// for TLS."),
  }),
  z.strictObject({
    sentinel: z.strictObject({
      name: z.string().min(1).max(255).describe("The master group name the sentinels monitor (`sentinel monitor <name> ...`)."),
      sentinels: z.array(node).min(1).max(16).describe("Some of the sentinels (three is enough): the client asks them which server is the master, and follows every failover they announce."),
      username: z.string().min(1).max(255).optional().describe("ACL user of the Redis servers (master and replicas)."),
      password: z.string().min(1).max(1_024).optional().describe("Password of the Redis servers."),
      sentinelUsername: z.string().min(1).max(255).optional().describe("ACL user of the sentinels, when they require one."),
      sentinelPassword: z.string().min(1).max(1_024).optional().describe("Password of the sentinels, when they require one."),
      tls: z.boolean().default(false).describe("Connect to the servers and sentinels over TLS."),
      masterPoolSize: z.number().int().min(1).max(64).default(4).describe("Connections to the master; each WAIT (replay.waitReplicas) holds one for its duration, so raise it with the exchange concurrency when WAIT is on."),
    }).describe("A master managed by Redis Sentinel: the bridge follows a failover by itself."),
  }),
  z.strictObject({
    cluster: z.strictObject({
      rootNodes: z.array(redisUrl).min(1).max(16).describe("URLs of some cluster nodes (three is enough) the client learns the slot map from; user, password and rediss:// of the first URL apply to every node."),
    }).describe("A Redis Cluster: every key of one store shares one hash tag, so it lives on one slot (see the operations docs for the hot-slot trade-off)."),
  }),
]);

export type RedisConnectionSettings = z.infer<typeof redisConnectionSchema>;
export type RedisTopology = "single" | "sentinel" | "cluster";

export function topologyOf(s: RedisConnectionSettings): RedisTopology {
  return "sentinel" in s ? "sentinel" : "cluster" in s ? "cluster" : "single";
}

/**
 * The connection of a store's config slice: its `redis` setting, else the older `redisUrl` (still
 * valid, same as `redis: { url }`). Config validation makes sure one of them is there.
 */
export function connectionOf(slice: { redis?: RedisConnectionSettings | undefined; redisUrl?: string | undefined }): RedisConnectionSettings {
  if (slice.redis) return slice.redis;
  if (slice.redisUrl) return { url: slice.redisUrl };
  throw new Error("no Redis connection configured");
}
