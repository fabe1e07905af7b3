/**
 * server.headersTimeoutMs / server.requestTimeoutMs hold to about a second with real slow sockets:
 * Node enforces them only when it checks its connections (every 30 s by default), so the bridge
 * checks every CONNECTIONS_CHECKING_INTERVAL_MS. A connection past its timeout is closed (408).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENTS, startBridge, type TestBridge } from "../support/harness.js";
import { listenBridge, openSocket, type Listening } from "./http-client.js";

const HEADERS_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 3_000;
const KEEP_ALIVE_MS = 2_500;
/** "About a second": the check interval (0.5 s) plus scheduling on a loaded machine. */
const SLACK_MS = 1_500;

let b: TestBridge;
let l: Listening;
beforeAll(async () => {
  b = await startBridge();
  l = await listenBridge(b, { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, keepAliveTimeoutMs: KEEP_ALIVE_MS });
});
afterAll(async () => {
  await l.close();
  await b.close();
});

const HEAD = `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${Buffer.from(`${CLIENTS.c1.id}:${CLIENTS.c1.secret}`).toString("base64")}\r\nContent-Type: application/x-www-form-urlencoded\r\n`;

/** Writes `text` one byte every `everyMs` until the socket closes; returns when it stopped. */
function trickle(socket: import("node:net").Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) {
      clearInterval(timer);
      return;
    }
    socket.write(text[i++]!);
  }, everyMs);
  socket.on("close", () => clearInterval(timer));
}

describe("slow clients are cut off at the configured timeouts (± about a second)", () => {
  it("headers sent one byte every 300 ms: closed within headersTimeout + slack", async () => {
    const { socket, closed } = await openSocket(l.port);
    trickle(socket, HEAD.repeat(20), 300);
    const { atMs, data } = await closed;
    expect(atMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(atMs).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
    expect(data === "" || data.startsWith("HTTP/1.1 408")).toBe(true);
  });

  it("several slow-header connections at once: each closed within the bound", async () => {
    const sockets = await Promise.all(Array.from({ length: 8 }, () => openSocket(l.port)));
    for (const s of sockets) trickle(s.socket, HEAD.repeat(20), 400);
    const closedAt = await Promise.all(sockets.map((s) => s.closed.then((c) => c.atMs)));
    for (const atMs of closedAt) expect(atMs).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
  });

  it("a connection that never sends a byte: closed within headersTimeout + slack", async () => {
    const all = await Promise.all(Array.from({ length: 4 }, () => openSocket(l.port)));
    for (const { closed } of all) {
      const { atMs, data } = await closed;
      expect(atMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(atMs).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
      // Closed silently by the bridge's idle check, or with Node's own 408 when its headers timer
      // fires first: whichever comes first, never a request served.
      expect(data).toMatch(/^(|HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*)$/);
    }
  });

  it("a keep-alive connection after its answer: closed after keepAliveTimeout, not before", async () => {
    const { socket, closed } = await openSocket(l.port);
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const { atMs, data } = await closed;
    expect(data).toMatch(/^HTTP\/1\.1 200 /);
    expect(atMs).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - 100);
    expect(atMs).toBeLessThan(KEEP_ALIVE_MS + SLACK_MS);
  });

  it("the first header line only, then silence: closed within headersTimeout + slack", async () => {
    const { socket, closed } = await openSocket(l.port);
    socket.write("POST /token HTTP/1.1\r\n");
    const { atMs } = await closed;
    expect(atMs).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
  });

  it("complete headers, the body trickled one byte every 250 ms: closed within requestTimeout + slack", async () => {
    const { socket, closed } = await openSocket(l.port);
    socket.write(`${HEAD}Content-Length: 5000\r\n\r\n`);
    trickle(socket, "grant_type=".padEnd(5000, "x"), 250);
    const { atMs, data } = await closed;
    expect(atMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(atMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
    expect(data === "" || data.startsWith("HTTP/1.1 408")).toBe(true);
  });

  it("a chunked body that never ends: closed within requestTimeout + slack", async () => {
    const { socket, closed } = await openSocket(l.port);
    socket.write(`${HEAD}Transfer-Encoding: chunked\r\n\r\n`);
    const timer = setInterval(() => socket.destroyed || socket.write("1\r\nx\r\n"), 300);
    const { atMs } = await closed;
    clearInterval(timer);
    expect(atMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
  });

  it("a slow but honest client within the timeouts is served", async () => {
    const { socket, closed } = await openSocket(l.port);
    const body = "grant_type=x";
    const request = `${HEAD}Connection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    // about 1.2 s for the whole request: well inside both timeouts
    const step = Math.floor(request.length / 6);
    for (let i = 0; i < request.length; i += step) {
      socket.write(request.slice(i, i + step));
      await new Promise((r) => setTimeout(r, 200));
    }
    const { data } = await closed;
    expect(data).toMatch(/^HTTP\/1\.1 400 /); // refused as an exchange (unsupported grant), not cut off
    expect(data).toContain("grant_type_unsupported");
  });
});
