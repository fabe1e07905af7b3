/**
 * The example IdP: prints a freshly signed SAML 2.0 assertion (or, with --saml11, a SAML 1.1 one),
 * base64url-encoded (RFC 8693 §3), ready to paste as `subject_token`. It signs with
 * certs/example-idp.key, created by `npm run dev-keys`; the bundled example config trusts it through
 * metadata/example-idp.xml.
 *
 *   npm run example-assertion -- [--sub alice@example.org] [--groups staff,orders-admin]
 *                                [--audience https://bridge.example.org/saml] [--saml11] [--xml]
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildExampleAssertion, buildExampleAssertion11, signAssertion, signAssertion11 } from "./lib/example-idp.js";

const EXAMPLE_IDP_ENTITY_ID = "https://idp.example.org/saml";
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "alice@example.org" },
    groups: { type: "string", default: "staff" },
    audience: { type: "string", default: "https://bridge.example.org/saml" },
    recipient: { type: "string", default: "http://127.0.0.1:8080/token" },
    lifetime: { type: "string", default: "300" },
    saml11: { type: "boolean", default: false },
    xml: { type: "boolean", default: false },
  },
});

let key: string;
try {
  key = readFileSync(join(root, "certs", "example-idp.key"), "utf8");
} catch {
  process.stderr.write("certs/example-idp.key is missing: run `npm run dev-keys` (or `npm start` once) first\n");
  process.exit(2);
}
const [build, sign] = values.saml11 ? [buildExampleAssertion11, signAssertion11] : [buildExampleAssertion, signAssertion];
const signed = sign(
  build({
    issuer: EXAMPLE_IDP_ENTITY_ID,
    audience: values.audience,
    recipient: values.recipient,
    nameId: values.sub,
    groups: values.groups.split(",").filter(Boolean),
    lifetime: Number(values.lifetime),
    session: 3600,
    now: Date.now(),
  }),
  key,
);
process.stdout.write(values.xml ? `${signed}\n` : `${Buffer.from(signed, "utf8").toString("base64url")}\n`);
