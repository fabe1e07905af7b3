import { constants as cryptoConstants } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type RequestListener, type Server, type ServerOptions } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Config } from "../config/schema.js";
import { ConfigError, resolvePath } from "../config/load.js";

/**
 * How often Node looks for connections past headersTimeout / requestTimeout. Node checks only on
 * this interval (default 30 s), so a slow-header connection lived up to 30 s past its timeout;
 * every 500 ms holds the configured timeouts to about half a second.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500;

/**
 * The bridge's HTTP server (not yet listening), with the slow-client bounds of config `server`.
 *
 * headersTimeout counts from a request's first byte, so a connection that never sends one would
 * live forever: an inactivity timeout of headersTimeoutMs closes a connection that is silent while
 * no request of it is being answered (a request being answered is bounded by the bridge's own
 * timeouts: replay store, key fetches). Idle keep-alive connections close after keepAliveTimeout.
 *
 * With `server.tls` it serves HTTPS (RFC 6749 §3.2: the token endpoint requires TLS), the same
 * bounds applying; its files are read now, relative to `baseDir` (the config file's folder).
 */
export function createHttpServer(
  app: RequestListener,
  config: Pick<Config["server"], "headersTimeoutMs" | "requestTimeoutMs" | "keepAliveTimeoutMs"> & {
    tls?: Config["server"]["tls"];
    /** Request a client certificate even without a clientCaFile (self_signed_tls_client_auth clients: mtlsInUse). */
    requestClientCertificate?: boolean;
  },
  baseDir: string = process.cwd(),
): Server {
  const answering = new WeakMap<object, number>();
  const options: ServerOptions = {
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
  };
  const listener: RequestListener = (req, res) => {
    const socket = req.socket;
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    res.once("close", () => answering.set(socket, (answering.get(socket) ?? 1) - 1));
    app(req, res);
  };
  const server: Server = config.tls
    ? createHttpsServer({ ...options, ...tlsMaterial(config.tls, baseDir, config.requestClientCertificate === true) }, listener)
    : createServer(options, listener);
  server.timeout = config.headersTimeoutMs;
  // With a listener, Node no longer destroys timed-out sockets itself: only silent idle ones go.
  server.on("timeout", (socket: Socket) => {
    if ((answering.get(socket) ?? 0) === 0) socket.destroy();
  });
  return server;
}

/** The listen failed (address in use, no permission, address not available…): start-up must stop. */
export class ListenError extends Error {
  override name = "ListenError";
  readonly code: string;

  constructor(where: string, code: string) {
    const why: Record<string, string> = {
      EADDRINUSE: "the address is already in use",
      EACCES: "permission denied (a port below 1024 needs privileges)",
      EADDRNOTAVAIL: "the address is not available on this host",
    };
    super(`cannot listen on ${where}: ${why[code] ?? "listen failed"} (${code})`);
    this.code = code;
  }
}

/**
 * Listens, resolving with the bound address once the server is listening, rejecting with a
 * ListenError on any listen error: never a half-started process that says "listening on null".
 */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      reject(new ListenError(`${host.includes(":") ? `[${host}]` : host}:${port}`, e.code ?? "UNKNOWN"));
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

export function urlOf(addr: AddressInfo, scheme: "http" | "https" = "http"): string {
  return `${scheme}://${addr.address.includes(":") ? `[${addr.address}]` : addr.address}:${addr.port}`;
}

/** Whether some client authenticates with mutual TLS (RFC 8705 §2): the listener must ask for a certificate. */
export function mtlsInUse(clients: Config["clients"]): boolean {
  return clients.some((c) => c.tlsClientAuth !== undefined || c.selfSignedTlsClientAuth !== undefined);
}

/**
 * The listener's certificate chain and key, and the CAs client certificates may chain to. A client
 * certificate is requested with a client CA or when some client uses mTLS (`request`), and never
 * required here (`rejectUnauthorized: false`): a connection without one, or with one that does not
 * chain to the CA, is still served, and each method decides (clients/mtls.ts: tls_client_auth
 * needs the chain verified, self_signed_tls_client_auth a registered certificate; secret and
 * private_key_jwt clients ignore it). TLS 1.2 at least, and no TLS 1.2 renegotiation: a client could
 * otherwise swap its verified certificate for another mid-connection (Node keeps the first
 * handshake's `authorized`; clients/mtls.ts checks `authorizationError` too), and HTTP needs none.
 */
function tlsMaterial(tls: NonNullable<Config["server"]["tls"]>, baseDir: string, request: boolean): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean; minVersion: "TLSv1.2"; secureOptions: number } {
  const read = (file: string, field: string): Buffer => {
    try {
      return readFileSync(resolvePath(baseDir, file));
    } catch (e) {
      throw new ConfigError([{ path: `server.tls.${field}`, message: `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})` }]);
    }
  };
  return {
    cert: read(tls.certFile, "certFile"),
    key: read(tls.keyFile, "keyFile"),
    ...(tls.clientCaFile !== undefined ? { ca: read(tls.clientCaFile, "clientCaFile") } : {}),
    requestCert: tls.clientCaFile !== undefined || request,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
}
