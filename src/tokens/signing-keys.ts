import { constants, createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject, type SignKeyObjectInput } from "node:crypto";
import { readFileSync } from "node:fs";
import { exportJWK, type JWK } from "jose";
import type { Config } from "../config/schema.js";

export interface ActiveSigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  /**
   * JWS Compact Serialization (RFC 7515 §7.1) of `payload` under the protected header
   * {alg, typ, kid}. The key was imported once at start-up and the encoded header is cached per
   * `typ`, so a token costs one JSON.stringify, one base64url and one signature. RSA signatures
   * (~0.3-1 ms) run on libuv's thread pool, off the event loop; EC and Ed25519 ones (tens of µs)
   * inline, where a thread hand-off would cost about as much as the signature.
   */
  signCompact(typ: string, payload: Readonly<Record<string, unknown>>): Promise<string>;
}

/**
 * node:crypto parameters per JWS algorithm (RFC 7518 §3.1): RSASSA-PKCS1-v1_5 (§3.3), RSASSA-PSS
 * with MGF1 and a salt as long as the hash (§3.5), ECDSA with the raw R||S signature rather than
 * DER (§3.4), and Ed25519 (RFC 8037 §3.1), which hashes internally (digest null).
 */
function signParams(alg: string, key: KeyObject): { digest: string | null; key: KeyObject | SignKeyObjectInput } {
  switch (alg) {
    case "RS256": return { digest: "sha256", key };
    case "PS256": return { digest: "sha256", key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } };
    case "ES256": return { digest: "sha256", key: { key, dsaEncoding: "ieee-p1363" } };
    case "ES384": return { digest: "sha384", key: { key, dsaEncoding: "ieee-p1363" } };
    case "EdDSA": return { digest: null, key };
    default: throw new Error(`unsupported signing algorithm ${alg}`);
  }
}

export interface CompactSigner {
  /** Signs on the calling thread. */
  sync(typ: string, payload: Readonly<Record<string, unknown>>): string;
  /** Signs on libuv's thread pool (node:crypto's callback form). */
  offloaded(typ: string, payload: Readonly<Record<string, unknown>>): Promise<string>;
}

/** The signer of one key: parameters chosen once, encoded headers cached (there are a few `typ`s, all constants). */
export function compactSigner(kid: string, alg: string, privateKey: KeyObject): CompactSigner {
  const params = signParams(alg, privateKey);
  const headers = new Map<string, string>();
  const signingInput = (typ: string, payload: Readonly<Record<string, unknown>>): string => {
    let header = headers.get(typ);
    if (header === undefined) {
      header = Buffer.from(JSON.stringify({ alg, typ, kid })).toString("base64url");
      headers.set(typ, header);
    }
    return `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  };
  return {
    sync: (typ, payload) => {
      const input = signingInput(typ, payload);
      return `${input}.${cryptoSign(params.digest, Buffer.from(input), params.key).toString("base64url")}`;
    },
    offloaded: (typ, payload) => {
      const input = signingInput(typ, payload);
      return new Promise((resolve, reject) => {
        cryptoSign(params.digest, Buffer.from(input), params.key, (err, sig) => (err ? reject(err) : resolve(`${input}.${sig.toString("base64url")}`)));
      });
    },
  };
}

/** RSA off the event loop, the cheap curves inline (see ActiveSigningKey.signCompact). */
function signCompactFor(alg: string, signer: CompactSigner): ActiveSigningKey["signCompact"] {
  return alg === "RS256" || alg === "PS256" ? signer.offloaded : async (typ, payload) => signer.sync(typ, payload);
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
        active ??= { kid: k.kid, alg: k.alg, privateKey, signCompact: signCompactFor(k.alg, compactSigner(k.kid, k.alg, privateKey)) };
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
