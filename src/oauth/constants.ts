/**
 * Protocol identifiers the bridge speaks: token type URIs (RFC 8693 §3), grant types, and the
 * claims only the bridge itself sets. Protocol facts, not configuration: the config schema, the
 * verifiers, the steps and discovery all take them from here.
 */
export const TOKEN_TYPES = {
  saml2: "urn:ietf:params:oauth:token-type:saml2",
  saml1: "urn:ietf:params:oauth:token-type:saml1",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
} as const;

/** RFC 8693 §2.1. */
export const GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
/** RFC 7522 §2.1: the SAML 2.0 bearer assertion grant. */
export const GRANT_SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer";

/** Actor tokens must name a party: JWT-shaped tokens only (RFC 8693 §2.1). */
export const ACTOR_TOKEN_TYPES: readonly string[] = [TOKEN_TYPES.idToken, TOKEN_TYPES.jwt, TOKEN_TYPES.accessToken];

/** RFC 8693 §2.1 requested_token_type values this bridge can issue (the same RFC 9068 JWT). */
export const ISSUABLE_TOKEN_TYPES: readonly string[] = [TOKEN_TYPES.accessToken, TOKEN_TYPES.jwt];

/** Asymmetric JWS algorithms only: an HMAC key would have to be shared with the issuer (RFC 8725 §3.1). */
export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Claims only the bridge sets (RFC 9068 §2.2, RFC 8693 §4); a mapping may never write them. */
export const RESERVED_CLAIMS = [
  "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "act", "may_act",
  "cnf", "typ", "auth_time", "acr", "idp", "proxy_restriction",
] as const;
