import { refuse } from "../../oauth/errors.js";
import { step } from "../pipeline.js";
import { ownTokenBindings } from "./bound-tokens.js";

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
  for (const bound of ownTokenBindings(ctx, "x5t#S256")) {
    if (bound !== ctx.certificateThumbprint) throw refuse("token_certificate_mismatch");
    // Bound again, whatever the client's own setting: an exchange never launders a binding away.
    ctx.confirmation = { ...ctx.confirmation, "x5t#S256": bound };
  }
});

