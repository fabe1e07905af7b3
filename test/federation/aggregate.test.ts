/**
 * Aggregate sources end to end: the bridge built from a config with `samlFederations`, POST /token
 * on the real HTTP app, assertions signed by xmlsec1 with the entity's key, aggregates signed by
 * xmlsec1 with the TEST-ONLY operator key. Load, refusal at load, refresh (swap, last good kept,
 * fail closed at validUntil), selection, subject namespaces.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { API, decodeJwt, exchange, expectError, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP2_CERT } from "../support/constants.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { createHash } from "node:crypto";
import { FED_SIGNER_OTHER, RA_HOME, RA_OTHER, RS, aggregateXml, signDocument, tempDir, type EntitySpec } from "./support.js";

const FED_CLIENT = { id: "fedc", secret: "fedc-secret" };
/** An audience only the federation's client reaches: idp1 (no subjectPrefix) overlaps every namespace. */
const FED_API = "https://fed-api.example.com";
const A = "https://uni-a.test/idp"; // idp2's key, home RA, R&S
const B = "https://uni-b.test/idp"; // idp1's key, other RA, R&S
const C = "https://uni-c.test/idp"; // idp2's key, home RA, no category
const ENTITIES: EntitySpec[] = [
  { entityId: A, cert: IDP2_CERT, registrationAuthority: RA_HOME, categories: [RS] },
  { entityId: B, cert: IDP1_CERT, registrationAuthority: RA_OTHER, categories: [RS] },
  { entityId: C, cert: IDP2_CERT, registrationAuthority: RA_HOME },
];

function federationConfig(source: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "fed", source, signingCertFiles: ["federation/fed-signer.crt"],
    select: { registrationAuthorities: [RA_HOME], entityAttributes: [{ name: "http://macedir.org/entity-category", anyOf: [RS] }] },
    mapping: { subjectPrefix: "fed:", scopes: [{ grant: ["read"] }] },
    ...extra,
  };
}

function withFederation(fed: Record<string, unknown>, audience = FED_API) {
  return (c: Record<string, any>): void => {
    c.samlFederations = [fed];
    if (audience === FED_API) c.audiences.push({ id: FED_API, scopes: ["read"], defaultScopes: ["read"] });
    c.clients.push({
      id: FED_CLIENT.id, secretHash: `sha256:${createHash("sha256").update(FED_CLIENT.secret).digest("base64url")}`,
      audiences: [audience], defaultAudience: audience, scopes: ["read"], idps: ["fed"],
    });
  };
}

let n = 0;
function assertionFrom(bridge: TestBridge, issuer: string, key = KEYS.idp2, nameId = "alice@uni.test"): string {
  const id = `_fed${process.pid}_${++n}`;
  return signWithXmlsec1(buildAssertion2({ id, issuer, nameId, now: new Date(bridge.clock.now) }), id, { key });
}

