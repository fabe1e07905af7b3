import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { exportJWK, calculateJwkThumbprint, type JWK } from "jose";
import { stringify } from "yaml";
import { resolvePath, type LoadedConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { CliError } from "./errors.js";
import { signingKeysOf } from "./offline.js";

/**
 * `fedbridge keys`: the bridge's token signing keys (config `signing.keys`: the first entry with a
 * privateKeyFile signs, every entry is published in the JWKS). Rotation (RFC 7517 §5, RFC 9068 §4:
 * resource servers pick the key by `kid`) is: a new key becomes the first entry, the old one stays
 * listed with its public key only until every token it signed has expired (tokens.ttlSeconds), then
 * is removed. The config file is never rewritten (it may be generated, commented or read-only):
 * `rotate` writes the key files and prints the `signing.keys` to put in it.
 */
export type Alg = Config["signing"]["keys"][number]["alg"];
export const ALGS: readonly Alg[] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

function generate(alg: Alg): KeyObject {
  switch (alg) {
    case "RS256":
    case "PS256":
      return generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey;
    case "ES256":
      return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    case "ES384":
      return generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey;
    case "EdDSA":
      return generateKeyPairSync("ed25519").privateKey;
  }
}

export function newKid(alg: Alg, now: number): string {
  return `${alg.toLowerCase()}-${new Date(now).toISOString().slice(0, 10).replaceAll("-", "")}-${randomBytes(3).toString("hex")}`;
}

export interface GeneratedKey {
  kid: string;
  alg: Alg;
  privateKeyFile: string;
  publicKeyFile: string;
  jwk: JWK;
}

/** Writes `<kid>.pem` (PKCS#8, mode 0600, never over an existing file) and `<kid>.pub.pem`. */
export async function generateKey(dir: string, alg: Alg, kid: string): Promise<GeneratedKey> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(kid)) throw new CliError("usage", "a kid is 1 to 64 of A-Z a-z 0-9 . _ -", 2);
  mkdirSync(dir, { recursive: true });
  const privateKey = generate(alg);
  const publicKey = createPublicKey(privateKey);
  const privateKeyFile = join(dir, `${kid}.pem`);
  const publicKeyFile = join(dir, `${kid}.pub.pem`);
  try {
    writeFileSync(privateKeyFile, privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600, flag: "wx" });
  } catch (e) {
    throw new CliError("key_exists", `cannot write ${privateKeyFile} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }) as string, { flag: "wx" });
  return { kid, alg, privateKeyFile, publicKeyFile, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

export interface ListedKey {
  kid: string;
  alg: string;
  role: "signing" | "published";
  file: string;
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key. */
  thumbprint: string;
}

export async function listKeys(loaded: LoadedConfig): Promise<ListedKey[]> {
  const set = await signingKeysOf(loaded);
  const out: ListedKey[] = [];
  for (const [i, k] of loaded.config.signing.keys.entries()) {
    out.push({
      kid: k.kid, alg: k.alg,
      role: k.kid === set.active.kid ? "signing" : "published",
      file: resolvePath(loaded.baseDir, k.privateKeyFile ?? k.publicKeyFile!),
      thumbprint: await calculateJwkThumbprint(set.jwks.keys[i]!),
    });
  }
  return out;
}

/** A path as the config would spell it: relative to the config's directory when inside it. */
function configPath(baseDir: string, file: string): string {
  const rel = relative(baseDir, file);
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

export interface Rotation {
  generated: GeneratedKey;
  /** The signing key being retired and the public key file written for it. */
  retired: { kid: string; publicKeyFile: string };
  /** The new value of `signing.keys`. */
  signingKeys: Config["signing"]["keys"];
}

export async function rotateKeys(loaded: LoadedConfig, o: { dir?: string | undefined; alg?: Alg | undefined; kid?: string | undefined; now: number }): Promise<Rotation> {
  const { config, baseDir } = loaded;
  const set = await signingKeysOf(loaded);
  const activeEntry = config.signing.keys.find((k) => k.kid === set.active.kid)!;
  const activeFile = resolvePath(baseDir, activeEntry.privateKeyFile!);
  const dir = o.dir !== undefined ? resolve(o.dir) : dirname(activeFile);
  const alg = o.alg ?? (activeEntry.alg);
  const generated = await generateKey(dir, alg, o.kid ?? newKid(alg, o.now));
  // The old key is kept published by its public half only: the private key may then be destroyed.
  const retiredPub = join(dir, `${activeEntry.kid}.pub.pem`);
  if (!existsSync(retiredPub)) writeFileSync(retiredPub, createPublicKey(createPrivateKey(readFileSync(activeFile, "utf8"))).export({ type: "spki", format: "pem" }) as string, { flag: "wx" });
  const signingKeys: Config["signing"]["keys"] = [
    { kid: generated.kid, alg, privateKeyFile: configPath(baseDir, generated.privateKeyFile) },
    { kid: activeEntry.kid, alg: activeEntry.alg, publicKeyFile: configPath(baseDir, retiredPub) },
    ...config.signing.keys.filter((k) => k !== activeEntry),
  ];
  return { generated, retired: { kid: activeEntry.kid, publicKeyFile: retiredPub }, signingKeys };
}

export function signingKeysYaml(keys: Config["signing"]["keys"]): string {
  return stringify({ signing: { keys } });
}
