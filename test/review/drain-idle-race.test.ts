/**
 * Review: a connection accepted during server.shutdownDelayMs (readyz already 503) must get its
 * request answered. Node counts a connection that has not sent its first byte yet as "idle", so
 * closing idle connections whenever some other response ends, while the listener is still
 * accepting, reset such connections (and a load balancer's pooled keep-alive connections) before
 * their request arrived: exactly the traffic the delay exists to serve.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { Drain } from "../../src/http/drain.js";
import { Readiness } from "../../src/http/routes/health.js";

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.closeAllConnections();
});

function rawRequest(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    socket.on("data", (d) => (data += d.toString()));
    socket.on("error", () => resolve(`ERROR ${data}`));
    socket.on("close", () => resolve(data));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

describe("drain: connections accepted during the delay are served", () => {
  it("a connection opened during the delay, whose request comes after another response ended, is answered", async () => {
    const drain = new Drain(new Readiness());
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const app = (req: IncomingMessage, res: ServerResponse): void => {
      if (req.url === "/slow") void held.then(() => res.end("slow"));
      else res.end("ok");
    };
    const server = createServer(drain.handler(app));
    servers.push(server);
    drain.track(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;

    // One exchange in flight when the drain starts.
    const slow = connect(port, "127.0.0.1");
    await once(slow, "connect");
    const slowAnswer = rawRequest(slow, "/slow");
    await new Promise((r) => setTimeout(r, 100));

    const outcome = drain.drain({ graceMs: 10_000, delayMs: 1_500, log: () => undefined, now: Date.now });
    // During the delay a new connection is accepted (a load balancer has not noticed yet)...
    const late = connect(port, "127.0.0.1");
    await once(late, "connect");
    await new Promise((r) => setTimeout(r, 100));
    // ...meanwhile the in-flight exchange ends...
    release();
    expect(await slowAnswer).toContain("slow");
    await new Promise((r) => setTimeout(r, 100));
    // ...and only then the late connection sends its request: it must be answered, not reset.
    const answer = await rawRequest(late, "/fast");
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.toLowerCase()).toContain("connection: close");
    expect(await outcome).toBe("drained");
  });
});
