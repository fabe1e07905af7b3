/**
 * Makes a credential and the hash the config stores instead of it (the bridge never stores one in
 * clear: clients/secret-hash.ts).
 *   npm run -s hash-secret                    a new random client secret: `secret:` and `secretHash:`
 *                                             (clients[].secretHash)
 *   npm run -s hash-secret -- --admin         a new random bearer token: `token:` and `tokenHash:`
 *                                             (admin.tokens[].tokenHash, metrics.tokenHash)
 *   npm run -s hash-secret -- --scrypt        a client secret a person chose, hashed with scrypt: asked
 *                                             for on a terminal (twice, not echoed), else read from
 *                                             stdin; prints the hash alone
 * Admin and metrics tokens are always generated (sha256 only: a 256-bit random token needs no slow hash).
 * Exit codes: 0 done, 2 usage error or unusable secret.
 */
import { parseArgs } from "node:util";
import { fail, runHashSecret } from "../src/cli/hash-secret.js";

// The work is shared with `fedbridge hash-secret` (src/cli/hash-secret.ts); this keeps the npm script's options and usage.
const USAGE = `usage: npm run -s hash-secret [-- --admin | --scrypt]
  (no option)  generate a client secret; prints secret: and secretHash: (clients[].secretHash)
  --admin      generate an admin or metrics bearer token; prints token: and tokenHash:
               (admin.tokens[].tokenHash, metrics.tokenHash)
  --scrypt     hash a client secret you choose (12 characters at least) with scrypt and print
               the hash (for secretHash); asks for it on a terminal, or reads it from stdin: printf %s "$SECRET" | npm run -s hash-secret -- --scrypt
`;

let values: { admin?: boolean | undefined; scrypt?: boolean | undefined; help?: boolean | undefined };
try {
  ({ values } = parseArgs({ options: { admin: { type: "boolean" }, scrypt: { type: "boolean" }, help: { type: "boolean", short: "h" } } }));
} catch (e) {
  process.stderr.write(USAGE);
  fail((e as Error).message);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.admin && values.scrypt) {
  process.stderr.write(USAGE);
  fail("--admin and --scrypt do not go together: admin and metrics tokens are generated, and stored as sha256 only");
}

await runHashSecret(values.scrypt ? "scrypt" : values.admin ? "admin" : "client");
