import type { ResourceAuthorizationServerConfig } from "../config/schema.js";
import type { IdJagVerifier } from "./verify.js";

/**
 * What the Cross-App Access steps use (src/exchange/services.ts `crossAppAccess`), built once at
 * start-up (bootstrap.ts).
 */
export interface CrossAppAccessServices {
  /** IdP side: the configured resource authorization servers, by issuer identifier (exact). */
  servers: ReadonlyMap<string, ResourceAuthorizationServerConfig>;
  /** Resource side: verifies an ID-JAG presented with the jwt-bearer grant; undefined: none trusted. */
  verifyGrant: IdJagVerifier | undefined;
}
