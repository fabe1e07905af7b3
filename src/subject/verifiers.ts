import { type Config } from "../config/schema.js";
import { TOKEN_TYPES } from "../oauth/constants.js";
import type { IdpRegistry } from "../saml/idp-registry.js";
import { verifySaml1Token } from "../saml/saml1.js";
import { verifySaml2Token } from "../saml/saml2.js";
import type { DecryptionKey } from "../saml/decrypt.js";
import { ownTokenAsSubject, type OwnTokenVerifier } from "../tokens/self-token.js";
import type { JwtIssuerRegistry } from "../jwt/registry.js";
import { jwtTokenVerifier } from "../jwt/verifier.js";
import type { VerifiedSubject } from "./types.js";

/** Verifies one token type; `now` is passed in, never read from a clock. */
export type SubjectVerifier = (token: string, now: number) => VerifiedSubject | Promise<VerifiedSubject>;

const SAML_PROTOCOL: Record<string, string> = {
  [TOKEN_TYPES.saml2]: "urn:oasis:names:tc:SAML:2.0:protocol",
  [TOKEN_TYPES.saml1]: "urn:oasis:names:tc:SAML:1.1:protocol",
};

/**
 * The registered verifiers, by token type URI, and which of them have a source right now.
 * Discovery (RFC 8414 §2) advertises only a type some configured source can issue: saml2 / saml1
 * while at least one trusted IdP's metadata lists that SAML protocol (protocolSupportEnumeration),
 * id_token / jwt while an issuer accepts them, access_token always (the bridge's own). The IdP
 * registry is live: with the admin API on, a SAML type is advertised from the moment an admin
 * adds an IdP speaking it, and stops being advertised when the last one goes.
 */
export class TokenVerifiers extends Map<string, SubjectVerifier> {
  constructor(private readonly idps: Pick<IdpRegistry, "all">) {
    super();
  }

  advertised(): string[] {
    return [...this.keys()].filter((type) => {
      const protocol = SAML_PROTOCOL[type];
      return protocol === undefined || this.idps.all().some((idp) => idp.metadata.protocols.includes(protocol));
    });
  }
}

/** The token types to advertise: a TokenVerifiers' live set, or every key of a plain map. */
export function advertisedTokenTypes(verifiers: ReadonlyMap<string, SubjectVerifier>): string[] {
  return verifiers instanceof TokenVerifiers ? verifiers.advertised() : [...verifiers.keys()];
}

export interface VerifierDeps {
  idps: IdpRegistry;
  issuer: string;
  /** The bridge's own access tokens, verified once for exchange and introspection alike. */
  ownTokens: OwnTokenVerifier;
  saml: Config["saml"];
  tokens: Config["tokens"];
  limits: Config["limits"];
  /** Trusted JWT issuers (`jwtIssuers`, loaded); none: no id_token / jwt verifier is registered. */
  jwtIssuers?: JwtIssuerRegistry;
  /** The bridge's SP encryption keys (`saml.decryptionKeys`, loaded); none: EncryptedAssertion is refused. */
  decryptionKeys?: readonly DecryptionKey[];
}

/**
 * The token types this build can verify, by RFC 8693 §3 URI. Only what is registered here is
 * accepted and advertised in discovery.
 */
export function buildTokenVerifiers(deps: VerifierDeps): TokenVerifiers {
  const acceptedAudiences = new Set([deps.saml.entityId, ...deps.saml.audienceAliases]);
  const xmlLimits = {
    maxDepth: deps.limits.maxXmlDepth,
    maxElements: deps.limits.maxXmlElements,
    maxNodes: deps.limits.maxXmlNodes,
    maxAttributesPerElement: deps.limits.maxXmlAttributesPerElement,
    maxTokenBytes: deps.limits.maxTokenBytes,
    signatureVerifier: deps.saml.signatureVerifier,
  };
  const skewMs = deps.tokens.clockSkewSeconds * 1000;
  const verifiers = new TokenVerifiers(deps.idps);
  const decryption = deps.decryptionKeys?.length
    ? { keys: deps.decryptionKeys, allowRsa15KeyTransport: deps.saml.allowRsa15KeyTransport, allowUnsignedCbc: deps.saml.allowUnsignedCbc }
    : undefined;
  verifiers.set(TOKEN_TYPES.saml2, (token, now) =>
    verifySaml2Token(token, { now, skewMs, acceptedAudiences, limits: xmlLimits, idps: deps.idps, decryption }));
  verifiers.set(TOKEN_TYPES.saml1, (token, now) =>
    verifySaml1Token(token, { now, skewMs, acceptedAudiences, limits: xmlLimits, idps: deps.idps }));
  verifiers.set(TOKEN_TYPES.accessToken, ownTokenAsSubject(deps.ownTokens, deps.issuer));
  // id_token / jwt only when some configured issuer accepts them, so discovery stays truthful.
  if (deps.jwtIssuers && deps.jwtIssuers.size > 0) {
    for (const type of deps.jwtIssuers.tokenTypes()) {
      verifiers.set(type, jwtTokenVerifier(type, {
        issuers: deps.jwtIssuers, skewSeconds: deps.tokens.clockSkewSeconds, maxTokenBytes: deps.limits.maxTokenBytes,
      }));
    }
  }
  return verifiers;
}
