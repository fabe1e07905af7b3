/**
 * The credential maker shared by `fedbridge hash-secret` and `npm run hash-secret`
 * (scripts/hash-secret.ts): a credential and the hash the config stores instead of it (the bridge
 * never stores one in clear: clients/secret-hash.ts). Admin and metrics tokens are always
 * generated (sha256 only: a 256-bit random token needs no slow hash).
 * Exit codes: 0 done, 2 usage error or unusable secret.
 */
import { readFileSync } from "node:fs";
import { generateSecret, hashSecretScrypt, hashSecretSha256 } from "../clients/secret-hash.js";

export type HashSecretMode = "client" | "admin" | "scrypt";
export const MIN_SECRET_LENGTH = 12;

export function fail(line: string): never {
  process.stderr.write(`hash-secret: ${line}\n`);
  process.exit(2);
}

/** Reads one line from the terminal without echoing it (raw mode); Ctrl-C or Ctrl-D aborts. */
function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = "";
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") {
          stdin.off("data", onData);
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write("\n");
          resolve(value);
          return;
        }
        if (ch === "\u0003" || ch === "\u0004") {
          stdin.setRawMode(false);
          process.stderr.write("\n");
          fail("aborted");
        }
        if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

async function chosenSecret(): Promise<string> {
  if (!process.stdin.isTTY) return readFileSync(0, "utf8").replace(/\r?\n$/, "");
  const secret = await askHidden(`Client secret to hash (${MIN_SECRET_LENGTH} characters at least, not shown): `);
  if ([...secret].length >= MIN_SECRET_LENGTH && (await askHidden("The same again: ")) !== secret) fail("the two entries differ; nothing hashed");
  return secret;
}

/**
 * Makes (or, for scrypt, asks for) the credential and prints it with its hash. `json`: one JSON
 * object on stdout ({secret, secretHash} / {token, tokenHash} / {secretHash}) instead of the lines.
 */
export async function runHashSecret(mode: HashSecretMode, json = false): Promise<void> {
  if (mode === "scrypt") {
    const secret = await chosenSecret();
    if ([...secret].length < MIN_SECRET_LENGTH) fail(`secret too short (${MIN_SECRET_LENGTH} characters at least)`);
    const hash = await hashSecretScrypt(secret);
    // Only the hash on stdout, so `$(printf %s "$S" | npm run -s hash-secret -- --scrypt)` keeps working.
    process.stdout.write(json ? `${JSON.stringify({ secretHash: hash })}\n` : `${hash}\n`);
    process.stderr.write("hash-secret: put the secretHash in clients[].secretHash\n");
  } else if (mode === "admin") {
    const token = generateSecret();
    const tokenHash = hashSecretSha256(token);
    process.stdout.write(json ? `${JSON.stringify({ token, tokenHash })}\n` : `token:     ${token}\ntokenHash: ${tokenHash}\n`);
    process.stderr.write("hash-secret: put the tokenHash in the config (admin.tokens[].tokenHash or metrics.tokenHash); give the token to its holder and keep no other copy\n");
  } else {
    const secret = generateSecret();
    const secretHash = hashSecretSha256(secret);
    process.stdout.write(json ? `${JSON.stringify({ secret, secretHash })}\n` : `secret:     ${secret}\nsecretHash: ${secretHash}\n`);
    process.stderr.write("hash-secret: put the secretHash in clients[].secretHash; give the secret to the client and keep no other copy (admin tokens: --admin)\n");
  }
}
