import { refuse } from "../../oauth/errors.js";
import { TOKEN_TYPES } from "../../oauth/constants.js";
import { decodeUnverified } from "../../jwt/compact.js";
import { SELF } from "../../subject/types.js";
import { need, type ExchangeContext } from "../pipeline.js";

/**
 * The confirmation member `member` (RFC 7800 §3.1: `jkt`, RFC 9449 §6.1; `x5t#S256`, RFC 8705 §3.1)
 * of each of the bridge's OWN access tokens in this request (subject and actor), read from the
 * bytes verify_subject_token / verify_actor_token already verified against the bridge's keys, so
 * it is the bridge's own claim. Other sources' tokens are not looked at: their `cnf` is not the
 * bridge's to enforce. A `cnf` the bridge would never write is token_invalid, never ignored.
 * Used by check_dpop_binding and check_certificate_binding: a bound token never becomes a bearer
 * one by exchange.
 */
export function ownTokenBindings(ctx: ExchangeContext, member: "jkt" | "x5t#S256"): string[] {
  const request = need(ctx.request, "request");
  const found: string[] = [];
  for (const [token, verified] of [[request.subjectToken, need(ctx.subject, "subject")], [request.actorToken, ctx.actor]] as const) {
    if (token === undefined || verified === undefined) continue;
    if (verified.source.id !== SELF || verified.tokenType !== TOKEN_TYPES.accessToken) continue;
    const cnf = decodeUnverified(token).payload.cnf;
    if (cnf === undefined) continue;
    if (cnf === null || typeof cnf !== "object" || Array.isArray(cnf)) throw refuse("token_invalid");
    const value = (cnf as Record<string, unknown>)[member];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "") throw refuse("token_invalid");
    found.push(value);
  }
  return found;
}
