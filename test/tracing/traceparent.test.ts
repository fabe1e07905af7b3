/**
 * W3C Trace Context Level 1 §3.2 `traceparent`, parsed strictly: the valid forms (version 00, a
 * future version with more fields) and every shape of invalid header, each ignored (never refused).
 */
import { describe, expect, it } from "vitest";
import { formatTraceparent, parseTraceparent } from "../../src/tracing/traceparent.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("traceparent", () => {
  it("parses version 00", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, parentId: SPAN, flags: 1 });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, parentId: SPAN, flags: 0 });
  });

  it("parses the known fields of a higher version, with or without more fields (§3.2.4)", () => {
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01`)?.traceId).toBe(TRACE);
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`)?.parentId).toBe(SPAN);
  });

  it.each([
    ["version ff", `ff-${TRACE}-${SPAN}-01`],
    ["uppercase hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["all-zero parent id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["version 00 with extra fields", `00-${TRACE}-${SPAN}-01-extra`],
    ["higher version glued to more text", `cc-${TRACE}-${SPAN}-01extra`],
    ["short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`],
    ["long parent id", `00-${TRACE}-${SPAN}0-01`],
    ["one-digit flags", `00-${TRACE}-${SPAN}-1`],
    ["non-hex", `00-${TRACE.replace("4", "g")}-${SPAN}-01`],
    ["other separators", `00_${TRACE}_${SPAN}_01`],
    ["two headers joined", `00-${TRACE}-${SPAN}-01, 00-${TRACE}-${SPAN}-01`],
    ["empty", ""],
    ["oversized", `00-${TRACE}-${SPAN}-01-${"a".repeat(1000)}`],
  ])("ignores %s", (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it("ignores repeated headers and absent ones", () => {
    expect(parseTraceparent([`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`])).toBeUndefined();
    expect(parseTraceparent(undefined)).toBeUndefined();
  });

  it("formats what it parses", () => {
    expect(parseTraceparent(formatTraceparent(TRACE, SPAN, true))).toEqual({ traceId: TRACE, parentId: SPAN, flags: 1 });
  });
});
