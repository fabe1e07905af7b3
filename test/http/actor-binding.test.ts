/**
 * Whose token is it? (src/policy/client-binding.ts) An ID token or JWT presented as actor_token by
 * one client but issued to another (its azp / client_id names that other party) is refused; the
 * calling client's `issuerParties` says which of the issuer's client ids are its own. The
 * permissive behaviour is an explicit opt-in (`actorBinding: none`); a token naming no party is
 * refused by default (fail closed). Over HTTP, tokens signed by PyJWT (an independent library).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseIssues } from "../support/config-issues.js";
import { API, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { JWT_KEYS, pySignMany, type PySignSpec } from "../support/independent-jwt.js";
import { CI_ISS, CORP_ISS, ID_TOKEN, JWT, JWT_CLIENT, ciClaims, corpClaims, withJwtIssuers } from "../support/jwt-fixtures.js";
import { parseConfig } from "../../src/config/load.js";
import { baseConfig } from "../support/harness.js";

const secret = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
/** A second bridge client, whose own id at the corporate IdP is "app-b". */
const OTHER = { id: "other-app", secret: "other-app-secret" };
/** A client that lists nothing at the corporate IdP. */
const UNLISTED = { id: "unlisted", secret: "unlisted-secret" };
const WORKLOAD = "repo:acme/payments:ref:refs/heads/main";

function patch(c: Record<string, any>, over: { corp?: Record<string, unknown>; ci?: Record<string, unknown> } = {}): void {
  withJwtIssuers(c);
  Object.assign(c.jwtIssuers[0], over.corp ?? {});
  Object.assign(c.jwtIssuers[1], { actorBinding: "sub", ...(over.ci ?? {}) });
  const a = c.clients.find((x: { id: string }) => x.id === JWT_CLIENT.id);
  a.actorTokenTypes = [ID_TOKEN, JWT];
  a.issuerParties = { corp: ["app-a", "app-a-batch"], ci: [WORKLOAD] };
  const common = { audiences: [API], defaultAudience: API, scopes: ["read"], subjectTokenTypes: [ID_TOKEN, JWT], actorTokenTypes: [ID_TOKEN, JWT], idps: ["corp", "ci"] };
  c.clients.push(
    { id: OTHER.id, secretHash: secret(OTHER.secret), ...common, issuerParties: { corp: ["app-b"] } },
    { id: UNLISTED.id, secretHash: secret(UNLISTED.secret), ...common },
  );
}

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({ patch: (c) => patch(c) });
});
afterAll(() => bridge.close());

