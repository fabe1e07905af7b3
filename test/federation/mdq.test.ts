/**
 * MDQ sources end to end (draft-young-md-query): a local HTTP responder in the test, the bridge's
 * real HTTP app, entity metadata signed by xmlsec1 with the TEST-ONLY operator key, assertions
 * signed by xmlsec1 with the entity's key. Per-entity cache, negative cache, timeouts, a responder
 * down, the wrong entity, unsigned and tampered answers, selection.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP2_CERT } from "../support/constants.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { FED_SIGNER_OTHER, RA_HOME, RA_OTHER, entityXml, signDocument, type EntitySpec } from "./support.js";

const FED_CLIENT = { id: "fedc", secret: "fedc-secret" };
const FED_API = "https://fed-api.example.com";
const A = "https://uni-a.test/idp";
const B = "https://uni-b.test/idp";
const OTHER_RA = "https://uni-other.test/idp";
const SPECS: Record<string, EntitySpec> = {
  [A]: { entityId: A, cert: IDP2_CERT, registrationAuthority: RA_HOME },
  [B]: { entityId: B, cert: IDP1_CERT, registrationAuthority: RA_HOME },
  [OTHER_RA]: { entityId: OTHER_RA, cert: IDP2_CERT, registrationAuthority: RA_OTHER },
};

/** A signed MDQ answer for one entity: an EntityDescriptor with validUntil (and cacheDuration). */
function entityDocument(spec: EntitySpec, o: { validUntil?: Date; cacheDuration?: string; key?: { key: string; cert: string } } = {}): string {
  const id = `_e${createHash("sha256").update(spec.entityId).digest("hex").slice(0, 12)}`;
  const vu = (o.validUntil ?? new Date(Date.now() + 7 * 86_400_000)).toISOString();
  const xml = entityXml(spec, { id, rootNs: true }).replace(` ID="${id}"`, ` ID="${id}" validUntil="${vu}"${o.cacheDuration ? ` cacheDuration="${o.cacheDuration}"` : ""}`);
  return signDocument(xml, o.key);
}

type Handler = (req: IncomingMessage, res: ServerResponse, entityId: string) => void;

interface Responder {
  baseUrl: string;
  requests: { path: string; accept: string | undefined }[];
  handler: Handler;
}

