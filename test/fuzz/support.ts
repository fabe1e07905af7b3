/**
 * Shared pieces of the fuzz targets (issue 9): input mutations, the "refuse or agree" oracle and
 * the per-input cost record. Each target is a vitest file in this folder running fast-check with
 * a small case count in CI and FUZZ_RUNS cases on a long run (scripts/fuzz.ts).
 */
import { appendFileSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { isOAuthError } from "../../src/oauth/errors.js";

export { fuzzRuns, fuzzSeed } from "./runs.js";

// ---------------------------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------------------------

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Runs one verification. An OAuthError is a refusal; anything else thrown (TypeError, RangeError,
 * a library's own error) is a crash and fails the property at once.
 */
export async function attempt<T>(f: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    if (isOAuthError(e)) return { ok: false, reason: e.reason };
    throw e;
  }
}

/** Per-target record: cases, outcomes by reason, the slowest input and its size. */
export class CostRecord {
  cases = 0;
  accepted = 0;
  readonly reasons = new Map<string, number>();
  /** Mutated inputs that verified (to the baseline's identity): described, for the report. */
  readonly sameIdentity: string[] = [];
  worstMs = 0;
  worstBytes = 0;
  /** The slowest input when timed again (fastest of three re-runs), its size, and the input itself. */
  stableMs = 0;
  stableBytes = 0;
  worstInput = "";
  totalMs = 0;

  constructor(readonly target: string) {}

  async measure<T>(input: string, f: () => T | Promise<T>): Promise<Outcome<T>> {
    const t0 = performance.now();
    const out = await attempt(f);
    const ms = performance.now() - t0;
    this.cases++;
    this.totalMs += ms;
    if (ms > this.worstMs) {
      this.worstMs = ms;
      this.worstBytes = Buffer.byteLength(input, "utf8");
    }
    // A slow measurement on a shared machine may be a pause, not the input: an input slower than
    // the slowest reproducible one so far is timed three more times, and its fastest counts.
    if (ms > this.stableMs) {
      let again = Number.POSITIVE_INFINITY;
      for (let k = 0; k < 3; k++) {
        const r0 = performance.now();
        await attempt(f);
        again = Math.min(again, performance.now() - r0);
      }
      if (again > this.stableMs) {
        this.stableMs = again;
        this.stableBytes = Buffer.byteLength(input, "utf8");
        this.worstInput = input;
      }
    }
    if (out.ok) this.accepted++;
    else this.reasons.set(out.reason, (this.reasons.get(out.reason) ?? 0) + 1);
    return out;
  }

  /** Printed after each target; appended as a JSON line to FUZZ_REPORT when set (long runs). */
  report(): void {
    const top = [...this.reasons].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([r, n]) => `${r}:${n}`).join(" ");
    const line = {
      target: this.target, cases: this.cases, accepted: this.accepted,
      worstMs: Number(this.worstMs.toFixed(2)), worstBytes: this.worstBytes,
      stableMs: Number(this.stableMs.toFixed(2)), stableBytes: this.stableBytes,
      meanMs: Number((this.totalMs / Math.max(1, this.cases)).toFixed(3)), reasons: Object.fromEntries(this.reasons),
    };
    console.log(`[fuzz] ${this.target}: ${this.cases} cases, ${this.accepted} accepted, worst ${line.worstMs} ms at ${this.worstBytes} bytes (re-timed: ${line.stableMs} ms at ${this.stableBytes} bytes), mean ${line.meanMs} ms; ${top}`);
    if (this.sameIdentity.length > 0) console.log(`[fuzz] ${this.target}: mutated inputs accepted with the same identity, e.g. ${this.sameIdentity.slice(0, 5).join(" | ")}`);
    if (process.env.FUZZ_REPORT) {
      appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify(line)}\n`);
      writeFileSync(`${process.env.FUZZ_REPORT}.${this.target.replace(/[^a-z0-9_-]+/gi, "_")}.worst`, this.worstInput);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

export type Mutation = (s: string) => string;
const position = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const at = (s: string, f: number): number => Math.floor(f * (s.length + 1));

/** Splices: insert a token, delete a run, duplicate a run elsewhere, replace one character. */
export function spliceMutations(tokens: readonly string[], chars: string): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.tuple(position, fc.constantFrom(...tokens)).map(([f, tok]): Mutation => (s) => s.slice(0, at(s, f)) + tok + s.slice(at(s, f))),
    fc.tuple(position, fc.integer({ min: 1, max: 16 })).map(([f, len]): Mutation => (s) => s.slice(0, at(s, f)) + s.slice(at(s, f) + len)),
    fc.tuple(position, position, fc.integer({ min: 1, max: 40 }))
      .map(([f, g, len]): Mutation => (s) => s.slice(0, at(s, f)) + s.slice(at(s, g), at(s, g) + len) + s.slice(at(s, f))),
    fc.tuple(position, fc.integer({ min: 0, max: chars.length - 1 }))
      .map(([f, k]): Mutation => (s) => { const i = Math.min(at(s, f), s.length - 1); return s.slice(0, i) + chars[k] + s.slice(i + 1); }),
  );
}

export function applyAll(s: string, ms: readonly Mutation[]): string {
  return ms.reduce((acc, m) => m(acc), s);
}

/** Base64 / compact-string mutations (SAML token values, JWT segments). */
const B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=.";
const B64_TOKENS = ["=", "==", "===", " ", "\n", "\t", "%3D", ".", "..", "+", "/", "-", "_", "A", "AAAA", "\u00e9", "\u0000", "!", "eyJ", "e30"];
export const compactMutation = fc.oneof(
  spliceMutations(B64_TOKENS, B64_CHARS),
  fc.integer({ min: 0, max: 64 }).map((k): Mutation => (s) => s.slice(0, Math.max(0, s.length - k))),
  fc.constantFrom<Mutation>(
    (s) => s.replace(/-/g, "+").replace(/_/g, "/"),
    (s) => s.replace(/\+/g, "-").replace(/\//g, "_"),
    (s) => s.toUpperCase(),
    (s) => `${s}=`,
    (s) => s.replace(/=+$/, ""),
    (s) => s.replace(/(.{76})/g, "$1\n"),
  ),
);

/** Markup that moves parser state (issue 9's desync shapes among them). */
export const XML_TOKENS = [
  "</x>", "</>", `</x">`, `">`, `"`, "'", "<!--", "-->", "<!---->", "<![CDATA[", "]]>", "<?pi x?>", "<!DOCTYPE a>",
  "<!ENTITY e 'x'>", "&#0;", "&#xD800;", "&#xFFFF;", "&#x110000;", "&foo;", "&", "&amp;", "&#65;", "\x04", "\x01", "\u0000",
  "\uFFFE", "<", ">", "/>", "=", ` ID="_dup"`, ` xmlns:x="urn:x"`, ` xmlns=""`, "<x/>", "<a>", "</a>", "\uFEFF", "\r", " ",
  "<!-- admin@example.com -->", "admin", "<ds:Signature/>", `xmlns:saml="urn:evil"`, "\u00e9", "\ud83d\ude00",
  "<x>".repeat(60), "</x>".repeat(60), "<!---->".repeat(200), ` a="1"`.repeat(40),
];
const XML_CHARS = `<>/="' -_:.abcxyzAZ019&#;!?[]\n\t`;

/** Indexes just after each `>`: the boundaries between markup where an insertion stays well-formed. */
function boundaries(s: string): number[] {
  const out: number[] = [];
  for (let i = s.indexOf(">"); i >= 0; i = s.indexOf(">", i + 1)) out.push(i + 1);
  return out;
}

/** One whole element (start tag to its matching end tag) found by a balanced scan from a `<`. */
function elementAt(s: string, from: number): string | undefined {
  const start = s.indexOf("<", from);
  if (start < 0 || /[/!?]/.test(s[start + 1] ?? "")) return undefined;
  let depth = 0;
  for (let i = start; i >= 0 && i < s.length; i = s.indexOf("<", i + 1)) {
    const end = s.indexOf(">", i);
    if (end < 0) return undefined;
    if (s[i + 1] === "/") depth--;
    else if (s[i + 1] !== "!" && s[i + 1] !== "?" && s[end - 1] !== "/") depth++;
    if (depth === 0) return s.slice(start, end + 1);
  }
  return undefined;
}

const BOUNDARY_TOKENS = [
  "<!-- x -->", "<!---->", "x", " ", "\n", "<x/>", "<saml:Foo>bar</saml:Foo>", "<ds:Signature/>", "<![CDATA[y]]>", "&#65;",
  `<saml:Attribute Name="role"><saml:AttributeValue>admin</saml:AttributeValue></saml:Attribute>`,
  `<saml:NameID>admin@example.com</saml:NameID>`, `<saml:Issuer>https://idp2.test/idp</saml:Issuer>`,
];
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Mutations that keep the document well-formed, so they reach the signature checks: insertions
 * between tags, a changed letter or digit, a copy of a whole element elsewhere (wrapping shapes).
 */
const wellFormedMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(position, fc.constantFrom(...BOUNDARY_TOKENS)).map(([f, tok]): Mutation => (s) => {
    const b = boundaries(s);
    const i = b[Math.floor(f * b.length)] ?? 0;
    return s.slice(0, i) + tok + s.slice(i);
  }),
  fc.tuple(position, fc.integer({ min: 0, max: ALNUM.length - 1 })).map(([f, k]): Mutation => (s) => {
    const alnum: number[] = [];
    for (let i = 0; i < s.length; i++) if (/[A-Za-z0-9]/.test(s[i]!)) alnum.push(i);
    const i = alnum[Math.floor(f * alnum.length)];
    return i === undefined ? s : s.slice(0, i) + ALNUM[k] + s.slice(i + 1);
  }),
  fc.tuple(position, position).map(([f, g]): Mutation => (s) => {
    const el = elementAt(s, at(s, f));
    const b = boundaries(s);
    const i = b[Math.floor(g * b.length)] ?? 0;
    return el === undefined ? s : s.slice(0, i) + el + s.slice(i);
  }),
);

