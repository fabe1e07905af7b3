import { AdminError } from "./errors.js";

/**
 * Fetches IdP metadata by URL with a time bound, no redirects and a size bound counted as bytes
 * arrive, and names the cause of a failure in `reasons` (an admin must know whether to fix DNS,
 * the CA bundle, the URL or the IdP): fetch_timeout, fetch_tls_untrusted, fetch_tls_name_mismatch,
 * fetch_tls_expired, fetch_redirect_refused, fetch_connection_refused, fetch_dns_failed,
 * fetch_connection_reset, fetch_too_large, http_<status>, fetch_failed.
 */
export async function fetchMetadata(url: string, o: { fetch: typeof globalThis.fetch; timeoutMs: number; maxBytes: number }): Promise<string> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  let res: Response;
  try {
    // Redirects are refused: the admin named this URL, and a redirect could leave https.
    res = await o.fetch(url, { signal, redirect: "error" });
  } catch (e) {
    throw new AdminError(502, "metadata_fetch_failed", [fetchCause(e)]);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => undefined);
    throw new AdminError(502, "metadata_fetch_failed", ["fetch_redirect_refused"]);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new AdminError(502, "metadata_fetch_failed", [`http_${res.status}`]);
  }
  if (Number(res.headers.get("content-length") ?? 0) > o.maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new AdminError(502, "metadata_fetch_failed", ["fetch_too_large"]);
  }
  // Count bytes as they arrive: a chunked body has no length to check up front.
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > o.maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new AdminError(502, "metadata_fetch_failed", ["fetch_too_large"]);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof AdminError) throw e;
    throw new AdminError(502, "metadata_fetch_failed", [signal.aborted ? "fetch_timeout" : fetchCause(e)]);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const TLS_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE",
]);

/** The cause of a failed fetch, from undici's error chain (error.cause, its code). */
export function fetchCause(e: unknown): string {
  const chain: unknown[] = [];
  // A bounded walk down `.cause` (errors can nest, and a cycle must not loop).
  for (let x: unknown = e, i = 0; x && i < 5; x = (x as { cause?: unknown }).cause, i++) chain.push(x);
  for (const x of chain) {
    const name = (x as { name?: unknown }).name;
    const code = String((x as { code?: unknown }).code ?? "");
    const message = String((x as { message?: unknown }).message ?? "");
    if (name === "TimeoutError" || name === "AbortError" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return "fetch_timeout";
    if (TLS_UNTRUSTED.has(code)) return "fetch_tls_untrusted";
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "fetch_tls_name_mismatch";
    if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "fetch_tls_expired";
    if (code === "ECONNREFUSED") return "fetch_connection_refused";
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "fetch_dns_failed";
    if (code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE") return "fetch_connection_reset";
    if (/redirect/i.test(message)) return "fetch_redirect_refused";
  }
  return "fetch_failed";
}
