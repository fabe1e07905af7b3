/**
 * The load generator: a separate process (never the bridge's), driven by bench/exchange.ts with a
 * job file. node:http with keep-alive; every request carries a fresh, pre-signed token.
 *
 *   closed loop: `concurrency` lanes, each sends its next body when the previous answer is in;
 *   rate:        open loop, request i is due at start + i / rate; latency counts from when it was
 *                DUE, so a stalled server cannot hide its queueing (no coordinated omission).
 *
 * Prints one JSON line (LoadResult) on stdout.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

export interface LoadJob {
  port: number;
  authorization: string;
  bodiesFile: string;
  concurrency: number;
  /** Bodies used (closed loop, not timed) before the timed phase. */
  warmup: number;
  mode: "closed" | "rate";
  /** rate mode: requests per second. */
  rate?: number;
  /** Stop sending new requests after this long (the timed phase). */
  maxMs: number;
}

export interface LoadResult {
  sent: number;
  ok: number;
  failures: Record<string, number>;
  warmupOk: number;
  warmupFailures: Record<string, number>;
  wallMs: number;
  /** Ascending latencies of the timed phase, ms (rounded to µs). */
  latenciesMs: number[];
  /** rate mode: requests that started more than 1 ms after they were due (the client could not keep up). */
  lateStarts: number;
}

function post(agent: Agent, port: number, auth: string, body: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      {
        agent, host: "127.0.0.1", port, method: "POST", path: "/token",
        headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body), authorization: auth },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode === 200 && text.includes('"access_token"')) return resolve("ok");
          let reason = "?";
          try {
            const b = JSON.parse(text) as { error?: string; error_description?: string };
            reason = `${b.error ?? "?"}/${b.error_description ?? "?"}`;
          } catch { /* not JSON */ }
          resolve(`${res.statusCode} ${reason}`);
        });
        res.on("error", (e) => resolve(`transport ${e.message}`));
      },
    );
    req.on("error", (e) => resolve(`transport ${e.message}`));
    req.end(body);
  });
}

async function closedLoop(agent: Agent, job: LoadJob, bodies: readonly string[], maxMs: number) {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let ok = 0;
  let next = 0;
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (next < bodies.length && performance.now() - start < maxMs) {
      const body = bodies[next++]!;
      const t0 = performance.now();
      const outcome = await post(agent, job.port, job.authorization, body);
      latencies.push(performance.now() - t0);
      if (outcome === "ok") ok++;
      else failures[outcome] = (failures[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.concurrency, bodies.length) }, lane));
  return { ok, failures, latencies, wallMs: performance.now() - start, sent: latencies.length };
}

async function openLoop(agent: Agent, job: LoadJob, bodies: readonly string[], rate: number, maxMs: number) {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let ok = 0;
  let late = 0;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  const total = Math.min(bodies.length, Math.floor((maxMs / 1000) * rate));
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait - 0.5));
    if (performance.now() - due > 1) late++;
    inflight.push(post(agent, job.port, job.authorization, bodies[i]!).then((outcome) => {
      latencies.push(performance.now() - due);
      if (outcome === "ok") ok++;
      else failures[outcome] = (failures[outcome] ?? 0) + 1;
    }));
  }
  await Promise.all(inflight);
  return { ok, failures, latencies, wallMs: performance.now() - start, sent: total, late };
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as LoadJob;
  const bodies = readFileSync(job.bodiesFile, "utf8").split("\n").filter((l) => l.length > 0);
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const warm = await closedLoop(agent, job, bodies.slice(0, job.warmup), Number.POSITIVE_INFINITY);
  const rest = bodies.slice(job.warmup);
  const run = job.mode === "rate"
    ? await openLoop(agent, job, rest, job.rate!, job.maxMs)
    : { ...(await closedLoop(agent, job, rest, job.maxMs)), late: 0 };
  agent.destroy();
  const result: LoadResult = {
    sent: run.sent, ok: run.ok, failures: run.failures, warmupOk: warm.ok, warmupFailures: warm.failures,
    wallMs: run.wallMs, latenciesMs: run.latencies.sort((a, b) => a - b).map((x) => Math.round(x * 1000) / 1000), lateStarts: run.late,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench load: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
