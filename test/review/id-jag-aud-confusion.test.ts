/**
 * Review: an ID-JAG and an access token the bridge issues share the issuer and the signing key; an
 * ID-JAG's `aud` is a resource authorization server's issuer. Were that issuer also the id of one
 * of the bridge's audiences, the two kinds of token would carry the same iss and aud and differ
 * only in `typ`: a resource server that does not check `typ` (RFC 9068 §4 says it must; many do not)
 * would take an ID-JAG, with the entry's scopes, as an access token (RFC 8725 §2.8 / §3.11
 * cross-JWT confusion; draft-ietf-oauth-identity-assertion-authz-grant-04 §3.1: the grant is not an
 * access token). The configuration must keep them apart.
 */
import { describe, expect, it } from "vitest";
import { configIssues } from "../support/config-issues.js";
import { idpPatch } from "../idjag/support.js";

/** With the ID-JAG test set-up (idpPatch) under `patch`. */
const issues = (patch: (c: Record<string, any>) => void): string[] => configIssues(idpPatch, patch);

describe("a resource authorization server's issuer is never an audience of the bridge", () => {
  it("the test set-up (distinct) is accepted", () => {
    expect(issues(() => undefined)).toEqual([]);
  });

  it("refuses a server whose issuer is the id of an audience", () => {
    const found = issues((c) => { c.resourceAuthorizationServers[0].issuer = c.audiences[0].id; });
    expect(found.join("\n")).toMatch(/resourceAuthorizationServers.*issuer.*audience/);
  });

  it("refuses it for any audience, not only the first", () => {
    const found = issues((c) => {
      c.audiences.push({ id: "https://as.other.test/", scopes: ["read"], defaultScopes: [] });
      c.resourceAuthorizationServers[0].issuer = "https://as.other.test/";
    });
    expect(found.join("\n")).toMatch(/resourceAuthorizationServers.*issuer.*audience/);
  });
});
