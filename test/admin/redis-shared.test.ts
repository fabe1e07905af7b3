/**
 * Admin-managed IdPs shared through a REAL Redis (FEDBRIDGE_TEST_REDIS_URL, default 127.0.0.1:6379): two bridge instances over HTTP,
 * one record store. A change made on one instance is served by the other within a second, rotation
 * and the rollover guard work across instances, concurrent writers are serialised by the record
 * version (exactly one of two racing If-Match writes wins), no instance ever serves a half-applied
 * record, and restarted instances load the records. Without Redis this file FAILS (no skip).
 * Each test uses its own key prefix, and deletes every key under it afterwards.
 */
import { createHash, randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "redis";
import { exchange, startBridge, type TestBridge } from "../support/harness.js";
import { IDP1_CERT, IDP1_NEXT_CERT, IDP2_CERT } from "../support/constants.js";
import { TEST_REDIS_URL } from "../support/redis-url.js";
import { metadataFor } from "../support/metadata-builder.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, type KeyPair } from "../support/independent-signers.js";

const REDIS_URL = TEST_REDIS_URL;
const RUN_PREFIX = `fedbridge:test:admin:${randomUUID()}:`;
const ADMIN_TOKEN = "admin-token-for-redis-tests-0123456789";
const ENTITY = "https://dyn.test/idp";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

const redis = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
redis.on("error", () => undefined);

beforeAll(async () => {
  try {
    await redis.connect();
    expect(await redis.ping()).toBe("PONG");
  } catch (e) {
    throw new Error(`these tests need Redis at ${REDIS_URL} (.ci/run starts one): ${(e as Error).message}`);
  }
});

const bridges: TestBridge[] = [];
afterEach(async () => {
  while (bridges.length) await bridges.pop()!.close();
});

afterAll(async () => {
  if (!redis.isOpen) return;
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: `${RUN_PREFIX}*`, COUNT: 500 })) keys.push(...batch);
  if (keys.length) await redis.del(keys);
  expect(await redis.keys(`${RUN_PREFIX}*`)).toEqual([]);
  await redis.close();
});

let testNo = 0;
/** A key prefix of its own for each test (all under this run's prefix). */
const freshPrefix = (): string => `${RUN_PREFIX}${++testNo}:`;

async function instance(keyPrefix: string): Promise<TestBridge> {
  const b = await startBridge({
    adminTickMs: 0,
    patch: (c) => {
      c.admin = { tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "redis", redisUrl: REDIS_URL, keyPrefix } };
      c.clients[0].idps.push("dyn", "aaa");
    },
  });
  bridges.push(b);
  return b;
}

function assertionFrom(b: TestBridge, key: KeyPair = KEYS.idp1): string {
  const id = `_rs${Date.now()}${Math.random().toString(16).slice(2)}`;
  return signWithXmlsec1(buildAssertion2({ id, issuer: ENTITY, now: new Date(b.clock.now) }), id, { key });
}

const putXml = (b: TestBridge, xml: string, etag: string, force = false) => b.http.put(`/admin/idps/dyn/metadata${force ? "?force=true" : ""}`)
  .set({ ...auth, "If-Match": etag, "Content-Type": "application/samlmetadata+xml" }).send(xml);

