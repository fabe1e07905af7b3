/**
 * Tests added for surviving mutants of the mutation-testing run (docs/mutation-testing.md): the
 * exact boundaries of the target count (src/policy/targets.ts), the act-chain byte cap
 * (src/policy/delegation.ts) and admin onboarding's subject-namespace check
 * (src/policy/subject-namespace.ts onboardingNamespaceProblem). Each rule is pinned on both sides
 * of its boundary, so an off-by-one or a dropped operand fails here.
 */
import { describe, expect, it } from "vitest";
import type { AudienceConfig } from "../../src/config/schema.js";
import { actChainBytes } from "../../src/policy/act-chain.js";
import { decideAct } from "../../src/policy/delegation.js";
import { onboardingNamespaceProblem } from "../../src/policy/subject-namespace.js";
import { resolveTargets } from "../../src/policy/targets.js";
import type { VerifiedSubject } from "../../src/subject/types.js";

const aud = (id: string): AudienceConfig => ({ id, scopes: [], defaultScopes: [] });
const ids = ["a:1", "a:2", "a:3", "a:4", "a:5", "a:6"];
const audiences = new Map(ids.map((id) => [id, aud(id)] as const));
const client = { audiences: ids };

describe("resolveTargets: maxTargets counts audience AND resource values, inclusively", () => {
  it("accepts exactly maxTargets values, in any split between audience and resource", () => {
    expect(resolveTargets({ audience: ids.slice(0, 3), resource: [] }, client, audiences, 3)).toHaveLength(3);
    expect(resolveTargets({ audience: [], resource: ids.slice(0, 3) }, client, audiences, 3)).toHaveLength(3);
    expect(resolveTargets({ audience: ids.slice(0, 2), resource: ids.slice(2, 3) }, client, audiences, 3)).toHaveLength(3);
  });
  it("refuses one more than maxTargets, however the values are split", () => {
    for (const [a, r] of [[4, 0], [0, 4], [2, 2], [3, 1], [1, 3]] as const) {
      const req = { audience: ids.slice(0, a), resource: ids.slice(a, a + r) };
      expect(() => resolveTargets(req, client, audiences, 3), `${a}+${r}`).toThrow("target_too_many");
    }
  });
  it("counts values before de-duplication (the bound is on input size)", () => {
    expect(() => resolveTargets({ audience: ["a:1", "a:1"], resource: ["a:1", "a:1"] }, client, audiences, 3)).toThrow("target_too_many");
  });
});

const subject = (over: Partial<VerifiedSubject>): VerifiedSubject => ({
  tokenType: "urn:ietf:params:oauth:token-type:saml2",
  source: { id: "idp1", issuer: "https://idp1.example.com", mapping: {} as never, binding: undefined } as never,
  subject: "alice", nameIdFormat: undefined, attributes: [], issuedAt: 0, expiresAt: 1, notAfter: undefined,
  authTime: undefined, acr: undefined, oneTimeUse: undefined, act: undefined, mayAct: undefined, granted: undefined,
  keyId: undefined, ...over,
});

describe("decideAct: maxChainBytes is an inclusive cap on the issued act claim", () => {
  const base = {
    client: { id: "client-x", mode: "delegation" as const, impersonateChains: false },
    subject: subject({ act: { sub: "earlier-actor", iss: "https://idp1.example.com" } }),
    actor: undefined, mayAct: undefined, bridgeIssuer: "https://bridge.example.com", maxChainDepth: 5,
  };
  const exact = actChainBytes({ sub: "client-x", act: { sub: "earlier-actor", iss: "https://idp1.example.com" } });
  it("issues a chain of exactly maxChainBytes", () => {
    expect(decideAct({ ...base, maxChainBytes: exact })).toEqual({ sub: "client-x", act: { sub: "earlier-actor", iss: "https://idp1.example.com" } });
  });
  it("refuses a chain one byte over, and far over", () => {
    expect(() => decideAct({ ...base, maxChainBytes: exact - 1 })).toThrow("act_claim_too_large");
    expect(() => decideAct({ ...base, maxChainBytes: 10 })).toThrow("act_claim_too_large");
  });
});

describe("onboardingNamespaceProblem: the admin IdP is checked against every other source", () => {
  const clients = [{ id: "c", audiences: ["api"], idps: ["saml", "jwt", "other", "cand"] }];
  const src = (id: string, subjectPrefix?: string, userDirectory?: string) => ({
    id, mapping: { ...(subjectPrefix !== undefined ? { subjectPrefix } : {}), ...(userDirectory !== undefined ? { userDirectory } : {}) },
  });
  const cfg = (over: Partial<Parameters<typeof onboardingNamespaceProblem>[0]> = {}) => ({
    clients, samlIdps: [src("saml", "s:")], jwtIssuers: [src("jwt", "j:")], ...over,
  });
  it("a candidate with a distinct prefix passes", () => {
    expect(onboardingNamespaceProblem(cfg(), src("cand", "c:"), [src("other", "o:")])).toBeUndefined();
  });
  it("clashes with a config SAML IdP, naming its config path", () => {
    expect(onboardingNamespaceProblem(cfg(), src("cand", "s:x:"), [])).toMatch(/samlIdps\[0\] "saml"/);
  });
  it("clashes with a config JWT issuer, naming its config path", () => {
    expect(onboardingNamespaceProblem(cfg(), src("cand", "j:"), [])).toMatch(/jwtIssuers\[0\] "jwt"/);
  });
  it("clashes with another admin IdP", () => {
    expect(onboardingNamespaceProblem(cfg(), src("cand", "o:"), [src("other", "o:")])).toMatch(/"other"/);
  });
  it("ignores the candidate's own previous version (a replacement is not a clash with itself)", () => {
    expect(onboardingNamespaceProblem(cfg(), src("cand", "c:"), [src("cand"), src("other", "o:")])).toBeUndefined();
  });
  it("the top-level userDirectory applies to sources that name none: same directory + same prefix may share", () => {
    const c = cfg({ samlIdps: [src("saml", "u:")], userDirectory: "corp-ad" });
    expect(onboardingNamespaceProblem(c, src("cand", "u:"), [])).toBeUndefined();
    // without the shared directory the same prefix is a clash
    expect(onboardingNamespaceProblem(cfg({ samlIdps: [src("saml", "u:")] }), src("cand", "u:"), [])).toMatch(/"saml"/);
    // a source's own directory overrides the top-level one
    expect(onboardingNamespaceProblem(c, src("cand", "u:", "other-dir"), [])).toMatch(/"saml"/);
  });
});
