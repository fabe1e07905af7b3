/**
 * The OAuth endpoints' bodies over the real HTTP server, byte by byte: compressed bodies (honest,
 * corrupt, truncated or mislabelled) are 415 content_encoding_unsupported; a charset other than
 * UTF-8 is 415 charset_unsupported; too large is 413; short, aborted or unparsable bodies are 400;
 * all with the OAuth error body, and none of them is an `internal_error` log line.
 */
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENTS, GRANT, SAML2, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";
import { listenBridge, openSocket, postHead, rawRequest, type Listening, type RawResponse } from "./http-client.js";

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

function post(path: string, headers: Record<string, string | number>, body: Buffer | string): Promise<RawResponse> {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  return rawRequest(l.port, postHead(path, { Authorization: BASIC, "Content-Length": bytes.length, ...headers }), bytes);
}

function expectRefused(res: RawResponse, status: number, reason: string): void {
  expect({ status: res.status, body: res.body }).toEqual({ status, body: { error: "invalid_request", error_description: reason } });
  expect(res.headers["cache-control"]).toBe("no-store");
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
}

function noInternalErrors(): void {
  expect(b.logs.filter((e) => e.event === "internal_error")).toEqual([]);
}

describe("Content-Encoding on the OAuth endpoints: 415, before any byte is decompressed", () => {
  const shapes: [string, string, () => Buffer][] = [
    ["gzip bytes labelled br", "br", () => gzipSync(exchangeBody())],
    ["truncated gzip", "gzip", () => gzipSync(exchangeBody()).subarray(0, 40)],
    ["junk labelled deflate", "deflate", () => Buffer.from("this is not a zlib stream at all")],
    ["an honest gzip body", "gzip", () => gzipSync(exchangeBody())],
    ["an honest deflate body", "deflate", () => deflateSync(exchangeBody())],
    ["an honest br body", "br", () => brotliCompressSync(exchangeBody())],
    ["an unknown coding", "x-unknown", () => Buffer.from(exchangeBody())],
    ["two codings", "gzip, identity", () => gzipSync(exchangeBody())],
    ["an empty coding", "", () => Buffer.from(exchangeBody())],
  ];
  for (const path of ["/token", "/introspect"]) {
    for (const [name, coding, body] of shapes) {
      it(`${path}: ${name} (Content-Encoding: ${JSON.stringify(coding)})`, async () => {
        expectRefused(await post(path, { "Content-Type": FORM, "Content-Encoding": coding }, body()), 415, "content_encoding_unsupported");
        noInternalErrors();
      });
    }
  }

  it("Content-Encoding: identity is the plain body: the exchange succeeds", async () => {
    const res = await post("/token", { "Content-Type": FORM, "Content-Encoding": "identity" }, exchangeBody());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(typeof res.body.access_token).toBe("string");
  });
});

describe("charsets: UTF-8 only (RFC 6749 Appendix B)", () => {
  for (const charset of ["iso-8859-1", "ISO-8859-1", "latin1", "utf-16", "utf-16le", "windows-1252", "x-no-such-charset", "\"koi8-r\"", "utf8"]) {
    it(`charset=${charset}: 415 charset_unsupported`, async () => {
      expectRefused(await post("/token", { "Content-Type": `${FORM}; charset=${charset}` }, exchangeBody()), 415, "charset_unsupported");
      expectRefused(await post("/introspect", { "Content-Type": `${FORM}; charset=${charset}` }, "token=x"), 415, "charset_unsupported");
      noInternalErrors();
    });
  }
  for (const charset of ["utf-8", "UTF-8", "\"utf-8\""]) {
    it(`charset=${charset}: accepted`, async () => {
      const res = await post("/token", { "Content-Type": `${FORM}; charset=${charset}` }, exchangeBody());
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    });
  }
  // The rule reads Content-Type as the body parser does (content-type skips quoted strings): a
  // decoy `charset=utf-8` inside another parameter's quoted value, or a second charset parameter,
  // must not let through a body the parser then decodes as ISO-8859-1 (security review).
  for (const contentType of [
    `${FORM}; foo="x;charset=utf-8;"; charset=iso-8859-1`,
    `${FORM}; foo="x;charset=utf-8;"; charset="iso-8859-1"`,
    `${FORM};a="; charset=UTF-8;" ;charset=ISO-8859-1`,
    `${FORM}; charset=utf-8; charset=iso-8859-1`,
  ]) {
    it(`${JSON.stringify(contentType)}: 415 charset_unsupported on /token and /introspect`, async () => {
      expectRefused(await post("/token", { "Content-Type": contentType }, exchangeBody()), 415, "charset_unsupported");
      expectRefused(await post("/introspect", { "Content-Type": contentType }, "token=x"), 415, "charset_unsupported");
    });
  }
  it("a parameter other than charset still exchanges", async () => {
    const res = await post("/token", { "Content-Type": `${FORM}; foo="bar"` }, exchangeBody());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });
});

