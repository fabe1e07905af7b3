/**
 * Scale: a 5,000-entity aggregate (one xmlsec1 signature over the whole document, entity keys
 * reused from the test IdPs) loads through the bridge's real start-up path, selection applies to
 * every entity, and an assertion from the last entity exchanges end to end. Load time and memory
 * are printed for the record (figures: bench/federation.ts); nothing here asserts on time.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeJwt, exchange, startBridge, type TestBridge } from "../support/harness.js";
import { KEYS, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { RA_HOME, RS, aggregateXml, manyEntities, signDocument, tempDir } from "./support.js";

const N = 5_000;
const FED_API = "https://fed-api.example.com";
const bridges: TestBridge[] = [];
afterAll(async () => {
  for (const b of bridges) await b.close();
});

describe(`a ${N}-entity aggregate`, () => {
  it("loads, selects by registration authority and category, and serves an exchange from its last entity", async () => {
    const entities = manyEntities(N);
    const file = path.join(tempDir(), "aggregate.xml");
    writeFileSync(file, signDocument(aggregateXml(entities, { id: "_scale" })));
    const before = process.memoryUsage();
    const t0 = performance.now();
    const bridge = await startBridge({
      patch: (c: Record<string, any>) => {
        c.samlFederations = [{
          id: "fed", source: { kind: "file", path: file }, signingCertFiles: ["federation/fed-signer.crt"],
          select: { registrationAuthorities: [RA_HOME], entityAttributes: [{ name: "http://macedir.org/entity-category", anyOf: [RS] }] },
          mapping: { subjectPrefix: "fed:", scopes: [{ grant: ["read"] }] },
        }];
        c.audiences.push({ id: FED_API, scopes: ["read"], defaultScopes: ["read"] });
        c.clients.push({ id: "fedc", secretHash: `sha256:${createHash("sha256").update("fedc-secret").digest("base64url")}`, audiences: [FED_API], defaultAudience: FED_API, scopes: ["read"], idps: ["fed"] });
      },
      federationTickMs: 0,
    } as any);
    bridges.push(bridge);
    const loadMs = performance.now() - t0;
    const after = process.memoryUsage();
    // Home registrar (even i) and R&S (i % 3 === 0): i % 6 === 0.
    const expected = entities.filter((_, i) => i % 6 === 0).length;
    expect(bridge.federations.aggregates[0]!.size()).toBe(expected);
    console.log(`[federation scale] ${N} entities, ${expected} selected: bridge start-up ${loadMs.toFixed(0)} ms, heap +${((after.heapUsed - before.heapUsed) / 1048576).toFixed(1)} MB, RSS +${((after.rss - before.rss) / 1048576).toFixed(1)} MB`);

    // The last selected entity (i = 4998: idp1.crt since 4998 % 3 === 0).
    const last = entities[4998]!;
    expect(last.cert).toContain("idp1.crt");
    const id = "_scale_assertion";
    const xml = signWithXmlsec1(buildAssertion2({ id, issuer: last.entityId, nameId: "carol", now: new Date(bridge.clock.now) }), id, { key: KEYS.idp1 });
    const res = await exchange(bridge, { xml, client: { id: "fedc", secret: "fedc-secret" } });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.sub).toBe(`fed:${last.entityId}!carol`);
    // An entity of the other registrar is in the document but not trusted.
    const other = entities[4999]!;
    expect(bridge.services.tokenVerifiers).toBeDefined();
    expect(bridge.federations.aggregates[0]!.byEntityId(other.entityId)).toBeUndefined();
  }, 120_000);
});
