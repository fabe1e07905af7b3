import { refuse } from "../oauth/errors.js";

/**
 * RFC 8693 §3: SAML token values are base64url-encoded. Legacy apps hold standard base64, so both
 * alphabets are accepted, but never mixed in one value, and never with whitespace or anything else:
 * a strict decoder means the bytes we verify are the bytes the client meant.
 */
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function decodeBase64Token(value: string, maxDecodedBytes: number): Buffer {
  // 4 chars carry 3 bytes; refuse before allocating anything for an oversized value.
  if (value.length > Math.ceil((maxDecodedBytes * 4) / 3) + 4) throw refuse("token_too_large");
  const urlSafe = BASE64URL.test(value);
  if (!urlSafe && !BASE64.test(value)) throw refuse("token_encoding_invalid");
  const unpadded = value.replace(/=+$/, "");
  if (unpadded.length % 4 === 1) throw refuse("token_encoding_invalid");
  if (value.length !== unpadded.length && value.length % 4 !== 0) throw refuse("token_encoding_invalid");
  const bytes = Buffer.from(unpadded, urlSafe ? "base64url" : "base64");
  if (bytes.length > maxDecodedBytes) throw refuse("token_too_large");
  // RFC 4648 §3.5: the unused bits of the last character must be zero. Node ignores them, so
  // "QQ" and "QR" would both decode to "A": only the one canonical spelling of the bytes is accepted.
  if (bytes.toString(urlSafe ? "base64url" : "base64").replace(/=+$/, "") !== unpadded) throw refuse("token_encoding_invalid");
  return bytes;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const XML_DECL = /^<\?xml\s[^?]*?encoding\s*=\s*["']([^"']+)["']/;

/**
 * Bytes to XML text. Only UTF-8 is accepted (a UTF-8 BOM is tolerated and dropped): other
 * encodings, invalid sequences and NUL bytes are refused before any parser sees them, so no
 * parser differential on encoding can arise (attack catalogue C5). DEFLATE is never undone
 * (RFC 8693 tokens are not deflated; catalogue C10), so compressed input fails here as non-XML.
 */
export function bytesToXmlText(bytes: Buffer): string {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw refuse("token_encoding_invalid");
  }
  if (text.includes("\u0000")) throw refuse("token_encoding_invalid");
  // The decoder dropped one BOM (the encoding signature, XML 1.0 §4.3.3); a second one is a
  // character before the document, not a signature: not well-formed (§2.1), whatever a lenient
  // parser would make of it (String.prototype.trimStart counts U+FEFF as white space).
  if (text.charCodeAt(0) === 0xfeff) throw refuse("xml_malformed");
  const decl = XML_DECL.exec(text);
  if (decl && decl[1]?.toLowerCase() !== "utf-8") throw refuse("token_encoding_invalid");
  if (!text.trimStart().startsWith("<")) throw refuse("xml_malformed");
  return text;
}
