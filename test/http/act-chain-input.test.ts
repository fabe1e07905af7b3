/**
 * Nested `act` claims from incoming tokens (src/policy/act-chain.ts, RFC 8693 §4.1): every entry
 * passes the subject-identifier rule, only sub / iss / act are kept, the chain is bounded in depth
 * and bytes, and non-object entries are refused. Over HTTP: ID tokens signed by PyJWT, and the
 * bridge's own tokens re-signed with its key (the next-hop path).
 */
import { createHash, createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TOKEN_TYPE, API, decodeJwt, exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_SIGNING_KEY } from "../support/constants.js";
import { JWT_KEYS, pySignMany } from "../support/independent-jwt.js";
import { CORP_ISS, ID_TOKEN, JWT_CLIENT, corpClaims, withJwtIssuers } from "../support/jwt-fixtures.js";
import { readActClaim, readMayActClaim } from "../../src/policy/act-chain.js";
import { decideAct } from "../../src/policy/delegation.js";
import type { VerifiedSubject } from "../../src/subject/types.js";

const HOP = { id: "hop", secret: "hop-secret" };
let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({
    patch: (c) => {
      withJwtIssuers(c);
      c.clients.push({
        id: HOP.id, secretHash: `sha256:${createHash("sha256").update(HOP.secret).digest("base64url")}`,
        audiences: [API], scopes: ["read"], subjectTokenTypes: [ACCESS_TOKEN_TYPE],
      });
    },
  });
});
afterAll(() => bridge.close());

/** Exchanges ID tokens (signed by PyJWT) carrying these `act` values; one response each. */
async function withActs(acts: unknown[], b: TestBridge = bridge) {
  const tokens = pySignMany(acts.map((act) => ({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(b.clock.now, { act }) })));
  const out = [];
  for (const t of tokens) out.push(await exchange(b, { rawToken: t, tokenType: ID_TOKEN, client: JWT_CLIENT, scope: "read" }));
  return out;
}
const chainOf = (depth: number, sub = (i: number) => `svc-${i}`): Record<string, unknown> => {
  let act: Record<string, unknown> | undefined;
  for (let i = depth - 1; i >= 0; i--) act = { sub: sub(i), ...(act ? { act } : {}) };
  return act!;
};

describe("every nested entry passes the subject-identifier rule: act_claim_invalid", () => {
  it.each([
    ["a 2,000-character sub", "a".repeat(2000)],
    ["a 1,025-character sub", "a".repeat(1025)],
    ["a control character", "svc\u0000x"],
    ["a newline", "svc\nadmin"],
    ["a C1 control", "svc\u0085x"],
    ["a bidi override", "svc\u202eadmin"],
    ["a bidi isolate", "\u2066svc"],
    ["a line separator", "svc\u2028x"],
    ["padding", " svc"],
    ["an empty sub", ""],
  ])("%s, at the top and three levels down", async (_n, bad) => {
    for (const res of await withActs([{ sub: bad }, { sub: "edge", act: { sub: "mid", act: { sub: bad } } }])) {
      expectError(res, 400, "invalid_request", "act_claim_invalid");
    }
  });

  it("a sub that is not a string (number, array, object, null, missing)", async () => {
    const subs = [42, ["svc"], { sub: "svc" }, null, true];
    const results = await withActs([...subs.map((sub) => ({ sub })), { iss: CORP_ISS }, { sub: "edge", act: { sub: 7 } }]);
    for (const res of results) expectError(res, 400, "invalid_request", "act_claim_invalid");
  });

  it("an iss that is not a clean identifier", async () => {
    for (const res of await withActs([{ sub: "svc", iss: 42 }, { sub: "svc", iss: ["https://a.test"] }, { sub: "edge", act: { sub: "svc", iss: "https://x.test\u202e" } }, { sub: "svc", iss: "" }])) {
      expectError(res, 400, "invalid_request", "act_claim_invalid");
    }
  });
});

describe("non-object entries are refused: act_claim_invalid", () => {
  it("an array, a string, a number, null, or an array nested inside", async () => {
    const acts = [[{ sub: "svc" }], "svc", 7, null, { sub: "edge", act: [{ sub: "svc" }] }, { sub: "edge", act: "svc" }, { sub: "edge", act: null }];
    for (const res of await withActs(acts)) expectError(res, 400, "invalid_request", "act_claim_invalid");
  });
});

