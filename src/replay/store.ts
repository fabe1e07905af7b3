import { createHash } from "node:crypto";

/**
 * One-time use of subject and actor tokens (RFC 7522 §3 "MAY ... maintaining the set of used ID
 * values"; SAML Profiles §4.1.4.5). Each mark is one atomic operation that records the key(s) and
 * reports whether they were new, so N concurrent uses of one assertion yield exactly one `true`.
 */
export interface ReplayStore {
  /** true: first use, now recorded until `ttlMs` from now; false: already used. */
  markUsed(key: string, ttlMs: number): Promise<boolean>;
  /**
   * All or nothing, atomically: true when none of the keys was used (all are now recorded); false
   * when any was (none is recorded). A subject and an actor token are marked together this way, so
   * a replayed actor never burns a good subject (or the reverse).
   */
  markAllUsed(entries: readonly { key: string; ttlMs: number }[]): Promise<boolean>;
  /** Read-only: whether any of these keys is marked (for the explain dry run, which marks nothing). */
  anyUsed(keys: readonly string[]): Promise<boolean>;
  /** Whether the store can answer right now (for /readyz). */
  ready(): Promise<boolean>;
  /** /readyz detail: up, down (cannot answer) or lost (closed until `reopensAt`, see replay/redis.ts). */
  status(): Promise<ReplayStoreStatus>;
  close(): Promise<void>;
}

export interface ReplayStoreStatus {
  state: "up" | "down" | "lost";
  /** When state is lost: the instant (ms) exchanges resume. */
  reopensAt?: number;
}

/**
 * The store cannot answer: the exchange must fail (503), never go ahead unchecked. `lost`: the store
 * forgot what it held and is closed until `retryAfterMs` from now (replay_store_lost).
 */
export class ReplayStoreUnavailable extends Error {
  override name = "ReplayStoreUnavailable";
  readonly lost: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { cause?: unknown; lost?: boolean; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.lost = options.lost ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Keyed by issuer and token ID together, so one IdP can neither collide with nor pre-burn another
 * IdP's IDs (catalogue F5); hashed, so hostile IDs cannot bloat or shape keys.
 */
export function replayKey(issuer: string, tokenId: string): string {
  return createHash("sha256").update(issuer).update("\n").update(tokenId).digest("base64url");
}
