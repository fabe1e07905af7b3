/**
 * Issue 9 / RFC 4648 §3.5: a SAML token value has one spelling per byte string. Node's decoder
 * ignores the unused low bits of the last character, so "QQ" and "QR" both decode to "A"; the
 * decoder refuses every spelling but the canonical one (padding stays optional).
 */
import { describe, expect, it } from "vitest";
import { isOAuthError } from "../../src/oauth/errors.js";
import { decodeBase64Token } from "../../src/xml/token-encoding.js";

function reason(value: string): string {
  try {
    decodeBase64Token(value, 1024);
    return "accepted";
  } catch (e) {
    if (isOAuthError(e)) return e.reason;
    throw e;
  }
}

describe("non-zero unused bits in the last character → token_encoding_invalid", () => {
  it.each([
    ["one byte, base64url, low bits set", "QR"],
    ["one byte, padded base64", "QR=="],
    ["one byte, every unused bit set", "QX"],
    ["two bytes, base64url", "QUJ"],
    ["two bytes, padded", "QUJ="],
    ["XML text with a flipped tail (standard alphabet)", `${Buffer.from("<a>x</a>").toString("base64").replace(/=+$/, "").slice(0, -1)}5`],
    ["url alphabet, two bytes: \"-_9\" (canonical \"-_8\")", "-_9"],
  ])("%s", (_what, value) => {
    expect(reason(value)).toBe("token_encoding_invalid");
  });

  it.each([["QQ"], ["QQ=="], ["QUI"], ["QUI="], [Buffer.from("<a>x</a>").toString("base64")], ["-_8"]])(
    "canonical %s → accepted", (value) => {
      expect(reason(value)).toBe("accepted");
    });
});