describe("the chain is bounded", () => {
  it("in depth: delegation.maxChainDepth counts the new actor too (default 4)", async () => {
    const [ok, tooDeep] = await withActs([chainOf(3), chainOf(4)]);
    expect(ok!.status, JSON.stringify(ok!.body)).toBe(200);
    expectError(tooDeep!, 400, "invalid_request", "delegation_too_deep");
  });

  it("in depth, before any policy: a chain deeper than the largest configurable depth is never read", async () => {
    const [deep] = await withActs([chainOf(40)]);
    expectError(deep!, 400, "invalid_request", "delegation_too_deep");
  });

  it("in bytes: delegation.maxChainBytes (default 4096), the new actor included", async () => {
    const long = (i: number): string => `svc-${i}-${"x".repeat(1000)}`;
    // Each entry within the identifier rule (≤ 1024 characters per sub and iss), the whole too big.
    const withIss = (depth: number): Record<string, unknown> => {
      let act: Record<string, unknown> | undefined;
      for (let i = depth - 1; i >= 0; i--) act = { sub: long(i), iss: `https://issuer-${i}.test/${"p".repeat(400)}`, ...(act ? { act } : {}) };
      return act!;
    };
    const [fits, tooBig] = await withActs([chainOf(2, long), withIss(3)]);
    expect(fits!.status, JSON.stringify(fits!.body)).toBe(200);
    expectError(tooBig!, 400, "invalid_request", "act_claim_too_large");
  });

  it("in bytes, as configured", async () => {
    const b = await startBridge({ patch: (c) => { withJwtIssuers(c); c.delegation = { maxChainDepth: 4, maxChainBytes: 256 }; } });
    try {
      const [small, big] = await withActs([{ sub: "svc" }, chainOf(2, (i) => `service-${i}-${"z".repeat(100)}`)], b);
      expect(small!.status).toBe(200);
      expectError(big!, 400, "invalid_request", "act_claim_too_large");
    } finally {
      await b.close();
    }
  });
});

describe("only sub, iss and act are kept (RFC 8693 §4.1: act members identify the actor)", () => {
  it("drops client_id, time claims, aud, scope and anything else, at every level", async () => {
    const [res] = await withActs([{
      sub: "edge", iss: "https://edge.test", client_id: "edge-client", exp: 1, aud: "x", scope: "admin", roles: ["admin"],
      act: { sub: "origin", may_act: { sub: "x" }, client_id: "c1", nested: { deep: true }, act: { sub: "first", foo: "bar" } },
    }]);
    expect(res!.status, JSON.stringify(res!.body)).toBe(200);
    expect(decodeJwt(res!.body.access_token).payload.act).toEqual({
      sub: JWT_CLIENT.id,
      act: { sub: "edge", iss: "https://edge.test", act: { sub: "origin", iss: "https://edge.test", act: { sub: "first", iss: "https://edge.test" } } },
    });
  });
});

describe("the bridge's own tokens go through the same rule (next hop)", () => {
  const resign = (payload: Record<string, unknown>): string => {
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
    const h = enc({ alg: "RS256", kid: "test-rs", typ: "at+jwt" });
    const p = enc(payload);
    return `${h}.${p}.${sign("sha256", Buffer.from(`${h}.${p}`), createPrivateKey(readFileSync(BRIDGE_SIGNING_KEY, "utf8"))).toString("base64url")}`;
  };

  it("an own token whose act breaks the rule is refused; a clean one is re-exchanged with members dropped", async () => {
    const first = await exchange(bridge, { xml: signedAssertion(bridge), client: { id: "c1", secret: "c1-secret" } });
    expect(first.status).toBe(200);
    const payload = decodeJwt(first.body.access_token).payload;
    const hop = (act: unknown) => exchange(bridge, { rawToken: resign({ ...payload, act }), tokenType: ACCESS_TOKEN_TYPE, client: HOP, audience: API });
    for (const act of [{ sub: "a".repeat(2000) }, { sub: "c1\u202e" }, { sub: 5 }, [{ sub: "c1" }], { sub: "c1", act: "x" }]) {
      expectError(await hop(act), 400, "invalid_request", "act_claim_invalid");
    }
    const ok = await hop({ sub: "c1", client_id: "c1", exp: 1 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(decodeJwt(ok.body.access_token).payload.act).toEqual({ sub: HOP.id, act: { sub: "c1" } });
  });
});

describe("readActClaim / readMayActClaim / decideAct (units)", () => {
  it("reads a 16-deep chain iteratively and refuses a 17th level", () => {
    expect(readActClaim(chainOf(16))).toEqual(chainOf(16));
    expect(() => readActClaim(chainOf(17))).toThrow("delegation_too_deep");
    expect(() => readActClaim(chainOf(100_000))).toThrow("delegation_too_deep");
  });

  it("may_act follows the same rule", () => {
    expect(readMayActClaim({ sub: "svc", iss: "https://i.test", client_id: "x" })).toEqual({ sub: "svc", iss: "https://i.test" });
    for (const bad of ["svc", [{ sub: "svc" }], { sub: "a".repeat(1025) }, { sub: "s\u0007" }, { sub: "svc", iss: 1 }]) {
      expect(() => readMayActClaim(bad)).toThrow("act_claim_invalid");
    }
  });

  it("qualifies entries without iss by the nearest enclosing issuer, iteratively", () => {
    const subject = {
      source: { id: "corp", issuer: "https://corp.test", mapping: undefined }, act: { sub: "a", act: { sub: "b", iss: "https://b.test", act: { sub: "c" } } },
    } as unknown as VerifiedSubject;
    const act = decideAct({
      client: { id: "me", mode: "delegation", impersonateChains: false }, subject, actor: undefined, mayAct: undefined,
      bridgeIssuer: "https://bridge.test", maxChainDepth: 8, maxChainBytes: 4096,
    });
    expect(act).toEqual({ sub: "me", act: { sub: "a", iss: "https://corp.test", act: { sub: "b", iss: "https://b.test", act: { sub: "c", iss: "https://b.test" } } } });
  });
});
