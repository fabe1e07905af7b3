/**
 * `fedbridge` (dist/src/cli/main.js, built): --help on every command, usage errors exit 2,
 * check-config prints every problem with its config path, hash-secret shares npm run hash-secret's
 * code, keys generates, lists, rotates and prints the JWKS.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { verifySecret } from "../../src/clients/secret-hash.js";
import { cli, json, TMP, writeConfig, writeRaw } from "./support.js";

const COMMANDS = ["check-config", "inspect", "explain", "exchange", "hash-secret", "keys", "keys generate", "keys list", "keys jwks", "keys rotate"];

describe("every command has --help; usage errors exit 2", () => {
  it.each(COMMANDS)("fedbridge %s --help: exit 0, its usage on stdout", (cmd) => {
    const r = cli([...cmd.split(" "), "--help"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Usage: fedbridge ${cmd}`);
  });

  it("the top-level help lists every command; --version prints package.json's", () => {
    const r = cli(["--help"]);
    expect(r.status).toBe(0);
    for (const c of ["check-config", "inspect", "explain", "exchange", "hash-secret", "keys"]) expect(r.stdout).toContain(c);
    const v = cli(["--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")).version);
  });

  it("an unknown command, an unknown option, a missing argument, a bad choice, no command: exit 2", () => {
    expect(cli(["frobnicate"]).status).toBe(2);
    expect(cli(["check-config", "--nope"]).status).toBe(2);
    expect(cli(["inspect"]).status).toBe(2);
    expect(cli(["keys", "generate", "--dir", TMP, "--alg", "HS256"]).status).toBe(2);
    expect(cli([]).status).toBe(2);
  });
});

describe("check-config", () => {
  it("a valid config: exit 0, --json ok with a summary", () => {
    const file = writeConfig();
    const r = cli(["check-config", "-c", file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/OK/);
    const j = json(cli(["check-config", "--config", file, "--json"]));
    expect(j).toMatchObject({ ok: true, problems: [], summary: { samlIdps: 3, jwtIssuers: 2, signingKeys: 2 } });
  });

  it("FEDBRIDGE_CONFIG stands for --config; neither: exit 2", () => {
    expect(cli(["check-config"], { env: { FEDBRIDGE_CONFIG: writeConfig() } }).status).toBe(0);
    const r = cli(["check-config", "--json"]);
    expect(r.status).toBe(2);
    expect(json(r).error).toBe("config_missing");
  });

  it("schema problems: every one printed with its path, exit 1", () => {
    const file = writeConfig((c) => {
      c.issuer = 42;
      c.tokens.ttlSeconds = -1;
      c.clients[0].unknownField = true;
      c.signing.keys[1].alg = "none";
    });
    const r = cli(["check-config", "-c", file]);
    expect(r.status).toBe(1);
    for (const path of ["issuer:", "tokens.ttlSeconds:", "clients[0]:", "signing.keys[1].alg:"]) expect(r.stdout).toContain(path);
    const j = json(cli(["check-config", "-c", file, "--json"]));
    expect(j.ok).toBe(false);
    expect(j.problems.map((p: { path: string }) => p.path)).toEqual(expect.arrayContaining(["issuer", "tokens.ttlSeconds", "clients[0]", "signing.keys[1].alg"]));
  });

  it("problems in the files it names: each one, one bad file not hiding the next", () => {
    const file = writeConfig((c) => {
      c.samlIdps[0].metadataFile = join(TMP, "missing-idp.xml");
      c.samlIdps[2].metadataFile = writeRaw("<not-metadata/>");
      c.signing.keys[0].privateKeyFile = writeRaw("not a key");
      c.jwtIssuers[1].jwksFile = writeRaw("{ not json");
    });
    const j = json(cli(["check-config", "-c", file, "--json"]));
    expect(j.ok).toBe(false);
    const paths = j.problems.map((p: { path: string }) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["samlIdps[0].metadataFile", "samlIdps[2].metadataFile", "signing.keys[0]", "jwtIssuers[1].jwksFile"]));
    expect(cli(["check-config", "-c", file]).status).toBe(1);
  });

  it("unreadable, non-YAML and poisoned files: exit 1 with the problem", () => {
    expect(json(cli(["check-config", "-c", join(TMP, "nope.yaml"), "--json"])).problems[0].path).toBe("(file)");
    expect(json(cli(["check-config", "-c", writeRaw("a: [1, 2"), "--json"])).problems[0].message).toMatch(/not valid YAML/);
    const r = cli(["check-config", "-c", writeRaw("__proto__: {}\n"), "--json"]);
    expect(r.status).toBe(1);
    expect(json(r).problems[0]).toEqual({ path: "__proto__", message: "reserved key name" });
  });
});

describe("hash-secret (the code of npm run hash-secret)", () => {
  it("--json: a client secret and its hash, which verifies", async () => {
    const r = cli(["hash-secret", "--json"]);
    expect(r.status).toBe(0);
    const j = json(r);
    expect(await verifySecret(j.secret, j.secretHash)).toBe(true);
    expect(r.stderr).toMatch(/clients\[\]\.secretHash/);
  });

  it("--admin: token/tokenHash lines (as the script); --scrypt from stdin; both: exit 2", async () => {
    const a = cli(["hash-secret", "--admin"]);
    const m = /^token: +(\S+)\ntokenHash: (sha256:\S+)\n$/.exec(a.stdout);
    expect(m, a.stdout).not.toBeNull();
    expect(await verifySecret(m![1]!, m![2]!)).toBe(true);
    const s = cli(["hash-secret", "--scrypt", "--json"], { input: "a secret I chose myself\n" });
    expect(s.status).toBe(0);
    expect(await verifySecret("a secret I chose myself", json(s).secretHash)).toBe(true);
    expect(cli(["hash-secret", "--scrypt"], { input: "short\n" }).status).toBe(2);
    expect(cli(["hash-secret", "--admin", "--scrypt"]).status).toBe(2);
  });
});

describe("keys", () => {
  it("generate: <kid>.pem (0600) and <kid>.pub.pem; refuses to overwrite; a bad kid is a usage error", () => {
    const dir = join(TMP, "gen");
    const r = cli(["keys", "generate", "--dir", dir, "--alg", "ES256", "--kid", "k-1", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const j = json(r);
    expect(j).toMatchObject({ kid: "k-1", alg: "ES256", jwk: { kty: "EC", crv: "P-256", kid: "k-1", alg: "ES256", use: "sig" } });
    expect(j.jwk.d).toBeUndefined();
    expect(statSync(j.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(j.publicKeyFile)).toBe(true);
    expect(cli(["keys", "generate", "--dir", dir, "--alg", "ES256", "--kid", "k-1"]).status).toBe(1);
    expect(cli(["keys", "generate", "--dir", dir, "--kid", "../escape"]).status).toBe(2);
  });

  it("list and jwks: the configured keys, which one signs, no private parts", () => {
    const file = writeConfig();
    const list = json(cli(["keys", "list", "-c", file, "--json"]));
    expect(list.keys.map((k: { kid: string; role: string }) => [k.kid, k.role])).toEqual([["test-rs", "signing"], ["test-es-previous", "published"]]);
    const jwks = json(cli(["keys", "jwks", "-c", file, "--json"]));
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual(["test-rs", "test-es-previous"]);
    for (const k of jwks.keys) expect(k.d).toBeUndefined();
    expect(cli(["keys", "jwks", "-c", join(TMP, "none.yaml")]).status).toBe(1);
  });

  it("rotate: a new active key, the old one published by its public key only; the printed signing.keys make a valid config", () => {
    const dir = join(TMP, "rotate");
    const file = writeConfig();
    const r = cli(["keys", "rotate", "-c", file, "--dir", dir, "--alg", "EdDSA", "--kid", "next-1"]);
    expect(r.status, r.stderr).toBe(0);
    const keys = parse(r.stdout.slice(r.stdout.indexOf("signing:"))).signing.keys;
    expect(keys[0]).toMatchObject({ kid: "next-1", alg: "EdDSA" });
    // Paths as the config spells them: relative to the config's directory (TMP) when inside it.
    expect(keys[1]).toEqual({ kid: "test-rs", alg: "RS256", publicKeyFile: "rotate/test-rs.pub.pem" });
    expect(keys[2].kid).toBe("test-es-previous");
    expect(existsSync(join(dir, "test-rs.pub.pem"))).toBe(true);
    const inTmp = (p: string | undefined): string | undefined => (p === undefined || p.startsWith("/") ? p : join(TMP, p));
    const rotated = writeConfig((c) => void (c.signing.keys = keys.map((k: Record<string, string>) => ({ ...k, ...(k.privateKeyFile ? { privateKeyFile: inTmp(k.privateKeyFile) } : { publicKeyFile: inTmp(k.publicKeyFile) }) }))));
    expect(cli(["check-config", "-c", rotated]).status).toBe(0);
    const list = json(cli(["keys", "list", "-c", rotated, "--json"]));
    expect(list.keys.map((k: { kid: string; role: string }) => [k.kid, k.role])).toEqual([["next-1", "signing"], ["test-rs", "published"], ["test-es-previous", "published"]]);
    // The published old key is the same key: same JWK thumbprint before and after.
    const before = json(cli(["keys", "list", "-c", file, "--json"])).keys[0].thumbprint;
    expect(list.keys[1].thumbprint).toBe(before);
  });
});
