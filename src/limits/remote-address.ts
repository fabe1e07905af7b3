import type { IncomingMessage } from "node:http";

/**
 * The client's address for per-address limits: the TCP peer (`req.socket.remoteAddress`), unless
 * config `server.trustProxy` names the proxies in front of the bridge; then Express (`trust proxy`,
 * proxy-addr) takes it from X-Forwarded-For, skipping only those trusted hops. Without that setting
 * X-Forwarded-For is ignored: any caller can write it, and a spoofed one would let an attacker pick
 * a fresh address for each guess, or block someone else's.
 */
export function remoteAddress(req: IncomingMessage & { ip?: string | undefined }): string | undefined {
  return req.ip ?? req.socket.remoteAddress;
}
