/**
 * `fedbridge inspect`, `explain` and `exchange` (dist/src/cli/main.js, built): tokens signed by
 * independent signers (xmlsec1 for SAML, PyJWT for JWTs), the configured key that verifies them,
 * hostile input refused with the bridge's reason codes, the offline explain dry run, and an
 * exchange against a bridge (dist/src/main.js) the test starts; inspecting and explaining do not
 * use an assertion up.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseIdpMetadata } from "../../src/saml/metadata.js";
import { buildAssertion2, buildResponse2 } from "../support/saml-builder.js";
import { KEYS, signWithXmlsec1, toBase64Url } from "../support/independent-signers.js";
import { JWT_KEYS, pySign } from "../support/independent-jwt.js";
import { corpClaims } from "../support/jwt-fixtures.js";
import { API, CLIENTS } from "../support/harness.js";
import { METADATA_DIR } from "../support/constants.js";
import { freePort } from "../support/redis-process.js";
import { killAll, ready, startProcess } from "../ops/processes.js";
import { cli, cliAsync, json, TMP, writeConfig } from "./support.js";

let n = 0;
function assertion(o: { key?: typeof KEYS.idp1; now?: Date } = {}): string {
  const id = `_cli_${process.pid}_${++n}`;
  return toBase64Url(signWithXmlsec1(buildAssertion2({ id, now: o.now ?? new Date() }), id, { key: o.key ?? KEYS.idp1 }));
}
const idp1Fingerprints = parseIdpMetadata(readFileSync(join(METADATA_DIR, "idp1.xml"), "utf8")).signingKeys.map((k) => k.fingerprint);

let config: string;
beforeAll(() => {
  config = writeConfig();
});

describe("inspect: SAML", () => {
  it("an assertion signed by xmlsec1 with idp1's key: its content, and idp1's metadata key verifies it", () => {
    const token = assertion();
    const r = cli(["inspect", token, "-c", config, "--json"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const j = json(r);
    expect(j.kind).toBe("saml2-assertion");
    expect(j.unverified).toMatchObject({ issuer: expect.stringContaining("idp1"), subject: { name_id: expect.any(String) }, conditions: { audiences: expect.any(Array) } });
    expect(j.unverified.signature.algorithm).toMatch(/rsa-sha256$/);
    expect(j.unverified.attributes.length).toBeGreaterThan(0);
    expect(j.verification).toMatchObject({ verified: true, source: "idp1", signed_element: "Assertion" });
    expect(idp1Fingerprints).toContain(j.verification.key);
    // The human rendering says the same, and never prints the token itself.
    const h = cli(["inspect", token, "-c", config]);
    expect(h.stdout).toContain(`verified by idp1 key ${j.verification.key}`);
    expect(h.stdout + h.stderr).not.toContain(token);
  });

  it("from a file, from stdin, raw XML, inside a Response: the same assertion", () => {
    const token = assertion();
    const file = join(TMP, "token.txt");
    writeFileSync(file, `${token}\n`);
    expect(json(cli(["inspect", file, "-c", config, "--json"])).verification.verified).toBe(true);
    expect(json(cli(["inspect", "-", "-c", config, "--json"], { input: token })).verification.verified).toBe(true);
    const xmlFile = join(TMP, "token.xml");
    writeFileSync(xmlFile, Buffer.from(token, "base64url"));
    expect(json(cli(["inspect", xmlFile, "-c", config, "--json"])).verification.verified).toBe(true);
    const resp = toBase64Url(buildResponse2(Buffer.from(token, "base64url").toString("utf8").replace(/^<\?xml[^>]*>\s*/, "")));
    const j = json(cli(["inspect", resp, "-c", config, "--json"]));
    expect(j.kind).toBe("saml2-response");
    expect(j.verification).toMatchObject({ verified: true, source: "idp1", signed_element: "Assertion" });
  });

  it("signed by a key not in idp1's metadata: decoded, NOT verified (signature_invalid), exit 1", () => {
    const r = cli(["inspect", assertion({ key: KEYS.attacker }), "-c", config, "--json"]);
    expect(r.status).toBe(1);
    expect(json(r).verification).toEqual({ verified: false, source: "idp1", reason: "signature_invalid" });
  });

  it("without a config: decoded only, exit 0", () => {
    const r = cli(["inspect", assertion(), "--json"]);
    expect(r.status).toBe(0);
    expect(json(r).verification).toBeUndefined();
  });

  it("hostile input: bad encoding, oversized, a DOCTYPE, not XML: the bridge's reason, exit 1, no echo", () => {
    const cases: [string, RegExp][] = [
      ["not base64 !!", /token_encoding_invalid/],
      [toBase64Url('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'), /^xml_|dtd|doctype/i],
      [Buffer.from("plain text").toString("base64url"), /xml_malformed/],
    ];
    for (const [input, reason] of cases) {
      const r = cli(["inspect", input, "-c", config, "--json"]);
      expect(r.status, input.slice(0, 40)).toBe(1);
      expect(json(r).error).toMatch(reason);
      expect(r.stdout.length).toBeLessThan(500);
    }
    // Oversized (the config's limits.maxTokenBytes, 128 KiB decoded), from stdin and from a file.
    const big = "A".repeat(200_000);
    const viaStdin = cli(["inspect", "-", "-c", config, "--json"], { input: big });
    expect(viaStdin.status).toBe(1);
    expect(json(viaStdin).error).toBe("token_too_large");
    const bigFile = join(TMP, "big.txt");
    writeFileSync(bigFile, big);
    expect(json(cli(["inspect", bigFile, "-c", config, "--json"])).error).toBe("token_too_large");
    // Past the command's own input bound: refused before it is read whole.
    expect(json(cli(["inspect", "-", "--json"], { input: "A".repeat(2_000_000) })).error).toBe("token_too_large");
    // Deeper nesting than limits.maxXmlDepth: refused by the hardened parser before any DOM is built.
    const deep = toBase64Url(`${"<a>".repeat(100)}${"</a>".repeat(100)}`);
    expect(json(cli(["inspect", deep, "-c", config, "--json"])).error).toMatch(/^xml_/);
  });
});

