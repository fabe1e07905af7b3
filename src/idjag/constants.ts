/**
 * Identifiers of the Identity Assertion JWT Authorization Grant
 * (draft-ietf-oauth-identity-assertion-authz-grant-04, "ID-JAG", Cross-App Access) and of the
 * RFC 7523 JWT bearer grant that carries it to the resource authorization server.
 */

/** Draft §9.2: the token type an IdP issues through token exchange (RFC 8693 §3). */
export const TOKEN_TYPE_ID_JAG = "urn:ietf:params:oauth:token-type:id-jag";
/** Draft §3.1 / §9.1: the JWT `typ` header (RFC 8725 §3.11 explicit typing). */
export const ID_JAG_TYP = "oauth-id-jag+jwt";
/** Draft §7 / §9.2: the grant profile a resource authorization server advertises. */
export const GRANT_PROFILE_ID_JAG = "urn:ietf:params:oauth:grant-profile:id-jag";
/** RFC 7523 §2.1: the JWT bearer authorization grant. */
export const GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** RFC 8693 §2.2.1: `token_type` of an issued token that is not an access token. */
export const TOKEN_TYPE_NOT_APPLICABLE = "N_A";
/** The draft revision these rules follow (README, docs/cross-app-access.md). */
export const ID_JAG_DRAFT = "draft-ietf-oauth-identity-assertion-authz-grant-04";

/**
 * Claims the ID-JAG itself defines (draft §3.1) besides the JWT ones: a source's mapped claims
 * never take these names, so a mapping cannot forge a resource, a tenant or an account binding.
 */
export const ID_JAG_CLAIMS = [
  "resource", "scope", "client_id", "authorization_details", "act", "tenant", "auth_time", "acr", "amr",
  "aud_tenant", "aud_sub", "cnf",
] as const;
