/**
 * The delegation claims of RFC 8693 §4: their shapes, shared by every token
 * that carries them (the bridge's own tokens, trusted JWTs) and by the tokens the bridge issues.
 */

/** RFC 8693 §4.1: the `act` claim; nested `act` records earlier actors of a chain. */
export interface ActClaim {
  sub: string;
  iss?: string;
  act?: ActClaim;
}

/** RFC 8693 §4.4 `may_act`: who may act for the subject. */
export interface MayAct {
  sub: string;
  iss?: string;
}

// Reading these claims from incoming tokens (shape, identifier rule, members kept, bounds) is
// src/policy/act-chain.ts: one iterative reader for every token type.
