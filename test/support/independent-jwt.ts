// Signs JWTs with INDEPENDENT JOSE implementations (PyJWT or jwcrypto, Debian packages, run under
// /usr/bin/python3 by pyjwt_sign.py), so the bridge never verifies only what its own library signed.
// Synchronous (execFileSync); several tokens per call to keep process spawns down.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { KEYS_DIR } from "./constants.js";

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "pyjwt_sign.py");

/** TEST-ONLY JWT issuer keys (test/fixtures/keys, README there). */
export const JWT_KEYS = {
  /** RSA 2048, kid oidc-rs-1 in test/fixtures/jwks/oidc.jwks.json. */
  oidc: path.join(KEYS_DIR, "oidc-rs.key"),
  /** RSA 2048, kid oidc-rs-2: the corporate IdP's next key (oidc-rotated.jwks.json only). */
  oidcNext: path.join(KEYS_DIR, "oidc-rs-next.key"),
  /** ECDSA P-256, kid ci-es-1 in test/fixtures/jwks/ci.jwks.json. */
  ci: path.join(KEYS_DIR, "ci-es.key"),
  /** RSA 2048, in no JWKS. */
  attacker: path.join(KEYS_DIR, "attacker.key"),
} as const;

export interface PySignSpec {
  lib?: "pyjwt" | "jwcrypto";
  key: string;
  alg: string;
  /** Extra header members; `typ: null` drops PyJWT's default "JWT". */
  header?: Record<string, unknown>;
  claims: Record<string, unknown>;
}

export function pySignMany(specs: readonly PySignSpec[]): string[] {
  const input = JSON.stringify(specs.map((s) => ({ lib: s.lib ?? "pyjwt", key_file: s.key, alg: s.alg, header: s.header ?? {}, claims: s.claims })));
  const out = execFileSync("/usr/bin/python3", [SCRIPT], { input, encoding: "utf8", timeout: 30_000 });
  const tokens = JSON.parse(out) as string[];
  if (!Array.isArray(tokens) || tokens.length !== specs.length) throw new Error("pyjwt_sign.py: unexpected output");
  return tokens;
}

export function pySign(spec: PySignSpec): string {
  return pySignMany([spec])[0]!;
}
