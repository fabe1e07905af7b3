/**
 * The one OAuth error family of the bridge.
 *
 * Every refusal is an `OAuthError` carrying an RFC 6749 §5.2 / RFC 8693 §2.2.2 error code and a
 * stable, closed `reason` (a machine-readable code for the honest caller). Reasons name the rule
 * that failed, never the data that failed it: no token, XML, secret or attribute value is ever
 * put into an error. `http/error-response.ts` is the only place that serializes these.
 */

/** RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 6749 §4.1.2.1 (temporarily_unavailable, server_error), RFC 9449 §5, §8 (DPoP). */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  | "temporarily_unavailable"
  | "server_error";

/** Closed set of reason codes, grouped by the error code they travel with. */
export const REASONS = {
  // invalid_request: the request itself
  content_type_unsupported: "invalid_request",
  // (HTTP 415/413 with the invalid_request body: http/error-response.ts HTTP_STATUS)
  content_encoding_unsupported: "invalid_request",
  charset_unsupported: "invalid_request",
  body_too_large: "invalid_request",
  body_invalid: "invalid_request",
  parameter_missing: "invalid_request",
  parameter_duplicated: "invalid_request",
  parameter_invalid: "invalid_request",
  actor_token_pairing: "invalid_request",
  requested_token_type_unsupported: "invalid_request",
  subject_token_type_unsupported: "invalid_request",
  client_auth_multiple: "invalid_request",
  client_id_mismatch: "invalid_request",
  // invalid_request: the subject token (RFC 8693 §2.2.2)
  subject_token_type_not_allowed: "invalid_request",
  token_encoding_invalid: "invalid_request",
  token_too_large: "invalid_request",
  token_type_mismatch: "invalid_request",
  xml_malformed: "invalid_request",
  xml_doctype_forbidden: "invalid_request",
  xml_too_deep: "invalid_request",
  xml_too_complex: "invalid_request",
  saml_shape_invalid: "invalid_request",
  saml_version_invalid: "invalid_request",
  encrypted_assertion_unsupported: "invalid_request",
  issuer_missing: "invalid_request",
  issuer_invalid: "invalid_request",
  issuer_unknown: "invalid_request",
  issuer_mismatch: "invalid_request",
  idp_not_allowed: "invalid_request",
  metadata_expired: "invalid_request",
  protocol_not_supported: "invalid_request",
  signature_missing: "invalid_request",
  signature_invalid: "invalid_request",
  signature_algorithm_forbidden: "invalid_request",
  assertion_id_missing: "invalid_request",
  timestamp_invalid: "invalid_request",
  timestamp_missing: "invalid_request",
  assertion_stale: "invalid_request",
  assertion_not_yet_valid: "invalid_request",
  assertion_expired: "invalid_request",
  assertion_expiry_missing: "invalid_request",
  audience_mismatch: "invalid_request",
  condition_unsupported: "invalid_request",
  proxy_restriction_forbids: "invalid_request",
  saml_text_invalid: "invalid_request",
  attribute_value_invalid: "invalid_request",
  subject_missing: "invalid_request",
  subject_invalid: "invalid_request",
  subject_mismatch: "invalid_request",
  subject_confirmation_invalid: "invalid_request",
  recipient_mismatch: "invalid_request",
  destination_mismatch: "invalid_request",
  status_not_success: "invalid_request",
  in_response_to_present: "invalid_request",
  session_expired: "invalid_request",
  mapping_required_missing: "invalid_request",
  policy_condition_failed: "invalid_request",
  replayed: "invalid_request",
  decryption_failed: "invalid_request",
  encryption_algorithm_not_allowed: "invalid_request",
  // invalid_request: JWT subject/actor tokens (RFC 8725, RFC 9068)
  token_invalid: "invalid_request",
  token_expired: "invalid_request",
  jti_missing: "invalid_request",
  jti_invalid: "invalid_request",
  token_lifetime_too_long: "invalid_request",
  // invalid_request: delegation (RFC 8693 §1.1, §4.1, §4.4)
  actor_token_type_unsupported: "invalid_request",
  actor_token_type_not_allowed: "invalid_request",
  may_act_mismatch: "invalid_request",
  actor_client_mismatch: "invalid_request",
  actor_client_missing: "invalid_request",
  client_claim_invalid: "invalid_request",
  subject_client_mismatch: "invalid_request",
  // RFC 8705 §3: a certificate-bound token of the bridge presented without that certificate
  token_certificate_mismatch: "invalid_request",
  act_claim_invalid: "invalid_request",
  act_claim_too_large: "invalid_request",
  delegation_too_deep: "invalid_request",
  delegation_chain_present: "invalid_request",
  // Cross-App Access (draft-ietf-oauth-identity-assertion-authz-grant-04), IdP side
  id_jag_subject_not_assertion: "invalid_request",
  id_jag_subject_client_mismatch: "invalid_request",
  id_jag_subject_claim_missing: "invalid_request",
  id_jag_actor_unsupported: "invalid_request",
  id_jag_audience_unknown: "invalid_target",
  // Cross-App Access, resource side (RFC 7523 §3.1: a bad grant is invalid_grant)
  id_jag_issuer_not_trusted: "invalid_grant",
  id_jag_client_mismatch: "invalid_grant",
  id_jag_claim_invalid: "invalid_grant",
  id_jag_pop_unsupported: "invalid_grant",
  // invalid_client (RFC 6749 §5.2)
  client_auth_missing: "invalid_client",
  client_auth_failed: "invalid_client",
  client_auth_malformed: "invalid_client",
  // private_key_jwt (RFC 7523 §3, OIDC Core §9): claim reasons only after the signature verified
  client_assertion_invalid: "invalid_client",
  client_assertion_alg_forbidden: "invalid_client",
  client_assertion_audience_invalid: "invalid_client",
  client_assertion_expired: "invalid_client",
  client_assertion_lifetime_too_long: "invalid_client",
  client_assertion_replayed: "invalid_client",
  // mutual TLS (RFC 8705 §2): no certificate in the handshake; any other certificate failure is client_auth_failed
  client_certificate_missing: "invalid_client",
  // DPoP (RFC 9449 §5, §7.1: invalid_dpop_proof; §8: use_dpop_nonce, with a DPoP-Nonce header).
  // Claim reasons only once the proof's signature verified with its own `jwk` (src/dpop/proof.ts).
  dpop_proof_missing: "invalid_dpop_proof",
  dpop_proof_multiple: "invalid_dpop_proof",
  dpop_proof_invalid: "invalid_dpop_proof",
  dpop_proof_alg_forbidden: "invalid_dpop_proof",
  dpop_htm_mismatch: "invalid_dpop_proof",
  dpop_htu_mismatch: "invalid_dpop_proof",
  dpop_proof_expired: "invalid_dpop_proof",
  dpop_proof_not_yet_valid: "invalid_dpop_proof",
  dpop_proof_replayed: "invalid_dpop_proof",
  dpop_key_mismatch: "invalid_dpop_proof",
  dpop_nonce_missing: "use_dpop_nonce",
  dpop_nonce_invalid: "use_dpop_nonce",
  // unauthorized_client / unsupported_grant_type
  grant_not_allowed: "unauthorized_client",
  grant_type_unsupported: "unsupported_grant_type",
  // invalid_target (RFC 8693 §2.2.2, RFC 8707 §2)
  target_not_allowed: "invalid_target",
  target_invalid: "invalid_target",
  target_too_many: "invalid_target",
  target_missing: "invalid_target",
  proxy_audience_not_allowed: "invalid_target",
  // invalid_scope
  scope_not_allowed: "invalid_scope",
  scope_invalid: "invalid_scope",
  scope_empty: "invalid_scope",
  // service state
  replay_store_unavailable: "temporarily_unavailable",
  replay_store_lost: "temporarily_unavailable",
  client_auth_overloaded: "temporarily_unavailable",
  issuer_keys_unavailable: "temporarily_unavailable",
  // An MDQ source (src/federation) could not supply a signed, valid entity for the Issuer.
  idp_metadata_unavailable: "temporarily_unavailable",
  client_keys_unavailable: "temporarily_unavailable",
  // HTTP 429 (RFC 6585 §4) with Retry-After: a rate limit (src/limits). RFC 6749 §5.2 has no code
  // for "too many requests"; temporarily_unavailable (RFC 6749 §4.1.2.1, registered in the OAuth
  // Extensions Error Registry) is the one standard code that tells a client "the same request can
  // succeed later", which is what a limited client must do. Not invalid_request (that says the
  // request is wrong: clients do not retry it) and not RFC 8628's slow_down (a device-flow polling
  // signal, HTTP 400, that token-exchange clients do not know). The 429 status and Retry-After
  // carry the rest; one reason for every limit, so a caller learns nothing about which counter or
  // whether a client id exists.
  rate_limited: "temporarily_unavailable",
  internal_error: "server_error",
  signature_verifier_failed: "server_error",
} as const satisfies Record<string, OAuthErrorCode>;

