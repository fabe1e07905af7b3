/**
 * The cryptographic floor of one exchange, measured on ALL cores at once (one worker thread per
 * core, all measuring at the same time, as the bridge's workers run):
 *
 *   SAML:     XML parse of the token (xmldom) + SHA-256 digest of the assertion's bytes
 *             + one RSA-2048 verification + one access-token signature;
 *   ID token: one RS256 verification + JSON parse of header and payload + one access-token signature.
 *
 * Each operation's µs/op is measured on its own; an exchange costs their sum (arithmetic.ts), the
 * all-core floor is the sum over cores of 1e6 / that cost. The access-token signature is plain
 * node:crypto with a key imported once (RFC 7518 parameters), independent of the bridge's code, so
 * the same floor can be measured against any version of the bridge.
 */
import { constants, createPrivateKey, createPublicKey, createHash, randomUUID, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { DOMParser } from "@xmldom/xmldom";

export interface FloorInput {
  kind: "saml" | "idtoken";
  /** A sample token: the XML, or the compact JWT. */
  token: string;
  /** Key that signs the SAML SignedInfo / the ID token (the IdP's), PKCS#8 PEM. */
  idpKeyPem: string;
  /** The bridge's access-token key and algorithm. */
  bridgeKeyPem: string;
  bridgeAlg: string;
  /** Measuring time per operation and round (a warm-up round, then three), per thread. */
  msPerOp: number;
}

export interface FloorMeasure {
  /** CPU µs per op (process user + system over every thread / ops of all threads): load-insensitive. */
  cpuUs: Record<string, number>;
  /** Wall µs per op, per thread, as this machine ran it just now. */
  wallUs: Record<string, number>[];
  threads: number;
}

type Op = () => unknown;

const ROUNDS = 3;

function run(fn: Op, ms: number): { ops: number; wallUs: number } {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms || ops < 20) {
    fn();
    ops++;
    elapsed = performance.now() - start;
  }
  return { ops, wallUs: elapsed * 1000 };
}

/** JWS compact signing, the least it can be: cached key and header, JSON, base64url, one signature. */
function rawSigner(alg: string, key: KeyObject): (payload: Record<string, unknown>) => string {
  const header = Buffer.from(JSON.stringify({ alg, typ: "at+jwt", kid: "bench-floor" })).toString("base64url");
  const params: [string | null, KeyObject | Parameters<typeof cryptoSign>[2]] =
    alg === "RS256" ? ["sha256", key]
    : alg === "PS256" ? ["sha256", { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }]
    : alg === "ES256" ? ["sha256", { key, dsaEncoding: "ieee-p1363" }]
    : alg === "ES384" ? ["sha384", { key, dsaEncoding: "ieee-p1363" }]
    : [null, key];
  return (payload) => {
    const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    return `${input}.${cryptoSign(params[0], Buffer.from(input), params[1]).toString("base64url")}`;
  };
}

function measure(input: FloorInput): Record<string, Op> {
  const idpKey = createPrivateKey(input.idpKeyPem);
  const idpPublic = createPublicKey(idpKey);
  const signer = rawSigner(input.bridgeAlg, createPrivateKey(input.bridgeKeyPem));
  const now = Math.floor(Date.now() / 1000);
  // A representative access token (the bench's mapping yields about these claims).
  const claims = {
    email: "user.1@bench.invalid", name: "Given1 Surname1", groups: ["staff", "editors"], iss: "https://bridge.bench.invalid", sub: "user.1@bench.invalid",
    aud: "https://api-saml.bench.invalid", iat: now, exp: now + 300, client_id: "bench-saml", idp: "https://sts.bench.invalid/", scope: "read",
    act: { sub: "bench-saml" }, auth_time: now, acr: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
  };
  const sign = (): string => signer({ ...claims, jti: randomUUID() });
  if (input.kind === "saml") {
    const signedInfo = /<(?:[\w.-]+:)?SignedInfo[\s>][\s\S]*?<\/(?:[\w.-]+:)?SignedInfo>/.exec(input.token)?.[0];
    if (!signedInfo) throw new Error("no SignedInfo in the sample token");
    const message = Buffer.from(signedInfo);
    const signature = cryptoSign("sha256", message, idpKey);
    const assertion = /<(?:[\w.-]+:)?Assertion[\s>][\s\S]*<\/(?:[\w.-]+:)?Assertion>/.exec(input.token)?.[0] ?? input.token;
    const parser = new DOMParser({ locator: {}, errorHandler: { warning: () => undefined, error: () => undefined, fatalError: () => undefined } });
    return {
      parse: () => parser.parseFromString(input.token, "text/xml"),
      digest: () => createHash("sha256").update(assertion).digest(),
      verify: () => {
        if (!cryptoVerify("sha256", message, idpPublic, signature)) throw new Error("verify failed");
      },
      sign,
    };
  }
  const [h, p, s] = input.token.split(".") as [string, string, string];
  const signingInput = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, "base64url");
  return {
    verify: () => {
      if (!cryptoVerify("sha256", signingInput, idpPublic, sig)) throw new Error("verify failed");
    },
    json: () => [JSON.parse(Buffer.from(h, "base64url").toString()), JSON.parse(Buffer.from(p, "base64url").toString())],
    sign,
  };
}

/**
 * One thread per core, all running the same operation at the same time, one operation after the
 * other; the process's CPU time over each phase divided by the ops of all threads is its cost.
 */
export async function measureFloor(input: FloorInput, threads = availableParallelism()): Promise<FloorMeasure> {
  const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: input }));
  const ask = (w: Worker, msg: unknown): Promise<any> => new Promise((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
    w.postMessage(msg);
  });
  try {
    const names = (await Promise.all(workers.map((w) => ask(w, { type: "names" }))))[0] as string[];
    // Warm-up long enough for the JIT to finish with each operation (its compiler threads' CPU
    // would otherwise count), then rounds alternating the operations; each one's best round counts.
    for (const name of names) await Promise.all(workers.map((w) => ask(w, { type: "run", name, ms: input.msPerOp })));
    const cpuUs: Record<string, number> = {};
    const wallUs: Record<string, number>[] = workers.map(() => ({}));
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names) {
        const cpu0 = process.cpuUsage();
        const results = (await Promise.all(workers.map((w) => ask(w, { type: "run", name, ms: input.msPerOp })))) as { ops: number; wallUs: number }[];
        const cpu = process.cpuUsage(cpu0);
        cpuUs[name] = Math.min(cpuUs[name] ?? Number.POSITIVE_INFINITY, (cpu.user + cpu.system) / results.reduce((a, r) => a + r.ops, 0));
        results.forEach((r, i) => (wallUs[i]![name] = Math.min(wallUs[i]![name] ?? Number.POSITIVE_INFINITY, r.wallUs / r.ops)));
      }
    }
    return { cpuUs, wallUs, threads };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

if (!isMainThread && parentPort) {
  const ops = measure(workerData as FloorInput);
  const port = parentPort;
  port.on("message", (m: { type: "names" } | { type: "run"; name: string; ms: number }) => {
    if (m.type === "names") port.postMessage(Object.keys(ops));
    else port.postMessage(run(ops[m.name]!, m.ms));
  });
}