const bridges: TestBridge[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function fileBridge(xml: string, extra: Record<string, unknown> = {}): Promise<{ bridge: TestBridge; file: string }> {
  const file = path.join(tempDir(), "aggregate.xml");
  writeFileSync(file, xml);
  const bridge = await startBridge({ patch: withFederation(federationConfig({ kind: "file", path: file }, extra)), federationTickMs: 0 } as any);
  bridges.push(bridge);
  return { bridge, file };
}

describe("aggregate from a file", () => {
  it("an assertion from a selected entity exchanges end to end, in the entity's own subject namespace", async () => {
    const { bridge } = await fileBridge(signDocument(aggregateXml(ENTITIES)));
    expect(bridge.federations.aggregates[0]!.size()).toBe(1);
    const res = await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT });
    expect(res.status).toBe(200);
    const { payload } = decodeJwt(res.body.access_token);
    expect(payload.sub).toBe(`fed:${A}!alice@uni.test`);
    expect(payload.idp).toBe(A);
    expect(bridge.logs.some((l) => l.event === "federation_loaded" && l.entities === 1)).toBe(true);
  });

  it("entities that are not selected are unknown issuers: wrong registration authority, no entity category", async () => {
    const { bridge } = await fileBridge(signDocument(aggregateXml(ENTITIES)));
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, B, KEYS.idp1), client: FED_CLIENT }), 400, "invalid_request", "issuer_unknown");
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, C), client: FED_CLIENT }), 400, "invalid_request", "issuer_unknown");
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, "https://absent.test/idp"), client: FED_CLIENT }), 400, "invalid_request", "issuer_unknown");
  });

  it("a selected entity's assertion signed with another key is refused", async () => {
    const { bridge } = await fileBridge(signDocument(aggregateXml(ENTITIES)));
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, A, KEYS.idp1), client: FED_CLIENT }), 400, "invalid_request", "signature_invalid");
  });

  it("a client whose idps do not list the federation may not use its entities", async () => {
    const { bridge } = await fileBridge(signDocument(aggregateXml(ENTITIES)));
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, A), client: { id: "idp2only", secret: "idp2only-secret" }, audience: API }), 400, "invalid_request", "idp_not_allowed");
  });

  it("start-up refuses a federation sharing an audience with a source whose namespace overlaps", async () => {
    const file = path.join(tempDir(), "aggregate.xml");
    writeFileSync(file, signDocument(aggregateXml(ENTITIES)));
    await expect(startBridge({ patch: withFederation(federationConfig({ kind: "file", path: file }), API) }))
      .rejects.toThrow(/samlFederations\[0\]\.mapping: subjects from samlIdps\[0\] "idp1"/);
    // entities of one source may share a namespace only with a declared user directory
    await expect(startBridge({ patch: (c) => { withFederation(federationConfig({ kind: "file", path: file }, { subjectNamespace: "source" }))(c); delete c.userDirectory; } }))
      .rejects.toThrow(/samlFederations\[0\]\.subjectNamespace/);
  });

  it("per-entity overrides replace the mapping, never the namespace", async () => {
    const { bridge } = await fileBridge(signDocument(aggregateXml(ENTITIES)), {
      entities: [{ entityId: A, mapping: { subject: { attribute: { name: "role" } }, scopes: [{ grant: ["read"] }] } }],
    });
    const res = await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.sub).toBe(`fed:${A}!user`);
  });

  it("start-up stops on a tampered aggregate, a wrong pinned certificate, an expired or missing validUntil", async () => {
    const good = signDocument(aggregateXml(ENTITIES));
    const tampered = good.replace(`registrationAuthority="${RA_OTHER}"`, `registrationAuthority="${RA_HOME}"`);
    await expect(fileBridge(tampered)).rejects.toThrow(/samlFederations\[0\]\.source\.path.*metadata_signature_invalid/s);
    await expect(fileBridge(signDocument(aggregateXml(ENTITIES, { id: "_o" }), FED_SIGNER_OTHER))).rejects.toThrow(/metadata_signature_invalid/);
    await expect(fileBridge(aggregateXml(ENTITIES))).rejects.toThrow(/metadata_signature_missing/);
    await expect(fileBridge(signDocument(aggregateXml(ENTITIES, { id: "_e", validUntil: new Date(Date.now() - 1000) })))).rejects.toThrow(/metadata_expired/);
    await expect(fileBridge(signDocument(aggregateXml(ENTITIES, { id: "_n", validUntil: null })))).rejects.toThrow(/metadata_valid_until_missing/);
    await expect(fileBridge(good, { signingCertFiles: ["federation/README.md"] })).rejects.toThrow(/signingCertFiles\[0\]/);
  });

  it("a refresh swaps in the new copy: a removed entity is refused after the swap, an added one accepted", async () => {
    const { bridge, file } = await fileBridge(signDocument(aggregateXml(ENTITIES)));
    const res = await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT });
    expect(res.status).toBe(200);
    const D = "https://uni-d.test/idp";
    writeFileSync(file, signDocument(aggregateXml([...ENTITIES.slice(1), { entityId: D, cert: IDP2_CERT, registrationAuthority: RA_HOME, categories: [RS] }], { id: "_v2" })));
    expect(await bridge.federations.aggregates[0]!.refresh(bridge.clock.now)).toEqual({ ok: true, entities: 1 });
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT }), 400, "invalid_request", "issuer_unknown");
    expect((await exchange(bridge, { xml: assertionFrom(bridge, D), client: FED_CLIENT })).status).toBe(200);
  });

  it("a failed refresh keeps the last good copy (logged), until that copy's own validUntil: then fail closed", async () => {
    const validUntil = new Date(Date.now() + 3_600_000);
    const { bridge, file } = await fileBridge(signDocument(aggregateXml(ENTITIES, { id: "_lg", validUntil })));
    const source = bridge.federations.aggregates[0]!;
    // Tampered after signing: refused at refresh, the last good copy still answers.
    writeFileSync(file, signDocument(aggregateXml(ENTITIES, { id: "_t2" })).replace(`registrationAuthority="${RA_OTHER}"`, `registrationAuthority="${RA_HOME}"`));
    expect(await source.refresh(bridge.clock.now)).toEqual({ ok: false, problem: "metadata_signature_invalid" });
    expect(source.failures()).toBe(1);
    expect(bridge.logs.some((l) => l.event === "federation_refresh_failed" && l.reason === "metadata_signature_invalid" && l.kept_entities === 1)).toBe(true);
    expect((await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT })).status).toBe(200);
    // Retried after minRefreshSeconds (default 300 s), not at once.
    expect(source.nextAttemptAt()).toBe(bridge.clock.now + 300_000);
    // Unreadable, then expired: still the last good copy...
    writeFileSync(file, "not xml");
    expect((await source.refresh(bridge.clock.now)).problem).toBe("metadata_malformed");
    writeFileSync(file, signDocument(aggregateXml(ENTITIES, { id: "_x2", validUntil: new Date(Date.now() - 1000) })));
    expect((await source.refresh(bridge.clock.now)).problem).toBe("metadata_expired");
    expect((await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT })).status).toBe(200);
    // ...until its own validUntil passes: none of its entities is trusted any more.
    bridge.clock.advance(3_600_000 + 1000);
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT }), 400, "invalid_request", "metadata_expired");
    const failed = await source.refresh(bridge.clock.now);
    expect(failed.ok).toBe(false);
    expect(bridge.logs.some((l) => l.event === "federation_refresh_failed" && l.kept_entities === 0)).toBe(true);
  });

  it("refreshes by cacheDuration and validUntil within the configured bounds", async () => {
    const { bridge } = await fileBridge(signDocument(aggregateXml(ENTITIES, { id: "_cd", cacheDuration: "PT2H", validUntil: new Date(Date.now() + 86_400_000) })), { minRefreshSeconds: 60, maxRefreshSeconds: 14_400 });
    const source = bridge.federations.aggregates[0]!;
    expect(source.nextAttemptAt() - bridge.clock.now).toBe(7_200_000);
    bridge.clock.advance(7_200_000);
    const before = bridge.logs.filter((l) => l.event === "federation_loaded").length;
    await bridge.federations.tick();
    expect(bridge.logs.filter((l) => l.event === "federation_loaded").length).toBe(before + 1);
  });
});

