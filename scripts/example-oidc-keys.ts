/**
 * Creates the local OIDC issuer's development-only key and JWKS file for the second example
 * (certs/example-oidc.key, certs/example-oidc.jwks.json), if missing. Run by `npm run start:next-hop`
 * before the bridge starts, since config/fedbridge.next-hop.example.yaml reads the JWKS file.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureExampleOidcKeys } from "./lib/example-oidc.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
ensureExampleOidcKeys(root, (line) => process.stderr.write(`${line}\n`));
