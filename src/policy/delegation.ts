import { refuse } from "../oauth/errors.js";
import type { ClientConfig } from "../config/schema.js";
import type { ActClaim, MayAct } from "../oauth/claims.js";
import { SELF, type VerifiedSubject } from "../subject/types.js";
import { actChainBytes } from "./act-chain.js";

/**
 * Delegation and impersonation (RFC 8693 §1.1, §4.1, §4.4).
 *
 * - The current actor is the verified actor token's subject (with its issuer), or else the
 *   authenticated client (whose ids live in the bridge's own namespace: its issuer).
 * - `may_act` in the subject token is a hard constraint: the current actor must match its `sub`,
 *   and its `iss` when given. Leaving out the actor token does not dodge it: the client is then
 *   the actor and must match.
 * - Delegation (the default) records the actor in `act`, with any chain the subject token already
 *   carries nested beneath it; a chain deeper than the configured maximum is refused.
 * - Impersonation (no `act`) only for clients configured for it, only without an actor token, and
 *   never silently dropping an existing chain unless the client's policy says so.
 */
export function decideAct(input: {
  client: Pick<ClientConfig, "id" | "mode" | "impersonateChains">;
  subject: VerifiedSubject;
  actor: VerifiedSubject | undefined;
  /** may_act from the subject token, or from the subject's mapping. */
  mayAct: MayAct | undefined;
  /** The bridge's issuer: the namespace of client ids. */
  bridgeIssuer: string;
  maxChainDepth: number;
  /** Largest `act` claim (UTF-8 JSON bytes) the issued token may carry. */
  maxChainBytes: number;
}): ActClaim | undefined {
  const { client, subject, actor, mayAct } = input;
  const current: ActClaim = actor ? { sub: actor.subject, iss: actorIssuer(actor) } : { sub: client.id };

  if (mayAct) {
    const currentIss = current.iss ?? input.bridgeIssuer;
    if (mayAct.sub !== current.sub || (mayAct.iss !== undefined && mayAct.iss !== currentIss)) throw refuse("may_act_mismatch");
  }

  if (client.mode === "impersonation" && !actor) {
    if (subject.act && !client.impersonateChains) throw refuse("delegation_chain_present");
    return undefined;
  }
  const earlier = subject.source.id === SELF ? subject.act : qualify(subject.act, subject.source.issuer, input.bridgeIssuer);
  const act: ActClaim = earlier ? { ...current, act: earlier } : current;
  if (chainDepth(act) > input.maxChainDepth) throw refuse("delegation_too_deep");
  if (actChainBytes(act) > input.maxChainBytes) throw refuse("act_claim_too_large");
  return act;
}

/**
 * The namespace an actor's `sub` lives in. For one of the bridge's own tokens that is the IdP the
 * user came from, never the bridge itself: the bridge's issuer is the namespace of client ids, and a
 * user whose NameID happens to equal a client id must not pass a may_act naming that client.
 */
function actorIssuer(actor: VerifiedSubject): string {
  return actor.source.id === SELF ? (actor.granted?.idp ?? actor.source.issuer) : actor.source.issuer;
}

/**
 * An `act` chain from an external token names actors in that issuer's namespace: entries without
 * an `iss` get the nearest enclosing one (the token's issuer at the top), so they can never read as
 * the bridge's own client ids once nested. For the same reason an entry may not name the bridge's
 * issuer itself (act_claim_invalid): `{sub, iss: <bridge>}` is how the bridge names its own clients
 * (may_act), and an external issuer cannot vouch that one of them acted. Iterative: down the chain,
 * then rebuilt from the inside.
 */
function qualify(act: ActClaim | undefined, iss: string, bridgeIssuer: string): ActClaim | undefined {
  const entries: { sub: string; iss: string }[] = [];
  let namespace = iss;
  for (let a = act; a; a = a.act) {
    if (a.iss === bridgeIssuer) throw refuse("act_claim_invalid");
    namespace = a.iss ?? namespace;
    entries.push({ sub: a.sub, iss: namespace });
  }
  let out: ActClaim | undefined;
  for (let i = entries.length - 1; i >= 0; i--) out = { ...entries[i]!, ...(out ? { act: out } : {}) };
  return out;
}

export function chainDepth(act: ActClaim | undefined): number {
  let depth = 0;
  for (let a = act; a; a = a.act) depth++;
  return depth;
}
