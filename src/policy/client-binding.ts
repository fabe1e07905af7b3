import { refuse } from "../oauth/errors.js";
import type { ClientConfig } from "../config/schema.js";
import type { PartyClaim, VerifiedSubject } from "../subject/types.js";

/**
 * Whose token is it? A JWT or ID token from a trusted issuer names the party it was issued to in
 * `azp` (OIDC Core §2) or `client_id` (RFC 8693 §4.3, RFC 9068 §2.2). A bearer token picked up by
 * client A that names client B must not let A act as B: the acting party must be the caller, or
 * be explicitly vouched for by configuration (RFC 8693 §2.1 leaves the actor token's
 * authorization to the server; §5 asks it to make sure the actor is authorized).
 *
 * The calling client's `issuerParties[<jwtIssuerId>]` lists the identifiers at that issuer that
 * belong to it. Per issuer, `actorBinding` says how an actor token binds:
 *  - "azp" (default, fail closed): the token must name its party in azp/client_id (none:
 *    actor_client_missing) and that party must be listed (otherwise actor_client_mismatch);
 *  - "sub": for workload issuers whose tokens name no client (CI platforms): the party is
 *    azp/client_id when present, else the token's `sub`, and it must be listed;
 *  - "none": the explicit, documented opt-in to the permissive behaviour: any holder of a valid
 *    token from this issuer may present it as actor token.
 * With `bindSubjectTokens`, a subject token from the issuer that names a party must name a listed
 * one too (subject_client_mismatch); one that names none is accepted (the rule is about tokens
 * carrying a party). Malformed party claims (not a string, empty, an array, or azp and client_id
 * disagreeing) are client_claim_invalid wherever a rule applies.
 */
export function checkPartyBinding(client: Pick<ClientConfig, "issuerParties">, token: VerifiedSubject, role: "subject" | "actor"): void {
  const binding = token.source.binding;
  if (!binding) return; // SAML IdPs, the bridge's own tokens (bound by granted.clientId elsewhere)
  const party: PartyClaim = token.party ?? { kind: "none" };
  // Own members only: an issuer id such as "constructor" must not reach Object.prototype.
  const listed = Object.hasOwn(client.issuerParties, token.source.id) ? client.issuerParties[token.source.id]! : [];
  if (role === "subject") {
    if (!binding.subject || party.kind === "none") return;
    if (party.kind === "invalid") throw refuse("client_claim_invalid");
    if (!listed.includes(party.id)) throw refuse("subject_client_mismatch");
    return;
  }
  if (binding.actor === "none") return;
  if (party.kind === "invalid") throw refuse("client_claim_invalid");
  let id: string;
  if (party.kind === "named") id = party.id;
  else if (binding.actor === "sub") id = token.subject;
  else throw refuse("actor_client_missing");
  if (!listed.includes(id)) throw refuse("actor_client_mismatch");
}

/** Reads azp / client_id from a verified payload (src/jwt/verifier.ts). */
export function partyOf(payload: Record<string, unknown>): PartyClaim {
  const named: string[] = [];
  for (const claim of ["azp", "client_id"] as const) {
    const v = payload[claim];
    if (v === undefined) continue;
    if (typeof v !== "string" || v === "") return { kind: "invalid" };
    named.push(v);
  }
  if (named.length === 0) return { kind: "none" };
  if (named.length === 2 && named[0] !== named[1]) return { kind: "invalid" };
  return { kind: "named", id: named[0]! };
}