describe("sizes, shapes and types", () => {
  it("a body over limits.maxBodyBytes: 413 body_too_large (declared or chunked)", async () => {
    const big = `grant_type=${"a".repeat(300_000)}`;
    expectRefused(await post("/token", { "Content-Type": FORM }, big), 413, "body_too_large");
    const chunked = rawRequest(l.port, postHead("/token", { Authorization: BASIC, "Content-Type": FORM, "Transfer-Encoding": "chunked" }),
      `${(big.length).toString(16)}\r\n${big}\r\n0\r\n\r\n`);
    expectRefused(await chunked, 413, "body_too_large");
    noInternalErrors();
  });

  it("more parameters than the endpoint allows: 413 body_too_large", async () => {
    const many = Array.from({ length: 100 }, (_, i) => `p${i}=1`).join("&");
    expectRefused(await post("/token", { "Content-Type": FORM }, many), 413, "body_too_large");
    expectRefused(await post("/introspect", { "Content-Type": FORM }, many), 413, "body_too_large");
  });

  it("a body shorter than its Content-Length (client half-closes): 400 (Node's parser answers), no internal_error", async () => {
    for (const body of ["grant_type=x", "", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"]) {
      const res = await rawRequest(l.port, postHead("/token", { Authorization: BASIC, "Content-Type": FORM, "Content-Length": 500 }), body, { halfClose: true });
      expect(res.status).toBe(400);
    }
    await new Promise((r) => setTimeout(r, 100));
    noInternalErrors();
  });

  it("a body longer than its Content-Length is cut there: the rest is a malformed next request, never a 500", async () => {
    const res = await rawRequest(l.port, postHead("/token", { Authorization: BASIC, "Content-Type": FORM, "Content-Length": 5 }), "grant_type=x&junk", { halfClose: true });
    expect(res.status).toBeLessThan(500);
    noInternalErrors();
  });

  it("wrong or malformed Content-Type: 400 content_type_unsupported", async () => {
    for (const type of ["application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded/x", ";;;", "a/b; charset"]) {
      expectRefused(await post("/token", { "Content-Type": type }, exchangeBody()), 400, "content_type_unsupported");
    }
    noInternalErrors();
  });
});

describe("client aborts", () => {
  it("a client that goes away mid-body, mid-chunk or right after the headers leaves no internal_error line", async () => {
    const before = b.logs.length;
    const shapes = [
      { headers: { "Content-Length": 10_000 }, sent: "grant_type=urn%3Aietf" },
      { headers: { "Transfer-Encoding": "chunked" }, sent: "400\r\ngrant_type=" },
      { headers: { "Content-Length": 100 }, sent: "" },
    ];
    for (const s of shapes) {
      const { socket, closed } = await openSocket(l.port);
      socket.write(postHead("/token", { Authorization: BASIC, "Content-Type": FORM, ...s.headers }).replace(/\n/g, "\r\n") + "\r\n" + s.sent);
      await new Promise((r) => setTimeout(r, 150));
      socket.destroy();
      await closed;
    }
    await new Promise((r) => setTimeout(r, 300));
    noInternalErrors();
    // nothing at all is logged for them: they are not exchanges
    expect(b.logs.slice(before)).toEqual([]);
    // and the server still serves
    const res = await post("/token", { "Content-Type": FORM }, exchangeBody());
    expect(res.status).toBe(200);
  });
});
