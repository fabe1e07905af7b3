import { TOKEN_TYPES, type Config } from "../config/schema.js";
import type { IdpRegistry } from "../saml/idp-registry.js";
import { verifySaml2Token } from "../saml/saml2.js";
import type { VerifiedSubject } from "./types.js";

/** Verifies one subject token type; `now` is passed in, never read from a clock. */
export type SubjectVerifier = (token: string, now: number) => VerifiedSubject | Promise<VerifiedSubject>;

/** Token types this build can verify, by RFC 8693 §3 URI. */
export function buildSubjectVerifiers(
  deps: { idps: IdpRegistry; saml: Config["saml"]; tokens: Config["tokens"]; limits: Config["limits"] },
): Map<string, SubjectVerifier> {
  const acceptedAudiences = new Set([deps.saml.entityId, ...deps.saml.audienceAliases]);
  const xmlLimits = {
    maxDepth: deps.limits.maxXmlDepth,
    maxElements: deps.limits.maxXmlElements,
    maxTokenBytes: deps.limits.maxTokenBytes,
  };
  const skewMs = deps.tokens.clockSkewSeconds * 1000;
  return new Map<string, SubjectVerifier>([
    [TOKEN_TYPES.saml2, (token, now) => verifySaml2Token(token, { now, skewMs, acceptedAudiences, limits: xmlLimits, idps: deps.idps })],
  ]);
}
