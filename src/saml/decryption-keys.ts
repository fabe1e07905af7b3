import { X509Certificate, createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, resolvePath } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { DecryptionKey } from "./decrypt.js";

/**
 * `saml.decryptionKeys`: RSA (≥ 2048 bits) PKCS#8 keys, each with the certificate of its own public
 * key (published in the SP metadata; a mismatch would make IdPs encrypt to a key the bridge lacks),
 * and optionally the SAML IdP ids it is bound to (`idps`, see decrypt.ts `keysFor`).
 */
export function loadDecryptionKeys(saml: Pick<Config["saml"], "decryptionKeys">, baseDir: string): DecryptionKey[] {
  return saml.decryptionKeys.map((k, i) => {
    const path = `saml.decryptionKeys[${i}]`;
    const read = (field: "privateKeyFile" | "certificateFile"): string => {
      try {
        return readFileSync(resolvePath(baseDir, k[field]), "utf8");
      } catch (e) {
        throw new ConfigError([{ path: `${path}.${field}`, message: `cannot read ${k[field]} (${(e as NodeJS.ErrnoException).code ?? "error"})` }]);
      }
    };
    const keyPem = read("privateKeyFile");
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(keyPem);
    } catch {
      throw new ConfigError([{ path: `${path}.privateKeyFile`, message: `${k.privateKeyFile} is not a PEM private key` }]);
    }
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (privateKey.asymmetricKeyType !== "rsa" || bits < 2048) {
      throw new ConfigError([{ path: `${path}.privateKeyFile`, message: "must be an RSA key of at least 2048 bits (RSA-OAEP key transport)" }]);
    }
    const certificatePem = read("certificateFile");
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certificatePem);
    } catch {
      throw new ConfigError([{ path: `${path}.certificateFile`, message: `${k.certificateFile} is not a PEM certificate` }]);
    }
    const spki = (key: KeyObject): Buffer => key.export({ type: "spki", format: "der" });
    if (!spki(cert.publicKey).equals(spki(createPublicKey(privateKey)))) {
      throw new ConfigError([{ path: `${path}.certificateFile`, message: "certificate does not match privateKeyFile" }]);
    }
    return {
      privateKey, certificatePem: cert.toString(), fingerprint: createHash("sha256").update(cert.raw).digest("hex"),
      ...(k.idps ? { idps: Object.freeze([...k.idps]) } : {}),
    };
  });
}
