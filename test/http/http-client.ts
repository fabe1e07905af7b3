/**
 * Raw HTTP over a TCP socket against a listening bridge: requests no HTTP client library would
 * send (mislabelled encodings, bodies shorter than Content-Length, aborts, slow trickles).
 */
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createHttpServer, listen } from "../../src/http/server.js";
import type { Config } from "../../src/config/schema.js";
import type { TestBridge } from "../support/harness.js";

export interface Listening {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function listenBridge(b: TestBridge, server: Partial<Config["server"]> = {}): Promise<Listening> {
  const s = createHttpServer(b.app, { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, ...server });
  const addr: AddressInfo = await listen(s, 0, "127.0.0.1");
  return {
    server: s,
    port: addr.port,
    close: () => new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
}

function parseResponse(raw: string): RawResponse | undefined {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let text = raw.slice(end + 4);
  if (headers["transfer-encoding"] === "chunked") {
    let out = "";
    for (;;) {
      const nl = text.indexOf("\r\n");
      const size = parseInt(text.slice(0, nl), 16);
      if (!size) break;
      out += text.slice(nl + 2, nl + 2 + size);
      text = text.slice(nl + 2 + size + 2);
    }
    text = out;
  }
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine!)?.[1]), headers, body };
}

/**
 * Sends head + body as given and collects the whole answer (the head says Connection: close). With
 * `halfClose`, the client then ends its side at once (Node aborts a request whose client has ended).
 */
export function rawRequest(port: number, head: string, body: Buffer | string = "", o: { halfClose?: boolean } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.on("data", (d) => {
      data += d.toString("latin1");
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const res = parseResponse(data);
      if (res) resolve(res);
      else reject(new Error(`no HTTP response: ${JSON.stringify(data.slice(0, 200))}`));
    });
    socket.write(head.replace(/\n/g, "\r\n") + "\r\n");
    if (o.halfClose) socket.end(body);
    else socket.write(body);
  });
}

/** A POST head (Connection: close) with these headers. */
export function postHead(path: string, headers: Record<string, string | number>): string {
  return [`POST ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), ""].join("\n");
}

/** Opens a connection and reports when the server closes it (ms after `connect`), and what it said. */
export function openSocket(port: number): Promise<{ socket: Socket; closed: Promise<{ atMs: number; data: string }> }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = connect(port, "127.0.0.1", () => resolve({ socket, closed }));
    let data = "";
    socket.on("data", (d) => {
      data += d.toString("latin1");
    });
    const closed = new Promise<{ atMs: number; data: string }>((res) => {
      socket.on("close", () => res({ atMs: performance.now() - t0, data }));
    });
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });
}