const corpSpec = (b: TestBridge, over: Record<string, unknown>, typ?: string): PySignSpec =>
  ({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1", ...(typ ? { typ } : {}) }, claims: corpClaims(b.clock.now, over) });
/** The user (subject) and an actor token from the corporate IdP naming `party` claims. */
function tokens(b: TestBridge, actorClaims: Record<string, unknown>, subjectClaims: Record<string, unknown> = {}): { subject: string; actor: string } {
  const [subject, actor] = pySignMany([corpSpec(b, subjectClaims), corpSpec(b, { sub: "svc-batch", ...actorClaims })]);
  return { subject: subject!, actor: actor! };
}
function send(b: TestBridge, t: { subject: string; actor?: string }, o: { client?: { id: string; secret: string }; actorType?: string; subjectType?: string } = {}) {
  return exchange(b, {
    rawToken: t.subject, tokenType: o.subjectType ?? ID_TOKEN, client: o.client ?? JWT_CLIENT, scope: "read",
    ...(t.actor ? { extra: { actor_token: t.actor, actor_token_type: o.actorType ?? ID_TOKEN } } : {}),
  });
}

describe("actor tokens from a trusted issuer (actorBinding azp, the default)", () => {
  it("control: an actor token naming one of the caller's own ids (azp or client_id) is accepted", async () => {
    for (const party of [{ azp: "app-a" }, { client_id: "app-a-batch" }, { azp: "app-a", client_id: "app-a" }]) {
      const res = await send(bridge, tokens(bridge, party));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(decodeJwt(res.body.access_token).payload.act).toEqual({ sub: "svc-batch", iss: CORP_ISS });
    }
  });

  it("azp naming another bridge client's id: actor_client_mismatch", async () => {
    expectError(await send(bridge, tokens(bridge, { azp: "app-b" })), 400, "invalid_request", "actor_client_mismatch");
  });

  it("client_id naming another party (listed for another client, or for nobody): actor_client_mismatch", async () => {
    for (const id of ["app-b", "someone-else", "APP-A", "app-a "]) {
      expectError(await send(bridge, tokens(bridge, { client_id: id })), 400, "invalid_request", "actor_client_mismatch");
    }
  });

  it("the other client presenting a token issued to the first: actor_client_mismatch (and vice versa it works)", async () => {
    expectError(await send(bridge, tokens(bridge, { azp: "app-a" }), { client: OTHER }), 400, "invalid_request", "actor_client_mismatch");
    expect((await send(bridge, tokens(bridge, { azp: "app-b" }), { client: OTHER })).status).toBe(200);
  });

  it("a client that lists no id at the issuer can present no actor token from it", async () => {
    expectError(await send(bridge, tokens(bridge, { azp: "app-a" }), { client: UNLISTED }), 400, "invalid_request", "actor_client_mismatch");
  });

  it("azp and client_id both present and disagreeing: client_claim_invalid (which party would it be?)", async () => {
    expectError(await send(bridge, tokens(bridge, { azp: "app-a", client_id: "app-b" })), 400, "invalid_request", "client_claim_invalid");
    expectError(await send(bridge, tokens(bridge, { azp: "app-b", client_id: "app-a" })), 400, "invalid_request", "client_claim_invalid");
  });

  it("array-valued, empty, numeric or null azp / client_id: client_claim_invalid", async () => {
    for (const party of [{ azp: ["app-a"] }, { client_id: ["app-a", "app-b"] }, { azp: "" }, { client_id: 7 }, { azp: null }, { client_id: { id: "app-a" } }]) {
      expectError(await send(bridge, tokens(bridge, party)), 400, "invalid_request", "client_claim_invalid");
    }
  });

  it("no azp and no client_id: actor_client_missing (fail closed)", async () => {
    expectError(await send(bridge, tokens(bridge, {})), 400, "invalid_request", "actor_client_missing");
  });

  it("the same rules for actor_token_type jwt as for id_token", async () => {
    expect((await send(bridge, tokens(bridge, { client_id: "app-a" }), { actorType: JWT })).status).toBe(200);
    expectError(await send(bridge, tokens(bridge, { client_id: "app-b" }), { actorType: JWT }), 400, "invalid_request", "actor_client_mismatch");
    expectError(await send(bridge, tokens(bridge, {}), { actorType: JWT }), 400, "invalid_request", "actor_client_missing");
    expectError(await send(bridge, tokens(bridge, { azp: ["app-a"] }), { actorType: JWT }), 400, "invalid_request", "client_claim_invalid");
  });

  it("a refused actor does not burn a one-time subject token", async () => {
    const [ci] = pySignMany([{ key: JWT_KEYS.ci, alg: "ES256", header: { kid: "ci-es-1" }, claims: ciClaims(bridge.clock.now) }]);
    const actor = tokens(bridge, { azp: "app-b" }).actor;
    expectError(await exchange(bridge, { rawToken: ci!, tokenType: JWT, client: JWT_CLIENT, scope: "deploy", extra: { actor_token: actor, actor_token_type: ID_TOKEN } }),
      400, "invalid_request", "actor_client_mismatch");
    expect((await exchange(bridge, { rawToken: ci!, tokenType: JWT, client: JWT_CLIENT, scope: "deploy" })).status).toBe(200);
  });
});

describe("workload issuers (actorBinding sub): the actor's sub must be one of the caller's", () => {
  const ciActor = (b: TestBridge, over: Record<string, unknown> = {}) =>
    pySignMany([{ key: JWT_KEYS.ci, alg: "ES256", header: { kid: "ci-es-1" }, claims: ciClaims(b.clock.now, over) }])[0]!;

  it("a listed workload acts; another repository, another branch, or another client's id does not", async () => {
    const subject = tokens(bridge, {}).subject;
    const ok = await send(bridge, { subject, actor: ciActor(bridge) }, { actorType: JWT });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(decodeJwt(ok.body.access_token).payload.act).toEqual({ sub: WORKLOAD, iss: CI_ISS });
    for (const over of [{ sub: "repo:acme/forked:ref:refs/heads/main" }, { sub: "repo:acme/payments:ref:refs/heads/dev" }, { client_id: "app-b" }]) {
      expectError(await send(bridge, { subject: tokens(bridge, {}).subject, actor: ciActor(bridge, over) }, { actorType: JWT }), 400, "invalid_request", "actor_client_mismatch");
    }
    expectError(await send(bridge, { subject: tokens(bridge, {}).subject, actor: ciActor(bridge) }, { actorType: JWT, client: OTHER }), 400, "invalid_request", "actor_client_mismatch");
  });
});

describe("actorBinding none: the explicit, permissive opt-in", () => {
  it("accepts an actor token naming any party, or none", async () => {
    const b = await startBridge({ patch: (c) => patch(c, { corp: { actorBinding: "none" } }) });
    try {
      for (const party of [{ azp: "app-b" }, {}, { client_id: ["x"] }]) {
        const res = await send(b, tokens(b, party), { client: UNLISTED });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      }
    } finally {
      await b.close();
    }
  });
});

describe("subject tokens (bindSubjectTokens)", () => {
  it("off (the default): a subject token naming another party is exchanged as before", async () => {
    expect((await send(bridge, { subject: tokens(bridge, {}, { azp: "app-b" }).subject })).status).toBe(200);
  });

  it("on: a subject token naming a party must name one of the caller's; one naming none is accepted", async () => {
    const b = await startBridge({ patch: (c) => patch(c, { corp: { bindSubjectTokens: true } }) });
    try {
      const subject = (over: Record<string, unknown>) => tokens(b, {}, over).subject;
      expect((await send(b, { subject: subject({ azp: "app-a" }) })).status).toBe(200);
      expect((await send(b, { subject: subject({}) })).status).toBe(200);
      expectError(await send(b, { subject: subject({ azp: "app-b" }) }), 400, "invalid_request", "subject_client_mismatch");
      expectError(await send(b, { subject: subject({ client_id: "app-b" }) }, { subjectType: JWT }), 400, "invalid_request", "subject_client_mismatch");
      expectError(await send(b, { subject: subject({ azp: "app-a" }) }, { client: OTHER }), 400, "invalid_request", "subject_client_mismatch");
      expectError(await send(b, { subject: subject({ azp: ["app-a"] }) }), 400, "invalid_request", "client_claim_invalid");
      expectError(await send(b, { subject: subject({ azp: "app-a", client_id: "app-b" }) }), 400, "invalid_request", "client_claim_invalid");
    } finally {
      await b.close();
    }
  });
});

describe("configuration", () => {
  const withParties = (parties: Record<string, unknown>, idps?: string[]): Record<string, any> => {
    const c = baseConfig();
    withJwtIssuers(c);
    const a = c.clients.find((x: { id: string }) => x.id === JWT_CLIENT.id);
    a.issuerParties = parties;
    if (idps) a.idps = idps;
    return c;
  };
  const issues = parseIssues;

  it("issuerParties must name a configured JWT issuer that is in the client's idps", () => {
    expect(issues(withParties({ corp: ["app-a"] }))).toEqual([]);
    expect(issues(withParties({ nope: ["app-a"] }))).toEqual(['clients[4].issuerParties.nope: unknown JWT issuer "nope"']);
    expect(issues(withParties({ corp: ["app-a"] }, ["ci"]))).toEqual(['clients[4].issuerParties.corp: "corp" is not in this client\'s idps']);
    expect(issues(withParties({ idp1: ["x"] }))).toEqual(['clients[4].issuerParties.idp1: unknown JWT issuer "idp1"']);
    expect(issues(withParties({ corp: [] }))[0]).toMatch(/^clients\[4\]\.issuerParties\.corp/);
    expect(issues(withParties({ corp: "app-a" }))[0]).toMatch(/^clients\[4\]\.issuerParties\.corp/);
  });

  it("actorBinding defaults to azp (fail closed) and takes only azp, sub or none", () => {
    const c = baseConfig();
    withJwtIssuers(c);
    expect(parseConfig(c).jwtIssuers.map((j) => j.actorBinding)).toEqual(["azp", "azp"]);
    expect(parseConfig(c).jwtIssuers.map((j) => j.bindSubjectTokens)).toEqual([false, false]);
    c.jwtIssuers[0].actorBinding = "permissive";
    expect(issues(c)[0]).toMatch(/^jwtIssuers\[0\]\.actorBinding/);
  });
});
