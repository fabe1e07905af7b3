/** The profile breakdown: each sample goes to the innermost frame that names a step; idle is not busy time. */
import { describe, expect, it } from "vitest";
import { breakdown, formatBreakdown } from "../../bench/profile.js";

type Frame = [fn: string, url: string];

/** A profile from stacks (root first) and the µs each ran. */
function profile(stacks: [Frame[], number][]) {
  const nodes: { id: number; callFrame: { functionName: string; url: string }; children: number[] }[] = [{ id: 1, callFrame: { functionName: "(root)", url: "" }, children: [] }];
  const samples: number[] = [];
  const timeDeltas: number[] = [0];
  for (const [stack, us] of stacks) {
    let parent = nodes[0]!;
    for (const [fn, url] of stack) {
      const node = { id: nodes.length + 1, callFrame: { functionName: fn, url }, children: [] as number[] };
      nodes.push(node);
      parent.children.push(node.id);
      parent = node;
    }
    samples.push(parent.id);
    timeDeltas.push(us);
  }
  return { nodes, samples, timeDeltas, startTime: 0, endTime: 0 };
}

const NM = "file:///app/node_modules";
const SRC = "file:///app/dist/src";

describe("profile breakdown", () => {
  it("attributes a sample to the innermost step on its stack", () => {
    const p = profile([
      [[["handle", `${NM}/router/index.js`], ["verifyEnvelopedSignature", `${SRC}/xml/signature.js`], ["digest", "node:internal/crypto/hash"]], 10],
      [[["handle", `${NM}/router/index.js`], ["verifyEnvelopedSignature", `${SRC}/xml/signature.js`], ["processInner", `${NM}/xml-crypto/lib/exclusive-canonicalization.js`]], 20],
      [[["handle", `${NM}/router/index.js`], ["parseFromString", `${NM}/@xmldom/xmldom/lib/dom-parser.js`]], 30],
      [[["handle", `${NM}/router/index.js`], ["signAccessToken", `${SRC}/tokens/access-token.js`], ["normalize", "node:internal/crypto/util"]], 40],
      [[["jwtVerify", `${NM}/jose/dist/webapi/jwt/verify.js`], ["normalize", "node:internal/crypto/util"]], 5],
      [[["handle", `${NM}/router/index.js`]], 7],
      [[["(garbage collector)", ""]], 3],
      [[["(idle)", ""]], 1000],
      [[["x", `${SRC}/somewhere.js`]], 2],
    ]);
    const b = breakdown([p]);
    expect(b.busyUs.digest).toBe(10);
    expect(b.busyUs.c14n).toBe(20);
    expect(b.busyUs.parse).toBe(30);
    expect(b.busyUs.sign).toBe(40);
    expect(b.busyUs.verify).toBe(5);
    expect(b.busyUs.http).toBe(7);
    expect(b.busyUs.gc).toBe(3);
    expect(b.busyUs.other).toBe(2);
    expect(b.idleUs).toBe(1000);
    expect(b.totalBusyUs).toBe(117);
  });

  it("formats shares that add to 100 % and scales them to a given CPU cost", () => {
    const b = breakdown([profile([[[["a", `${NM}/@xmldom/xmldom/lib/sax.js`]], 75], [[["b", `${NM}/@redis/client/x.js`]], 25]])]);
    const lines = formatBreakdown(b, 1000);
    expect(lines.find((l) => l.includes("parse"))).toMatch(/75\.0 %\s+≈\s+750 µs/);
    expect(lines.find((l) => l.includes("redis"))).toMatch(/25\.0 %\s+≈\s+250 µs/);
    expect(lines.at(-1)).toMatch(/busy total\s+100\.0 %\s+≈\s+1000 µs/);
  });

  it("gives a write to the step of its nearest named caller: the log line is log, a Redis command redis, a bare write http", () => {
    const write: Frame[] = [["Socket._writeGeneric", "node:net"], ["writeUtf8String", ""]];
    const b = breakdown([profile([
      [[["logExchange", `${SRC}/http/routes/token.js`], ["jsonLogger", `${SRC}/log/logger.js`], ["sink", `${SRC}/main.js`], ...write], 11],
      [[["markAllUsed", `${SRC}/replay/redis.js`], ["sendCommand", `${NM}/@redis/client/dist/lib/client/index.js`], ...write], 13],
      [[["end", "node:_http_outgoing"], ...write], 17],
      [[["processTicksAndRejections", "node:internal/process/task_queues"], ...write], 19],
      [[["observe", `${NM}/prom-client/lib/histogram.js`]], 23],
      [[["runSteps", `${SRC}/exchange/pipeline.js`]], 29],
    ])]);
    expect(b.busyUs.log).toBe(11);
    expect(b.busyUs.redis).toBe(13);
    expect(b.busyUs.http).toBe(17 + 19);
    expect(b.busyUs.metrics).toBe(23);
    expect(b.busyUs.pipeline).toBe(29);
    expect(b.busyUs.other).toBe(0);
  });

  it("counts only the samples inside a window of the monotonic clock (one scenario's run, no start-up)", () => {
    // Samples at 1000 + 10, +20, +30, +40 µs (startTime + the deltas so far), each standing for the next delta.
    const p = { ...profile([[[["a", `${NM}/@xmldom/xmldom/lib/sax.js`]], 10], [[["b", `${NM}/@xmldom/xmldom/lib/sax.js`]], 10], [[["c", `${NM}/@redis/client/x.js`]], 10], [[["d", `${NM}/@redis/client/x.js`]], 10]]), startTime: 1000 };
    p.timeDeltas = [10, 10, 10, 10, 7];
    expect(breakdown([p]).totalBusyUs).toBe(37);
    const w = breakdown([p], { fromUs: 1020, toUs: 1030 });
    expect(w.busyUs.parse).toBe(10);
    expect(w.busyUs.redis).toBe(10);
    expect(w.totalBusyUs).toBe(20);
    expect(breakdown([p], { fromUs: 2000, toUs: 3000 }).totalBusyUs).toBe(0);
  });
});
