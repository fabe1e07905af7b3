/** RFC 8414 metadata, the JWKS (current and previous keys) and the health endpoints. */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "../support/harness.js";
import { BRIDGE_ISSUER, TOKEN_ENDPOINT } from "../support/constants.js";
import { withIdp11 } from "../support/saml1-bridge.js";
import { withJwtIssuers } from "../support/jwt-fixtures.js";
import { metadataFor } from "../support/metadata-builder.js";
import { KEYS } from "../support/independent-signers.js";

const SAML2 = "urn:ietf:params:oauth:token-type:saml2";
const SAML1 = "urn:ietf:params:oauth:token-type:saml1";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const JWT = "urn:ietf:params:oauth:token-type:jwt";
const typesOf = async (b: TestBridge): Promise<{ subject: string[]; actor: string[] }> => {
  const res = await b.http.get("/.well-known/oauth-authorization-server");
  return { subject: res.body.token_exchange_subject_token_types_supported, actor: res.body.token_exchange_actor_token_types_supported };
};

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(() => bridge.close());

describe("discovery", () => {
  it("advertises exactly what the bridge supports (RFC 8414 §2)", async () => {
    const res = await bridge.http.get("/.well-known/oauth-authorization-server");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issuer: BRIDGE_ISSUER,
      token_endpoint: TOKEN_ENDPOINT,
      jwks_uri: `${BRIDGE_ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:saml2-bearer"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      // No configured IdP speaks SAML 1.1 (test/fixtures/metadata: idp1, idp2, idp-ec are SAML 2.0 only).
      token_exchange_subject_token_types_supported: [
        "urn:ietf:params:oauth:token-type:saml2", "urn:ietf:params:oauth:token-type:access_token",
      ],
      token_exchange_requested_token_types_supported: ["urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt"],
      token_exchange_actor_token_types_supported: ["urn:ietf:params:oauth:token-type:access_token"],
    });
  });

  it("publishes the signing key and the previous key, public parts only", async () => {
    const res = await bridge.http.get("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const kids = res.body.keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(["test-rs", "test-es-previous"]);
    for (const k of res.body.keys) {
      for (const priv of ["d", "p", "q", "dp", "dq", "qi"]) expect(k).not.toHaveProperty(priv);
      expect(k.use).toBe("sig");
    }
  });
});

describe("discovery advertises only token types a configured source can issue", () => {
  it("saml1 appears with an IdP whose metadata lists the SAML 1.1 protocol", async () => {
    const b = await startBridge({ patch: (c) => withIdp11(c) });
    try {
      expect((await typesOf(b)).subject).toEqual([SAML2, SAML1, ACCESS]);
    } finally {
      await b.close();
    }
  });

  it("no SAML IdP at all: neither saml2 nor saml1 (JWT issuers: id_token and jwt)", async () => {
    const b = await startBridge({
      patch: (c) => {
        withJwtIssuers(c);
        c.samlIdps = [];
        for (const cl of c.clients) cl.idps = cl.idps.filter((i: string) => i === "corp" || i === "ci");
      },
    });
    try {
      const types = await typesOf(b);
      expect(types.subject).toEqual([ACCESS, ID_TOKEN, JWT]);
      expect(types.subject).not.toContain(SAML2);
      expect(types.subject).not.toContain(SAML1);
      expect(types.actor).toEqual([ACCESS, ID_TOKEN, JWT]);
    } finally {
      await b.close();
    }
  });

  it("with the admin API on, follows the IdPs an admin adds and removes at run time", async () => {
    const token = "discovery-admin-token";
    const dir = mkdtempSync(join(tmpdir(), "fedbridge-disco-"));
    const b = await startBridge({
      adminTickMs: 0,
      patch: (c) => {
        c.samlIdps = [];
        for (const cl of c.clients) cl.idps = [];
        c.admin = { tokens: [{ id: "alice", tokenHash: `sha256:${createHash("sha256").update(token).digest("base64url")}` }], store: { kind: "file", directory: dir } };
      },
    });
    const auth = { Authorization: `Bearer ${token}` };
    try {
      expect((await typesOf(b)).subject).toEqual([ACCESS]);
      const put = await b.http.put("/admin/idps/dyn11").set(auth)
        .send({ metadata: metadataFor("https://dyn11.test/idp", [KEYS.idp1.cert], { protocols: "urn:oasis:names:tc:SAML:1.1:protocol" }) });
      expect(put.status, JSON.stringify(put.body)).toBe(201);
      expect((await typesOf(b)).subject).toEqual([SAML1, ACCESS]);
      const put2 = await b.http.put("/admin/idps/dyn2").set(auth).send({ metadata: metadataFor("https://dyn2.test/idp", [KEYS.idp2.cert]) });
      expect(put2.status, JSON.stringify(put2.body)).toBe(201);
      expect((await typesOf(b)).subject).toEqual([SAML2, SAML1, ACCESS]);
      expect((await b.http.delete("/admin/idps/dyn11").set({ ...auth, "If-Match": '"1"' })).status).toBe(204);
      expect((await typesOf(b)).subject).toEqual([SAML2, ACCESS]);
    } finally {
      await b.close();
    }
  });
});

describe("health", () => {
  it("/healthz answers while the process runs", async () => {
    expect((await bridge.http.get("/healthz")).status).toBe(200);
  });
  it("/readyz reports the replay store", async () => {
    const res = await bridge.http.get("/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ready", replay_store: "up" });
  });
  it("unknown paths are 404 with no-store", async () => {
    const res = await bridge.http.get("/nope");
    expect(res.status).toBe(404);
    expect(res.headers["cache-control"]).toBe("no-store");
  });
});
