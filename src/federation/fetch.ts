import { fetchCause } from "../admin/metadata-fetch.js";
import { FederationError } from "./document.js";

/**
 * One bounded GET of federation metadata: a time bound over the whole exchange (headers and body),
 * no redirects (the operator named this URL; a redirect could leave https), and the size bound
 * counted as bytes arrive. A 404 is an answer (MDQ: no such entity), every other failure a
 * FederationError with the cause (fetch_timeout, fetch_connection_refused, http_500, ...).
 */
export async function fetchDocument(
  url: string,
  o: { fetch: typeof globalThis.fetch; timeoutMs: number; maxBytes: number; accept: string },
): Promise<{ status: 200; body: string } | { status: 404 }> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  let res: Response;
  try {
    res = await o.fetch(url, { signal, redirect: "error", headers: { accept: o.accept } });
  } catch (e) {
    throw new FederationError(fetchCause(e));
  }
  if (res.status === 404) {
    await res.body?.cancel().catch(() => undefined);
    return { status: 404 };
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new FederationError(res.status >= 300 && res.status < 400 ? "fetch_redirect_refused" : `http_${res.status}`);
  }
  if (Number(res.headers.get("content-length") ?? 0) > o.maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new FederationError("metadata_too_large");
  }
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
        throw new FederationError("metadata_too_large");
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof FederationError) throw e;
    throw new FederationError(signal.aborted ? "fetch_timeout" : fetchCause(e));
  }
  return { status: 200, body: Buffer.concat(chunks).toString("utf8") };
}

/** https, or http to a loopback host when the source allows it (tests). */
export function checkSourceUrl(url: string, allowLoopbackHttp: boolean): string | undefined {
  const u = new URL(url);
  if (u.protocol === "https:") return undefined;
  const loopback = u.hostname === "localhost" || u.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
  if (loopback && allowLoopbackHttp) return undefined;
  return loopback ? "http is accepted only with allowLoopbackHttp (tests)" : "https required";
}
