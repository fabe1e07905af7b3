import type { LoadedConfig } from "../config/load.js";
import { explain } from "../admin/explain.js";
import { AdminError } from "../admin/errors.js";
import { TOKEN_TYPES } from "../oauth/constants.js";
import { TOKEN_TYPE_ID_JAG } from "../idjag/constants.js";
import { CliError } from "./errors.js";
import { TOKEN_TYPE_NAMES } from "./token-types.js";
import { offlineBridge } from "./offline.js";

/**
 * `fedbridge explain`: the admin explain endpoint (POST /admin/idps/{id}/explain, admin/explain.ts)
 * run offline against a config file, with the very same dry run: the token endpoint's steps in
 * their order, nothing signed, no rate limit spent, and the replay check made against an empty
 * store of this process (so `replayed` is never reported: the bridge's own marks are not visible,
 * and none are made).
 */
export interface ExplainOptions {
  idp: string;
  token: string;
  tokenType: "saml2" | "saml1";
  client?: string | undefined;
  audience: string[];
  resource: string[];
  scope?: string | undefined;
  actorToken?: string | undefined;
  actorTokenType?: "jwt" | "id_token" | "access_token" | undefined;
  idJag: boolean;
}

export async function explainOffline(loaded: LoadedConfig, o: ExplainOptions, now: () => number): Promise<Awaited<ReturnType<typeof explain>>> {
  const { config, idps, services } = await offlineBridge(loaded, now);
  if (!idps.some((i) => i.id === o.idp)) throw new CliError("not_found", `no samlIdps entry with id ${o.idp}`);
  const body = {
    subject_token: o.token,
    subject_token_type: TOKEN_TYPES[o.tokenType],
    ...(o.client !== undefined ? { client_id: o.client } : {}),
    audience: o.audience,
    resource: o.resource,
    ...(o.scope !== undefined ? { scope: o.scope } : {}),
    ...(o.actorToken !== undefined ? { actor_token: o.actorToken } : {}),
    ...(o.actorTokenType !== undefined ? { actor_token_type: TOKEN_TYPE_NAMES[o.actorTokenType] } : {}),
    requested_token_type: o.idJag ? TOKEN_TYPE_ID_JAG : TOKEN_TYPES.accessToken,
  };
  try {
    return await explain(o.idp, body, { services, clients: config.clients, now, userDirectory: config.userDirectory });
  } catch (e) {
    if (e instanceof AdminError) throw new CliError(e.code, [e.code, ...e.reasons].join(": "), 2);
    throw e;
  }
}
