/** Whose token is it (src/policy/client-binding.ts), as units: party claims and the binding rule. */
import { describe, expect, it } from "vitest";
import { checkPartyBinding, partyOf } from "../../src/policy/client-binding.js";
import type { PartyBinding, VerifiedSubject } from "../../src/subject/types.js";

const token = (id: string, binding: PartyBinding | undefined, payload: Record<string, unknown>, subject = "svc"): VerifiedSubject =>
  ({ source: { id, issuer: `https://${id}.test`, mapping: undefined, binding }, subject, party: partyOf(payload) }) as unknown as VerifiedSubject;
const AZP: PartyBinding = { actor: "azp", subject: false };

describe("partyOf", () => {
  it.each([
    [{}, { kind: "none" }],
    [{ azp: "a" }, { kind: "named", id: "a" }],
    [{ client_id: "a" }, { kind: "named", id: "a" }],
    [{ azp: "a", client_id: "a" }, { kind: "named", id: "a" }],
    [{ azp: "a", client_id: "b" }, { kind: "invalid" }],
    [{ azp: ["a"] }, { kind: "invalid" }],
    [{ client_id: "" }, { kind: "invalid" }],
    [{ azp: null }, { kind: "invalid" }],
    [{ azp: 1 }, { kind: "invalid" }],
  ])("%j → %j", (payload, party) => {
    expect(partyOf(payload)).toEqual(party);
  });
});

describe("checkPartyBinding", () => {
  it("reads the client's list by own property only: an issuer id like constructor never reaches Object.prototype", () => {
    for (const id of ["constructor", "tostring", "valueof", "hasownproperty"]) {
      expect(() => checkPartyBinding({ issuerParties: {} }, token(id, AZP, { azp: "x" }), "actor")).toThrow("actor_client_mismatch");
    }
  });

  it("does not apply to sources without a binding (SAML IdPs, the bridge's own tokens)", () => {
    expect(() => checkPartyBinding({ issuerParties: {} }, token("idp1", undefined, { azp: "x" }), "actor")).not.toThrow();
  });

  it("actor: azp requires a listed party; sub falls back to the subject; none accepts anything", () => {
    const client = { issuerParties: { corp: ["app-a", "repo:x"] } };
    expect(() => checkPartyBinding(client, token("corp", AZP, { azp: "app-a" }), "actor")).not.toThrow();
    expect(() => checkPartyBinding(client, token("corp", AZP, {}), "actor")).toThrow("actor_client_missing");
    expect(() => checkPartyBinding(client, token("corp", AZP, { azp: "app-b" }), "actor")).toThrow("actor_client_mismatch");
    const sub: PartyBinding = { actor: "sub", subject: false };
    expect(() => checkPartyBinding(client, token("corp", sub, {}, "repo:x"), "actor")).not.toThrow();
    expect(() => checkPartyBinding(client, token("corp", sub, {}, "repo:y"), "actor")).toThrow("actor_client_mismatch");
    expect(() => checkPartyBinding(client, token("corp", sub, { client_id: "app-b" }, "repo:x"), "actor")).toThrow("actor_client_mismatch");
    const none: PartyBinding = { actor: "none", subject: false };
    expect(() => checkPartyBinding({ issuerParties: {} }, token("corp", none, { azp: ["?"] }), "actor")).not.toThrow();
  });

  it("subject: only with bindSubjectTokens, and only for tokens that name a party", () => {
    const client = { issuerParties: { corp: ["app-a"] } };
    expect(() => checkPartyBinding(client, token("corp", AZP, { azp: "app-b" }), "subject")).not.toThrow();
    const bound: PartyBinding = { actor: "azp", subject: true };
    expect(() => checkPartyBinding(client, token("corp", bound, {}), "subject")).not.toThrow();
    expect(() => checkPartyBinding(client, token("corp", bound, { azp: "app-a" }), "subject")).not.toThrow();
    expect(() => checkPartyBinding(client, token("corp", bound, { azp: "app-b" }), "subject")).toThrow("subject_client_mismatch");
    expect(() => checkPartyBinding(client, token("corp", bound, { azp: "app-a", client_id: "app-b" }), "subject")).toThrow("client_claim_invalid");
  });
});
