import { Router } from "express";
import { ACTOR_TOKEN_TYPES } from "../../oauth/constants.js";
import { ISSUABLE_TOKEN_TYPES } from "../../oauth/constants.js";
import type { SigningKeySet } from "../../tokens/signing-keys.js";
import { GRANT_PROFILE_ID_JAG, TOKEN_TYPE_ID_JAG } from "../../idjag/constants.js";

/**
 * RFC 8414 authorization server metadata and the JWKS (RFC 7517). Only what this bridge really
 * accepts is advertised: a token type only while some configured source can issue it (a
 * function, read on every request: admin-managed IdPs change the SAML types at run time; see
 * src/subject/verifiers.ts TokenVerifiers). RFC 8414 defines no field for token-exchange token
 * types, so they are listed under extension names, as §2 permits.
 */
export function discoveryRoutes(options: {
  issuer: string;
  tokenEndpoint: string;
  keys: SigningKeySet;
  grantTypes: readonly string[];
  tokenTypes: readonly string[] | (() => readonly string[]);
  /**
   * Cross-App Access (draft-ietf-oauth-identity-assertion-authz-grant-04 §7): as the IdP, the
   * ID-JAG token type it can issue (`identity_chaining_requested_token_types_supported`, and among
   * the requestable types); as the resource authorization server, the `id-jag` grant profile (the
   * jwt-bearer grant is then in grant_types_supported). No issuer or server is ever listed (§8.4).
   */
  crossAppAccess?: { issuesIdJag: boolean; acceptsIdJag: boolean };
  /** private_key_jwt (RFC 8414 §2, OIDC Core §9): the algorithms its clients may sign with; empty or absent: off. */
  clientAssertionAlgorithms?: readonly string[];
  /** RFC 8705 §2.1, §2.2: the mTLS methods some client uses (tls_client_auth, self_signed_tls_client_auth). */
  certificateMethods?: readonly string[];
  /** RFC 8705 §3.3: some client gets certificate-bound access tokens. */
  certificateBoundTokens?: boolean;
  /** RFC 9449 §5.1 dpop_signing_alg_values_supported: the algorithms DPoP proofs may use; absent: not listed. */
  dpopAlgorithms?: readonly string[];
}): Router {
  const given = options.tokenTypes;
  const tokenTypes = typeof given === "function" ? given : (): readonly string[] => given;
  const router = Router();
  // Endpoints live under the issuer, path included (as the token endpoint does), for a bridge
  // behind a path-prefixing proxy.
  const base = options.issuer.replace(/\/+$/, "");
  const assertionAlgs = options.clientAssertionAlgorithms ?? [];
  const authMethods = [
    "client_secret_basic", "client_secret_post", ...(assertionAlgs.length > 0 ? ["private_key_jwt"] : []), ...(options.certificateMethods ?? []),
  ];
  // RFC 8414 §2: the signing algorithms field is required when private_key_jwt is listed.
  const authAlgs = assertionAlgs.length > 0 ? { token_endpoint_auth_signing_alg_values_supported: [...assertionAlgs] } : {};
  const metadata = {
    issuer: options.issuer,
    token_endpoint: options.tokenEndpoint,
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: [...options.grantTypes],
    token_endpoint_auth_methods_supported: authMethods,
    ...authAlgs,
    introspection_endpoint: `${base}/introspect`,
    introspection_endpoint_auth_methods_supported: authMethods,
    ...(assertionAlgs.length > 0 ? { introspection_endpoint_auth_signing_alg_values_supported: [...assertionAlgs] } : {}),
    response_types_supported: [],
    token_exchange_requested_token_types_supported: [...ISSUABLE_TOKEN_TYPES, ...(options.crossAppAccess?.issuesIdJag ? [TOKEN_TYPE_ID_JAG] : [])],
    ...(options.crossAppAccess?.issuesIdJag ? { identity_chaining_requested_token_types_supported: [TOKEN_TYPE_ID_JAG] } : {}),
    ...(options.crossAppAccess?.acceptsIdJag ? { authorization_grant_profiles_supported: [GRANT_PROFILE_ID_JAG] } : {}),
    // RFC 8705 §3.3: only when some client's tokens are bound (false is the default meaning).
    ...(options.certificateBoundTokens ? { tls_client_certificate_bound_access_tokens: true } : {}),
    access_token_signing_alg_values_supported: [...new Set(options.keys.jwks.keys.map((k) => k.alg!))],
    ...(options.dpopAlgorithms && options.dpopAlgorithms.length > 0 ? { dpop_signing_alg_values_supported: [...options.dpopAlgorithms] } : {}),
  };
  router.get("/.well-known/oauth-authorization-server", (_req, res) => {
    const types = tokenTypes();
    res.json({
      ...metadata,
      token_exchange_subject_token_types_supported: [...types],
      token_exchange_actor_token_types_supported: types.filter((t) => ACTOR_TOKEN_TYPES.includes(t)),
    });
  });
  router.get("/.well-known/jwks.json", (_req, res) => {
    res.json(options.keys.jwks);
  });
  return router;
}
