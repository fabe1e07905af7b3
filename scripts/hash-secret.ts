/**
 * Prints a client secret hash for the config's `clients[].secretHash`.
 *   npm run hash-secret                 generate a new random secret, print it and its sha256 hash
 *   npm run hash-secret -- --scrypt     read a human-chosen secret from stdin, print its scrypt hash
 */
import { readFileSync } from "node:fs";
import { generateSecret, hashSecretScrypt, hashSecretSha256 } from "../src/clients/secret-hash.js";

if (process.argv.includes("--scrypt")) {
  const secret = readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (secret.length < 12) {
    process.stderr.write("secret too short (12 characters at least)\n");
    process.exit(2);
  }
  process.stdout.write(`${await hashSecretScrypt(secret)}\n`);
} else {
  const secret = generateSecret();
  process.stdout.write(`secret:     ${secret}\nsecretHash: ${hashSecretSha256(secret)}\n`);
}
