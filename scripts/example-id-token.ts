/**
 * The second example's local OIDC issuer: prints a freshly signed ID token (RS256, `typ: JWT`) for
 * config/fedbridge.next-hop.example.yaml, ready to paste as `subject_token` or `actor_token`. Signs
 * with the development-only key in certs/ (created on first use, never committed).
 *
 *   npm run -s example-id-token -- [--sub alice@example.org] [--email alice@example.org]
 *                                  [--groups staff] [--azp orders-service] [--aud fedbridge]
 *                                  [--lifetime 300]
 *
 * A workload's token for an actor_token: `--sub orders-service --azp orders-service` (the `azp`
 * names the party it was issued to; the bridge lets only the client that lists it act with it).
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ensureExampleOidcKeys, signExampleIdToken } from "./lib/example-oidc.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "alice@example.org" },
    email: { type: "string" },
    groups: { type: "string", default: "staff" },
    azp: { type: "string" },
    aud: { type: "string", default: "fedbridge" },
    lifetime: { type: "string", default: "300" },
  },
});
const lifetimeSeconds = Number(values.lifetime);
if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 1 || lifetimeSeconds > 86_400) {
  process.stderr.write("--lifetime: whole seconds, 1-86400\n");
  process.exit(2);
}
const keys = ensureExampleOidcKeys(root, (line) => process.stderr.write(`${line}\n`));
const email = values.email ?? (values.sub.includes("@") ? values.sub : undefined);
const token = await signExampleIdToken(keys, {
  sub: values.sub,
  aud: values.aud,
  ...(values.azp !== undefined ? { azp: values.azp } : {}),
  ...(email !== undefined ? { email } : {}),
  groups: values.groups.split(",").filter(Boolean),
  lifetimeSeconds,
  now: Date.now(),
});
process.stdout.write(`${token}\n`);
