/**
 * Failed client authentications (rateLimits.failedAuthPerClientId / failedAuthPerAddress) over the
 * real POST /token and /introspect: blocking, the same answers for unknown and known client ids (no
 * oracle), window reset, and where the address comes from (server.trustProxy): X-Forwarded-For is
 * ignored unless the proxies in front are configured, then only the hops they add are skipped.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CLIENTS, expectError, type TestBridge } from "../support/harness.js";
import { expectLimited, limitedBridge, rightSecret, sleep, wrongSecret } from "./helpers.js";

const bridges: TestBridge[] = [];
afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.close()));
});
async function bridge(rateLimits: Record<string, unknown>, trustProxy?: unknown): Promise<TestBridge> {
  const b = await limitedBridge(rateLimits, (c) => {
    if (trustProxy !== undefined) c.server = { trustProxy };
  });
  bridges.push(b);
  return b;
}
const byId = (max: number, windowSeconds = 60) => ({ failedAuthPerClientId: { enabled: true, max, windowSeconds } });
const byAddress = (max: number, windowSeconds = 60) => ({ failedAuthPerAddress: { enabled: true, max, windowSeconds } });
const failed = (res: { status: number; body: any; headers: Record<string, any> }) => expectError(res, 401, "invalid_client", "client_auth_failed");
const authenticated = (res: { status: number; body: any; headers: Record<string, any> }) => expectError(res, 400, "invalid_request", "parameter_missing");

describe("failed authentications per client id", () => {
  it("blocks the id after max failures, the right secret included, until the window ends", async () => {
    const b = await bridge(byId(3, 2));
    for (let i = 0; i < 3; i++) failed(await wrongSecret(b, "c1"));
    expectLimited(await wrongSecret(b, "c1"), 2);
    const retry = expectLimited(await rightSecret(b, CLIENTS.c1), 2);
    // Other ids are not affected.
    authenticated(await rightSecret(b, CLIENTS.imp));
    await sleep(retry * 1000 + 300);
    authenticated(await rightSecret(b, CLIENTS.c1));
  });

  it("successes do not count; failures below max leave the client working", async () => {
    const b = await bridge(byId(3));
    for (let i = 0; i < 10; i++) authenticated(await rightSecret(b, CLIENTS.c1));
    failed(await wrongSecret(b, "c1"));
    failed(await wrongSecret(b, "c1"));
    for (let i = 0; i < 5; i++) authenticated(await rightSecret(b, CLIENTS.c1));
  });

  it("answers an unknown id exactly like a known one: same statuses, bodies and headers, blocked alike", async () => {
    const b = await bridge(byId(3));
    const shape = (r: { status: number; body: any; headers: Record<string, any> }) =>
      ({ status: r.status, body: r.body, retry: r.headers["retry-after"] !== undefined, auth: r.headers["www-authenticate"] });
    const known = [];
    const unknown = [];
    for (let i = 0; i < 5; i++) {
      known.push(shape(await wrongSecret(b, "c2")));
      unknown.push(shape(await wrongSecret(b, "no-such-client")));
    }
    expect(unknown).toEqual(known);
    expect(known.map((k) => k.status)).toEqual([401, 401, 401, 429, 429]);
    // Logged once each, and an unknown id is not written to the log as sent.
    const logs = b.logs.filter((l) => l.event === "rate_limited" && l.limit === "failed_auth_client");
    expect(logs.map((l) => l.client).sort()).toEqual(["(not configured)", "c2"]);
    expect(JSON.stringify(b.logs)).not.toContain("no-such-client");
  });

  it("counts client_secret_post like Basic, and protects /introspect too", async () => {
    const b = await bridge(byId(2));
    const post = (secret: string) => b.http.post("/token").type("form")
      .send(new URLSearchParams({ grant_type: "x", client_id: "c1", client_secret: secret }).toString());
    expectError(await post("nope"), 401, "invalid_client", "client_auth_failed");
    const intro = await b.http.post("/introspect").auth("c1", "nope").type("form").send("token=x");
    expectError(intro, 401, "invalid_client", "client_auth_failed");
    expectLimited(await post(CLIENTS.c1.secret), 60);
    expectLimited(await b.http.post("/introspect").auth("c1", CLIENTS.c1.secret).type("form").send("token=x"), 60);
  });
});

describe("failed authentications per remote address", () => {
  it("blocks an address that fails over many ids, for every id, while another address is unaffected", async () => {
    const b = await bridge(byAddress(3), ["loopback"]);
    const from = (ip: string) => ({ "X-Forwarded-For": ip });
    for (const id of ["a", "b", "c"]) failed(await wrongSecret(b, id, from("203.0.113.7")));
    expectLimited(await wrongSecret(b, "d", from("203.0.113.7")), 60);
    expectLimited(await rightSecret(b, CLIENTS.c1, from("203.0.113.7")), 60);
    authenticated(await rightSecret(b, CLIENTS.c1, from("203.0.113.8")));
    failed(await wrongSecret(b, "a", from("203.0.113.8")));
  });

  it("without server.trustProxy, X-Forwarded-For is ignored: rotating it does not escape the block", async () => {
    const b = await bridge(byAddress(3));
    for (let i = 0; i < 3; i++) failed(await wrongSecret(b, `id${i}`, { "X-Forwarded-For": `198.51.100.${i}` }));
    expectLimited(await wrongSecret(b, "id9", { "X-Forwarded-For": "198.51.100.99" }), 60);
    expectLimited(await rightSecret(b, CLIENTS.c1, { "X-Forwarded-For": "192.0.2.1" }), 60);
    expectLimited(await rightSecret(b, CLIENTS.c1), 60);
  });

  it("with a trusted proxy, only the proxy's own entry counts: a client-written X-Forwarded-For prefix is not", async () => {
    // The proxy (loopback here) appends the address it saw; an attacker controls everything to its left.
    const b = await bridge(byAddress(2), ["127.0.0.1/8", "::1/128"]);
    failed(await wrongSecret(b, "x", { "X-Forwarded-For": "10.9.9.1, 203.0.113.50" }));
    failed(await wrongSecret(b, "x", { "X-Forwarded-For": "10.9.9.2, 203.0.113.50" }));
    expectLimited(await wrongSecret(b, "x", { "X-Forwarded-For": "10.9.9.3, 203.0.113.50" }), 60);
    authenticated(await rightSecret(b, CLIENTS.c1, { "X-Forwarded-For": "203.0.113.51" }));
  });

  it("with a hop count, the n-th address from the right is the client's", async () => {
    const b = await bridge(byAddress(1), 2);
    // Two proxies: the outer one appended 203.0.113.60, the inner one is the TCP peer.
    failed(await wrongSecret(b, "x", { "X-Forwarded-For": "1.1.1.1, 203.0.113.60, 10.0.0.2" }));
    expectLimited(await rightSecret(b, CLIENTS.c1, { "X-Forwarded-For": "2.2.2.2, 203.0.113.60, 10.0.0.2" }), 60);
    authenticated(await rightSecret(b, CLIENTS.c1, { "X-Forwarded-For": "1.1.1.1, 203.0.113.61, 10.0.0.2" }));
  });

  it("an IPv6 /64 is one address: hopping inside it does not escape", async () => {
    const b = await bridge(byAddress(2), ["loopback"]);
    failed(await wrongSecret(b, "x", { "X-Forwarded-For": "2001:db8:1:2::1" }));
    failed(await wrongSecret(b, "x", { "X-Forwarded-For": "2001:db8:1:2:ffff::9" }));
    expectLimited(await rightSecret(b, CLIENTS.c1, { "X-Forwarded-For": "2001:db8:1:2:abcd:1:2:3" }), 60);
    authenticated(await rightSecret(b, CLIENTS.c1, { "X-Forwarded-For": "2001:db8:1:3::1" }));
  });

  it("both limits together: the per-address one stops a single guesser before the id locks", async () => {
    const b = await bridge({ ...byId(5), ...byAddress(2) }, ["loopback"]);
    failed(await wrongSecret(b, "c1", { "X-Forwarded-For": "203.0.113.70" }));
    failed(await wrongSecret(b, "c1", { "X-Forwarded-For": "203.0.113.70" }));
    expectLimited(await wrongSecret(b, "c1", { "X-Forwarded-For": "203.0.113.70" }), 60);
    // The legitimate client, elsewhere, still gets in: the id has 2 of its 5 failures.
    authenticated(await rightSecret(b, CLIENTS.c1, { "X-Forwarded-For": "198.51.100.1" }));
  });
});
