/**
 * Review: an `act` chain inside a token from a trusted JWT issuer names actors in that issuer's
 * namespace. `{sub, iss: <the bridge's issuer>}` is how the bridge itself names its own clients
 * (may_act), so an entry naming the bridge's issuer would let an external issuer vouch, inside a
 * token the bridge then signs, that one of the bridge's clients acted. Refused (act_claim_invalid)
 * at any depth, directly or as the namespace inherited by entries below; other issuers' names are
 * kept as before. ID tokens signed by PyJWT.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER } from "../support/constants.js";
import { JWT_KEYS, pySignMany } from "../support/independent-jwt.js";
import { ID_TOKEN, JWT_CLIENT, corpClaims, withJwtIssuers } from "../support/jwt-fixtures.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({ patch: (c) => withJwtIssuers(c) });
});
afterAll(() => bridge.close());

async function withActs(acts: unknown[]) {
  const tokens = pySignMany(acts.map((act) => ({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(bridge.clock.now, { act }) })));
  const out = [];
  for (const t of tokens) out.push(await exchange(bridge, { rawToken: t, tokenType: ID_TOKEN, client: JWT_CLIENT, scope: "read" }));
  return out;
}

describe("review: an external act chain may not name the bridge's own namespace", () => {
  it("an entry with iss = the bridge's issuer, at the top, nested, or above entries that would inherit it → act_claim_invalid", async () => {
    const acts = [
      { sub: "gateway", iss: BRIDGE_ISSUER },
      { sub: "edge", act: { sub: "gateway", iss: BRIDGE_ISSUER } },
      { sub: "edge", iss: "https://other.test", act: { sub: "mid", act: { sub: "gateway", iss: BRIDGE_ISSUER } } },
      { sub: "gateway", iss: BRIDGE_ISSUER, act: { sub: "svc-a" } },
    ];
    for (const res of await withActs(acts)) expectError(res, 400, "invalid_request", "act_claim_invalid");
  });

  it("entries of other issuers (or none) are still accepted and qualified", async () => {
    const [res] = await withActs([{ sub: "edge", act: { sub: "mid", iss: "https://other.test" } }]);
    expect(res!.status, JSON.stringify(res!.body)).toBe(200);
    const act = decodeJwt(res!.body.access_token).payload.act;
    expect(JSON.stringify(act)).not.toContain(BRIDGE_ISSUER);
  });
});
