import type { AudienceConfig, Config } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import type { RateLimits } from "../limits/rate-limits.js";
import type { ReplayStore } from "../replay/store.js";
import type { SubjectVerifier } from "../subject/verifiers.js";
import type { SigningKeySet } from "../tokens/signing-keys.js";
import type { PipelineObserver } from "./pipeline.js";
import type { CrossAppAccessServices } from "../idjag/services.js";
import type { DpopVerifier } from "../dpop/verifier.js";

/** Everything the grant steps use, each as the narrow slice it needs. Built once at start-up. */
export interface ExchangeServices {
  issuer: string;
  tokens: Config["tokens"];
  limits: Config["limits"];
  delegation: Config["delegation"];
  audiences: ReadonlyMap<string, AudienceConfig>;
  /** Verifiers by token type URI, for subject and actor tokens alike. */
  tokenVerifiers: ReadonlyMap<string, SubjectVerifier>;
  replay: ReplayStore;
  /** Rate limits of the exchange steps (exchange/steps/limits.ts). */
  rateLimits: RateLimits;
  keys: SigningKeySet;
  log: Logger;
  /** Metrics and tracing of every pipeline step (metrics/exchange-observer.ts); absent: unobserved. */
  observer?: PipelineObserver;
  /** Cross-App Access (src/idjag): absent or empty, ID-JAGs are neither issued nor accepted. */
  crossAppAccess?: CrossAppAccessServices;
  /** DPoP proofs at the token endpoint (src/dpop); absent: a request carrying one fails (a bug). */
  dpop?: DpopVerifier;
}
