import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { exportJWK, type JWK } from "jose";
import type { Config } from "../config/schema.js";

export interface ActiveSigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
}

export interface SigningKeySet {
  active: ActiveSigningKey;
  /** Public JWKS: the active key and every other configured one (rotation: current and previous). */
  jwks: { keys: JWK[] };
}

export class KeyError extends Error {
  override name = "KeyError";
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

const CURVES: Record<string, string> = { ES256: "prime256v1", ES384: "secp384r1" };

function checkKeyFitsAlg(key: KeyObject, alg: string): string | undefined {
  const type = key.asymmetricKeyType;
  if (alg === "RS256" || alg === "PS256") {
    if (type !== "rsa") return `${alg} needs an RSA key`;
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return "RSA keys must have at least 2048 bits";
  } else if (alg === "ES256" || alg === "ES384") {
    if (type !== "ec" || key.asymmetricKeyDetails?.namedCurve !== CURVES[alg]) return `${alg} needs an EC key on ${CURVES[alg]}`;
  } else if (alg === "EdDSA") {
    if (type !== "ed25519") return "EdDSA needs an Ed25519 key";
  }
  return undefined;
}

/** Loads the configured keys; `resolve` maps config paths to files. Errors carry the config path. */
export async function loadSigningKeys(
  signing: Config["signing"],
  resolve: (p: string) => string,
): Promise<SigningKeySet> {
  let active: ActiveSigningKey | undefined;
  const jwks: JWK[] = [];
  for (const [i, k] of signing.keys.entries()) {
    const path = `signing.keys[${i}]`;
    const file = k.privateKeyFile ?? k.publicKeyFile!;
    let pem: string;
    try {
      pem = readFileSync(resolve(file), "utf8");
    } catch (e) {
      throw new KeyError(`${path}.${k.privateKeyFile ? "privateKeyFile" : "publicKeyFile"}`, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"}); run \`npm run dev-keys\` for development keys`);
    }
    let publicKey: KeyObject;
    try {
      if (k.privateKeyFile) {
        const privateKey = createPrivateKey(pem);
        publicKey = createPublicKey(privateKey);
        active ??= { kid: k.kid, alg: k.alg, privateKey };
      } else {
        publicKey = createPublicKey(pem);
      }
    } catch {
      throw new KeyError(path, `${file} is not a PEM key`);
    }
    const misfit = checkKeyFitsAlg(publicKey, k.alg);
    if (misfit) throw new KeyError(`${path}.alg`, misfit);
    jwks.push({ ...(await exportJWK(publicKey)), kid: k.kid, alg: k.alg, use: "sig" });
  }
  if (!active) throw new KeyError("signing.keys", "no key with a privateKeyFile");
  return { active, jwks: { keys: jwks } };
}
