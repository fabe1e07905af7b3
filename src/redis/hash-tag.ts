import type { RedisTopology } from "./settings.js";

/**
 * Redis Cluster runs a script only when every key it names maps to one slot; keys sharing a hash
 * tag (the part between the first "{" and the next "}", when not empty) do (Redis Cluster
 * specification, "Hash tags"). The prefix of every key of one store carries that tag, so each
 * multi-key script (a replay mark with its epoch marker, an admin commit) runs on one slot.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf("{");
  if (open < 0) return undefined;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/**
 * The key prefix a store uses: the configured one when it has a hash tag already; on a cluster,
 * otherwise, the whole prefix wrapped in braces ("fedbridge:replay:" → "{fedbridge:replay:}").
 * One server and Sentinel keep the configured prefix unchanged: the key names of existing stores
 * stay what they were (a renamed epoch marker would read as a new, empty store).
 */
export function storeKeyPrefix(prefix: string, topology: RedisTopology): string {
  if (topology !== "cluster" || hashTagOf(prefix) !== undefined) return prefix;
  return `{${prefix}}`;
}
