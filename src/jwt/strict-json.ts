/**
 * JSON for signed tokens: RFC 8259 text (JSON.parse is the grammar authority) in which no object
 * repeats a member name, at any depth.
 *
 * RFC 7515 §4 and RFC 7519 §4 let a JWS/JWT parser either refuse duplicate member names or keep
 * the last one; RFC 8259 §4 says names SHOULD be unique and that receivers then disagree. A bridge
 * that translates identity between systems must refuse them, so no two parsers (ours, jose's, a
 * resource server's, an auditor's) can read different claims from one signed token.
 *
 * Why a small scanner and no library: JSON.parse already decides the grammar, so what is left is
 * only to walk the validated text once and compare member names after unescaping ("a" and "\u0061"
 * are one name). That is a few lines with no dependency in the verification path; the differential
 * tests (test/jwt/strict-json.test.ts, fast-check) pin it against JSON.parse. The walk is
 * iterative (an explicit stack) and bounded in nesting depth.
 */

/** Deepest nesting of objects and arrays accepted (a 16-deep act chain needs 17). */
export const MAX_JSON_DEPTH = 64;

export type StrictJsonFailure = "syntax" | "duplicate_member" | "too_deep";

export class StrictJsonError extends Error {
  override name = "StrictJsonError";
  constructor(readonly failure: StrictJsonFailure) {
    super(failure);
  }
}

/** JSON.parse, refusing any object with a repeated member name and nesting deeper than maxDepth. */
export function parseStrictJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StrictJsonError("syntax");
  }
  checkMembers(text, maxDepth);
  return value;
}

/**
 * Walks text that JSON.parse accepted. Each open object has a set of the names seen so far; a
 * string directly after `{` or `,` inside an object is a member name.
 */
function checkMembers(text: string, maxDepth: number): void {
  // One entry per open container: a Set of names for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      const end = stringEnd(text, i);
      if (expectName) {
        const raw = text.slice(i, end + 1);
        // Escapes only when there is a backslash: the common case stays a plain slice.
        const name = raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        const names = stack[stack.length - 1]!;
        if (names.has(name)) throw new StrictJsonError("duplicate_member");
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (ch === 0x7b /* { */) {
      stack.push(new Set());
      if (stack.length > maxDepth) throw new StrictJsonError("too_deep");
      expectName = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push(null);
      if (stack.length > maxDepth) throw new StrictJsonError("too_deep");
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
      expectName = false;
    } else if (ch === 0x2c /* , */) {
      expectName = stack[stack.length - 1] instanceof Set;
    }
  }
}

/** Index of the closing quote of the string opening at `start` (the text is valid JSON). */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5c /* \ */) i++;
    else if (ch === 0x22) return i;
  }
  throw new StrictJsonError("syntax");
}
