/** Pre-signs the benchmark's tokens on every core (worker threads), before any timing. */
import { availableParallelism } from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { formBody, makeTokens, type Signer, type TokenOptions } from "./tokens.js";

interface Job { from: number; to: number; options: TokenOptions; signer: Signer }

/** `count` form bodies (one token each, all distinct), and one sample token. */
export async function presign(count: number, options: TokenOptions, signer: Signer): Promise<{ bodies: string[]; sample: string }> {
  const threads = Math.max(1, Math.min(availableParallelism(), Math.ceil(count / 50)));
  const per = Math.ceil(count / threads);
  const parts = await Promise.all(Array.from({ length: threads }, (_, t) => new Promise<string[]>((resolve, reject) => {
    const job: Job = { from: t * per, to: Math.min(count, (t + 1) * per), options, signer };
    const w = new Worker(new URL(import.meta.url), { workerData: job });
    w.once("message", resolve);
    w.once("error", reject);
    w.once("exit", (code) => code !== 0 && reject(new Error(`presign thread exited ${code}`)));
  })));
  const tokens = parts.flat();
  return { bodies: tokens.map((t) => formBody(options.scenario, t)), sample: tokens[0]! };
}

if (!isMainThread && parentPort) {
  const job = workerData as Job;
  parentPort.postMessage(job.to > job.from ? makeTokens(job.from, job.to, job.options, job.signer) : []);
}
