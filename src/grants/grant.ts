import type { ExchangeContext, Step } from "../exchange/pipeline.js";

/**
 * One grant type: its ordered steps, and what its success response adds to RFC 6749 §5.1's
 * (access_token, token_type, expires_in, scope), which the token endpoint writes for every grant.
 */
export interface Grant {
  readonly grantType: string;
  readonly steps: readonly Step[];
  responseFields?(ctx: ExchangeContext): Record<string, unknown>;
}
