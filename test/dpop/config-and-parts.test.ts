/**
 * DPoP configuration (bad values stop start-up with the field's path) and the two parts with
 * rules of their own: the htu normalization (RFC 3986 §6.2.2–6.2.3) and the stateless nonces.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { normalizeHttpUri, htuMatches } from "../../src/dpop/htu.js";
import { DpopNonces } from "../../src/dpop/nonce.js";
import { configIssues } from "../support/config-issues.js";
import { baseConfig, startBridge } from "../support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "dpop-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function issues(mutate: (c: Record<string, any>) => void): string {
  return configIssues(mutate).join("\n");
}

describe("configuration", () => {
  it("defaults: the common asymmetric algorithms, 60 s past, 5 s future, no nonces, every client allowed", () => {
    const c = parseConfig(baseConfig());
    expect(c.dpop).toEqual({ algorithms: ["ES256", "EdDSA", "Ed25519", "RS256", "PS256"], maxAgeSeconds: 60, futureSkewSeconds: 5 });
    expect(c.clients[0]!.dpop).toBeUndefined();
    expect(c.audiences[0]!.requireDpop).toBeUndefined();
  });

  it("refuses none, HMAC and unknown algorithms, and an empty list", () => {
    for (const alg of ["none", "HS256", "HS512", "ES256K", "es256"]) {
      expect(issues((c) => {
        c.dpop = { algorithms: [alg] };
      })).toMatch(/^dpop\.algorithms\[0\]: /);
    }
    expect(issues((c) => {
      c.dpop = { algorithms: [] };
    })).toMatch(/^dpop\.algorithms: /);
  });

  it("bounds the time window and the nonce lifetime, and refuses unknown keys", () => {
    expect(issues((c) => (c.dpop = { maxAgeSeconds: 0 }))).toMatch(/^dpop\.maxAgeSeconds: /);
    expect(issues((c) => (c.dpop = { maxAgeSeconds: 601 }))).toMatch(/^dpop\.maxAgeSeconds: /);
    expect(issues((c) => (c.dpop = { futureSkewSeconds: 61 }))).toMatch(/^dpop\.futureSkewSeconds: /);
    expect(issues((c) => (c.dpop = { nonce: { secretFile: "x", lifetimeSeconds: 5 } }))).toMatch(/^dpop\.nonce\.lifetimeSeconds: /);
    expect(issues((c) => (c.dpop = { nonce: {} }))).toMatch(/^dpop\.nonce\.secretFile: /);
    expect(issues((c) => (c.dpop = { requireNonce: true }))).toMatch(/dpop/);
  });

  it("takes clients[].dpop allowed|required and audiences[].requireDpop as a boolean only", () => {
    expect(issues((c) => (c.clients[0].dpop = "required"))).toBe("");
    expect(issues((c) => (c.clients[0].dpop = "allowed"))).toBe("");
    expect(issues((c) => (c.clients[0].dpop = "always"))).toMatch(/^clients\[0\]\.dpop: /);
    expect(issues((c) => (c.clients[0].dpop = true))).toMatch(/^clients\[0\]\.dpop: /);
    expect(issues((c) => (c.audiences[0].requireDpop = true))).toBe("");
    expect(issues((c) => (c.audiences[0].requireDpop = "yes"))).toMatch(/^audiences\[0\]\.requireDpop: /);
  });

  it("stops start-up on a missing or short nonce secret file, naming dpop.nonce.secretFile", async () => {
    writeFileSync(join(dir, "short.secret"), "too short\n");
    for (const file of [join(dir, "absent.secret"), join(dir, "short.secret")]) {
      const err = await startBridge({ patch: (c) => (c.dpop = { nonce: { secretFile: file } }) }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]!.path).toBe("dpop.nonce.secretFile");
    }
  });
});

describe("htu normalization (RFC 3986 §6.2.2, §6.2.3)", () => {
  const endpoint = "https://bridge.test/token";

  it("normalizes case of scheme and host, the default port, dot segments, unreserved percent-encodings", () => {
    for (const same of ["https://bridge.test/token", "HTTPS://Bridge.Test/token", "https://bridge.test:443/token", "https://bridge.test/x/../token", "https://bridge.test/%74%6F%6b%65%6e"]) {
      expect(htuMatches(same, endpoint), same).toBe(true);
    }
    expect(normalizeHttpUri("http://h.test:80")).toBe("http://h.test/");
    expect(normalizeHttpUri("https://h.test/a%2fb")).toBe("https://h.test/a%2Fb");
  });

  it("keeps path case and reserved percent-encodings, and refuses query, fragment, user info, whitespace, backslashes, other schemes", () => {
    for (const other of [
      "https://bridge.test/Token", "https://bridge.test/token%2F", "https://bridge.test/token?", "https://bridge.test/token#",
      "https://u:p@bridge.test/token", "https://bridge.test/tok\ten", " https://bridge.test/token", "https:\\\\bridge.test\\token",
      "ftp://bridge.test/token", "https:bridge.test/token", "", "https://bridge.test/tökén", `https://bridge.test/${"a".repeat(2100)}`,
    ]) {
      expect(htuMatches(other, endpoint), other).toBe(false);
    }
  });
});

describe("stateless nonces", () => {
  const secret = randomBytes(32);
  const n = new DpopNonces(secret, 60);
  const t = 1_000_000 * 60_000 + 30_000; // mid-window

  it("accepts a nonce in its window and the next, for its client only", () => {
    const nonce = n.issue("c1", t);
    expect(n.check(nonce, "c1", t)).toBe(true);
    expect(n.check(nonce, "c1", t + 60_000)).toBe(true);
    expect(n.check(nonce, "c1", t + 120_000)).toBe(false);
    expect(n.check(nonce, "c1", t - 60_000)).toBe(false);
    expect(n.check(nonce, "c2", t)).toBe(false);
    expect(new DpopNonces(randomBytes(32), 60).check(nonce, "c1", t)).toBe(false);
  });

  it("is the same nonce for a whole window (no state), another one in the next", () => {
    expect(n.issue("c1", t)).toBe(n.issue("c1", t + 29_000));
    expect(n.issue("c1", t)).not.toBe(n.issue("c1", t + 31_000));
  });

  it("refuses altered and non-canonical forms", () => {
    const nonce = n.issue("c1", t);
    const [w, mac] = nonce.split(".") as [string, string];
    for (const bad of [`${Number(w) + 1}.${mac}`, `0${w}.${mac}`.replace(/^0(?=\d)/, ""), `${w}.${mac}=`, `${w}.${mac.slice(0, -1)}`, `${w}..${mac}`, `-${w}.${mac}`, `${w}.${mac}x`.slice(0, 100)]) {
      if (bad === nonce) continue;
      expect(n.check(bad, "c1", t), bad).toBe(false);
    }
    // The last character carries 4 unused bits: a different text for the same bytes is refused.
    const last = mac.at(-1)!;
    const sibling = `${w}.${mac.slice(0, -1)}${String.fromCharCode(last.charCodeAt(0) ^ 1)}`;
    expect(n.check(sibling, "c1", t)).toBe(false);
  });

  it("needs a secret of at least 32 bytes", () => {
    expect(() => new DpopNonces(randomBytes(31), 60)).toThrow();
  });
});
