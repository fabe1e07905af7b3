/**
 * Review of the MDQ source (issue 13), as an attacker with a client's credentials: what one
 * authenticated client can make the bridge do with Issuer names it invents.
 *
 *  - a failing responder is asked at most once per failureCooldownSeconds for one entity, however
 *    many exchanges claim it, and the answer meanwhile is the failure's (503);
 *  - 10,000 distinct unknown or failing Issuers keep both caches bounded, and do not push trusted
 *    entities out;
 *  - "." and ".." (dot segments once in the URL: {base}/entities/ is the responder's whole
 *    aggregate) are never asked for;
 *  - an answer holding more than one EntityDescriptor is refused before its signature is checked.
 *
 * Real HTTP app and a local node:http responder, entity metadata signed by xmlsec1 with the
 * TEST-ONLY operator key (support.ts), assertions signed by xmlsec1.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP2_CERT } from "../support/constants.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { RA_HOME, entityXml, signDocument, type EntitySpec } from "./support.js";

const FED_CLIENT = { id: "fedr", secret: "fedr-secret" };
const FED_API = "https://fed-review-api.example.com";
const A = "https://uni-a.review.test/idp";
const B = "https://uni-b.review.test/idp";
const SPECS: Record<string, EntitySpec> = {
  [A]: { entityId: A, cert: IDP2_CERT, registrationAuthority: RA_HOME },
  [B]: { entityId: B, cert: IDP1_CERT, registrationAuthority: RA_HOME },
};

function entityDocument(spec: EntitySpec): string {
  const id = `_r${createHash("sha256").update(spec.entityId).digest("hex").slice(0, 12)}`;
  const vu = new Date(Date.now() + 7 * 86_400_000).toISOString();
  return signDocument(entityXml(spec, { id, rootNs: true }).replace(` ID="${id}"`, ` ID="${id}" validUntil="${vu}"`));
}

type Handler = (req: IncomingMessage, res: ServerResponse, entityId: string) => void;
interface Responder { baseUrl: string; paths: string[]; handler: Handler }

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

async function responder(handler: Handler): Promise<Responder> {
  const r: Responder = { baseUrl: "", paths: [], handler };
  const server = createServer((req, res) => {
    r.paths.push(req.url ?? "");
    const m = /^\/mdq\/entities\/(.+)$/.exec(req.url ?? "");
    r.handler(req, res, m ? decodeURIComponent(m[1]!) : "");
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  r.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mdq`;
  return r;
}

async function mdqBridge(
  baseUrl: string, source: Record<string, unknown> = {},
  o: { metadataFetch?: typeof globalThis.fetch; select?: Record<string, unknown>; federation?: Record<string, unknown> } = {},
): Promise<TestBridge> {
  const bridge = await startBridge({
    ...(o.metadataFetch ? { metadataFetch: o.metadataFetch } : {}),
    patch: (c) => {
      c.samlFederations = [{
        id: "fedrev", source: { kind: "mdq", baseUrl, ...source }, allowLoopbackHttp: true, fetchTimeoutMs: 5_000,
        signingCertFiles: ["federation/fed-signer.crt"], select: o.select ?? { registrationAuthorities: [RA_HOME] },
        mapping: { subjectPrefix: "fedrev:", scopes: [{ grant: ["read"] }] },
        ...o.federation,
      }];
      c.audiences.push({ id: FED_API, scopes: ["read"], defaultScopes: ["read"] });
      c.clients.push({
        id: FED_CLIENT.id, secretHash: `sha256:${createHash("sha256").update(FED_CLIENT.secret).digest("base64url")}`,
        audiences: [FED_API], defaultAudience: FED_API, scopes: ["read"], idps: ["fedrev"],
      });
    },
  });
  bridges.push(bridge);
  return bridge;
}

let n = 0;
function assertionFrom(bridge: TestBridge, issuer: string, key = KEYS.idp2): string {
  const id = `_rmdq${process.pid}_${++n}`;
  return signWithXmlsec1(buildAssertion2({ id, issuer, nameId: "bob@uni.test", now: new Date(bridge.clock.now) }), id, { key });
}
const send = (bridge: TestBridge, xml: string) => exchange(bridge, { xml, client: FED_CLIENT });

describe("MDQ failure cooldown", () => {
  it("a failing responder is asked once per cooldown, however many exchanges claim the entity; the answer meanwhile is 503", async () => {
    let up = false;
    const r = await responder((req, res, entityId) => (up ? serveSigned(req, res, entityId) : void res.writeHead(500).end()));
    const bridge = await mdqBridge(r.baseUrl, { failureCooldownSeconds: 30 });
    const token = assertionFrom(bridge, A);
    for (let i = 0; i < 8; i++) {
      expectError(await send(bridge, token), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    }
    expect(r.paths).toHaveLength(1);
    expect(bridge.logs.filter((l) => l.event === "federation_mdq_failed")).toHaveLength(1);
    // Up again, but still within the cooldown: the remembered failure answers, nothing is asked.
    up = true;
    bridge.clock.advance(29_000);
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(r.paths).toHaveLength(1);
    bridge.clock.advance(1_000);
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    expect(r.paths).toHaveLength(2);
  });

  it("the cooldown also covers answers that do not verify (another entity, signed correctly), per entity", async () => {
    const r = await responder((req, res) => serveSigned(req, res, B));
    const bridge = await mdqBridge(r.baseUrl, { failureCooldownSeconds: 30 });
    for (let i = 0; i < 4; i++) {
      expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    }
    expect(r.paths).toEqual([`/mdq/entities/${encodeURIComponent(A)}`]);
    // Another entity's cooldown is its own: B is asked for (and the answer is B: 200).
    expect((await send(bridge, assertionFrom(bridge, B, KEYS.idp1))).status).toBe(200);
    expect(r.paths).toHaveLength(2);
  });

  it("a cached entity past its cacheDuration whose refresh fails is served from cache, and the responder asked once per cooldown", async () => {
    let up = true;
    const r = await responder((req, res, entityId) => (up ? serveSigned(req, res, entityId) : void res.writeHead(503).end()));
    const bridge = await mdqBridge(r.baseUrl, { failureCooldownSeconds: 60 });
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    up = false;
    // No cacheDuration: stale after maxRefreshSeconds (default 6 h), valid for 7 days.
    bridge.clock.advance(6 * 3_600_000 + 1_000);
    for (let i = 0; i < 4; i++) expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    expect(r.paths).toHaveLength(2);
  });

  it("failureCooldownSeconds: 0 asks on every exchange (the previous behaviour, explicit)", async () => {
    const r = await responder((_req, res) => void res.writeHead(500).end());
    const bridge = await mdqBridge(r.baseUrl, { failureCooldownSeconds: 0 });
    for (let i = 0; i < 3; i++) {
      expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    }
    expect(r.paths).toHaveLength(3);
  });

  it("a bad failureCooldownSeconds stops start-up with its path", async () => {
    await expect(mdqBridge("http://127.0.0.1:9/mdq", { failureCooldownSeconds: -1 })).rejects.toThrow(/samlFederations\[0\]\.source\.failureCooldownSeconds/);
    await expect(mdqBridge("http://127.0.0.1:9/mdq", { failureCooldownSeconds: 86_400 })).rejects.toThrow(/failureCooldownSeconds/);
  });
});

describe("MDQ cache bounds", () => {
  it("10,000 distinct unknown Issuers (404) keep the negative cache bounded, and trusted entities stay cached", async () => {
    const asked: string[] = [];
    const metadataFetch = (async (url: string | URL | Request) => {
      const u = String(url);
      asked.push(u);
      const id = decodeURIComponent(u.slice(u.indexOf("/entities/") + "/entities/".length));
      const spec = SPECS[id];
      return spec ? new Response(entityDocument(spec), { status: 200 }) : new Response(null, { status: 404 });
    }) as typeof globalThis.fetch;
    const bridge = await mdqBridge("https://mdq.review.test/mdq", { maxCacheEntries: 100 }, { metadataFetch });
    const mdq = bridge.federations.mdq[0]!;
    const now = bridge.clock.now;
    await mdq.prefetch(A, now);
    expect(mdq.byEntityId(A)).toBeDefined();
    for (let i = 0; i < 10_000; i++) await mdq.prefetch(`https://ghost${i}.review.test/idp`, now);
    expect(asked).toHaveLength(10_001);
    expect(mdq.absentSize()).toBe(100);
    expect(mdq.cacheSize()).toBe(1);
    // The flood did not evict the trusted entity: no new request, and it still exchanges.
    await mdq.prefetch(A, now);
    expect(asked).toHaveLength(10_001);
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    // The most recent negative entries are still remembered (no second request for them).
    await mdq.prefetch("https://ghost9999.review.test/idp", now);
    expect(asked).toHaveLength(10_001);
  });

  it("10,000 distinct failing Issuers keep the failure entries bounded too", async () => {
    let calls = 0;
    const metadataFetch = (async () => {
      calls++;
      return new Response("nope", { status: 500 });
    }) as typeof globalThis.fetch;
    const bridge = await mdqBridge("https://mdq.review.test/mdq", { maxCacheEntries: 50 }, { metadataFetch });
    const mdq = bridge.federations.mdq[0]!;
    for (let i = 0; i < 10_000; i++) {
      await expect(mdq.prefetch(`https://broken${i}.review.test/idp`, bridge.clock.now)).rejects.toMatchObject({ reason: "idp_metadata_unavailable" });
    }
    expect(calls).toBe(10_000);
    expect(mdq.absentSize()).toBe(50);
    expect(mdq.cacheSize()).toBe(0);
    // The last failures are still in their cooldown: answered without a request.
    await expect(mdq.prefetch("https://broken9999.review.test/idp", bridge.clock.now)).rejects.toMatchObject({ reason: "idp_metadata_unavailable" });
    expect(calls).toBe(10_000);
  });
});

describe("MDQ response bounds", () => {
  it("a body that trickles past fetchTimeoutMs is a timeout (the bound covers the body, not only the headers)", async () => {
    const r = await responder((_req, res) => {
      res.writeHead(200, { "content-type": "application/samlmetadata+xml" });
      res.write("<md:EntityDescriptor");
      // never ends
    });
    const bridge = await mdqBridge(r.baseUrl, {}, { federation: { fetchTimeoutMs: 300 } });
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === "fetch_timeout")).toBe(true);
  });

  it("a chunked body (no Content-Length) past maxBytes is cut off as it arrives; a redirect is not followed", async () => {
    let redirect = false;
    const r = await responder((_req, res) => {
      if (redirect) return void res.writeHead(302, { location: `${r.baseUrl}/entities/x` }).end();
      res.writeHead(200, { "content-type": "application/samlmetadata+xml" });
      const chunk = "<!-- padding -->".repeat(512);
      for (let i = 0; i < 16; i++) res.write(chunk);
      res.end();
    });
    const bridge = await mdqBridge(r.baseUrl, { failureCooldownSeconds: 0 }, { federation: { maxBytes: 16_384 } });
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === "metadata_too_large")).toBe(true);
    redirect = true;
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(r.paths.filter((p) => p === "/mdq/entities/x")).toEqual([]);
  });
});

describe("the unverified Issuer only chooses what to fetch", () => {
  it("a Response naming one cached entity around an assertion of another is refused; neither entity's keys verify the other's claim", async () => {
    const r = await responder(serveSigned);
    const bridge = await mdqBridge(r.baseUrl);
    // Both entities fetched and cached (both trusted).
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
    expect((await send(bridge, assertionFrom(bridge, B, KEYS.idp1))).status).toBe(200);
    // B's assertion, signed by B, inside a Response that claims A: the Response Issuer must be the assertion's.
    const id = `_rmix${++n}`;
    const assertion = signWithXmlsec1(buildAssertion2({ id, issuer: B, nameId: "eve", now: new Date(bridge.clock.now) }), id, { key: KEYS.idp1 });
    expectError(await send(bridge, buildResponse2(assertion, { issuer: A, now: new Date(bridge.clock.now) })), 400, "invalid_request", "issuer_mismatch");
    // An assertion claiming A signed with B's key: A's keys only.
    expectError(await send(bridge, assertionFrom(bridge, A, KEYS.idp1)), 400, "invalid_request", "signature_invalid");
    expect(r.paths).toHaveLength(2);
  });
});

describe("MDQ request URL", () => {
  it("never asks for the dot segments '.' and '..' (which would name {base}/entities/ and {base}/)", async () => {
    const r = await responder(serveSigned);
    const bridge = await mdqBridge(r.baseUrl, {}, { select: { all: true } });
    for (const dot of [".", ".."]) {
      expectError(await send(bridge, assertionFrom(bridge, dot)), 400, "invalid_request", "issuer_unknown");
    }
    expect(r.paths).toEqual([]);
    // Path-looking entityIDs stay one encoded segment under /entities/.
    const mdq = bridge.federations.mdq[0]!;
    expect(mdq.entityPath("../../admin")).toBe(`${r.baseUrl}/entities/..%2F..%2Fadmin`);
    expect(mdq.entityPath("a/./b?x=1#f")).toBe(`${r.baseUrl}/entities/a%2F.%2Fb%3Fx%3D1%23f`);
    expect(new URL(mdq.entityPath("%2e%2e")!).pathname).toBe("/mdq/entities/%252e%252e");
    await send(bridge, assertionFrom(bridge, "../../admin"));
    expect(r.paths).toEqual(["/mdq/entities/..%2F..%2Fadmin"]);
  });

  it("refuses an answer holding several EntityDescriptors (one query, one entity), even the asked one among them", async () => {
    const vu = new Date(Date.now() + 86_400_000).toISOString();
    const ns = `xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`;
    const several = signDocument(`<md:EntitiesDescriptor ${ns} ID="_several" validUntil="${vu}">${entityXml(SPECS[A]!)}${entityXml({ entityId: "https://sp.review.test/sp", cert: IDP1_CERT, sp: true })}</md:EntitiesDescriptor>`);
    const one = signDocument(`<md:EntitiesDescriptor ${ns} ID="_one" validUntil="${vu}">${entityXml(SPECS[A]!)}</md:EntitiesDescriptor>`);
    let body = several;
    const r = await responder((_req, res) => void res.writeHead(200).end(body));
    const bridge = await mdqBridge(r.baseUrl, { failureCooldownSeconds: 0 });
    expectError(await send(bridge, assertionFrom(bridge, A)), 503, "temporarily_unavailable", "idp_metadata_unavailable");
    expect(bridge.logs.some((l) => l.event === "federation_mdq_failed" && l.reason === "metadata_too_many_entities")).toBe(true);
    // An EntitiesDescriptor around the one asked entity is a valid answer (draft-young-md-query).
    body = one;
    expect((await send(bridge, assertionFrom(bridge, A))).status).toBe(200);
  });
});