const servers: Server[] = [];
const bridges: TestBridge[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const serveSigned: Handler = (_req, res, entityId) => {
  const spec = SPECS[entityId];
  if (!spec) return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": "application/samlmetadata+xml" }).end(entityDocument(spec));
};

async function responder(handler: Handler = serveSigned, sha1 = false): Promise<Responder> {
  const r: Responder = { baseUrl: "", requests: [], handler };
  const server = createServer((req, res) => {
    r.requests.push({ path: req.url ?? "", accept: req.headers.accept });
    const m = /^\/mdq\/entities\/(.+)$/.exec(req.url ?? "");
    if (!m) return void res.writeHead(400).end();
    const id = decodeURIComponent(m[1]!);
    const entityId = sha1 ? Object.keys(SPECS).find((e) => `{sha1}${createHash("sha1").update(e).digest("hex")}` === id) ?? id : id;
    r.handler(req, res, entityId);
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  r.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mdq`;
  return r;
}

async function mdqBridge(baseUrl: string, extra: Record<string, unknown> = {}, source: Record<string, unknown> = {}): Promise<TestBridge> {
  const bridge = await startBridge({
    patch: (c) => {
      c.samlFederations = [{
        id: "fed", source: { kind: "mdq", baseUrl, ...source }, allowLoopbackHttp: true, fetchTimeoutMs: 5_000, // generous: a loaded CI machine; the slow-responder test sets its own
        signingCertFiles: ["federation/fed-signer.crt"], select: { registrationAuthorities: [RA_HOME] },
        mapping: { subjectPrefix: "fed:", scopes: [{ grant: ["read"] }] },
        ...extra,
      }];
      c.audiences.push({ id: FED_API, scopes: ["read"], defaultScopes: ["read"] });
      c.clients.push({
        id: FED_CLIENT.id, secretHash: `sha256:${createHash("sha256").update(FED_CLIENT.secret).digest("base64url")}`,
        audiences: [FED_API], defaultAudience: FED_API, scopes: ["read"], idps: ["fed"],
      });
    },
  });
  bridges.push(bridge);
  return bridge;
}

let n = 0;
function assertionFrom(bridge: TestBridge, issuer: string, key = KEYS.idp2): string {
  const id = `_mdq${process.pid}_${++n}`;
  return signWithXmlsec1(buildAssertion2({ id, issuer, nameId: "bob@uni.test", now: new Date(bridge.clock.now) }), id, { key });
}
const send = (bridge: TestBridge, xml: string) => exchange(bridge, { xml, client: FED_CLIENT });

describe("MDQ", () => {
  it("fetches the claimed entity once, verifies it, caches it, and the assertion exchanges end to end", async () => {
    const r = await responder();
    const bridge = await mdqBridge(r.baseUrl);
    const res = await send(bridge, assertionFrom(bridge, A));
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.sub).toBe(`fed:${A}!bob@uni.test`);
    expect(r.requests).toEqual([{ path: `/mdq/entities/${encodeURIComponent(A)}`, accept: "application/samlmetadata+xml" }]);
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    expect(r.requests).toHaveLength(1);
    // Trust still comes from the metadata: the right entity with the wrong key fails.
    expectError(await send(bridge, assertionFrom(bridge, A, KEYS.idp1)), 400, "invalid_request", "signature_invalid");
  });

  it("names entities by {sha1} when configured", async () => {
    const r = await responder(serveSigned, true);
    const bridge = await mdqBridge(r.baseUrl, {}, { identifier: "sha1" });
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    expect(r.requests[0]!.path).toBe(`/mdq/entities/${encodeURIComponent(`{sha1}${createHash("sha1").update(A).digest("hex")}`)}`);
  });

  it("a 404 is an unknown issuer, remembered for negativeCacheSeconds", async () => {
    const r = await responder();
    const bridge = await mdqBridge(r.baseUrl, {}, { negativeCacheSeconds: 60 });
    const ghost = "https://ghost.test/idp";
    expectError(await send(bridge, assertionFrom(bridge, ghost)), 400, "invalid_request", "issuer_unknown");
    expectError(await send(bridge, assertionFrom(bridge, ghost)), 400, "invalid_request", "issuer_unknown");
    expect(r.requests).toHaveLength(1);
    bridge.clock.advance(61_000);
    expectError(await send(bridge, assertionFrom(bridge, ghost)), 400, "invalid_request", "issuer_unknown");
    expect(r.requests).toHaveLength(2);
  });

  it("an entity that is not selected (another registration authority) is an unknown issuer, also remembered", async () => {
    const r = await responder();
    const bridge = await mdqBridge(r.baseUrl);
    expectError(await send(bridge, assertionFrom(bridge, OTHER_RA)), 400, "invalid_request", "issuer_unknown");
    expectError(await send(bridge, assertionFrom(bridge, OTHER_RA)), 400, "invalid_request", "issuer_unknown");
    expect(r.requests).toHaveLength(1);
  });

  it("an entityID outside the selection's patterns is never asked for", async () => {
    const r = await responder();
    const bridge = await mdqBridge(r.baseUrl, { select: { entityIdPatterns: ["https://uni-b.test/*"] } });
    expectError(await send(bridge, assertionFrom(bridge, A)), 400, "invalid_request", "issuer_unknown");
    expect(r.requests).toHaveLength(0);
    expect((await send(bridge, assertionFrom(bridge, B, KEYS.idp1))).status).toBe(200);
    expect(r.requests).toHaveLength(1);
  });

  it("a slow responder times out: idp_metadata_unavailable (503)", async () => {
    const r = await responder((_req, res, entityId) => {
      setTimeout(() => serveSigned(_req, res, entityId), 10_000).unref();
    });
    const bridge = await mdqBridge(r.baseUrl, { fetchTimeoutMs: 300 });
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === "fetch_timeout")).toBe(true);
  });

  it("a responder that is down: idp_metadata_unavailable (503)", async () => {
    const r = await responder();
    const down = r.baseUrl;
    await new Promise((ok) => servers.pop()!.close(ok));
    const bridge = await mdqBridge(down);
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === "fetch_connection_refused")).toBe(true);
  });

  it("refuses an answer about another entity, even one signed by the pinned key", async () => {
    const r = await responder((req, res) => serveSigned(req, res, B));
    const bridge = await mdqBridge(r.baseUrl);
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === "metadata_wrong_entity")).toBe(true);
    // Nothing was cached for A: the failure is remembered for failureCooldownSeconds, and refused again.
    expectError(await send(bridge, assertionFrom(bridge, A, KEYS.idp1)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
  });

  it("refuses unsigned, tampered, wrongly signed and expired answers", async () => {
    const cases: [string, () => string][] = [
      ["metadata_signature_missing", () => entityXml(SPECS[A]!, { id: "_u", rootNs: true }).replace(' ID="_u"', ` ID="_u" validUntil="${new Date(Date.now() + 86_400_000).toISOString()}"`)],
      ["metadata_signature_invalid", () => entityDocument(SPECS[A]!).replace(RA_HOME, RA_HOME + "/x")],
      ["metadata_signature_invalid", () => entityDocument(SPECS[A]!, { key: FED_SIGNER_OTHER })],
      ["metadata_expired", () => entityDocument(SPECS[A]!, { validUntil: new Date(Date.now() - 1000) })],
      ["metadata_malformed", () => "<md:EntityDescriptor"],
    ];
    for (const [problem, body] of cases) {
      const r = await responder((_req, res) => res.writeHead(200).end(body()));
      const bridge = await mdqBridge(r.baseUrl);
      expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
      expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === problem), problem).toBe(true);
    }
  });

  it("caches by cacheDuration within the bounds; a failed refresh keeps the entity until its validUntil", async () => {
    const validUntil = new Date(Date.now() + 3_600_000);
    let up = true;
    const r = await responder((_req, res, entityId) => {
      if (!up) return void res.writeHead(500).end();
      res.writeHead(200).end(entityDocument(SPECS[entityId]!, { cacheDuration: "PT10M", validUntil }));
    });
    const bridge = await mdqBridge(r.baseUrl, { minRefreshSeconds: 60, maxRefreshSeconds: 3600 });
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    bridge.clock.advance(9 * 60_000);
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    expect(r.requests).toHaveLength(1);
    bridge.clock.advance(2 * 60_000);
    up = false;
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    expect(r.requests).toHaveLength(2);
    expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === "http_500")).toBe(true);
    bridge.clock.advance(3_600_000);
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
  });

  it("a local IdP is never looked up over MDQ, and a malformed token asks nothing", async () => {
    const r = await responder();
    const bridge = await mdqBridge(r.baseUrl);
    const res = await exchange(bridge, { xml: signWithXmlsec1(buildAssertion2({ id: "_local1", now: new Date(bridge.clock.now) }), "_local1", { key: KEYS.idp1 }) });
    expect(res.status).toBe(200);
    expectError(await send(bridge, "<not-saml/>"), 400, "invalid_request", "saml_shape_invalid");
    expect(r.requests).toHaveLength(0);
  });

  it("concurrent exchanges for one entity share one request; past maxConcurrentFetches an uncached entity is 503", async () => {
    const r = await responder((req, res, entityId) => {
      setTimeout(() => serveSigned(req, res, entityId), 3_000).unref();
    });
    const bridge = await mdqBridge(r.baseUrl, { fetchTimeoutMs: 20_000 }, { maxConcurrentFetches: 1 });
    const [one, two, other] = await Promise.all([
      send(bridge, assertionFrom(bridge, A)),
      send(bridge, assertionFrom(bridge, A)),
      // B is asked for while A's request is in flight: refused rather than queued.
      new Promise((ok) => setTimeout(ok, 300)).then(() => send(bridge, assertionFrom(bridge, B, KEYS.idp1))),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    expectError(other, 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(r.requests.map((q) => q.path)).toEqual([`/mdq/entities/${encodeURIComponent(A)}`]);
    expect((await send(bridge, assertionFrom(bridge, B, KEYS.idp1))).status).toBe(200);
  });

  it("the Issuer of a samlp:Response chooses the entity too", async () => {
    const r = await responder();
    const bridge = await mdqBridge(r.baseUrl, {}, {});
    const id = `_mdqr${++n}`;
    const assertion = signWithXmlsec1(buildAssertion2({ id, issuer: A, nameId: "dave", now: new Date(bridge.clock.now) }), id, { key: KEYS.idp2 });
    const response = buildResponse2(assertion, { issuer: A, now: new Date(bridge.clock.now) });
    expect((await send(bridge, response)).status).toBe(200);
    expect(r.requests).toHaveLength(1);
  });

  it("https is required for the base URL; loopback http only with allowLoopbackHttp", async () => {
    await expect(mdqBridge("http://mdq.example.org/mdq")).rejects.toThrow(/https required/);
    await expect(mdqBridge("http://127.0.0.1:9/mdq", { allowLoopbackHttp: false })).rejects.toThrow(/allowLoopbackHttp/);
    // /entities/{id} is appended: a query, a fragment or credentials in the base are refused with the field's path.
    for (const [base, why] of [
      ["https://mdq.example.org/mdq?tenant=a", /samlFederations\[0\]\.source\.baseUrl.*no query/s],
      ["https://mdq.example.org/mdq?", /samlFederations\[0\]\.source\.baseUrl.*no query/s],
      ["https://mdq.example.org/mdq#x", /samlFederations\[0\]\.source\.baseUrl.*no fragment/s],
      ["https://user:pw@mdq.example.org/mdq", /samlFederations\[0\]\.source\.baseUrl.*no credentials/s],
    ] as const) {
      await expect(mdqBridge(base), base).rejects.toThrow(why);
    }
  });
});
