#!/usr/bin/env node
/**
 * `fedbridge`: the bridge's command line (docs/cli.md). Every command has --help, prints JSON with
 * --json, and exits 0 on success, 1 when what it checked is bad (config, token, refused exchange),
 * 2 on a usage error, 3 when the bridge cannot be reached. Nothing here listens, and nothing but
 * `exchange` uses the network.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ConfigError, type LoadedConfig } from "../config/load.js";
import { CliError, emit } from "./errors.js";
import { configProblems } from "./check-config.js";
import { inspect, readTokenInput } from "./inspect.js";
import { explainOffline } from "./explain.js";
import { exchangeToken } from "./exchange.js";
import { runHashSecret } from "./hash-secret.js";
import { ALGS, generateKey, listKeys, newKid, rotateKeys, signingKeysYaml, type Alg } from "./keys.js";
import { readConfig, signingKeysOf } from "./offline.js";

/** The largest token text a command reads: the schema's ceiling of limits.maxTokenBytes, base64-encoded. */
const MAX_INPUT = Math.ceil((1024 * 1024 * 4) / 3) + 4;

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function nowOf(at: string | undefined): number {
  if (at === undefined) return Date.now();
  const t = Date.parse(at);
  if (!Number.isFinite(t)) throw new CliError("usage", `--at ${at} is not a date`, 2);
  return t;
}

/** Runs a command body; a failure is printed (JSON on stdout with --json, else on stderr) and sets the exit status. */
async function run(json: boolean, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    let err: CliError;
    if (e instanceof CliError) err = e;
    else if (e instanceof ConfigError) err = new CliError("config_invalid", e.message, 1, { problems: e.issues });
    else err = new CliError("internal_error", (e as Error).message);
    if (json) process.stdout.write(`${JSON.stringify({ error: err.code, message: err.message, ...err.detail })}\n`);
    else process.stderr.write(`fedbridge: ${err.message}\n`);
    process.exitCode = err.exitCode;
  }
}

