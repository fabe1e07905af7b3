import { refuse } from "../../oauth/errors.js";
import { ReplayStoreUnavailable, replayKey, type ReplayStore } from "../../replay/store.js";
import { need, step } from "../pipeline.js";

/**
 * One-time use of the subject (and actor) token, run after every other check and just before
 * signing, so a refused request never burns a token (catalogue F8). Each verifier decides whether
 * its tokens are one-time and how long the mark must live (until the token could no longer pass
 * its time checks; catalogue F4). An unreachable store is 503 `temporarily_unavailable`: never a
 * token without the check.
 */
export const consumeSubjectToken = step("consume_subject_token", async (ctx, services) => {
  for (const token of [need(ctx.subject, "subject"), ctx.actor]) {
    if (token?.oneTimeUse) await markUsed(services.replay, token.source.issuer, token.oneTimeUse, ctx.now);
  }
});

async function markUsed(
  replay: ReplayStore,
  issuer: string,
  once: { id: string; keepUntil: number },
  now: number,
): Promise<void> {
  const ttlMs = Math.max(1000, once.keepUntil - now + 1000);
  let first: boolean;
  try {
    first = await replay.markUsed(replayKey(issuer, once.id), ttlMs);
  } catch (e) {
    if (e instanceof ReplayStoreUnavailable) throw refuse("replay_store_unavailable", e);
    throw e;
  }
  if (!first) throw refuse("replayed");
}