describe("inspect: JWT", () => {
  it("an ID token signed by PyJWT with the corporate IdP's key: jwtIssuers corp, kid oidc-rs-1", () => {
    const token = pySign({ key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(Date.now()) });
    const r = cli(["inspect", token, "-c", config, "--json"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const j = json(r);
    expect(j.kind).toBe("jwt");
    expect(j.unverified).toMatchObject({ alg: "RS256", kid: "oidc-rs-1", issuer: "https://login.corp.test", subject: "alice", conditions: { expired: false } });
    expect(j.verification).toEqual({ verified: true, source: "corp", key: "oidc-rs-1" });
  });

  it("refused: a key in no JWKS, an unknown issuer, an algorithm the issuer does not allow, a malformed JWT", () => {
    const claims = corpClaims(Date.now());
    const forged = pySign({ key: JWT_KEYS.attacker, alg: "RS256", header: { kid: "oidc-rs-1" }, claims });
    expect(json(cli(["inspect", forged, "-c", config, "--json"])).verification).toEqual({ verified: false, source: "corp", reason: "signature_invalid" });
    const stranger = pySign({ key: JWT_KEYS.oidc, alg: "RS256", claims: { ...claims, iss: "https://elsewhere.test" } });
    const s = cli(["inspect", stranger, "-c", config, "--json"]);
    expect(s.status).toBe(1);
    expect(json(s).verification).toEqual({ verified: false, reason: "issuer_unknown" });
    const ps = pySign({ key: JWT_KEYS.oidc, alg: "PS256", header: { kid: "oidc-rs-1" }, claims });
    expect(json(cli(["inspect", ps, "-c", config, "--json"])).verification.reason).toBe("algorithm_forbidden");
    const parts = forged.split(".");
    const bad = cli(["inspect", `${parts[0]}.${parts[1]}=.${parts[2]}`, "-c", config, "--json"]);
    expect(bad.status).toBe(1);
  });
});

describe("explain (offline)", () => {
  it("a valid assertion for client c1: every step ok, the claims it would get; exit 0", () => {
    const r = cli(["explain", "-c", config, "--idp", "idp1", "--token", assertion(), "--client", CLIENTS.c1.id, "--audience", API, "--json"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const j = json(r);
    expect(j.ok).toBe(true);
    expect(j.steps.find((s: { step: string }) => s.step === "verify_subject_token").detail.verified_by_key).toEqual(expect.any(String));
    expect(j.claims).toMatchObject({ aud: API });
  });

  it("refused: judged an hour later (expired), from another IdP's record, an unknown client or IdP", () => {
    const token = assertion();
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const r = cli(["explain", "-c", config, "--idp", "idp1", "--token", token, "--at", later, "--json"]);
    expect(r.status).toBe(1);
    expect(json(r).steps.at(-1)).toMatchObject({ step: "verify_subject_token", ok: false });
    const other = json(cli(["explain", "-c", config, "--idp", "idp2", "--token", token, "--json"]));
    expect(other.steps.at(-1)).toMatchObject({ ok: false, reason: "issuer_mismatch" });
    expect(cli(["explain", "-c", config, "--idp", "idp1", "--token", token, "--client", "nobody"]).status).toBe(2);
    expect(json(cli(["explain", "-c", config, "--idp", "nope", "--token", token, "--json"])).error).toBe("not_found");
    expect(cli(["explain", "--idp", "idp1", "--token", token]).status).toBe(2);
  });
});

describe("exchange against a running bridge", () => {
  let port: number;
  let bridgeConfig: string;
  beforeAll(async () => {
    bridgeConfig = writeConfig();
    port = await freePort();
    await ready(startProcess("main", bridgeConfig, port), port);
  }, 60_000);
  afterAll(() => killAll());
  const env = { FEDBRIDGE_CLIENT_SECRET: CLIENTS.c1.secret };

  it("inspected and explained first (not used up), then exchanged: the access token; a second exchange is refused as a replay", async () => {
    const token = assertion();
    expect(cli(["inspect", token, "-c", bridgeConfig]).status).toBe(0);
    expect(cli(["explain", "-c", bridgeConfig, "--idp", "idp1", "--token", token, "--client", CLIENTS.c1.id]).status).toBe(0);
    const args = ["exchange", "--url", `http://127.0.0.1:${port}/token`, "--client-id", CLIENTS.c1.id, "--subject-token", token, "--audience", API];
    const r = await cliAsync([...args, "--json"], env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const j = json(r);
    expect(j).toMatchObject({ token_type: "Bearer", issued_token_type: "urn:ietf:params:oauth:token-type:access_token" });
    // The issued token, inspected: the bridge's own ("self"), verified by its active key.
    const own = json(cli(["inspect", j.access_token, "-c", bridgeConfig, "--json"]));
    expect(own.verification).toEqual({ verified: true, source: "self", key: "test-rs" });
    const again = await cliAsync([...args, "--json"], env);
    expect(again.status).toBe(1);
    // RFC 8693 §2.2.2 with the bridge's reason: the first exchange marked it, nothing before did.
    expect(json(again)).toMatchObject({ error: "invalid_request", status: 400, error_description: expect.stringContaining("replayed") });
  }, 60_000);

  it("plain output is the access token alone; a wrong secret is refused (exit 1); no secret is a usage error (2)", async () => {
    const args = ["exchange", "--url", `http://127.0.0.1:${port}/token`, "--client-id", CLIENTS.c1.id, "--audience", API];
    const r = await cliAsync([...args, "--subject-token", assertion()], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const wrong = await cliAsync([...args, "--subject-token", assertion(), "--json"], { FEDBRIDGE_CLIENT_SECRET: "wrong" });
    expect(wrong.status).toBe(1);
    expect(json(wrong)).toMatchObject({ error: "invalid_client", status: 401 });
    const none = await cliAsync([...args, "--subject-token", assertion()], { FEDBRIDGE_CLIENT_SECRET: "" });
    expect(none.status).toBe(2);
  }, 60_000);

  it("an unreachable bridge: exit 3, bridge_unreachable", async () => {
    const closed = await freePort();
    const r = await cliAsync(["exchange", "--url", `http://127.0.0.1:${closed}/token`, "--client-id", "c", "--subject-token", assertion(), "--json"], env);
    expect(r.status).toBe(3);
    expect(json(r).error).toBe("bridge_unreachable");
  });
});
