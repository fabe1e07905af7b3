import { createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";

/**
 * The local OIDC issuer of the second example (config/fedbridge.next-hop.example.yaml): a
 * DEVELOPMENT-ONLY RS256 key generated on this machine on first use, never committed (certs/ is
 * gitignored), and the JWKS file the example config trusts. Nothing is served or fetched: the bridge
 * reads the public key from the JWKS file (`jwtIssuers[].jwksFile`).
 */
export const EXAMPLE_OIDC_ISSUER = "https://oidc.example.org";
export const EXAMPLE_OIDC_KID = "example-oidc-dev-1";

export interface ExampleOidcKeys {
  privateKey: KeyObject;
  kid: string;
}

/** Creates certs/example-oidc.key and certs/example-oidc.jwks.json if either is missing. */
export function ensureExampleOidcKeys(root: string, log: (line: string) => void = () => undefined): ExampleOidcKeys {
  const certs = join(root, "certs");
  const keyFile = join(certs, "example-oidc.key");
  const jwksFile = join(certs, "example-oidc.jwks.json");
  if (!existsSync(keyFile) || !existsSync(jwksFile)) {
    mkdirSync(certs, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
    const jwk = { ...publicKey.export({ format: "jwk" }), kid: EXAMPLE_OIDC_KID, alg: "RS256", use: "sig" };
    writeFileSync(jwksFile, `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`);
    log(`example-oidc: created a development-only issuer key (${keyFile}, ${jwksFile})`);
  }
  return { privateKey: createPrivateKey(readFileSync(keyFile, "utf8")), kid: EXAMPLE_OIDC_KID };
}

export interface ExampleIdTokenClaims {
  sub: string;
  aud: string;
  /** The party the token was issued to (OIDC Core §2); binds an actor token to a bridge client. */
  azp?: string;
  email?: string;
  groups: readonly string[];
  lifetimeSeconds: number;
  now: number;
}

/** A signed ID token (or JWT) of the example issuer: `typ: JWT`, RS256, with a fresh `jti`. */
export async function signExampleIdToken(keys: ExampleOidcKeys, c: ExampleIdTokenClaims): Promise<string> {
  const iat = Math.floor(c.now / 1000);
  const claims: Record<string, unknown> = { groups: [...c.groups] };
  if (c.email !== undefined) Object.assign(claims, { email: c.email, email_verified: true });
  if (c.azp !== undefined) claims.azp = c.azp;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: keys.kid, typ: "JWT" })
    .setIssuer(EXAMPLE_OIDC_ISSUER)
    .setSubject(c.sub)
    .setAudience(c.aud)
    .setIssuedAt(iat)
    .setExpirationTime(iat + c.lifetimeSeconds)
    .setJti(randomUUID())
    .sign(keys.privateKey);
}
