/**
 * Signature algorithms a `private_key_jwt` client assertion may use: asymmetric only, never `none`
 * and never HMAC (RFC 8725 §3.1, §3.2; HMAC with a public key as the secret is the classic
 * confusion attack). A leaf module: the config schema and the verifier both read it.
 */
export const CLIENT_ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

/** RFC 7523 §2.2: the only `client_assertion_type` accepted. */
export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
