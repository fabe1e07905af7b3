import { refuse } from "../../oauth/errors.js";
import { TOKEN_TYPES } from "../../oauth/constants.js";
import { decodeUnverified } from "../../jwt/compact.js";
import { SELF, type VerifiedSubject } from "../../subject/types.js";
import { need, step } from "../pipeline.js";

/**
 * A certificate-bound token (RFC 8705 §3) must not become a bearer one by exchange: when the
 * subject or actor token is one of the bridge's own access tokens carrying `cnf["x5t#S256"]`, the
 * request's TLS connection must present that very certificate (ctx.certificateThumbprint, set by
 * the token endpoint), whoever the client is and however it authenticated; otherwise
 * token_certificate_mismatch. Possession is what the TLS handshake proved, so the thumbprint is all
 * that is compared (RFC 8705 §3.1: no chain or validity check here). The new token is then bound
 * to the same certificate (merged into ctx.confirmation beside a DPoP `jkt`), even for a client
 * without certificateBoundTokens (whose own tokens the token endpoint binds from the start).
 * Other sources' tokens are not looked at: their `cnf` is not the bridge's to enforce here.
 */
export const checkCertificateBinding = step("check_certificate_binding", (ctx) => {
  const request = need(ctx.request, "request");
  const tokens: [string | undefined, VerifiedSubject | undefined][] = [
    [request.subjectToken, need(ctx.subject, "subject")],
    [request.actorToken, ctx.actor],
  ];
  for (const [token, verified] of tokens) {
    if (token === undefined || verified === undefined) continue;
    if (verified.source.id !== SELF || verified.tokenType !== TOKEN_TYPES.accessToken) continue;
    const bound = boundThumbprint(token);
    if (bound === undefined) continue;
    if (bound !== ctx.certificateThumbprint) throw refuse("token_certificate_mismatch");
    // Bound again, whatever the client's own setting: an exchange never launders a binding away.
    ctx.confirmation = { ...ctx.confirmation, "x5t#S256": bound };
  }
});

/**
 * The `cnf["x5t#S256"]` of one of the bridge's own tokens, read from bytes already verified against
 * the bridge's keys. A `cnf` the bridge would never write is token_invalid, never ignored.
 */
function boundThumbprint(token: string): string | undefined {
  const cnf = decodeUnverified(token).payload.cnf;
  if (cnf === undefined) return undefined;
  if (cnf === null || typeof cnf !== "object" || Array.isArray(cnf)) throw refuse("token_invalid");
  const x5t = (cnf as Record<string, unknown>)["x5t#S256"];
  if (x5t === undefined) return undefined;
  if (typeof x5t !== "string" || x5t === "") throw refuse("token_invalid");
  return x5t;
}
