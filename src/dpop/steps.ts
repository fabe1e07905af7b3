import { refuse } from "../oauth/errors.js";
import { need, step, type ExchangeContext } from "../exchange/pipeline.js";
import { ownTokenBindings } from "../exchange/steps/bound-tokens.js";

/**
 * The DPoP steps of the grants (RFC 9449 §5): `check_dpop` right after the targets are resolved
 * (so an audience's requireDpop applies, and before the subject token's signature is checked:
 * a bad proof costs no assertion verification), and `check_dpop_binding` after the subject and
 * actor tokens are verified. The token endpoint answers token_type DPoP when ctx.confirmation.jkt
 * is set (http/routes/token.ts); issue_token writes it as `cnf.jkt` (RFC 9449 §6.1).
 */

/** The token endpoint is POST only (http/oauth-endpoint.ts): the one `htm` a proof may name. */
const TOKEN_ENDPOINT_METHOD = "POST";

/** Names of the steps here: a dry run (admin explain) has no HTTP request, hence no proof. */
export const DPOP_STEP_NAMES: ReadonlySet<string> = new Set(["check_dpop", "check_dpop_binding"]);

/** Whether this request must carry a proof: the client's `dpop: required`, or any target's `requireDpop`. */
export function dpopRequired(ctx: ExchangeContext): boolean {
  return ctx.client.dpop === "required" || need(ctx.targets, "targets").some((t) => t.requireDpop === true);
}

/**
 * Verifies the request's DPoP proof when there is one (src/dpop/verifier.ts: every §4.3 check, the
 * nonce, the jti used once) and binds the token to be issued to its key; without one, refuses a
 * request that policy says needs one (§5.2: a client registered for DPoP-bound tokens "MUST"
 * be refused without the header). The thumbprint is merged into ctx.confirmation: a certificate
 * binding (`x5t#S256`, RFC 8705) set by another step stays.
 */
export const checkDpop = step("check_dpop", async (ctx, services) => {
  const proofs = ctx.dpopProofs ?? [];
  if (proofs.length === 0) {
    if (dpopRequired(ctx)) throw refuse("dpop_proof_missing");
    return;
  }
  if (!services.dpop) throw new Error("a DPoP proof reached check_dpop without a DPoP verifier");
  const { jkt } = await services.dpop.verify(proofs, { clientId: ctx.client.id, method: TOKEN_ENDPOINT_METHOD, now: ctx.now });
  ctx.confirmation = { ...ctx.confirmation, jkt };
});

/**
 * A DPoP-bound token must not become a bearer one by exchange (RFC 9449 §1: a bound token is
 * useless without the key; a re-exchange without it would launder the binding): when the subject
 * or actor token is one of the bridge's own access tokens carrying `cnf.jkt`, the request must
 * carry a proof by that very key (dpop_proof_missing without one, dpop_key_mismatch with another),
 * and the new token is then bound to it again (check_dpop set ctx.confirmation.jkt to it).
 * Other sources' tokens are not looked at: their `cnf` is not the bridge's to enforce here.
 */
export const checkDpopBinding = step("check_dpop_binding", (ctx) => {
  for (const bound of ownTokenBindings(ctx, "jkt")) {
    const jkt = ctx.confirmation?.jkt;
    if (jkt === undefined) throw refuse("dpop_proof_missing");
    if (jkt !== bound) throw refuse("dpop_key_mismatch");
  }
});

