/**
 * Development keys and the metadata trusting them are one set (scripts/dev-keys.ts). The bug this
 * guards against: the image carried the host's metadata/example-idp.xml while certs/ lived in a
 * volume, so from the second start the example IdP's key and its trusted metadata differed.
 * Now: a metadata file that trusts another certificate is rewritten from the one in certs/, a
 * certificate that is not its key's makes a new set, and the compose layout (keys and metadata on
 * one volume, `--metadata-dir certs`) is started twice, as a container would be, with an exchange
 * of an assertion signed by the generated key succeeding each time.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createClient } from "redis";
import { parse, stringify } from "yaml";
import { ensureDevKeys } from "../../scripts/dev-keys.js";
import { buildExampleAssertion, signAssertion } from "../../scripts/lib/example-idp.js";
import { certificateSerial, selfSignedCertificate } from "../../scripts/lib/self-signed-cert.js";
import { freePort } from "../support/redis-process.js";
import { TEST_REDIS_URL } from "../support/redis-url.js";
import { killAll, ROOT, request, startProcess, until } from "./processes.js";

const KEY_PREFIX = `fedbridge:test:ops:compose:${randomBytes(4).toString("hex")}:`;
afterAll(async () => {
  killAll();
  // Every key the compose-layout bridge wrote to the shared test Redis is under KEY_PREFIX: delete them.
  const redis = createClient({ url: TEST_REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  redis.on("error", () => undefined);
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${KEY_PREFIX}*` })) if (keys.length) await redis.del(keys);
  await redis.close();
});

const fresh = (): { certsDir: string; metadataDir: string; said: string[]; say: (l: string) => void } => {
  const base = mkdtempSync(join(tmpdir(), "fedbridge-devkeys-"));
  const said: string[] = [];
  return { certsDir: join(base, "certs"), metadataDir: join(base, "metadata"), said, say: (l) => void said.push(l) };
};
const read = (dir: string, f: string): string => readFileSync(join(dir, f), "utf8");
const metadataCert = (xml: string): string => /<ds:X509Certificate>([^<]+)</.exec(xml)![1]!;
const certB64 = (pem: string): string => pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
/** The metadata trusts exactly the certificate next to the key, and the certificate is the key's. */
function consistent(certsDir: string, metadataDir: string): boolean {
  const cert = read(certsDir, "example-idp.crt");
  const keyMatches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(read(certsDir, "example-idp.key")));
  return keyMatches && metadataCert(read(metadataDir, "example-idp.xml")) === certB64(cert);
}

