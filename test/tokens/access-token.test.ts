/** The issued token's claims (src/tokens/access-token.ts): the bridge's own claims always win. */
import { describe, expect, it } from "vitest";
import { accessTokenClaims } from "../../src/tokens/access-token.js";

describe("accessTokenClaims", () => {
  it("drops every reserved claim a mapping (or a hand-edited record) smuggles in", () => {
    const claims = accessTokenClaims({
      issuer: "https://bridge.test", sub: "alice", audiences: ["https://api.test"], clientId: "c1", scope: [],
      act: undefined, mayAct: undefined, idp: "https://idp.test", authTime: undefined, acr: undefined,
      claims: {
        role: ["editor"], scope: "admin", act: { sub: "evil" }, may_act: { sub: "evil" }, cnf: { jkt: "x" },
        nbf: 0, jti: "fixed", typ: "x", auth_time: 1, acr: "urn:evil", iss: "https://evil", client_id: "evil",
      },
      issuedAt: 1_000_000, expiresAt: 1_300_000,
    });
    expect(claims).toEqual({
      role: ["editor"], iss: "https://bridge.test", sub: "alice", aud: "https://api.test",
      iat: 1000, exp: 1300, client_id: "c1", idp: "https://idp.test",
    });
  });
});
