import { refuse } from "../oauth/errors.js";

/**
 * The character-level rules of XML 1.0 (Fifth Edition) that the pre-scan enforces and xmldom does
 * not: the Char production (§2.2), the Legal Character constraint on character references (§4.1)
 * and the five predefined entities (§4.6; with no DOCTYPE, no other entity can be declared, so any
 * other `&name;` is not well-formed: WFC Entity Declared).
 */

/**
 * XML 1.0 §2.2 Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
 * With the `u` flag a lone surrogate is one code point in D800–DFFF, outside every range, so it
 * matches too. One linear regex pass over the whole document.
 */
const NOT_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Refuses raw C0 controls other than TAB/LF/CR, lone surrogates, U+FFFE and U+FFFF. */
export function checkXmlChars(text: string): void {
  if (NOT_CHAR.test(text)) throw refuse("xml_malformed");
}

/** Whether a code point is an XML 1.0 Char (§2.2), for character references (§4.1 WFC: Legal Character). */
export function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd
    || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Names as xmldom accepts them (its conventions.js nameStartChar/nameChar, the BMP part of XML 1.0
 * §2.3 Name), in the QName shape of Namespaces in XML 1.0 §4: at most one colon, neither first nor
 * last. Anything xmldom would refuse or read differently is refused here first.
 */
const NAME_START = "A-Z_a-z\\xC0-\\xD6\\xD8-\\xF6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
const QNAME = new RegExp(`[${NAME_START}][${NAME_CHAR}]*(?::[${NAME_START}][${NAME_CHAR}]*)?`, "y");
/** The predefined entity names are 2–4 lower-case letters: no longer run is ever read. */
const ENTITY_NAME = /[a-z]{2,4};/y;

/** The end index of the QName starting at `i`, or -1 when none starts there. */
export function qnameEnd(text: string, i: number): number {
  QNAME.lastIndex = i;
  return QNAME.test(text) ? QNAME.lastIndex : -1;
}

const PREDEFINED = new Set(["lt;", "gt;", "amp;", "quot;", "apos;"]);
/** Longest digit run accepted in a character reference: enough for 0x10FFFF (7 decimal digits) with a little zero padding. */
const MAX_REF_DIGITS = 8;

/**
 * Checks the reference starting at `i` (text[i] === "&") and returns the index just after its `;`.
 * XML 1.0 §4.1: CharRef ::= '&#' [0-9]+ ';' | '&#x' [0-9a-fA-F]+ ';' naming a legal Char;
 * EntityRef: only the five predefined entities (§4.6). Anything else is xml_malformed.
 */
export function referenceEnd(text: string, i: number): number {
  if (text.charCodeAt(i + 1) === 0x23 /* # */) {
    const hex = text.charCodeAt(i + 2) === 0x78; /* x, lower case only (§4.1) */
    const start = i + (hex ? 3 : 2);
    let j = start;
    let cp = 0;
    for (; j < text.length && j - start <= MAX_REF_DIGITS; j++) {
      const c = text.charCodeAt(j);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30
        : hex && c >= 0x61 && c <= 0x66 ? c - 0x57
          : hex && c >= 0x41 && c <= 0x46 ? c - 0x37
            : -1;
      if (d < 0) break;
      cp = cp * (hex ? 16 : 10) + d;
    }
    if (j === start || j - start > MAX_REF_DIGITS || text.charCodeAt(j) !== 0x3b /* ; */) throw refuse("xml_malformed");
    if (!isXmlChar(cp)) throw refuse("xml_malformed");
    return j + 1;
  }
  ENTITY_NAME.lastIndex = i + 1;
  const m = ENTITY_NAME.exec(text);
  if (!m || !PREDEFINED.has(m[0])) throw refuse("xml_malformed");
  return ENTITY_NAME.lastIndex;
}