describe("dev-keys keeps the example IdP's key, certificate and metadata one set", () => {
  it("creates the set and the signing key (private keys 0600), and a second run changes nothing", () => {
    const d = fresh();
    ensureDevKeys(d);
    expect(consistent(d.certsDir, d.metadataDir)).toBe(true);
    expect(statSync(join(d.certsDir, "dev-signing-key.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(join(d.certsDir, "example-idp.key")).mode & 0o777).toBe(0o600);
    const before = ["dev-signing-key.pem", "example-idp.key", "example-idp.crt"].map((f) => read(d.certsDir, f)).concat(read(d.metadataDir, "example-idp.xml"));
    d.said.length = 0;
    ensureDevKeys(d);
    expect(d.said).toEqual([]);
    const after = ["dev-signing-key.pem", "example-idp.key", "example-idp.crt"].map((f) => read(d.certsDir, f)).concat(read(d.metadataDir, "example-idp.xml"));
    expect(after).toEqual(before);
  });

  it("metadata trusting another certificate (e.g. baked into an image from another machine) is rewritten from the key's certificate; the key stays", () => {
    const d = fresh();
    ensureDevKeys(d);
    const other = fresh();
    ensureDevKeys(other);
    const key = read(d.certsDir, "example-idp.key");
    writeFileSync(join(d.metadataDir, "example-idp.xml"), read(other.metadataDir, "example-idp.xml"));
    expect(consistent(d.certsDir, d.metadataDir)).toBe(false);
    d.said.length = 0;
    ensureDevKeys(d);
    expect(d.said.join("\n")).toMatch(/trusted another certificate than .*example-idp\.crt: rewritten from it/);
    expect(read(d.certsDir, "example-idp.key")).toBe(key);
    expect(consistent(d.certsDir, d.metadataDir)).toBe(true);
  });

  it("missing metadata is made from the certificate; a certificate that is not the key's, or a missing one, makes a new set", () => {
    const d = fresh();
    ensureDevKeys(d);
    const key = read(d.certsDir, "example-idp.key");
    rmSync(join(d.metadataDir, "example-idp.xml"));
    ensureDevKeys(d);
    expect(read(d.certsDir, "example-idp.key")).toBe(key);
    expect(consistent(d.certsDir, d.metadataDir)).toBe(true);

    const other = fresh();
    ensureDevKeys(other);
    writeFileSync(join(d.certsDir, "example-idp.crt"), read(other.certsDir, "example-idp.crt"));
    ensureDevKeys(d);
    expect(read(d.certsDir, "example-idp.key")).not.toBe(key);
    expect(consistent(d.certsDir, d.metadataDir)).toBe(true);

    rmSync(join(d.certsDir, "example-idp.crt"));
    ensureDevKeys(d);
    expect(consistent(d.certsDir, d.metadataDir)).toBe(true);
  });
});

describe("the generated certificate is DER that OpenSSL reads, whatever the random serial", () => {
  // A serial whose first random byte was 0x00 or 0x80 became a non-minimal INTEGER (a leading zero
  // octet before a byte below 0x80): OpenSSL refused that certificate ("illegal padding"), one
  // generated set in 128, and a CI run with it.
  it("the serial is positive with a minimal encoding for the edge bytes", () => {
    for (const first of [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xff]) {
      for (const second of [0x00, 0x7f, 0x80, 0xff]) {
        const serial = certificateSerial(Buffer.concat([Buffer.from([first, second]), Buffer.alloc(14)]));
        expect(serial.length).toBe(16);
        expect(serial[0]! & 0x80, `${first}/${second}`).toBe(0); // positive
        expect(serial[0], `${first}/${second}`).not.toBe(0); // no padding octet
      }
    }
  });

  it("300 certificates for one key all parse and carry the key", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const publicKey = createPublicKey(privateKey);
    for (let i = 0; i < 300; i++) {
      const cert = new X509Certificate(selfSignedCertificate(privateKey, publicKey, "serial check", 1));
      expect(cert.checkPrivateKey(privateKey)).toBe(true);
      expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
  });
});

describe("the compose layout, started twice as its containers are", () => {
  it("keys and metadata on one volume (dev-keys --metadata-dir certs); each start: the same key, an exchange of the example IdP's assertion 200", async () => {
    // /app of the image: config from the tree; certs/ is the dev-keys volume (kept across starts);
    // a stale metadata/example-idp.xml, as an image built before .dockerignore carried, is ignored.
    const app = mkdtempSync(join(tmpdir(), "fedbridge-app-"));
    const certs = join(app, "certs");
    mkdirSync(join(app, "config"));
    mkdirSync(join(app, "metadata"));
    const stale = fresh();
    ensureDevKeys(stale);
    cpSync(join(stale.metadataDir, "example-idp.xml"), join(app, "metadata", "example-idp.xml"));
    const compose = parse(readFileSync(join(ROOT, "config", "fedbridge.compose.yaml"), "utf8")) as Record<string, any>;
    // The compose Redis is the host `redis`: here, the shared test Redis under a prefix of its own.
    compose.replay = { ...compose.replay, redisUrl: TEST_REDIS_URL, keyPrefix: KEY_PREFIX };
    const configFile = join(app, "config", "fedbridge.compose.yaml");
    writeFileSync(configFile, stringify(compose));

    let firstKey = "";
    for (const start of [1, 2]) {
      // The `keys` service's command, with the image's paths made absolute.
      const out = execFileSync(process.execPath, [join(ROOT, "dist", "scripts", "dev-keys.js"), "--certs-dir", certs, "--metadata-dir", certs], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      expect(out).toBe("");
      const key = read(certs, "example-idp.key");
      if (start === 1) firstKey = key;
      else expect(key, "the volume's key survives a restart").toBe(firstKey);
      expect(consistent(certs, certs)).toBe(true);

      const port = await freePort();
      const r = startProcess("main", configFile, port);
      await until("ready", async () => {
        if (r.child.exitCode !== null) throw new Error(`exited ${r.child.exitCode}: ${r.err()}`);
        return (await request(port, "GET", "/readyz").then((x) => x.status, () => 0)) === 200;
      });
      const assertion = signAssertion(buildExampleAssertion({
        issuer: "https://idp.example.org/saml", audience: "https://bridge.example.org/saml", recipient: "http://127.0.0.1:8080/token",
        nameId: "alice@example.org", groups: ["staff"], lifetime: 300, now: Date.now(),
      }), key);
      const form = new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: Buffer.from(assertion, "utf8").toString("base64url"),
        subject_token_type: "urn:ietf:params:oauth:token-type:saml2",
      }).toString();
      const res = await request(port, "POST", "/token", form, {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from("legacy-app:legacy-app-dev-secret").toString("base64")}`,
      });
      expect(res.status, `start ${start}: ${res.body}`).toBe(200);
      r.child.kill("SIGTERM");
      expect((await r.exited).code).toBe(0);
    }
  }, 90_000);
});
