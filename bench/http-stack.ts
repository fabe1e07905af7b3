/**
 * What the HTTP layers cost per POST /token, without any exchange (issue 11: "HTTP stack ≈ 500 µs"):
 * the same form body (an ID-token exchange's, ≈1.3 KB) posted to servers that add one layer at a
 * time, each server in its own process and measuring its own CPU (user + system, every thread),
 * the load from a separate process (node:http keep-alive), the variants interleaved and repeated
 * (best of --rounds: a shared machine only ever adds time).
 *
 *   node dist/bench/http-stack.js [--requests 4000] [--concurrency 16] [--rounds 3]
 *
 * Variants (each includes the one before, except where said):
 *   node-http   node:http, the body read and parsed with URLSearchParams, a JSON answer;
 *   express     Express 5 (the app's settings), the body read by hand as above, res.status().json();
 *   form        express.urlencoded as src/http/form.ts configures it, instead of reading by hand;
 *   scope       the request scope (log/request-scope.ts: X-Request-Id, AsyncLocalStorage) and the
 *               no-store headers, as src/http/app.ts installs them;
 *   passport    client authentication through src/http/client-auth.ts (passport, client_secret_basic)
 *               with a registry whose check is free, so only the dispatch is measured;
 *   lane        what the bridge runs for POST /token: the whole chain above (scope, headers, form,
 *               passport; src/http/oauth-endpoint.ts) on node's own objects, through the token
 *               lane of an Express app (src/http/token-lane.ts), and the answer by sendJson.
 */
import { fork, spawn } from "node:child_process";
import { createServer, request, Agent, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import express, { type NextFunction, type Request, type Response } from "express";
import type { ClientRegistry } from "../src/clients/registry.js";
import type { ClientConfig } from "../src/config/schema.js";
import { authenticateClient } from "../src/http/client-auth.js";
import { formBody } from "../src/http/form.js";
import { requestScopeMiddleware } from "../src/log/request-scope.js";
import { errorHandler, sendJson } from "../src/http/error-response.js";
import { oauthEndpoint } from "../src/http/oauth-endpoint.js";
import { installTokenLane } from "../src/http/token-lane.js";

export const VARIANTS = ["node-http", "express", "form", "scope", "passport", "lane"] as const;
type Variant = (typeof VARIANTS)[number];

const SELF = fileURLToPath(import.meta.url);
const WARMUP = 300;
const FORM = new URLSearchParams({
  grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
  subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
  // The shape and size of a real ID token; its content does not matter here.
  subject_token: `eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0.${"eyJzdWIiOiJ1c2VyIn0".repeat(40)}.${"A".repeat(342)}`,
}).toString();
const ANSWER = { access_token: `eyJhbGciOiJFUzI1NiJ9.${"e".repeat(600)}.${"s".repeat(86)}`, token_type: "Bearer", expires_in: 300, issued_token_type: "urn:ietf:params:oauth:token-type:access_token" };

function serverFor(variant: Variant, onAnswer: () => void): RequestListener {
  const answerRaw = (res: ServerResponse): void => {
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.end(JSON.stringify(ANSWER));
    onAnswer();
  };
  if (variant === "node-http") {
    return (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
        answerRaw(res);
      });
    };
  }
  if (variant === "lane") {
    const app = express();
    app.disable("x-powered-by");
    app.set("etag", false);
    const client = { id: "bench" } as ClientConfig;
    const registry = { authenticate: async () => client, acceptsClientAssertions: false } as unknown as ClientRegistry;
    const endpoint = oauthEndpoint("/token", { clients: registry, maxBodyBytes: 1024 * 1024, maxParameters: 64 }, async (_req, res) => {
      sendJson(res, 200, ANSWER);
      onAnswer();
    });
    installTokenLane(app, {
      endpoint,
      before: [requestScopeMiddleware(), (_req, res, next) => {
        res.setHeader("Cache-Control", "no-store");
        res.setHeader("Pragma", "no-cache");
        res.setHeader("X-Content-Type-Options", "nosniff");
        next();
      }],
      onError: errorHandler(() => undefined),
    });
    return app;
  }
  const level = VARIANTS.indexOf(variant);
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.set("trust proxy", false);
  if (level >= VARIANTS.indexOf("scope")) {
    app.use(requestScopeMiddleware());
    app.use((_req, res, next) => {
      res.setHeader("Cache-Control", "no-store");
      res.setHeader("Pragma", "no-cache");
      res.setHeader("X-Content-Type-Options", "nosniff");
      next();
    });
  }
  const byHand = (req: Request, _res: Response, next: NextFunction): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      req.body = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
      next();
    });
  };
  const body = level >= VARIANTS.indexOf("form") ? formBody({ limitBytes: 1024 * 1024, maxParameters: 64 }) : [byHand];
  const client = { id: "bench" } as ClientConfig;
  const registry = { authenticate: async () => client, acceptsClientAssertions: false } as unknown as ClientRegistry;
  const auth = level >= VARIANTS.indexOf("passport") ? [authenticateClient(registry)] : [];
  const router = express.Router();
  router.post("/token", ...body, ...auth, (_req: Request, res: Response) => {
    res.status(200).json(ANSWER);
    onAnswer();
  });
  app.use(router);
  return app;
}

