import { OAuthError, refuse } from "../../oauth/errors.js";
import { ReplayStoreUnavailable, replayKey } from "../../replay/store.js";
import { need, step, type ExchangeContext } from "../pipeline.js";

/** The replay entries of this exchange's one-time tokens (subject, and actor when there is one). */
function replayEntries(ctx: ExchangeContext): { key: string; ttlMs: number }[] {
  return [need(ctx.subject, "subject"), ctx.actor].flatMap((t) =>
    t?.oneTimeUse ? [{ key: replayKey(t.source.issuer, t.oneTimeUse.id), ttlMs: Math.max(1000, t.oneTimeUse.keepUntil - ctx.now + 1000) }] : []);
}

async function store<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof ReplayStoreUnavailable) {
      // A lost store is closed until its window has passed: Retry-After says when (replay/redis.ts).
      throw new OAuthError(e.lost ? "replay_store_lost" : "replay_store_unavailable", {
        cause: e, ...(e.retryAfterMs !== undefined ? { retryAfterSeconds: Math.ceil(e.retryAfterMs / 1000) } : {}),
      });
    }
    throw e;
  }
}

/**
 * One-time use of the subject (and actor) token, run after every other check and just before
 * signing, so a refused request never burns a token (catalogue F8). Each verifier decides whether
 * its tokens are one-time and how long the mark must live (until the token could no longer pass
 * its time checks; catalogue F4). An unreachable store is 503 `temporarily_unavailable`: never a
 * token without the check.
 */
export const consumeTokens = step("consume_tokens", async (ctx, services) => {
  const entries = replayEntries(ctx);
  if (entries.length === 0) return;
  if (!(await store(() => services.replay.markAllUsed(entries)))) throw refuse("replayed");
});

/** The dry-run twin of consume_tokens (explain): refuses a used token, marks nothing. */
export const checkTokensUnused = step("consume_tokens", async (ctx, services) => {
  const keys = replayEntries(ctx).map((e) => e.key);
  if (await store(() => services.replay.anyUsed(keys))) throw refuse("replayed");
});
