import { TOKEN_TYPES, type Config } from "../config/schema.js";
import type { IdpRegistry } from "../saml/idp-registry.js";
import { verifySaml2Token } from "../saml/saml2.js";
import { selfTokenVerifier } from "../tokens/self-token.js";
import type { SigningKeySet } from "../tokens/signing-keys.js";
import type { VerifiedSubject } from "./types.js";

/** Verifies one token type; `now` is passed in, never read from a clock. */
export type SubjectVerifier = (token: string, now: number) => VerifiedSubject | Promise<VerifiedSubject>;

export interface VerifierDeps {
  idps: IdpRegistry;
  issuer: string;
  keys: SigningKeySet;
  saml: Config["saml"];
  tokens: Config["tokens"];
  limits: Config["limits"];
}

/**
 * The token types this build can verify, by RFC 8693 §3 URI. Only what is registered here is
 * accepted and advertised in discovery.
 */
export function buildTokenVerifiers(deps: VerifierDeps): Map<string, SubjectVerifier> {
  const acceptedAudiences = new Set([deps.saml.entityId, ...deps.saml.audienceAliases]);
  const xmlLimits = {
    maxDepth: deps.limits.maxXmlDepth,
    maxElements: deps.limits.maxXmlElements,
    maxTokenBytes: deps.limits.maxTokenBytes,
  };
  const skewMs = deps.tokens.clockSkewSeconds * 1000;
  const verifiers = new Map<string, SubjectVerifier>();
  verifiers.set(TOKEN_TYPES.saml2, (token, now) =>
    verifySaml2Token(token, { now, skewMs, acceptedAudiences, limits: xmlLimits, idps: deps.idps }));
  verifiers.set(TOKEN_TYPES.accessToken, selfTokenVerifier({
    issuer: deps.issuer, keys: deps.keys, skewMs, maxTokenBytes: deps.limits.maxTokenBytes,
  }));
  return verifiers;
}
