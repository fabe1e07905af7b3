import type { RateLimits } from "./rate-limits.js";
import { addressParty, clientIdBucket, limitKey } from "./keys.js";

/**
 * Failed client authentications (brute force on client secrets, RFC 6749 §10.10), counted per
 * client_id and per remote address. A client_id or address that used up its failures is refused
 * 429 rate_limited before any secret is checked, until its window ends: with the right secret too,
 * or a block would only slow guessing by the cost of one hash.
 *
 * Not an oracle for which client ids exist: the counter is keyed by the id as sent, configured or
 * not, so an unknown id fails, counts and blocks exactly like a known one, with the same answers
 * and no secret check once blocked (clients/registry.ts keeps the failures themselves alike).
 * Bounded: the id is counted in one of CLIENT_ID_BUCKETS buckets (keys.ts clientIdBucket), so a
 * flood of random unknown ids cannot grow the memory store or Redis (which also holds the replay
 * marks, under noeviction) past that many counters; a known id shares its bucket with the unknown
 * ids that hash there, which an attacker cannot aim at without about CLIENT_ID_BUCKETS × max
 * guesses (the per-address counter stops that long before). The
 * cost of the per-id counter is a lockout anyone who knows a client's id can cause; the per-address
 * counter (lower, by default) stops one attacker long before that, so only a distributed attack
 * reaches it, and it ends with the window.
 */
export interface FailedAuthGuard {
  /** Before the secret is checked: throws 429 rate_limited while the id or the address is blocked. */
  before(clientId: string, address: string | undefined): Promise<void>;
  /** After a failed check (wrong secret or unknown id). */
  failed(clientId: string, address: string | undefined): Promise<void>;
}

export function failedAuthGuard(limits: RateLimits, configuredIds: ReadonlySet<string>): FailedAuthGuard | undefined {
  if (!limits.enabled("failed_auth_client") && !limits.enabled("failed_auth_address")) return undefined;
  const keys = (clientId: string, address: string | undefined) => {
    const party = addressParty(address);
    return {
      id: limitKey("failed_auth_client", String(clientIdBucket(clientId))),
      address: limitKey("failed_auth_address", party),
      // Log labels: a configured id as is, never caller-chosen text; the address party (an IP or a /64).
      idLabel: configuredIds.has(clientId) ? { client: clientId } : { client: "(not configured)" },
      addressLabel: { address: party },
    };
  };
  return {
    async before(clientId, address) {
      const k = keys(clientId, address);
      await Promise.all([limits.check("failed_auth_client", k.id), limits.check("failed_auth_address", k.address)]);
    },
    async failed(clientId, address) {
      const k = keys(clientId, address);
      await Promise.all([
        limits.count("failed_auth_client", k.id, k.idLabel),
        limits.count("failed_auth_address", k.address, k.addressLabel),
      ]);
    },
  };
}
