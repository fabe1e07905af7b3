import { Passport } from "passport";
import { Strategy } from "passport-strategy";
import { OAuthError, refuse } from "../oauth/errors.js";
import type { ClientConfig } from "../config/schema.js";
import type { ClientRegistry } from "../clients/registry.js";
import { single, type Form } from "../oauth/params.js";
import { remoteAddress } from "../limits/remote-address.js";
import { presentedCertificate } from "../clients/mtls.js";
import type { OAuthRequest, PlainHandler } from "./plain.js";

/**
 * Client authentication at the token endpoint (RFC 6749 §2.3.1): `client_secret_basic`,
 * `client_secret_post` and (when a client is configured for them) `private_key_jwt` and mutual
 * TLS (RFC 8705 §2), as passport strategies. Exactly one method per request (RFC 6749 §2.3:
 * "MUST NOT use more than one authentication method"); no method at all is `invalid_client`, so an
 * unauthenticated exchange is impossible.
 */

/** `address`: the caller's, for the failed-authentication limits (limits/failed-auth.ts). */
type Verify = (id: string, secret: string, address: string | undefined) => Promise<ClientConfig | undefined>;

function formUrlDecode(s: string): string {
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined with ':'.
  return decodeURIComponent(s.replace(/\+/g, " "));
}

/** Decodes `Authorization: Basic …`; throws `client_auth_malformed` (401) on anything odd. */
export function parseBasicCredentials(header: string): { id: string; secret: string } {
  const m = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!m) throw new OAuthError("client_auth_malformed", { challenge: true });
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) throw new OAuthError("client_auth_malformed", { challenge: true });
  try {
    return { id: formUrlDecode(decoded.slice(0, colon)), secret: formUrlDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError("client_auth_malformed", { challenge: true });
  }
}

class ClientSecretBasicStrategy extends Strategy {
  name = "client_secret_basic";
  constructor(private readonly verify: Verify) {
    super();
  }
  override authenticate(req: OAuthRequest): void {
    let creds: { id: string; secret: string };
    try {
      creds = parseBasicCredentials(req.headers.authorization ?? "");
    } catch (e) {
      this.error(e as Error);
      return;
    }
    const bodyId = single(req.body as Form, "client_id");
    if (bodyId !== undefined && bodyId !== creds.id) {
      this.error(refuse("client_id_mismatch"));
      return;
    }
    this.verify(creds.id, creds.secret, remoteAddress(req)).then(
      (client) => (client ? this.success(client) : this.error(new OAuthError("client_auth_failed", { challenge: true }))),
      (e: unknown) => this.error(e as Error),
    );
  }
}

class ClientSecretPostStrategy extends Strategy {
  name = "client_secret_post";
  constructor(private readonly verify: Verify) {
    super();
  }
  override authenticate(req: OAuthRequest): void {
    let id: string | undefined;
    let secret: string | undefined;
    try {
      id = single(req.body as Form, "client_id");
      secret = single(req.body as Form, "client_secret");
    } catch (e) {
      this.error(e as Error);
      return;
    }
    if (id === undefined || secret === undefined) {
      this.error(refuse("client_auth_malformed"));
      return;
    }
    this.verify(id, secret, remoteAddress(req)).then(
      (client) => (client ? this.success(client) : this.error(refuse("client_auth_failed"))),
      (e: unknown) => this.error(e as Error),
    );
  }
}

/** `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9): `client_assertion_type` + `client_assertion` in the body. */
class PrivateKeyJwtStrategy extends Strategy {
  name = "private_key_jwt";
  constructor(private readonly clients: ClientRegistry) {
    super();
  }
  override authenticate(req: OAuthRequest): void {
    let type: string | undefined;
    let assertion: string | undefined;
    let id: string | undefined;
    try {
      type = single(req.body as Form, "client_assertion_type");
      assertion = single(req.body as Form, "client_assertion");
      id = single(req.body as Form, "client_id");
    } catch (e) {
      this.error(e as Error);
      return;
    }
    this.clients.authenticateAssertion(type, assertion, id, remoteAddress(req)).then(
      (client) => this.success(client),
      (e: unknown) => this.error(e as Error),
    );
  }
}

/**
 * Mutual TLS (RFC 8705 §2: `tls_client_auth`, `self_signed_tls_client_auth`): the certificate of
 * the TLS connection, for the client named by `client_id` in the body (§2: required).
 */
class TlsClientAuthStrategy extends Strategy {
  name = "tls_client_auth";
  constructor(private readonly clients: ClientRegistry) {
    super();
  }
  override authenticate(req: OAuthRequest): void {
    let id: string | undefined;
    try {
      id = single(req.body as Form, "client_id");
    } catch (e) {
      this.error(e as Error);
      return;
    }
    if (id === undefined) {
      this.error(refuse("client_auth_missing"));
      return;
    }
    this.clients.authenticateCertificate(id, presentedCertificate(req), remoteAddress(req)).then(
      (client) => this.success(client),
      (e: unknown) => this.error(e as Error),
    );
  }
}

declare module "express-serve-static-core" {
  interface Request {
    /** The authenticated OAuth client, set by `authenticateClient`. */
    client?: ClientConfig;
  }
}

/** Express middleware: picks the one method the request uses and runs its passport strategy. */
export function authenticateClient(clients: ClientRegistry): PlainHandler {
  const passport = new Passport();
  const verify: Verify = (id, secret, address) => clients.authenticate(id, secret, address);
  passport.use(new ClientSecretBasicStrategy(verify));
  passport.use(new ClientSecretPostStrategy(verify));
  const assertions = clients.acceptsClientAssertions;
  if (assertions) passport.use(new PrivateKeyJwtStrategy(clients));
  const certificates = clients.acceptsCertificates;
  if (certificates) passport.use(new TlsClientAuthStrategy(clients));

  return (req, res, next) => {
    const form = req.body as Form;
    const usesHeader = req.headers.authorization !== undefined;
    const usesPost = Object.hasOwn(form, "client_secret");
    // Only while some client uses private_key_jwt: otherwise these parameters mean nothing, as before.
    const usesAssertion = assertions && (Object.hasOwn(form, "client_assertion") || Object.hasOwn(form, "client_assertion_type"));
    if (Number(usesHeader) + Number(usesPost) + Number(usesAssertion) > 1) return next(refuse("client_auth_multiple"));
    // Mutual TLS only while some client uses it, and only for a request that carries no other
    // credential: a certificate is part of the connection, not a method the request chose. A
    // certificate plus a secret or assertion is authenticated by that secret or assertion alone,
    // so an mTLS client sending one fails like any wrong credential (client_auth_failed), not as
    // client_auth_multiple, which would tell a caller which client ids use mTLS.
    const usesCertificate = certificates && !usesHeader && !usesPost && !usesAssertion;
    if (!usesHeader && !usesPost && !usesAssertion && !usesCertificate) return next(refuse("client_auth_missing"));
    const method = usesHeader ? "client_secret_basic" : usesPost ? "client_secret_post" : usesAssertion ? "private_key_jwt" : "tls_client_auth";
    passport.authenticate(method, { session: false }, (err: unknown, client: ClientConfig | false) => {
      if (err) return next(err);
      if (!client) return next(new OAuthError("client_auth_failed", { challenge: usesHeader }));
      req.client = client;
      next();
    })(req, res, next);
  };
}
