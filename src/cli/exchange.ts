import { CliError } from "./errors.js";
import { tokenTypeUri } from "./token-types.js";

/**
 * `fedbridge exchange`: one RFC 8693 token exchange against a running bridge, for legacy-app
 * scripts. Client authentication is client_secret_basic (RFC 6749 §2.3.1: id and secret
 * form-urlencoded, then base64). The secret comes from the environment or a file, never from the
 * command line (where `ps` would show it).
 */
export interface ExchangeOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  subjectToken: string;
  subjectTokenType: string;
  audience: string[];
  resource: string[];
  scope?: string | undefined;
  requestedTokenType?: string | undefined;
  actorToken?: string | undefined;
  actorTokenType?: string | undefined;
  timeoutMs: number;
}

export const GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
/** A token response is small; a bigger one is not a bridge's (bounded like every input). */
const MAX_RESPONSE_BYTES = 256 * 1024;

export async function exchangeToken(o: ExchangeOptions): Promise<Record<string, unknown>> {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new CliError("usage", `--url ${o.url} is not a URL`, 2);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new CliError("usage", "--url must be http(s)", 2);
  const form = new URLSearchParams({ grant_type: GRANT_TOKEN_EXCHANGE, subject_token: o.subjectToken, subject_token_type: tokenTypeUri(o.subjectTokenType) });
  for (const a of o.audience) form.append("audience", a);
  for (const r of o.resource) form.append("resource", r);
  if (o.scope !== undefined) form.set("scope", o.scope);
  if (o.requestedTokenType !== undefined) form.set("requested_token_type", tokenTypeUri(o.requestedTokenType));
  if (o.actorToken !== undefined) {
    form.set("actor_token", o.actorToken);
    form.set("actor_token_type", tokenTypeUri(o.actorTokenType ?? "jwt"));
  }
  const basic = Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`).toString("base64");
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${basic}`, accept: "application/json" },
      body: form.toString(),
      redirect: "error",
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new CliError("bridge_unreachable", `cannot reach ${url.origin} (${cause})`, 3);
  }
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES) throw new CliError("bad_response", `response larger than ${MAX_RESPONSE_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError("bad_response", `HTTP ${res.status}, not JSON`, 1, { status: res.status });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new CliError("bad_response", `HTTP ${res.status}, not a JSON object`, 1, { status: res.status });
  const obj = body as Record<string, unknown>;
  if (!res.ok) {
    // RFC 6749 §5.2: error and error_description, passed on as the bridge sent them.
    throw new CliError(String(obj.error ?? "http_error"), `HTTP ${res.status}: ${String(obj.error ?? "")} ${String(obj.error_description ?? "")}`.trim(), 1, { status: res.status, error: obj.error, error_description: obj.error_description });
  }
  return obj;
}
