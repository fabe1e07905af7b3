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
  audiences: ReadonlyMap<string, AudienceConfig>;
  subjectVerifiers: ReadonlyMap<string, SubjectVerifier>;
  replay: ReplayStore;
  keys: SigningKeySet;
  log: Logger;
}
