import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

/**
 * What a rate-limit counter is keyed by. Every key is a hash: no client id (an unknown one is
 * caller-controlled text of any length), no subject identifier (personal data) and no address ever
 * reaches Redis or a log line, and every key has the same bounded size.
 */
export type LimitKind = "client" | "source" | "subject" | "failed_auth_client" | "failed_auth_address";

/**
 * `{kind:hash}`: the Redis Cluster hash tag is the whole identity, so each counter (one key, one
 * script: atomic on its node) lands on the slot of its own identity and the counters spread over
 * the cluster instead of crowding one slot (a tag on the shared prefix would put every counter on
 * one node).
 */
export function limitKey(kind: LimitKind, ...parts: readonly string[]): string {
  const h = createHash("sha256").update(`fedbridge-rate-limit\0${kind}`);
  // Length-prefixed parts: ("ab", "c") and ("a", "bc") never share a key.
  for (const p of parts) h.update(`\0${Buffer.byteLength(p)}:`).update(p);
  return `{${kind}:${h.digest("base64url").slice(0, 22)}}`;
}

/**
 * How many counters failed client authentications per client id may use. The id is caller-chosen
 * text (any number of distinct unknown ids), so it is counted in a bucket: memory and Redis keys stay
 * bounded whatever is sent (security review: a flood of random ids grew one counter per id).
 */
export const CLIENT_ID_BUCKETS = 65_536;

/** The bucket of a client id: the first 16 bits of its SHA-256 (uniform, not steerable cheaply). */
export function clientIdBucket(clientId: string): number {
  return createHash("sha256").update("fedbridge-client-bucket\0").update(clientId).digest().readUInt16BE(0) % CLIENT_ID_BUCKETS;
}

/**
 * The part of a remote address that identifies one party: an IPv4 address, or the /64 of an IPv6
 * one (a single host usually holds a whole /64, RFC 4291 §2.5.4, so per-address keys must not be
 * per /128 or one attacker is 2^64 parties). IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack
 * socket reports) is its IPv4 address. Anything else (not an IP) is one shared "unknown" party.
 */
export function addressParty(address: string | undefined): string {
  if (address === undefined) return "unknown";
  const a = address.trim();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(a)) return a;
  if (isIPv6(a)) return `${ipv6Groups(a).slice(0, 4).join(":")}::/64`;
  return "unknown";
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(a: string): string[] {
  const noZone = a.split("%")[0]!;
  let [head, tail] = noZone.includes("::") ? noZone.split("::") as [string, string] : [noZone, undefined];
  // An embedded IPv4 tail (…:1.2.3.4) is two groups.
  const v4 = (s: string): string => s.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, w, x, y, z) =>
    `${((+w << 8) | +x).toString(16)}:${((+y << 8) | +z).toString(16)}`);
  head = v4(head);
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined ? [] : tail === "" ? [] : v4(tail).split(":");
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16));
}
