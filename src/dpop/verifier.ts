import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.js";
import { ConfigError, resolvePath } from "../config/load.js";
import { OAuthError, refuse } from "../oauth/errors.js";
import { ReplayStoreUnavailable, replayKey, type ReplayStore } from "../replay/store.js";
import { DpopNonces } from "./nonce.js";
import { verifyProof, type VerifiedProof } from "./proof.js";

/**
 * DPoP at the token endpoint (RFC 9449 §5): the request's DPoP header values in, the key's
 * thumbprint out, after every check of §4.3, the nonce (§8) when configured, and the proof's
 * `jti` used once (§11.1) in the SAME replay store as assertions and client assertions: shared by
 * every instance with store: redis, failing closed (503) when it cannot answer.
 */

/** Namespace of the proofs' replay keys: never equal to an assertion's or a client assertion's. */
const REPLAY_NAMESPACE = "fedbridge:dpop-proof:";

export interface DpopOptions {
  /** The token endpoint URL as configured (bootstrap tokenEndpointOf): the `htu` proofs must name. */
  tokenEndpoint: string;
  replay: ReplayStore;
  /** Directory that a relative nonce.secretFile is resolved against. */
  baseDir: string;
}

export class DpopVerifier {
  readonly #config: Config["dpop"];
  readonly #o: DpopOptions;
  /** Present when nonces are required (config dpop.nonce). */
  readonly nonces: DpopNonces | undefined;

  constructor(config: Config["dpop"], options: DpopOptions) {
    this.#config = config;
    this.#o = options;
    this.nonces = config.nonce ? new DpopNonces(readSecret(resolvePath(options.baseDir, config.nonce.secretFile)), config.nonce.lifetimeSeconds) : undefined;
  }

  /** For discovery (RFC 9449 §5.1 dpop_signing_alg_values_supported). */
  get algorithms(): readonly string[] {
    return this.#config.algorithms;
  }

  /**
   * Checks the request's DPoP header field values (`values`: one per header line, as received)
   * and uses the proof's jti once. `clientId`: the authenticated client, whom nonces are bound to.
   */
  async verify(values: readonly string[], request: { clientId: string; method: string; now: number }): Promise<VerifiedProof> {
    // §4.3 check 1: not more than one DPoP header. (A comma-joined pair is not a JWS either.)
    if (values.length !== 1) throw refuse(values.length === 0 ? "dpop_proof_missing" : "dpop_proof_multiple");
    const { now, clientId } = request;
    const nonces = this.nonces;
    const proof = await verifyProof(values[0]!, {
      algorithms: this.#config.algorithms,
      tokenEndpoint: this.#o.tokenEndpoint,
      method: request.method,
      now,
      maxAgeSeconds: this.#config.maxAgeSeconds,
      futureSkewSeconds: this.#config.futureSkewSeconds,
      ...(nonces ? {
        checkNonce: (nonce: string | undefined) => {
          if (nonce === undefined) throw refuse("dpop_nonce_missing");
          if (!nonces.check(nonce, clientId, now)) throw refuse("dpop_nonce_invalid");
        },
      } : {}),
    });
    // §11.1: the jti is remembered while the same proof could still pass the iat check (until the
    // end of second iat + maxAge), keyed by the proof's key: a replay of a captured proof has the
    // same key and jti; another client cannot pre-burn this key's jtis.
    const ttlMs = Math.max(1000, Math.ceil((proof.iat + this.#config.maxAgeSeconds + 1) * 1000 - now));
    let fresh: boolean;
    try {
      fresh = await this.#o.replay.markUsed(replayKey(`${REPLAY_NAMESPACE}${proof.jkt}`, proof.jti), ttlMs);
    } catch (e) {
      if (e instanceof ReplayStoreUnavailable) {
        throw new OAuthError(e.lost ? "replay_store_lost" : "replay_store_unavailable", {
          cause: e, ...(e.retryAfterMs !== undefined ? { retryAfterSeconds: Math.ceil(e.retryAfterMs / 1000) } : {}),
        });
      }
      throw e;
    }
    if (!fresh) throw refuse("dpop_proof_replayed");
    return proof;
  }
}

function readSecret(file: string): Buffer {
  let secret: Buffer;
  try {
    secret = readFileSync(file);
  } catch (e) {
    throw new ConfigError([{ path: "dpop.nonce.secretFile", message: `cannot read the secret file (${(e as NodeJS.ErrnoException).code ?? "error"})` }]);
  }
  // Trailing newlines of `openssl rand -base64 48 > file` are not secret material.
  const trimmed = Buffer.from(secret.toString("latin1").replace(/[\r\n]+$/, ""), "latin1");
  if (trimmed.length < 32) throw new ConfigError([{ path: "dpop.nonce.secretFile", message: "the secret must be at least 32 bytes" }]);
  return trimmed;
}
