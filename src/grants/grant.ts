import type { ExchangeContext, Step } from "../exchange/pipeline.js";
import type { Form } from "../oauth/params.js";

/**
 * One grant type: its ordered steps, and what its success response adds to RFC 6749 §5.1's
 * (access_token, token_type, expires_in, scope), which the token endpoint writes for every grant.
 */
export interface Grant {
  readonly grantType: string;
  readonly steps: readonly Step[];
  /** Fields that replace or add to that response (e.g. RFC 8693 §2.2.1 token_type N_A). */
  responseFields?(ctx: ExchangeContext): Record<string, unknown>;
  /**
   * Another grant of the same grant_type that serves this request instead (token exchange with
   * requested_token_type id-jag: grants/id-jag-exchange.ts); undefined keeps this one.
   */
  variant?(form: Form): Grant | undefined;
}
