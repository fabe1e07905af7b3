import type { ClientConfig, Config } from "../config/schema.js";
import { OAuthError } from "../oauth/errors.js";
import { HashQueue, HashQueueFull } from "./hash-queue.js";
import type { FailedAuthGuard } from "../limits/failed-auth.js";
import { scryptParamsOf } from "./scrypt-params.js";
import { dummyScryptHash, hashSecretSha256, verifySecret } from "./secret-hash.js";
import type { PrivateKeyJwtVerifier } from "./private-key-jwt.js";
import type { MtlsVerifier, PresentedCertificate } from "./mtls.js";

/**
 * The configured OAuth clients and what authenticating one costs.
 *
 * Every failed authentication costs the same: one scrypt of the configured cost (the schema makes
 * all scrypt clients share one N:r:p) whether the id is unknown, names a scrypt client, or names a
 * sha256 client (whose fast check is followed, on failure, by the same dummy scrypt). So neither the
 * existence of an id nor the kind of its hash shows in the response time. A success costs what the
 * client's own hash costs: the caller knew the secret, timing tells them nothing new. With no scrypt
 * client configured, every check is one SHA-256 and nothing needs bounding.
 *
 * All scrypt work (real or dummy) goes through one HashQueue (config `clientAuth`): a burst of
 * made-up ids is refused with 503 `client_auth_overloaded` past the queue bound instead of holding
 * the thread pool that also signs tokens. Failures are also rate limited per client id and per
 * remote address when configured (limits/failed-auth.ts): a blocked id or address is refused before
 * any hash, whether the id exists or not.
 */
export class ClientRegistry {
  readonly #byId: ReadonlyMap<string, ClientConfig>;
  /** The hash every failure is checked against: scrypt at the configured cost, or sha256. */
  readonly #dummyHash: string;
  readonly #slow: boolean;
  readonly #queue: HashQueue;
  readonly #guard: FailedAuthGuard | undefined;
  /** private_key_jwt (clients/private-key-jwt.ts); undefined or empty: the method is off. */
  readonly #assertions: PrivateKeyJwtVerifier | undefined;
  /** tls_client_auth / self_signed_tls_client_auth (clients/mtls.ts); undefined: off. */
  readonly #mtls: MtlsVerifier | undefined;

  constructor(
    clients: readonly ClientConfig[],
    limits: Config["clientAuth"] = { maxConcurrentHashes: 2, maxQueuedHashes: 16 },
    guard?: FailedAuthGuard,
    assertions?: PrivateKeyJwtVerifier,
    mtls?: MtlsVerifier,
  ) {
    this.#guard = guard;
    this.#assertions = assertions?.enabled ? assertions : undefined;
    this.#mtls = mtls?.enabled ? mtls : undefined;
    this.#byId = new Map(clients.map((c) => [c.id, c]));
    const scrypt = clients.map((c) => scryptParamsOf(c.secretHash ?? "")).find((p) => p !== undefined);
    this.#slow = scrypt !== undefined;
    this.#dummyHash = scrypt ? dummyScryptHash(scrypt.N, scrypt.r, scrypt.p) : hashSecretSha256("fedbridge-no-such-client");
    this.#queue = new HashQueue({ maxConcurrent: limits.maxConcurrentHashes, maxQueued: limits.maxQueuedHashes });
  }

  /** `remoteAddress`: the caller's address (limits/remote-address.ts), for the failure limits. */
  async authenticate(clientId: string, secret: string, remoteAddress?: string): Promise<ClientConfig | undefined> {
    if (!this.#guard) return this.#check(clientId, secret);
    await this.#guard.before(clientId, remoteAddress);
    const client = await this.#check(clientId, secret);
    if (!client) await this.#guard.failed(clientId, remoteAddress);
    return client;
  }

  /** Whether some client authenticates with private_key_jwt (the method is accepted and advertised). */
  get acceptsClientAssertions(): boolean {
    return this.#assertions !== undefined;
  }

  /** The algorithms private_key_jwt clients may sign with (discovery); empty when the method is off. */
  clientAssertionAlgorithms(): string[] {
    return this.#assertions?.algorithms() ?? [];
  }

  /**
   * private_key_jwt: the signed assertion instead of a secret, under the same failure limits (keyed
   * by the id the assertion claims). Throws an OAuthError (invalid_client) on any failure.
   */
  async authenticateAssertion(
    assertionType: string | undefined, assertion: string | undefined, clientIdParam: string | undefined, remoteAddress?: string,
  ): Promise<ClientConfig> {
    const verifier = this.#assertions;
    if (!verifier) throw new OAuthError("client_auth_failed");
    if (!this.#guard) return verifier.verify(assertionType, assertion, clientIdParam);
    const claimed = verifier.claimedClientId(assertion ?? "");
    await this.#guard.before(claimed, remoteAddress);
    try {
      return await verifier.verify(assertionType, assertion, clientIdParam);
    } catch (e) {
      if (e instanceof OAuthError && e.code === "invalid_client") await this.#guard.failed(claimed, remoteAddress);
      throw e;
    }
  }

  /** Whether some client authenticates with mutual TLS (RFC 8705 §2). */
  get acceptsCertificates(): boolean {
    return this.#mtls !== undefined;
  }

  /** The RFC 8705 methods in use (discovery); empty when off. */
  certificateMethods(): string[] {
    return this.#mtls?.methods() ?? [];
  }

  /** Whether some client gets certificate-bound access tokens (RFC 8705 §3.3, discovery). */
  get bindsTokensToCertificates(): boolean {
    return this.#mtls?.bindsTokens ?? false;
  }

  /**
   * Mutual TLS: the connection's certificate for the client named by `client_id`, under the same
   * failure limits (keyed by that id). Throws an OAuthError (invalid_client) on any failure.
   */
  async authenticateCertificate(clientId: string, presented: PresentedCertificate | undefined, remoteAddress?: string): Promise<ClientConfig> {
    const verifier = this.#mtls;
    if (!verifier) throw new OAuthError("client_auth_failed");
    if (!this.#guard) return verifier.verify(clientId, presented);
    await this.#guard.before(clientId, remoteAddress);
    try {
      return await verifier.verify(clientId, presented);
    } catch (e) {
      if (e instanceof OAuthError && e.code === "invalid_client") await this.#guard.failed(clientId, remoteAddress);
      throw e;
    }
  }

  async #check(clientId: string, secret: string): Promise<ClientConfig | undefined> {
    const client = this.#byId.get(clientId);
    const stored = client?.secretHash;
    if (stored !== undefined && !stored.startsWith("scrypt:")) {
      if (await verifySecret(secret, stored)) return client;
      await this.#failure(secret);
      return undefined;
    }
    if (stored !== undefined) return (await this.#hash(() => verifySecret(secret, stored))) ? client : undefined;
    await this.#failure(secret);
    return undefined;
  }

  /** The work of a failure: one check against the dummy hash (bounded by the queue when slow). */
  async #failure(secret: string): Promise<void> {
    if (this.#slow) await this.#hash(() => verifySecret(secret, this.#dummyHash));
    else await verifySecret(secret, this.#dummyHash);
  }

  async #hash(work: () => Promise<boolean>): Promise<boolean> {
    try {
      return await this.#queue.run(work);
    } catch (e) {
      if (e instanceof HashQueueFull) throw new OAuthError("client_auth_overloaded", { cause: e, retryAfterSeconds: 1 });
      throw e;
    }
  }
}
