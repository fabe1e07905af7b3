import { refuse } from "../../oauth/errors.js";
import { ReplayStoreUnavailable, replayKey } from "../../replay/store.js";
import { need, step } from "../pipeline.js";

/**
 * One-time use, run after every other check and just before signing, so a refused request never
 * burns the token (catalogue F8). The entry lives as long as the token could still pass the time
 * checks: until its expiry, or its maximum age, plus skew (catalogue F4). An unreachable store is
 * 503 `temporarily_unavailable`: never a token without the check.
 */
export const consumeSubjectToken = step("consume_subject_token", async (ctx, services) => {
  const subject = need(ctx.subject, "subject");
  const skewMs = services.tokens.clockSkewSeconds * 1000;
  const acceptableUntil = Math.min(subject.expiresAt, subject.issuedAt + subject.idp.policy.maxAssertionAgeMs) + skewMs;
  const ttlMs = Math.max(1000, acceptableUntil - ctx.now + 1000);
  let first: boolean;
  try {
    first = await services.replay.markUsed(replayKey(subject.idp.metadata.entityId, subject.tokenId), ttlMs);
  } catch (e) {
    if (e instanceof ReplayStoreUnavailable) throw refuse("replay_store_unavailable", e);
    throw e;
  }
  if (!first) throw refuse("replayed");
});