describe("aggregate from a URL", () => {
  async function serve(body: () => string): Promise<string> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/samlmetadata+xml" }).end(body());
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/aggregate.xml`;
  }

  it("loads over loopback http only with allowLoopbackHttp", async () => {
    const signed = signDocument(aggregateXml(ENTITIES));
    const url = await serve(() => signed);
    await expect(startBridge({ patch: withFederation(federationConfig({ kind: "url", url })) })).rejects.toThrow(/samlFederations\[0\]\.source\.url.*allowLoopbackHttp/s);
    await expect(startBridge({ patch: withFederation(federationConfig({ kind: "url", url: "http://metadata.example.org/agg.xml" }, { allowLoopbackHttp: true })) })).rejects.toThrow(/https required/);
    const bridge = await startBridge({ patch: withFederation(federationConfig({ kind: "url", url }, { allowLoopbackHttp: true })), federationTickMs: 0 } as any);
    bridges.push(bridge);
    expect((await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT })).status).toBe(200);
  });

  it("an unreachable URL at start-up is logged, its entities unknown until a load succeeds", async () => {
    let body = "<oops/>";
    const url = await serve(() => body);
    const bridge = await startBridge({ patch: withFederation(federationConfig({ kind: "url", url }, { allowLoopbackHttp: true })), federationTickMs: 0 } as any);
    bridges.push(bridge);
    expect(bridge.logs.some((l) => l.event === "federation_refresh_failed" && l.reason === "metadata_root_invalid")).toBe(true);
    expectError(await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT }), 400, "invalid_request", "issuer_unknown");
    body = signDocument(aggregateXml(ENTITIES));
    expect((await bridge.federations.aggregates[0]!.refresh(bridge.clock.now)).ok).toBe(true);
    expect((await exchange(bridge, { xml: assertionFrom(bridge, A), client: FED_CLIENT })).status).toBe(200);
  });
});