const program = new Command("fedbridge")
  .description("Command line of the fedbridge token exchange bridge (docs/cli.md)")
  .version(JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")).version as string)
  .exitOverride()
  .showHelpAfterError();

const jsonOption = (): Option => new Option("--json", "print JSON on stdout");
const configOption = (): Option => new Option("-c, --config <file>", "config file (default: $FEDBRIDGE_CONFIG)");

program.command("check-config")
  .description("validate a config file and the files it names; print every problem with its config path")
  .addOption(configOption()).addOption(jsonOption())
  .action(async (o: { config?: string; json?: boolean }) => run(!!o.json, async () => {
    const file = o.config ?? process.env.FEDBRIDGE_CONFIG;
    if (!file) throw new CliError("config_missing", "give --config FILE (or set FEDBRIDGE_CONFIG)", 2);
    const { problems, loaded } = await configProblems(file);
    const c = loaded?.config;
    emit(!!o.json, { ok: problems.length === 0, problems, ...(c && problems.length === 0 ? { summary: { issuer: c.issuer, clients: c.clients.length, samlIdps: c.samlIdps.length, jwtIssuers: c.jwtIssuers.length, signingKeys: c.signing.keys.length } } : {}) }, () =>
      problems.length === 0
        ? `${file}: OK (${c!.clients.length} clients, ${c!.samlIdps.length} SAML IdPs, ${c!.jwtIssuers.length} JWT issuers, ${c!.signing.keys.length} signing keys)\n`
        : `${problems.map((p) => `${p.path}: ${p.message}`).join("\n")}\n${problems.length} problem(s) in ${file}\n`);
    if (problems.length > 0) process.exitCode = 1;
  }));

program.command("inspect")
  .description("decode a SAML assertion/Response or a JWT offline (nothing fetched, nothing used up); with --config, say which configured key verifies it")
  .argument("<token>", "the token, a file holding it, or - for stdin (base64/base64url SAML, raw XML, or a compact JWT)")
  .addOption(configOption()).addOption(jsonOption())
  .option("--at <time>", "the time expiry is judged at (ISO 8601; default now)")
  .action(async (arg: string, o: { config?: string; json?: boolean; at?: string }) => run(!!o.json, async () => {
    const loaded: LoadedConfig | undefined = o.config !== undefined || process.env.FEDBRIDGE_CONFIG ? readConfig(o.config) : undefined;
    const result = await inspect(readTokenInput(arg, MAX_INPUT), loaded, nowOf(o.at));
    emit(!!o.json, result, () => {
      const v = result.verification;
      const verdict = v === undefined ? "signature: not checked (no --config)"
        : v.verified ? `signature: verified by ${v.source} key ${v.key}` : `signature: NOT verified (${v.reason}${v.source ? `, ${v.source}` : ""})`;
      return `${result.kind} (content below is unverified)\n${JSON.stringify(result.unverified, null, 2)}\n${verdict}\n`;
    });
    if (result.verification && !result.verification.verified) process.exitCode = 1;
  }));

program.command("explain")
  .description("the admin explain endpoint offline: run the exchange's steps on a SAML token against a config, nothing signed or marked used")
  .requiredOption("--idp <id>", "samlIdps[].id the token should come from")
  .requiredOption("--token <token>", "the SAML token, a file holding it, or - for stdin")
  .addOption(new Option("--token-type <type>", "subject token type").choices(["saml2", "saml1"]).default("saml2"))
  .option("--client <id>", "explain for this client (targets, scope, actor, claims)")
  .option("--audience <uri>", "requested audience (repeatable)", collect, [])
  .option("--resource <uri>", "requested resource (repeatable)", collect, [])
  .option("--scope <scope>", "requested scope")
  .option("--actor-token <token>", "actor token, a file holding it, or -")
  .addOption(new Option("--actor-token-type <type>", "actor token type").choices(["jwt", "id_token", "access_token"]))
  .option("--id-jag", "explain an ID-JAG request (requested_token_type id-jag)")
  .option("--at <time>", "the time the checks run at (ISO 8601; default now)")
  .addOption(configOption()).addOption(jsonOption())
  .action(async (o: { idp: string; token: string; tokenType: "saml2" | "saml1"; client?: string; audience: string[]; resource: string[]; scope?: string; actorToken?: string; actorTokenType?: "jwt" | "id_token" | "access_token"; idJag?: boolean; at?: string; config?: string; json?: boolean }) => run(!!o.json, async () => {
    const loaded = readConfig(o.config);
    const now = nowOf(o.at);
    const r = await explainOffline(loaded, {
      idp: o.idp, token: readTokenInput(o.token, MAX_INPUT), tokenType: o.tokenType, client: o.client, audience: o.audience, resource: o.resource,
      scope: o.scope, actorToken: o.actorToken === undefined ? undefined : readTokenInput(o.actorToken, MAX_INPUT), actorTokenType: o.actorTokenType, idJag: !!o.idJag,
    }, () => now);
    emit(!!o.json, r, () => `${r.steps.map((s) => `${s.ok ? "ok  " : "FAIL"} ${s.step}${s.reason ? ` (${s.reason})` : ""}${s.detail ? `\n     ${JSON.stringify(s.detail)}` : ""}`).join("\n")}\n${r.claims ? `claims: ${JSON.stringify(r.claims, null, 2)}\n` : ""}${r.ok ? "would be accepted" : "would be refused"}\n`);
    if (!r.ok) process.exitCode = 1;
  }));

program.command("exchange")
  .description("perform a token exchange (RFC 8693) against a running bridge; prints the access token (the whole response with --json)")
  .requiredOption("--url <url>", "the bridge's token endpoint, e.g. https://bridge.example/token (default: $FEDBRIDGE_URL)", process.env.FEDBRIDGE_URL)
  .requiredOption("--client-id <id>", "client id", process.env.FEDBRIDGE_CLIENT_ID)
  .option("--client-secret-file <file>", "file holding the client secret (default: $FEDBRIDGE_CLIENT_SECRET); never on the command line")
  .requiredOption("--subject-token <token>", "the subject token, a file holding it, or - for stdin")
  .option("--subject-token-type <type>", "saml2, saml1, jwt, id_token, access_token or a URI", "saml2")
  .option("--audience <uri>", "audience (repeatable)", collect, [])
  .option("--resource <uri>", "resource (repeatable)", collect, [])
  .option("--scope <scope>", "scope")
  .option("--requested-token-type <type>", "access_token, id-jag or a URI")
  .option("--actor-token <token>", "actor token, a file holding it, or -")
  .option("--actor-token-type <type>", "jwt, id_token, access_token or a URI")
  .option("--timeout <ms>", "request timeout in ms", "10000")
  .addOption(jsonOption())
  .action(async (o: { url: string; clientId: string; clientSecretFile?: string; subjectToken: string; subjectTokenType: string; audience: string[]; resource: string[]; scope?: string; requestedTokenType?: string; actorToken?: string; actorTokenType?: string; timeout: string; json?: boolean }) => run(!!o.json, async () => {
    const secret = o.clientSecretFile !== undefined ? readTokenInput(o.clientSecretFile, 4096) : process.env.FEDBRIDGE_CLIENT_SECRET;
    if (!secret) throw new CliError("usage", "give --client-secret-file FILE or set FEDBRIDGE_CLIENT_SECRET", 2);
    const timeoutMs = Number(o.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new CliError("usage", "--timeout is a positive number of ms", 2);
    const r = await exchangeToken({
      url: o.url, clientId: o.clientId, clientSecret: secret, subjectToken: readTokenInput(o.subjectToken, MAX_INPUT), subjectTokenType: o.subjectTokenType,
      audience: o.audience, resource: o.resource, scope: o.scope, requestedTokenType: o.requestedTokenType,
      actorToken: o.actorToken === undefined ? undefined : readTokenInput(o.actorToken, MAX_INPUT), actorTokenType: o.actorTokenType, timeoutMs,
    });
    emit(!!o.json, r, () => `${String(r.access_token)}\n`);
  }));

program.command("hash-secret")
  .description("make a client secret (or admin/metrics token) and the hash the config stores (same as npm run hash-secret)")
  .option("--admin", "an admin or metrics bearer token: token and tokenHash (admin.tokens[].tokenHash, metrics.tokenHash)")
  .option("--scrypt", "hash a client secret you choose with scrypt (asked on a terminal, else read from stdin)")
  .addOption(jsonOption())
  .action(async (o: { admin?: boolean; scrypt?: boolean; json?: boolean }) => run(!!o.json, async () => {
    if (o.admin && o.scrypt) throw new CliError("usage", "--admin and --scrypt do not go together: admin and metrics tokens are generated, and stored as sha256 only", 2);
    await runHashSecret(o.scrypt ? "scrypt" : o.admin ? "admin" : "client", !!o.json);
  }));

const keys = program.command("keys").description("the bridge's token signing keys: generate, list, print the JWKS, rotate");
const algOption = (): Option => new Option("--alg <alg>", "JWS algorithm").choices(ALGS);

keys.command("generate")
  .description("generate a new signing key: <dir>/<kid>.pem (PKCS#8, mode 0600) and <kid>.pub.pem; prints the signing.keys entry")
  .requiredOption("--dir <dir>", "directory to write the key files to")
  .addOption(algOption().default("ES256"))
  .option("--kid <kid>", "key id (default: <alg>-<date>-<random>)")
  .addOption(jsonOption())
  .action(async (o: { dir: string; alg: Alg; kid?: string; json?: boolean }) => run(!!o.json, async () => {
    const g = await generateKey(o.dir, o.alg, o.kid ?? newKid(o.alg, Date.now()));
    emit(!!o.json, g, () => `created ${g.privateKeyFile} and ${g.publicKeyFile}\nsigning.keys entry:\n${signingKeysYaml([{ kid: g.kid, alg: g.alg, privateKeyFile: g.privateKeyFile }])}`);
  }));

keys.command("list")
  .description("the configured signing keys: which one signs, which are only published")
  .addOption(configOption()).addOption(jsonOption())
  .action(async (o: { config?: string; json?: boolean }) => run(!!o.json, async () => {
    const list = await listKeys(readConfig(o.config));
    emit(!!o.json, { keys: list }, () => `${list.map((k) => `${k.kid}\t${k.alg}\t${k.role}\t${k.thumbprint}\t${k.file}`).join("\n")}\n`);
  }));

keys.command("jwks")
  .description("print the JWKS the bridge publishes (/.well-known/jwks.json) for this config")
  .addOption(configOption()).addOption(jsonOption())
  .action(async (o: { config?: string; json?: boolean }) => run(!!o.json, async () => {
    const set = await signingKeysOf(readConfig(o.config));
    emit(!!o.json, set.jwks, () => `${JSON.stringify(set.jwks, null, 2)}\n`);
  }));

keys.command("rotate")
  .description("generate a new signing key and print the signing.keys that make it active while the current key stays published (the config file is not changed)")
  .addOption(configOption())
  .option("--dir <dir>", "directory for the new key (default: the current signing key's)")
  .addOption(algOption())
  .option("--kid <kid>", "key id of the new key")
  .addOption(jsonOption())
  .action(async (o: { config?: string; dir?: string; alg?: Alg; kid?: string; json?: boolean }) => run(!!o.json, async () => {
    const r = await rotateKeys(readConfig(o.config), { dir: o.dir, alg: o.alg, kid: o.kid, now: Date.now() });
    emit(!!o.json, r, () => `created ${r.generated.privateKeyFile}; ${r.retired.kid} stays published (${r.retired.publicKeyFile})\nput this in the config, reload, and remove ${r.retired.kid} once tokens.ttlSeconds have passed:\n${signingKeysYaml(r.signingKeys)}`);
  }));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof CommanderError)) throw e;
  // --help and --version exit 0; any other parse error is a usage error (2).
  process.exitCode = e.exitCode === 0 ? 0 : 2;
}
