/**
 * Per-step breakdown of V8 CPU profiles (`node --cpu-prof`) of the bridge's workers: every sample
 * is attributed to the innermost frame on its stack that names a step (so a digest computed inside
 * xml-crypto counts as digest, and xml-crypto's own code as c14n or signature).
 *
 *   node dist/bench/profile.js <dir or .cpuprofile>... [--cpu-us <bridge CPU µs per exchange>]
 *
 * `npm run bench -- --profile` runs this on the workers' profiles of its run.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame { functionName: string; url: string }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export const STEPS = ["parse", "c14n", "xpath", "digest", "verify", "signature (other)", "mapping", "redis", "sign", "jwt", "http", "log", "metrics", "pipeline", "gc", "other"] as const;
export type Step = (typeof STEPS)[number];

/** Innermost-first rules: the first that matches a frame names its step. */
const RULES: [Step | "io", (f: CallFrame) => boolean][] = [
  ["gc", (f) => f.functionName === "(garbage collector)"],
  ["digest", (f) => /node:internal\/crypto\/hash/.test(f.url) || (f.url === "" && /^(digest|update)$/.test(f.functionName))],
  // node:crypto's generic internals (webcrypto, keys, util) name no step: the caller's frame decides.
  ["verify", (f) => (/node:internal\/crypto\/sig/.test(f.url) && /verify/i.test(f.functionName)) || /node_modules\/jose\/.*verify/.test(f.url)],
  ["sign", (f) => (/node:internal\/crypto\/sig/.test(f.url) && /sign/i.test(f.functionName)) || /src\/tokens\/(signing-keys|access-token)/.test(f.url) || /node_modules\/jose\/.*sign/.test(f.url)],
  ["c14n", (f) => /c14n|canonicali[sz]ation/i.test(f.url) || /c14n|canonicali[sz]/i.test(f.functionName)],
  ["xpath", (f) => /node_modules\/xpath\//.test(f.url)],
  ["signature (other)", (f) => /node_modules\/xml-crypto\//.test(f.url) || /src\/xml\/(signature|dsig)/.test(f.url) || /src\/saml\/signed-token/.test(f.url)],
  ["parse", (f) => /@xmldom\/xmldom|src\/xml\/safe-parse|src\/xml\/token-encoding/.test(f.url)],
  ["mapping", (f) => /src\/(mapping|policy)\//.test(f.url)],
  ["redis", (f) => /@redis\/|src\/replay\//.test(f.url)],
  ["jwt", (f) => /node_modules\/jose\/|src\/jwt\//.test(f.url)],
  ["http", (f) => /node:_http|express|body-parser|router\/|passport|raw-body|src\/http\//.test(f.url)],
  // Socket and stream writes serve whoever called them: the log line (stdout) or the response.
  ["io", (f) => /node:net|node:internal\/(http|stream|streams|net|fs\/sync_write_stream)|node:tty/.test(f.url) || /^(writev|writeUtf8String|writeBuffer)$/.test(f.functionName)],
  ["log", (f) => /src\/log\//.test(f.url)],
  ["metrics", (f) => /node_modules\/prom-client\/|src\/metrics\/|src\/tracing\//.test(f.url)],
  ["pipeline", (f) => /src\/(exchange|grants|subject|oauth)\//.test(f.url)],
];

export interface Breakdown {
  /** Busy (non-idle) µs per step, summed over the profiles given. */
  busyUs: Record<Step, number>;
  totalBusyUs: number;
  idleUs: number;
}

function load(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
}

/**
 * A span of the monotonic clock, in µs: V8 stamps profile samples with the same clock as
 * `process.hrtime` (CLOCK_MONOTONIC on Linux), so another process (the benchmark) can name the
 * span of one scenario's run and leave out start-up and the other scenarios.
 */
export interface Window { fromUs: number; toUs: number }

/** The benchmark's clock, comparable with profile timestamps (see Window). */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export function breakdown(profiles: readonly CpuProfile[], window?: Window): Breakdown {
  const busyUs = Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<Step, number>;
  let idleUs = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const stepOf = new Map<number, Step | "idle">();
    const classify = (id: number): Step | "idle" => {
      const cached = stepOf.get(id);
      if (cached) return cached;
      const leaf = byId.get(id)!.callFrame;
      let step: Step | "idle" = "other";
      if (leaf.functionName === "(idle)") step = "idle";
      else {
        // Iterative walk to the root: innermost named step wins.
        // A write (io) belongs to the nearest caller that names a step (the logger's stdout line is
        // log, a Redis command redis, the response http); with none above it, http.
        let io = false;
        for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
          const f = byId.get(cur)!.callFrame;
          const hit = RULES.find(([, test]) => test(f))?.[0];
          if (hit === "io") {
            io = true;
            continue;
          }
          if (hit) {
            step = hit;
            break;
          }
        }
        if (io && step === "other") step = "http";
      }
      stepOf.set(id, step);
      return step;
    };
    // Sample i is taken at startTime + the first i + 1 deltas and stands for the time until the next.
    let at = p.startTime;
    p.samples.forEach((id, i) => {
      at += p.timeDeltas[i] ?? 0;
      if (window && (at < window.fromUs || at > window.toUs)) return;
      const dt = p.timeDeltas[i + 1] ?? 0;
      const step = classify(id);
      if (step === "idle") idleUs += dt;
      else busyUs[step] += dt;
    });
  }
  return { busyUs, totalBusyUs: STEPS.reduce((a, s) => a + busyUs[s], 0), idleUs };
}

export function profileFiles(args: readonly string[]): string[] {
  return args.flatMap((a) => (statSync(a).isDirectory() ? readdirSync(a).filter((f) => f.endsWith(".cpuprofile")).map((f) => path.join(a, f)) : [a]));
}

/**
 * Table lines: each step's share of the workers' busy main-thread time and, given the bridge's CPU
 * per exchange (measured from /proc, every thread), that share of it in µs. Sampled profiles
 * inflate under CPU contention, so their own µs are not used; the shares hold.
 */
export function formatBreakdown(b: Breakdown, cpuUsPerExchange?: number): string[] {
  const line = (name: string, us: number): string => {
    const share = us / b.totalBusyUs;
    const per = cpuUsPerExchange ? `  ≈ ${(share * cpuUsPerExchange).toFixed(0).padStart(5)} µs/exchange` : "";
    return `  ${name.padEnd(18)} ${(100 * share).toFixed(1).padStart(5)} %${per}`;
  };
  return [...STEPS.filter((s) => b.busyUs[s] > 0).map((s) => line(s, b.busyUs[s])), line("busy total", b.totalBusyUs)];
}

/** Profiles of the bridge's workers only: the primary (cluster supervisor) is the one that barely runs. */
export function workerProfiles(files: readonly string[]): CpuProfile[] {
  const all = files.map(load);
  if (all.length <= 1) return all;
  const busy = (p: CpuProfile): number => breakdown([p]).totalBusyUs;
  const max = Math.max(...all.map(busy));
  return all.filter((p) => busy(p) > 0.05 * max);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const i = args.indexOf("--cpu-us");
  const cpuUs = i >= 0 ? Number(args.splice(i, 2)[1]) : undefined;
  const b = breakdown(workerProfiles(profileFiles(args)));
  process.stdout.write(`${formatBreakdown(b, cpuUs).join("\n")}\n`);
}