/** Retries `attempt` until it returns true; returns the milliseconds that took (fails past `ms`). */
async function within(ms: number, what: string, attempt: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await attempt()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Exchanges one pre-signed assertion on `b` until it succeeds (a refused one is not marked used). */
const exchangesWithin = (b: TestBridge, ms: number, key: KeyPair = KEYS.idp1): Promise<number> => {
  const xml = assertionFrom(b, key);
  return within(ms, `exchange with ${key.cert}`, async () => (await exchange(b, { xml })).status === 200);
};

describe("admin records shared through Redis", () => {
  it("upload on one instance, exchange on the other within a second; rotate, guard, force; restart both", async () => {
    const prefix = freshPrefix();
    const [one, two] = [await instance(prefix), await instance(prefix)];
    expect((await exchange(two, { xml: assertionFrom(two) })).body.error_description).toBe("issuer_unknown");

    // Upload on instance 1, exchange on instance 2.
    const created = await one.http.put("/admin/idps/dyn").set(auth).send({ metadata: metadataFor(ENTITY, [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(await exchangesWithin(two, 1_000)).toBeLessThanOrEqual(1_000);
    const seen = await two.http.get("/admin/idps/dyn").set(auth);
    expect(seen.status).toBe(200);
    expect(seen.headers.etag).toBe('"1"');
    expect(seen.body).toMatchObject({ source: "upload", updatedBy: "alice", entityId: ENTITY });
    // The record lives in Redis, under the configured prefix.
    expect(JSON.parse((await redis.get(`${prefix}record:dyn`))!)).toMatchObject({ id: "dyn", version: 1 });

    // Rotate with overlap on instance 1: instance 2 accepts the new key within a second.
    expect((await putXml(one, metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT]), '"1"')).status).toBe(200);
    await exchangesWithin(two, 1_000, KEYS.idp1Next);
    expect((await putXml(two, metadataFor(ENTITY, [IDP1_NEXT_CERT]), '"2"')).status).toBe(200);
    await within(1_000, "instance 1 drops the old key", async () =>
      (await exchange(one, { xml: assertionFrom(one) })).body.error_description === "signature_invalid");

    // A non-overlapping upload is refused (on either instance) and changes nothing.
    const swap = await putXml(two, metadataFor(ENTITY, [IDP2_CERT]), '"3"');
    expect(swap.status).toBe(400);
    expect(swap.body).toEqual({ error: "invalid_metadata", reasons: ["rollover_no_shared_key"] });
    expect((await one.http.get("/admin/idps/dyn").set(auth)).headers.etag).toBe('"3"');
    for (const b of [one, two]) expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp1Next) })).status).toBe(200);

    // Forced on instance 2: accepted, audited there, and served by instance 1 within a second.
    const forced = await putXml(two, metadataFor(ENTITY, [IDP2_CERT]), '"3"', true);
    expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    expect(two.logs.filter((l) => l.event === "admin_audit").at(-1)).toMatchObject({
      admin: "alice", action: "rotate", idp: "dyn", version: 4, forced: true, entity_id: ENTITY,
    });
    await exchangesWithin(one, 1_000, KEYS.idp2);
    expect((await exchange(one, { xml: assertionFrom(one, KEYS.idp1Next) })).body.error_description).toBe("signature_invalid");

    // Restart both: the records are loaded from Redis before the first request.
    for (const b of [one, two]) await b.close();
    bridges.length = 0;
    const [three, four] = [await instance(prefix), await instance(prefix)];
    for (const b of [three, four]) {
      expect((await b.http.get("/admin/idps/dyn").set(auth)).headers.etag).toBe('"4"');
      expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp2) })).status).toBe(200);
    }
  });

  it("a delete on one instance stops exchanges on the other within a second", async () => {
    const prefix = freshPrefix();
    const [one, two] = [await instance(prefix), await instance(prefix)];
    expect((await one.http.put("/admin/idps/dyn").set(auth).send({ metadata: metadataFor(ENTITY, [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }] } })).status).toBe(201);
    await exchangesWithin(two, 1_000);
    expect((await two.http.delete("/admin/idps/dyn").set({ ...auth, "If-Match": '"1"' })).status).toBe(204);
    await within(1_000, "instance 1 forgets the IdP", async () =>
      (await exchange(one, { xml: assertionFrom(one) })).body.error_description === "issuer_unknown");
    expect((await one.http.get("/admin/idps/dyn").set(auth)).status).toBe(404);
    // The record stays as a tombstone (the rollover guard's memory of its keys), marked retired.
    expect(JSON.parse((await redis.get(`${prefix}record:dyn`))!).retiredAt).toEqual(expect.any(String));
  });

  it("two admins racing with the same If-Match on different instances: exactly one 200, the other 412", async () => {
    const prefix = freshPrefix();
    const [one, two] = [await instance(prefix), await instance(prefix)];
    expect((await one.http.put("/admin/idps/dyn").set(auth).send({ metadata: metadataFor(ENTITY, [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }] } })).status).toBe(201);
    await within(1_000, "instance 2 sees the record", async () => (await two.http.get("/admin/idps/dyn").set(auth)).status === 200);
    for (let version = 1; version <= 5; version++) {
      const etag = `"${version}"`;
      const [a, b] = await Promise.all([
        putXml(one, metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT]), etag),
        putXml(two, metadataFor(ENTITY, [IDP1_CERT, IDP2_CERT]), etag),
      ]);
      expect([a.status, b.status].sort(), `round ${version}`).toEqual([200, 412]);
      const winner = a.status === 200 ? a : b;
      expect(winner.headers.etag).toBe(`"${version + 1}"`);
      expect((a.status === 200 ? b : a).body).toEqual({ error: "precondition_failed" });
      // Both instances settle on the winner's version.
      for (const inst of [one, two]) {
        await within(1_000, `round ${version}: converge`, async () =>
          (await inst.http.get("/admin/idps/dyn").set(auth)).headers.etag === `"${version + 1}"`);
      }
    }
    // Only the winners were audited: one audit line per version, across both instances.
    const audits = [...one.logs, ...two.logs].filter((l) => l.event === "admin_audit" && l.action === "rotate");
    expect(audits.map((l) => l.version).sort()).toEqual([2, 3, 4, 5, 6]);
  });

  it("two records for one entityID (two instances each accepted one at once): the first by id serves, changes keep applying", async () => {
    const prefix = freshPrefix();
    const [one, two] = [await instance(prefix), await instance(prefix)];
    expect((await one.http.put("/admin/idps/dyn").set(auth).send({ metadata: metadataFor(ENTITY, [IDP1_CERT]), mapping: { scopes: [{ grant: ["read"] }] } })).status).toBe(201);
    await exchangesWithin(two, 1_000);
    // What a race left behind before entityIDs were claimed atomically: a second record for the
    // same entityID (written here raw, as the old store did).
    const dyn = JSON.parse((await redis.get(`${prefix}record:dyn`))!);
    await redis.set(`${prefix}record:aaa`, JSON.stringify({ ...dyn, id: "aaa", version: 1, metadataXml: metadataFor(ENTITY, [IDP2_CERT]), entityId: undefined, fingerprints: undefined }));
    await redis.sAdd(`${prefix}ids`, "aaa");
    await redis.incr(`${prefix}version`);
    for (const b of [one, two]) {
      await within(1_000, "the conflict is noticed", async () => b.logs.some((l) => l.event === "idp_record_conflict" && l.idp === "dyn"));
      // "aaa" sorts first and serves the entityID; the registry did not wedge.
      expect((await exchange(b, { xml: assertionFrom(b, KEYS.idp2) })).status).toBe(200);
      expect((await b.http.get("/admin/idps").set(auth)).body.idps.map((i: { id: string }) => i.id)).toContain("aaa");
    }
    // Later changes still apply on every instance.
    expect((await one.http.put("/admin/idps/other").set(auth).send({ metadata: metadataFor("https://other.test/idp", [IDP1_CERT]) })).status).toBe(201);
    await within(1_000, "instance 2 sees the next change", async () => (await two.http.get("/admin/idps/other").set(auth)).status === 200);
    expect((await one.http.delete("/admin/idps/aaa").set({ ...auth, "If-Match": '"1"' })).status).toBe(204);
    await exchangesWithin(two, 1_000, KEYS.idp1);
  });

  it("an instance never serves a half-applied record while another rotates", async () => {
    const prefix = freshPrefix();
    const [one, two] = [await instance(prefix), await instance(prefix)];
    // Odd versions: one signing certificate; even versions: two. Every version has idp1's key.
    const docs = [metadataFor(ENTITY, [IDP1_CERT]), metadataFor(ENTITY, [IDP1_CERT, IDP1_NEXT_CERT])];
    expect((await one.http.put("/admin/idps/dyn").set(auth).send({ metadata: docs[0], mapping: { scopes: [{ grant: ["read"] }] } })).status).toBe(201);
    await within(1_000, "instance 2 sees the record", async () => (await two.http.get("/admin/idps/dyn").set(auth)).status === 200);
    const assertions = Array.from({ length: 6 }, () => assertionFrom(two));

    let rotating = true;
    const rotations = (async () => {
      for (let v = 1; v <= 12; v++) {
        const res = await putXml(one, docs[v % 2]!, `"${v}"`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        await new Promise((r) => setTimeout(r, 15));
      }
      rotating = false;
    })();
    const observed = new Set<string>();
    let exchanges = 0;
    while (rotating) {
      const view = await two.http.get("/admin/idps/dyn").set(auth);
      expect(view.status).toBe(200);
      const etag = String(view.headers.etag);
      const version = Number(JSON.parse(etag));
      // The ETag (the record) and the certificates (the applied metadata) always belong together.
      expect(view.body.version).toBe(version);
      expect(view.body.signingCertificates, `version ${version}`).toHaveLength(version % 2 === 1 ? 1 : 2);
      observed.add(etag);
      if (exchanges < assertions.length) {
        const res = await exchange(two, { xml: assertions[exchanges++]! });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      }
    }
    await rotations;
    expect(exchanges).toBeGreaterThan(0);
    expect(observed.size).toBeGreaterThan(1);
    await within(1_000, "instance 2 ends on the last version", async () =>
      (await two.http.get("/admin/idps/dyn").set(auth)).headers.etag === '"13"');
  });
});
