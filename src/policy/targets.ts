import { refuse } from "../oauth/errors.js";
import type { AudienceConfig, ClientConfig } from "../config/schema.js";

/**
 * RFC 8693 §2.1 `audience` and `resource` (RFC 8707 §2): every value must name an audience the
 * client may have, or the request is `invalid_target`. A `resource` must be an absolute URI without
 * a fragment. No value is ever fetched. Without either, the client's default audience applies;
 * a token is never issued without `aud` (catalogue H14).
 */
export function resolveTargets(
  requested: { audience: readonly string[]; resource: readonly string[] },
  client: Pick<ClientConfig, "audiences" | "defaultAudience">,
  audiences: ReadonlyMap<string, AudienceConfig>,
  maxTargets: number,
): AudienceConfig[] {
  const count = requested.audience.length + requested.resource.length;
  if (count > maxTargets) throw refuse("target_too_many");
  for (const r of requested.resource) if (!isAbsoluteUriWithoutFragment(r)) throw refuse("target_invalid");

  const wanted = [...new Set([...requested.audience, ...requested.resource])];
  if (wanted.length === 0) {
    if (client.defaultAudience === undefined) throw refuse("target_missing");
    wanted.push(client.defaultAudience);
  }
  return wanted.map((id) => {
    const a = audiences.get(id);
    if (!a || !client.audiences.includes(id)) throw refuse("target_not_allowed");
    return a;
  });
}

function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (value.includes("#")) return false;
  try {
    const u = new URL(value);
    return u.protocol.length > 1;
  } catch {
    return false;
  }
}
