import type { AudienceConfig, Config } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import type { ReplayStore } from "../replay/store.js";
import type { SubjectVerifier } from "../subject/verifiers.js";
import type { SigningKeySet } from "../tokens/signing-keys.js";

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
  keys: SigningKeySet;
  log: Logger;
}
