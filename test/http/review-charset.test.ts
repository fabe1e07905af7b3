/**
 * Review: the UTF-8-only rule of the OAuth endpoints' bodies must read the Content-Type header the
 * way the body parser does. body-parser takes `charset` with its own parser (content-type), which
 * skips quoted strings; a check that reads the first `;charset=` anywhere sees `utf-8` inside
 * another parameter's quoted value and lets a body through that the parser then decodes as
 * ISO-8859-1. Every shape is refused 415 charset_unsupported; plain UTF-8 still works.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENTS, GRANT, SAML2, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";
import { listenBridge, postHead, rawRequest, type Listening, type RawResponse } from "./http-client.js";

let b: TestBridge;
let l: Listening;
beforeAll(async () => {
  b = await startBridge();
  l = await listenBridge(b);
});
afterAll(async () => {
  await l.close();
  await b.close();
});

const BASIC = `Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}`;
const FORM = "application/x-www-form-urlencoded";

function exchangeBody(): string {
  return new URLSearchParams({ grant_type: GRANT, subject_token: toBase64Url(signedAssertion(b)), subject_token_type: SAML2, scope: "read" }).toString();
}

function post(path: string, contentType: string, body: string): Promise<RawResponse> {
  const bytes = Buffer.from(body);
  return rawRequest(l.port, postHead(path, { Authorization: BASIC, "Content-Length": bytes.length, "Content-Type": contentType }), bytes);
}

describe("review: a charset hidden behind a decoy utf-8 in another parameter", () => {
  const shapes = [
    `${FORM}; foo="x;charset=utf-8;"; charset=iso-8859-1`,
    `${FORM}; foo="x;charset=utf-8;"; charset="iso-8859-1"`,
    `${FORM};a="; charset=UTF-8;" ;charset=ISO-8859-1`,
    `${FORM}; charset=utf-8; charset=iso-8859-1`,
  ];
  for (const contentType of shapes) {
    it(`${JSON.stringify(contentType)}: 415 charset_unsupported on /token and /introspect`, async () => {
      for (const [path, body] of [["/token", exchangeBody()], ["/introspect", "token=x"]] as const) {
        const res = await post(path, contentType, body);
        expect({ status: res.status, body: res.body }).toEqual({ status: 415, body: { error: "invalid_request", error_description: "charset_unsupported" } });
      }
    });
  }

  it("a plain utf-8 charset and a parameter without one still exchange", async () => {
    for (const contentType of [`${FORM}; charset=utf-8`, `${FORM}; foo="bar"`]) {
      const res = await post("/token", contentType, exchangeBody());
      expect(res.status).toBe(200);
    }
  });
});