export type Reason = keyof typeof REASONS;

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  temporarily_unavailable: 503,
  server_error: 500,
};

export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly reason: Reason;
  readonly status: number;
  /** Set when the client tried HTTP Basic: RFC 6749 §5.2 then requires WWW-Authenticate. */
  challenge: boolean;
  /** For a 503: seconds until a retry can succeed (RFC 9110 §10.2.3 Retry-After); default 1. */
  readonly retryAfterSeconds: number | undefined;

  constructor(reason: Reason, options: { cause?: unknown; challenge?: boolean; code?: OAuthErrorCode; retryAfterSeconds?: number } = {}) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OAuthError";
    this.reason = reason;
    this.code = options.code ?? REASONS[reason];
    this.status = reason === "rate_limited" ? 429 : STATUS[this.code];
    this.challenge = options.challenge ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The same refusal under another error code (RFC 7522 §3.1 uses invalid_grant for a bad assertion). */
  withCode(code: OAuthErrorCode): OAuthError {
    return new OAuthError(this.reason, {
      cause: this.cause, challenge: this.challenge, code,
      ...(this.retryAfterSeconds !== undefined ? { retryAfterSeconds: this.retryAfterSeconds } : {}),
    });
  }
}

/** Shorthand used by the validation steps: `throw refuse("assertion_expired")`. */
export function refuse(reason: Reason, cause?: unknown): OAuthError {
  return new OAuthError(reason, cause === undefined ? {} : { cause });
}

export function isOAuthError(e: unknown): e is OAuthError {
  return e instanceof OAuthError;
}
