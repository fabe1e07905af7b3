import { TOKEN_TYPES } from "../oauth/constants.js";
import { TOKEN_TYPE_ID_JAG } from "../idjag/constants.js";

/** Short names for the RFC 8693 §3 token type URIs, as the commands take them. */
export const TOKEN_TYPE_NAMES = {
  saml2: TOKEN_TYPES.saml2,
  saml1: TOKEN_TYPES.saml1,
  jwt: TOKEN_TYPES.jwt,
  id_token: TOKEN_TYPES.idToken,
  access_token: TOKEN_TYPES.accessToken,
  "id-jag": TOKEN_TYPE_ID_JAG,
} as const;
export type TokenTypeName = keyof typeof TOKEN_TYPE_NAMES;

/** A short name or a full URI (passed through as given). */
export function tokenTypeUri(v: string): string {
  return (TOKEN_TYPE_NAMES as Record<string, string>)[v] ?? v;
}
