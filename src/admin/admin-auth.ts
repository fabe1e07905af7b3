import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { Passport } from "passport";
import { Strategy } from "passport-strategy";
import type { AdminConfig } from "../config/schema.js";
import { AdminError } from "./errors.js";
import type { Logger } from "../log/logger.js";

/**
 * Admin authentication: `Authorization: Bearer <admin token>` (RFC 6750 §2.1), checked against the
 * configured SHA-256 hashes in constant time, through a passport strategy separate from the OAuth
 * clients'. Every admin request without valid credentials is refused with 401.
 */
class AdminBearerStrategy extends Strategy {
  name = "admin-bearer";
  // A plain property: passport calls authenticate on Object.create(strategy), which has no #private slots.
  private readonly admins: readonly { id: string; hash: Buffer }[];

  constructor(tokens: AdminConfig["tokens"]) {
    super();
    this.admins = tokens.map((t) => ({ id: t.id, hash: Buffer.from(t.tokenHash.slice("sha256:".length), "base64url") }));
  }

  override authenticate(req: Request): void {
    // RFC 9110 §11.1: the scheme name is case-insensitive.
    const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? "");
    if (!m) {
      this.fail("Bearer", 401);
      return;
    }
    const presented = createHash("sha256").update(m[1]!).digest();
    // Compare against every admin so timing does not tell which (or whether any) matched early.
    let found: string | undefined;
    for (const a of this.admins) if (timingSafeEqual(presented, a.hash)) found ??= a.id;
    if (found) this.success({ admin: found });
    else this.fail("Bearer", 401);
  }
}

declare module "express-serve-static-core" {
  interface Request {
    /** The authenticated admin's id, set by `authenticateAdmin`. */
    admin?: string;
  }
}

export function authenticateAdmin(tokens: AdminConfig["tokens"], log: Logger): RequestHandler {
  const passport = new Passport();
  passport.use(new AdminBearerStrategy(tokens));
  return (req: Request, res: Response, next: NextFunction) => {
    passport.authenticate("admin-bearer", { session: false }, (err: unknown, user: { admin: string } | false) => {
      if (err) return next(err);
      if (!user) {
        // Audited without the presented token: who tried, from where, on what.
        log({ event: "admin_auth_failed", path: req.path, method: req.method, remote: req.socket.remoteAddress });
        res.setHeader("WWW-Authenticate", 'Bearer realm="fedbridge-admin"');
        return next(new AdminError(401, "unauthorized"));
      }
      req.admin = user.admin;
      next();
    })(req, res, next);
  };
}
