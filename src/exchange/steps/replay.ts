import { refuse } from "../../oauth/errors.js";
import { ReplayStoreUnavailable, replayKey } from "../../replay/store.js";
import { need, step } from "../pipeline.js";

/**
 * One-time use of the subject (and actor) token, run after every other check and just before
 * signing, so a refused request never burns a token (catalogue F8). Each verifier decides whether
 * its tokens are one-time and how long the mark must live (until the token could no longer pass
 * its time checks; catalogue F4). An unreachable store is 503 `temporarily_unavailable`: never a
 * token without the check.
 */
export const consumeTokens = step("consume_tokens", async (ctx, services) => {
  const entries = [need(ctx.subject, "subject"), ctx.actor].flatMap((t) =>
    t?.oneTimeUse ? [{ key: replayKey(t.source.issuer, t.oneTimeUse.id), ttlMs: Math.max(1000, t.oneTimeUse.keepUntil - ctx.now + 1000) }] : []);
  if (entries.length === 0) return;
  let first: boolean;
  try {
    first = await services.replay.markAllUsed(entries);
  } catch (e) {
    if (e instanceof ReplayStoreUnavailable) throw refuse("replay_store_unavailable", e);
    throw e;
  }
  if (!first) throw refuse("replayed");
});