export const xmlMutation = fc.oneof(spliceMutations(XML_TOKENS, XML_CHARS), wellFormedMutation, wellFormedMutation);

// ---------------------------------------------------------------------------------------------
// Verifier targets
// ---------------------------------------------------------------------------------------------

/** What a verified token asserts: a mutated input may only ever yield exactly this. */
export function identityOf(v: unknown): string {
  const s = v as Record<string, any>;
  return JSON.stringify({
    tokenType: s.tokenType, source: { id: s.source?.id, issuer: s.source?.issuer }, subject: s.subject, nameIdFormat: s.nameIdFormat,
    attributes: s.attributes, issuedAt: s.issuedAt, expiresAt: s.expiresAt, notAfter: s.notAfter, authTime: s.authTime, acr: s.acr,
    oneTimeUse: s.oneTimeUse, act: s.act, mayAct: s.mayAct, granted: s.granted, party: s.party,
  });
}

export type TokenVerifier = (token: string) => unknown;

/**
 * The property of every verifier target: a mutated input is refused with an OAuthError (never a
 * crash), or, when the mutation did not change what the signature covers (a comment, attribute
 * quoting, whitespace outside the signed element), yields exactly the baseline's identity.
 */
export async function refuseOrSame(
  rec: CostRecord, verify: TokenVerifier, baseline: { token: string; identity: string }, input: string,
  /** The texts to describe an accepted mutation with (default: the token values themselves). */
  view: { before: string; after: string } = { before: baseline.token, after: input },
): Promise<void> {
  const out = await rec.measure(input, () => verify(input));
  if (out.ok && input !== baseline.token) {
    if (identityOf(out.value) !== baseline.identity) throw new Error(`a mutated token verified with another identity: ${identityOf(out.value)}`);
    if (rec.sameIdentity.length < 20) rec.sameIdentity.push(describeChange(view.before, view.after));
  }
}

/** Where two strings differ: the common prefix/suffix cut away, for a readable report line. */
export function describeChange(before: string, after: string): string {
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let q = 0;
  while (q < before.length - p && q < after.length - p && before[before.length - 1 - q] === after[after.length - 1 - q]) q++;
  const cut = (s: string): string => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…(${s.length})` : s);
  return `@${p}/${before.length}: ${cut(before.slice(p, before.length - q))} → ${cut(after.slice(p, after.length - q))}`;
}
