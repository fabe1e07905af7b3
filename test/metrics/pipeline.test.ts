/**
 * runSteps, the one place steps run, observed generically: every named step timed by outcome (ok,
 * refused, error), the run counted once with its reason code, and an observer that fails never
 * changing what the pipeline does.
 */
import { describe, expect, it } from "vitest";
import { runSteps, step, StepFailure, type ExchangeContext } from "../../src/exchange/pipeline.js";
import type { ExchangeServices } from "../../src/exchange/services.js";
import { refuse } from "../../src/oauth/errors.js";
import { BridgeMetrics } from "../../src/metrics/metrics.js";
import { exchangeObserver, type KnownValues } from "../../src/metrics/exchange-observer.js";
import { find, parseExposition, value } from "./scrape.js";

const known: KnownValues = { grantType: (g) => g === "g1", client: (c) => c === "c1", source: () => true, tokenType: () => true };
const ctx = (client = "c1"): ExchangeContext => ({ now: 0, form: { grant_type: "g1" }, client: { id: client } } as unknown as ExchangeContext);

async function setup(k: KnownValues = known) {
  const metrics = new BridgeMetrics({ exemplars: true, processMetrics: false, now: () => 0 });
  const services = { observer: exchangeObserver(metrics, k) } as unknown as ExchangeServices;
  const samples = async () => parseExposition(await metrics.registry.metrics());
  return { metrics, services, samples };
}

describe("runSteps observed", () => {
  it("times each step and counts the run; a refusal stops at its step", async () => {
    const { services, samples } = await setup();
    const ran: string[] = [];
    const steps = [
      step("first", () => void ran.push("first")),
      step("second", () => { ran.push("second"); throw refuse("scope_invalid"); }),
      step("third", () => void ran.push("third")),
    ];
    const e = await runSteps(steps, ctx(), services).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StepFailure);
    expect((e as StepFailure).step).toBe("second");
    expect(ran).toEqual(["first", "second"]);
    const s = await samples();
    expect(value(s, "fedbridge_exchange_step_duration_seconds_count", { step: "first", outcome: "ok" })).toBe(1);
    expect(value(s, "fedbridge_exchange_step_duration_seconds_count", { step: "second", outcome: "refused" })).toBe(1);
    expect(find(s, "fedbridge_exchange_step_duration_seconds_count", { step: "third" })).toHaveLength(0);
    const run = find(s, "fedbridge_exchanges_total", { grant_type: "g1", client: "c1", outcome: "refused", reason: "scope_invalid" });
    expect(run).toHaveLength(1);
    // Outside an HTTP request there are no ids: no exemplar.
    expect(run[0]!.exemplar).toBeUndefined();
  });

  it("a bug in a step is outcome error, reason internal_error", async () => {
    const { services, samples } = await setup();
    await expect(runSteps([step("boom", () => { throw new TypeError("x"); })], ctx(), services)).rejects.toBeInstanceOf(StepFailure);
    const s = await samples();
    expect(value(s, "fedbridge_exchange_step_duration_seconds_count", { step: "boom", outcome: "error" })).toBe(1);
    expect(value(s, "fedbridge_exchanges_total", { reason: "internal_error" })).toBe(1);
  });

  it("an unknown client id is `other`, never its own series", async () => {
    const { services, samples } = await setup();
    await runSteps([step("ok", () => undefined)], ctx("attacker-chosen-id"), services);
    const s = await samples();
    expect(value(s, "fedbridge_exchanges_total", { client: "other", outcome: "issued" })).toBe(1);
    expect(JSON.stringify(s)).not.toContain("attacker-chosen-id");
  });

  it("an observer that throws changes nothing: the steps run and the outcome stands", async () => {
    const broken: KnownValues = { grantType: () => { throw new Error("x"); }, client: () => { throw new Error("x"); }, source: () => { throw new Error("x"); }, tokenType: () => { throw new Error("x"); } };
    let threw: unknown;
    try {
      const { services } = await setup(broken);
      const ran: string[] = [];
      await runSteps([step("a", () => void ran.push("a")), step("b", () => void ran.push("b"))], ctx(), services);
      expect(ran).toEqual(["a", "b"]);
      await expect(runSteps([step("c", () => { throw refuse("scope_invalid"); })], ctx(), services)).rejects.toMatchObject({ step: "c" });
    } catch (e) {
      threw = e;
    }
    expect(threw).toBeUndefined();
  });

  it("runs the same without an observer", async () => {
    const ran: string[] = [];
    await runSteps([step("a", () => void ran.push("a"))], ctx(), {} as ExchangeServices);
    expect(ran).toEqual(["a"]);
  });
});