/** Child: serves one variant, reports its CPU µs per request after warm-up + n requests. */
function serve(variant: Variant, n: number): void {
  let count = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  const server = createServer(serverFor(variant, () => {
    count++;
    if (count === WARMUP) cpu0 = process.cpuUsage();
    if (count === WARMUP + n) {
      const c = process.cpuUsage(cpu0);
      process.send!({ cpuUsPerRequest: (c.user + c.system) / n });
      setImmediate(() => process.exit(0));
    }
  }));
  server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as { port: number }).port }));
}

/** Child: posts `total` forms at `concurrency`, ignoring answers' content. */
async function load(port: number, total: number, concurrency: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    "content-length": String(Buffer.byteLength(FORM)),
    authorization: `Basic ${Buffer.from("bench:secret").toString("base64")}`,
  };
  let sent = 0;
  const one = (): Promise<void> => new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/token", method: "POST", agent, headers }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", () => resolve());
    req.end(FORM);
  });
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent++ < total) await one();
  }));
  agent.destroy();
}

async function measure(variant: Variant, n: number, concurrency: number): Promise<number> {
  const server = fork(SELF, ["--serve", variant, "--requests", String(n)], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const port = await new Promise<number>((resolve) => server.once("message", (m: { port: number }) => resolve(m.port)));
  const result = new Promise<number>((resolve) => server.on("message", (m: { cpuUsPerRequest?: number }) => m.cpuUsPerRequest !== undefined && resolve(m.cpuUsPerRequest)));
  const loader = spawn(process.execPath, [SELF, "--load", String(port), "--requests", String(WARMUP + n + concurrency), "--concurrency", String(concurrency)], { stdio: "ignore" });
  const us = await result;
  loader.kill();
  return us;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: "string" }, load: { type: "string" },
      requests: { type: "string", default: "4000" }, concurrency: { type: "string", default: "16" }, rounds: { type: "string", default: "3" },
    },
  });
  const n = Number(values.requests);
  const concurrency = Number(values.concurrency);
  if (values.serve) return serve(values.serve as Variant, n);
  if (values.load) return load(Number(values.load), n, concurrency);
  const best = new Map<Variant, number>();
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const v of VARIANTS) best.set(v, Math.min(best.get(v) ?? Infinity, await measure(v, n, concurrency)));
  }
  process.stdout.write(`HTTP layers of POST /token, server CPU µs per request (best of ${values.rounds} rounds of ${n}, concurrency ${concurrency}):\n`);
  let previous = 0;
  for (const v of VARIANTS) {
    const us = best.get(v)!;
    if (v === "lane") {
      // Not cumulative: the whole chain again, without Express's objects.
      const full = best.get("passport")!;
      process.stdout.write(`  ${v.padEnd(10)} ${us.toFixed(1).padStart(7)} µs  (the passport row's chain on node's objects: ${(us - full).toFixed(1)})\n`);
      continue;
    }
    process.stdout.write(`  ${v.padEnd(10)} ${us.toFixed(1).padStart(7)} µs  (${previous === 0 ? "" : "+"}${(us - previous).toFixed(1)})\n`);
    previous = us;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`http-stack: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
