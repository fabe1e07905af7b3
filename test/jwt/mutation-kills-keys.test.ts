/**
 * Mutation testing (issue 8, docs/mutation-testing.md): the key sources of trusted JWT issuers
 * (src/jwt/keys.ts) at their exact bounds, called directly with an injected `fetch` that answers
 * with real `Response` objects and counts requests (test/jwt/jwks-remote.test.ts covers the same
 * paths over a real HTTP server, end to end):
 * - IssuerFetcher: the request it makes, the back-off window to the millisecond (wall clock, so
 *   only `Date` is faked), Retry-After, each failure reason, the size bound (declared and streamed),
 *   logging without issuer data;
 * - remoteKeys / discoveredKeys: the JWK Set shape (≤ 100 keys), the 256 KiB / 64 KiB bounds, the
 *   discovery document's issuer and jwks_uri rules (OIDC Discovery 1.0 §4), fetched once;
 * - guardedKeys: key-source failures → 503 issuer_keys_unavailable with the real Retry-After;
 * - checkStaticJwks: every start-up refusal of a static JWKS and which keys fit which algorithms.
 * Keys: the TEST-ONLY keys of test/fixtures/keys, plus public keys of fresh key pairs made here
 * for curves the fixtures lack (nothing is written to disk).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { errors, type JWSHeaderParameters } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  IssuerFetcher, KeySourceUnavailable, checkStaticJwks, discoveredKeys, guardedKeys, localKeys, remoteKeys,
  type FetchFn, type KeyResolver, type UnavailableReason,
} from "../../src/jwt/keys.js";
import { OAuthError } from "../../src/oauth/errors.js";
import { KEYS_DIR } from "../support/constants.js";
import { JWT_KEYS } from "../support/independent-jwt.js";

const T0 = Date.UTC(2027, 0, 15, 12, 0, 0);
const COOLDOWN_MS = 30_000;
beforeEach(() => {
  // only Date: the back-off and jose's JWKS cache read the wall clock; timers stay real
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

const pem = (file: string): string => readFileSync(file, "utf8");
const publicJwk = (keyFile: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ ...(createPublicKey(createPrivateKey(pem(keyFile))).export({ format: "jwk" }) as Record<string, unknown>), ...extra });
const OIDC_JWK = publicJwk(JWT_KEYS.oidc, { kid: "oidc-rs-1", alg: "RS256", use: "sig" });

type Init = Parameters<FetchFn>[1];
/** A fetch answering from `handler`, recording each request. */
function fakeFetch(handler: (url: string, init: Init) => Response | Promise<Response>) {
  const calls: { url: string; init: Init }[] = [];
  const fetch: FetchFn = async (url, init) => {
    calls.push({ url, init });
    return handler(url, init);
  };
  return { fetch, calls };
}
const jsonResponse = (body: unknown, init: ResponseInit = {}): Response =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" }, ...init });
/** A streamed body of the given chunks, with no content-length; `cancelled` says whether the reader gave up on it. */
function streamed(
  chunks: (string | Uint8Array)[],
  o: { onPull?: (i: number) => void; error?: Error; cancelled?: { value: boolean }; hold?: boolean } = {},
): Response {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    cancel() {
      if (o.cancelled) o.cancelled.value = true;
    },
    pull(controller) {
      o.onPull?.(i);
      if (i < chunks.length) {
        const c = chunks[i++]!;
        controller.enqueue(typeof c === "string" ? new TextEncoder().encode(c) : c);
      } else if (o.error) {
        controller.error(o.error);
      } else if (o.hold) {
        // more to come (never): only a reader that gives up ends it, by cancelling
      } else {
        controller.close();
      }
    },
  });
  return new Response(body, { status: 200 });
}

function fetcher(fetch: FetchFn, o: { cooldownMs?: number; timeoutMs?: number } = {}) {
  // the failure events only (successful fetches are logged too, for metrics)
  const logs: Record<string, unknown>[] = [];
  const f = new IssuerFetcher({
    issuerId: "corp", fetch, timeoutMs: o.timeoutMs ?? 5_000, cooldownMs: o.cooldownMs ?? COOLDOWN_MS,
    log: (e) => {
      if ((e as { event?: string }).event === "jwt_issuer_keys_unavailable") logs.push(e as Record<string, unknown>);
    },
  });
  return { f, logs };
}
/** The cause kept by the KeySourceUnavailable that `p` rejects with (after moving the clock to `at`). */
async function causeOf(p: Promise<unknown> | (() => Promise<unknown>), at?: number): Promise<unknown> {
  if (at !== undefined) vi.setSystemTime(at);
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(KeySourceUnavailable);
    return (e as KeySourceUnavailable).cause;
  }
  throw new Error("expected KeySourceUnavailable");
}
async function unavailable(p: Promise<unknown>): Promise<UnavailableReason> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KeySourceUnavailable);
    return (e as KeySourceUnavailable).reason;
  }
  throw new Error("expected KeySourceUnavailable");
}

// ---- IssuerFetcher ------------------------------------------------------------------------------------

describe("IssuerFetcher: the request", () => {
  it("a GET that does not follow redirects, asking for JSON, with a timeout signal of its own", async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse({ ok: 1 }));
    const { f } = fetcher(fetch);
    expect(await f.getJson("https://idp.test/jwks", 1000)).toEqual({ ok: 1 });
    expect(calls).toHaveLength(1);
    const { url, init } = calls[0]!;
    expect(url).toBe("https://idp.test/jwks");
    expect(init.method).toBe("GET");
    expect(init.redirect).toBe("manual");
    expect(init.headers.get("accept")).toBe("application/json");
    expect(init.signal).toBeInstanceOf(AbortSignal);
    expect(init.signal.aborted).toBe(false);
  });

  it("the caller's headers and signal (jose's) are used as given", async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse([]));
    const { f } = fetcher(fetch);
    const signal = new AbortController().signal;
    const headers = new Headers({ "user-agent": "x", accept: "application/jwk-set+json" });
    await f.getJson("https://idp.test/jwks", 1000, signal, headers);
    expect(calls[0]!.init.signal).toBe(signal);
    expect(calls[0]!.init.headers).toBe(headers);
    expect(f.timeoutMs).toBe(5_000);
  });

  it("a redirect or any status but 200 is http_status (the body is cancelled, not read)", async () => {
    for (const status of [201, 204, 301, 302, 304, 404, 500, 503]) {
      const noBody = status === 204 || status === 304;
      let cancelled = false;
      const body = noBody ? null : new ReadableStream({
        pull(c) { c.enqueue(new TextEncoder().encode("{}")); },
        cancel() { cancelled = true; },
      });
      const { fetch } = fakeFetch(() => new Response(body, { status, headers: status >= 300 && status < 400 ? { location: "https://evil.test/" } : {} }));
      const { f } = fetcher(fetch);
      expect(await unavailable(f.getJson("https://idp.test/jwks", 1000))).toBe("http_status");
      expect(cancelled).toBe(!noBody);
    }
  });

  it("a fetch that throws is unreachable; one that throws after its signal aborted is timeout", async () => {
    const refused = new TypeError("fetch failed");
    const down = fetcher(fakeFetch(() => Promise.reject(refused)).fetch);
    expect(await unavailable(down.f.getJson("https://idp.test/jwks", 1000))).toBe("unreachable");
    // the fetch's own error is kept as the cause (for diagnosis; never shown to the client)
    expect(await causeOf(() => down.f.getJson("https://idp.test/jwks", 1000), T0 + COOLDOWN_MS)).toBe(refused);
    const ctl = new AbortController();
    const slow = fetcher(fakeFetch(() => {
      ctl.abort();
      return Promise.reject(new DOMException("aborted", "AbortError"));
    }).fetch);
    expect(await unavailable(slow.f.getJson("https://idp.test/jwks", 1000, ctl.signal))).toBe("timeout");
  });

  it("a body that fails while read is unreachable, or timeout once the signal aborted", async () => {
    const reset = new Error("reset");
    const broken = fetcher(fakeFetch(() => streamed(['{"keys":'], { error: reset })).fetch);
    expect(await causeOf(broken.f.getJson("https://idp.test/jwks", 1000))).toBe(reset);
    vi.setSystemTime(T0 + COOLDOWN_MS);
    expect(await unavailable(broken.f.getJson("https://idp.test/jwks", 1000))).toBe("unreachable");
    const ctl = new AbortController();
    const cancelled = { value: false };
    const aborted = fetcher(fakeFetch(() => streamed(['{"keys":'], { onPull: (i) => { if (i === 1) ctl.abort(); }, cancelled, hold: true })).fetch);
    expect(await unavailable(aborted.f.getJson("https://idp.test/jwks", 1000, ctl.signal))).toBe("timeout");
    expect(cancelled.value).toBe(true);
    // The abort lands while the reader waits for the next chunk (after the loop's own check) and
    // fails the read, as a real fetch body does: still timeout, not unreachable.
    const ctl2 = new AbortController();
    let pulls = 0;
    const failsOnAbort = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulls++ === 0) c.enqueue(new TextEncoder().encode('{"keys":'));
        else setTimeout(() => { ctl2.abort(); c.error(new DOMException("aborted", "AbortError")); }, 0);
      },
    });
    const late = fetcher(fakeFetch(() => new Response(failsOnAbort, { status: 200 })).fetch);
    expect(await unavailable(late.f.getJson("https://idp.test/jwks", 1000, ctl2.signal))).toBe("timeout");
  });
});

describe("IssuerFetcher: the body", () => {
  const body = (n: number): string => `"${"x".repeat(n - 2)}"`; // a JSON string of exactly n bytes

  it("declared content-length: exactly maxBytes is read, one more is too_large without reading", async () => {
    for (const max of [10, 1000]) {
      const ok = fetcher(fakeFetch(() => jsonResponse(body(max), { headers: { "content-length": String(max) } })).fetch);
      expect(await ok.f.getJson("https://idp.test/x", max)).toBe("x".repeat(max - 2));
      const cancelled = { value: false };
      const declared = streamed([body(max)], { cancelled, hold: true });
      const { fetch } = fakeFetch(() => new Response(declared.body, { status: 200, headers: { "content-length": String(max + 1) } }));
      const big = fetcher(fetch);
      expect(await unavailable(big.f.getJson("https://idp.test/x", max))).toBe("too_large");
      expect(cancelled.value).toBe(true);
    }
  });

  it("streamed without content-length: exactly maxBytes is read, one more byte is too_large, counted over all chunks", async () => {
    const ok = fetcher(fakeFetch(() => streamed([body(1000)])).fetch);
    expect(await ok.f.getJson("https://idp.test/x", 1000)).toBe("x".repeat(998));
    const okChunks = fetcher(fakeFetch(() => streamed(['"', "x".repeat(498), "x".repeat(500), '"'])).fetch);
    expect(await okChunks.f.getJson("https://idp.test/x", 1000)).toBe("x".repeat(998));
    const cancelled = { value: false };
    const one = fetcher(fakeFetch(() => streamed([body(1001)], { cancelled, hold: true })).fetch);
    expect(await unavailable(one.f.getJson("https://idp.test/x", 1000))).toBe("too_large");
    expect(cancelled.value).toBe(true);
    // no chunk is over the bound on its own: only their sum is
    const many = fetcher(fakeFetch(() => streamed(['"', ...Array.from({ length: 10 }, () => "x".repeat(100)), '"'])).fetch);
    expect(await unavailable(many.f.getJson("https://idp.test/x", 1000))).toBe("too_large");
    const two = fetcher(fakeFetch(() => streamed(["x".repeat(600), "x".repeat(600)])).fetch);
    expect(await unavailable(two.f.getJson("https://idp.test/x", 1000))).toBe("too_large");
  });

  it("keeps the decoder's or the parser's error as the cause of malformed", async () => {
    const notUtf8 = fetcher(fakeFetch(() => streamed([new Uint8Array([0x22, 0xff, 0x22])])).fetch);
    expect(await causeOf(notUtf8.f.getJson("https://idp.test/x", 1000))).toBeInstanceOf(TypeError);
    const notJson = fetcher(fakeFetch(() => jsonResponse("{keys:")).fetch);
    expect(await causeOf(notJson.f.getJson("https://idp.test/x", 1000))).toBeInstanceOf(SyntaxError);
  });

  it("a declared content-length over the bound with no body at all is still too_large", async () => {
    const { f } = fetcher(fakeFetch(() => new Response(null, { status: 200, headers: { "content-length": "5000" } })).fetch);
    expect(await unavailable(f.getJson("https://idp.test/x", 1000))).toBe("too_large");
  });

  it("no body, not UTF-8, or not JSON: malformed", async () => {
    for (const res of [
      () => new Response(null, { status: 200 }),
      () => streamed([new Uint8Array([0x22, 0xff, 0xfe, 0x22])]),
      () => streamed([new Uint8Array([0x22, 0xc3])]),
      () => jsonResponse("{keys:"),
      () => jsonResponse(""),
    ]) {
      vi.setSystemTime(Date.now() + COOLDOWN_MS);
      const { f } = fetcher(fakeFetch(res).fetch);
      expect(await unavailable(f.getJson("https://idp.test/x", 1000))).toBe("malformed");
    }
  });
});

describe("IssuerFetcher: the back-off (wall clock)", () => {
  it("after a failure no request is made for exactly cooldownMs; Retry-After counts down to 0", async () => {
    let up = false;
    const { fetch, calls } = fakeFetch(() => (up ? jsonResponse({ ok: 1 }) : new Response("no", { status: 500 })));
    const { f } = fetcher(fetch);
    expect(f.retryAfterMs()).toBe(0);
    expect(await unavailable(f.getJson("https://idp.test/x", 100))).toBe("http_status");
    expect(f.retryAfterMs()).toBe(COOLDOWN_MS);
    vi.setSystemTime(T0 + 7_500);
    expect(f.retryAfterMs()).toBe(COOLDOWN_MS - 7_500);
    up = true;
    vi.setSystemTime(T0 + COOLDOWN_MS - 1);
    expect(f.retryAfterMs()).toBe(1);
    expect(await unavailable(f.getJson("https://idp.test/x", 100))).toBe("backoff");
    expect(calls).toHaveLength(1);
    vi.setSystemTime(T0 + COOLDOWN_MS);
    expect(f.retryAfterMs()).toBe(0);
    expect(await f.getJson("https://idp.test/x", 100)).toEqual({ ok: 1 });
    expect(calls).toHaveLength(2);
    vi.setSystemTime(T0 + 10 * COOLDOWN_MS);
    expect(f.retryAfterMs()).toBe(0);
  });

  it("every kind of failure starts it (and a success within it is not possible)", async () => {
    for (const [reason, res] of [
      ["http_status", () => new Response("", { status: 404 })],
      ["malformed", () => jsonResponse("nope")],
      ["too_large", () => jsonResponse(`"${"x".repeat(200)}"`)],
      ["unreachable", () => Promise.reject(new Error("ECONNREFUSED"))],
    ] as const) {
      vi.setSystemTime(T0);
      const { fetch, calls } = fakeFetch(res);
      const { f } = fetcher(fetch, { cooldownMs: 1_000 });
      expect(await unavailable(f.getJson("https://idp.test/x", 100))).toBe(reason);
      vi.setSystemTime(T0 + 999);
      expect(await unavailable(f.getJson("https://idp.test/x", 100))).toBe("backoff");
      expect(calls).toHaveLength(1);
    }
  });

  it("fail() logs the event, the issuer id and the reason only, and starts the back-off", async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse({ ok: 1 }));
    const { f, logs } = fetcher(fetch);
    const e = f.fail("discovery_issuer_mismatch");
    expect(e).toBeInstanceOf(KeySourceUnavailable);
    expect(e.reason).toBe("discovery_issuer_mismatch");
    expect(e.name).toBe("KeySourceUnavailable");
    expect(logs).toEqual([{ event: "jwt_issuer_keys_unavailable", issuer: "corp", reason: "discovery_issuer_mismatch" }]);
    expect(await unavailable(f.getJson("https://idp.test/x", 100))).toBe("backoff");
    expect(calls).toHaveLength(0);
    // a back-off refusal is not itself a new failure: nothing more is logged, the window does not move
    vi.setSystemTime(T0 + COOLDOWN_MS);
    expect(logs).toHaveLength(1);
    expect(await f.getJson("https://idp.test/x", 100)).toEqual({ ok: 1 });
  });

  it("a successful fetch leaves no back-off", async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse({ ok: 1 }));
    const { f, logs } = fetcher(fetch);
    await f.getJson("https://idp.test/x", 100);
    await f.getJson("https://idp.test/x", 100);
    expect(calls).toHaveLength(2);
    expect(f.retryAfterMs()).toBe(0);
    expect(logs).toEqual([]);
  });
});

// ---- remoteKeys, discoveredKeys, guardedKeys -----------------------------------------------------------

const RS256: JWSHeaderParameters = { alg: "RS256", kid: "oidc-rs-1" };
const remote = (f: IssuerFetcher) => ({ fetcher: f, cacheMaxAgeMs: 600_000, cooldownMs: COOLDOWN_MS });
/** The resolver's verdict for an RS256 header: "key", the KeySourceUnavailable reason, or the error name. */
async function resolveWith(keys: KeyResolver, header: JWSHeaderParameters = RS256): Promise<string> {
  try {
    const key = await keys(header, { payload: "", signature: "", protected: "" } as never);
    expect(key).toBeDefined();
    return "key";
  } catch (e) {
    if (e instanceof KeySourceUnavailable) return e.reason;
    if (e instanceof OAuthError) return `${e.reason}:${e.retryAfterSeconds}`;
    return (e as Error).name;
  }
}
/** A JWK Set of exactly `bytes` bytes of JSON (whitespace after the keys). */
function jwksOfSize(bytes: number): string {
  const text = JSON.stringify({ keys: [OIDC_JWK] });
  return `${text.slice(0, -1)}${" ".repeat(bytes - text.length)}}`;
}

describe("remoteKeys: a JWK Set of at most 100 keys and 256 KiB", () => {
  const fillers = (n: number) => Array.from({ length: n }, (_, i) => ({ ...OIDC_JWK, kid: `filler-${i}` }));

  it("exactly 100 keys are used; 101 keys, a non-object or a key that is not an object are malformed", async () => {
    const set100 = fakeFetch(() => jsonResponse({ keys: [OIDC_JWK, ...fillers(99)] }));
    expect(await resolveWith(remoteKeys(new URL("https://idp.test/jwks"), remote(fetcher(set100.fetch).f)))).toBe("key");
    for (const body of [
      { keys: [OIDC_JWK, ...fillers(100)] },
      { keys: [OIDC_JWK, null] }, { keys: [OIDC_JWK, [OIDC_JWK]] }, { keys: [OIDC_JWK, "k"] }, { keys: [OIDC_JWK, 1] },
      { keys: OIDC_JWK }, { keys: "x" }, {}, [OIDC_JWK], null, "keys", 7,
    ]) {
      const { fetch } = fakeFetch(() => jsonResponse(body));
      const { f, logs } = fetcher(fetch);
      expect(await resolveWith(remoteKeys(new URL("https://idp.test/jwks"), remote(f)))).toBe("malformed");
      expect(logs).toEqual([{ event: "jwt_issuer_keys_unavailable", issuer: "corp", reason: "malformed" }]);
      expect(f.retryAfterMs()).toBe(COOLDOWN_MS);
    }
  });

  it("a JWK Set of exactly 256 KiB is used, one byte more is too_large", async () => {
    const exact = fakeFetch(() => jsonResponse(jwksOfSize(256 * 1024)));
    expect(await resolveWith(remoteKeys(new URL("https://idp.test/jwks"), remote(fetcher(exact.fetch).f)))).toBe("key");
    const over = fakeFetch(() => jsonResponse(jwksOfSize(256 * 1024 + 1)));
    expect(await resolveWith(remoteKeys(new URL("https://idp.test/jwks"), remote(fetcher(over.fetch).f)))).toBe("too_large");
  });

  it("the fetch goes to the configured URL only, through the issuer's fetcher", async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse({ keys: [OIDC_JWK] }));
    const keys = remoteKeys(new URL("https://idp.test/keys?v=2"), remote(fetcher(fetch).f));
    expect(await resolveWith(keys, { ...RS256, jku: "https://evil.test/jwks" } as JWSHeaderParameters)).toBe("key");
    expect(calls.map((c) => c.url)).toEqual(["https://idp.test/keys?v=2"]);
    expect(calls[0]!.init.method).toBe("GET");
  });
});

describe("discoveredKeys: OIDC Discovery 1.0 §4", () => {
  const ISSUER = "https://login.corp.test";
  const DISCO = "https://login.corp.test/.well-known/openid-configuration";
  /** Serves the discovery document `doc` and a JWK Set at any other URL. */
  function site(doc: unknown, o: { discoveryUrl?: string } = {}) {
    const ff = fakeFetch((url) => (url === (o.discoveryUrl ?? DISCO) ? jsonResponse(doc) : jsonResponse({ keys: [OIDC_JWK] })));
    const { f, logs } = fetcher(ff.fetch);
    const keys = guardedKeys(discoveredKeys(new URL(o.discoveryUrl ?? DISCO), ISSUER, remote(f)), f);
    return { keys, calls: ff.calls, logs, f };
  }

  it("the document's jwks_uri is used when its issuer is exactly the configured one; fetched once", async () => {
    const s = site({ issuer: ISSUER, jwks_uri: "https://keys.corp.test/jwks" });
    expect(await resolveWith(s.keys)).toBe("key");
    expect(await resolveWith(s.keys)).toBe("key");
    expect(s.calls.map((c) => c.url)).toEqual([DISCO, "https://keys.corp.test/jwks"]);
  });

  it("concurrent first requests share one discovery fetch", async () => {
    const s = site({ issuer: ISSUER, jwks_uri: "https://keys.corp.test/jwks" });
    expect(await Promise.all([resolveWith(s.keys), resolveWith(s.keys), resolveWith(s.keys)])).toEqual(["key", "key", "key"]);
    expect(s.calls.filter((c) => c.url === DISCO)).toHaveLength(1);
  });

  it("another issuer (even one character off) is refused: discovery_issuer_mismatch, 503 with the back-off as Retry-After", async () => {
    for (const issuer of [`${ISSUER}/`, "https://LOGIN.corp.test", "https://evil.test", undefined, null, [ISSUER]]) {
      vi.setSystemTime(T0);
      const s = site({ issuer, jwks_uri: "https://keys.corp.test/jwks" });
      expect(await resolveWith(s.keys)).toBe(`issuer_keys_unavailable:${COOLDOWN_MS / 1000}`);
      expect(s.logs).toEqual([{ event: "jwt_issuer_keys_unavailable", issuer: "corp", reason: "discovery_issuer_mismatch" }]);
      expect(s.calls).toHaveLength(1);
    }
  });

  it("a document that is not a JSON object is malformed", async () => {
    for (const doc of [null, [{ issuer: ISSUER }], "doc", 1]) {
      const s = site(doc);
      expect(await resolveWith(s.keys)).toBe(`issuer_keys_unavailable:${COOLDOWN_MS / 1000}`);
      expect(s.logs.map((l) => l.reason)).toEqual(["malformed"]);
    }
  });

  it("a jwks_uri that is missing, not a URL, not http(s), http from an https document, or has credentials is refused", async () => {
    for (const jwksUri of [
      undefined, 42, ["https://keys.corp.test/jwks"], "", "keys.corp.test/jwks", "/jwks", "ftp://keys.corp.test/jwks", "file:///etc/passwd",
      "http://keys.corp.test/jwks", "https://user@keys.corp.test/jwks", "https://:pw@keys.corp.test/jwks", "https://user:pw@keys.corp.test/jwks",
    ]) {
      const s = site({ issuer: ISSUER, jwks_uri: jwksUri });
      expect(await resolveWith(s.keys)).toBe(`issuer_keys_unavailable:${COOLDOWN_MS / 1000}`);
      expect(s.logs.map((l) => l.reason)).toEqual(["discovery_jwks_uri_invalid"]);
      expect(s.calls).toHaveLength(1);
    }
  });

  it("an http discovery URL (a test or internal deployment) may name an http or https jwks_uri, still without credentials", async () => {
    const httpDisco = "http://login.corp.test/.well-known/openid-configuration";
    for (const [jwksUri, verdict] of [
      ["http://keys.corp.test/jwks", "key"], ["https://keys.corp.test/jwks", "key"],
      ["ftp://keys.corp.test/jwks", `issuer_keys_unavailable:${COOLDOWN_MS / 1000}`],
      ["http://u:p@keys.corp.test/jwks", `issuer_keys_unavailable:${COOLDOWN_MS / 1000}`],
    ] as const) {
      const s = site({ issuer: ISSUER, jwks_uri: jwksUri }, { discoveryUrl: httpDisco });
      expect(await resolveWith(s.keys)).toBe(verdict);
    }
  });

  it("a failed discovery is retried after the back-off (not cached), a successful one is kept", async () => {
    let doc: unknown = { issuer: "https://evil.test", jwks_uri: "https://keys.corp.test/jwks" };
    const ff = fakeFetch((url) => (url === DISCO ? jsonResponse(doc) : jsonResponse({ keys: [OIDC_JWK] })));
    const { f } = fetcher(ff.fetch);
    const keys = guardedKeys(discoveredKeys(new URL(DISCO), ISSUER, remote(f)), f);
    expect(await resolveWith(keys)).toBe(`issuer_keys_unavailable:${COOLDOWN_MS / 1000}`);
    doc = { issuer: ISSUER, jwks_uri: "https://keys.corp.test/jwks" };
    vi.setSystemTime(T0 + COOLDOWN_MS);
    expect(await resolveWith(keys)).toBe("key");
    vi.setSystemTime(T0 + 100 * COOLDOWN_MS);
    doc = { issuer: "https://evil.test", jwks_uri: "https://evil.test/jwks" };
    expect(await resolveWith(keys)).toBe("key");
    expect(ff.calls.filter((c) => c.url === DISCO)).toHaveLength(2);
  });

  it("the discovery document is bounded at 64 KiB", async () => {
    const doc = (bytes: number): string => {
      const text = JSON.stringify({ issuer: ISSUER, jwks_uri: "https://keys.corp.test/jwks" });
      return `${text.slice(0, -1)}${" ".repeat(bytes - text.length)}}`;
    };
    expect(await resolveWith(site(doc(64 * 1024)).keys)).toBe("key");
    const big = site(doc(64 * 1024 + 1));
    expect(await resolveWith(big.keys)).toBe(`issuer_keys_unavailable:${COOLDOWN_MS / 1000}`);
    expect(big.logs.map((l) => l.reason)).toEqual(["too_large"]);
  });
});

describe("guardedKeys: key-source failures are 503 issuer_keys_unavailable with the real Retry-After", () => {
  const failing = (e: unknown): KeyResolver => async () => { throw e; };

  it("Retry-After is the back-off left, rounded up to whole seconds, at least 1", async () => {
    const { f } = fetcher(fakeFetch(() => jsonResponse({})).fetch, { cooldownMs: 10_000 });
    f.fail("unreachable");
    const keys = guardedKeys(() => failing(new KeySourceUnavailable("backoff")), f);
    expect(await resolveWith(keys)).toBe("issuer_keys_unavailable:10");
    vi.setSystemTime(T0 + 1);
    expect(await resolveWith(keys)).toBe("issuer_keys_unavailable:10");
    vi.setSystemTime(T0 + 1_000);
    expect(await resolveWith(keys)).toBe("issuer_keys_unavailable:9");
    vi.setSystemTime(T0 + 9_001);
    expect(await resolveWith(keys)).toBe("issuer_keys_unavailable:1");
    vi.setSystemTime(T0 + 20_000);
    expect(await resolveWith(keys)).toBe("issuer_keys_unavailable:1");
    // no fetcher (a static file never fails this way): 1 s
    expect(await resolveWith(guardedKeys(() => failing(new KeySourceUnavailable("timeout"))))).toBe("issuer_keys_unavailable:1");
  });

  it("also for jose's own JWKS timeout, and from a failing resolver factory", async () => {
    expect(await resolveWith(guardedKeys(() => failing(new errors.JWKSTimeout())))).toBe("issuer_keys_unavailable:1");
    expect(await resolveWith(guardedKeys(async () => { throw new KeySourceUnavailable("malformed"); }))).toBe("issuer_keys_unavailable:1");
  });

  it("keeps the cause, and lets every other error through unchanged (unknown kid stays jose's: token_invalid)", async () => {
    const cause = new KeySourceUnavailable("timeout");
    try {
      await guardedKeys(() => failing(cause))(RS256, {} as never);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(OAuthError);
      expect((e as OAuthError).cause).toBe(cause);
      expect((e as OAuthError).status).toBe(503);
    }
    for (const other of [new errors.JWKSNoMatchingKey(), new errors.JWKSMultipleMatchingKeys(), new TypeError("x")]) {
      await expect(guardedKeys(() => failing(other))(RS256, {} as never)).rejects.toBe(other);
    }
  });
});

// ---- checkStaticJwks -------------------------------------------------------------------------------------

describe("checkStaticJwks: public asymmetric signature keys that fit the issuer's algorithms", () => {
  const rsa = publicJwk(JWT_KEYS.oidc);
  const ec256 = publicJwk(JWT_KEYS.ci);
  const fresh = (type: "ec" | "ed25519", namedCurve?: string): Record<string, unknown> =>
    (type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: namedCurve! }).publicKey
      : generateKeyPairSync("ed25519").publicKey).export({ format: "jwk" }) as Record<string, unknown>;
  const ec384 = fresh("ec", "P-384");
  const ec521 = fresh("ec", "P-521");
  const ed = fresh("ed25519");
  const check = (keys: unknown[], algorithms: string[] = ["RS256", "ES256"]) => checkStaticJwks({ keys }, algorithms);

  it("accepts each key type with an algorithm it can verify", () => {
    expect(check([rsa], ["RS256"])).toBeUndefined();
    for (const alg of ["RS384", "RS512", "PS256", "PS384", "PS512"]) expect(check([rsa], [alg])).toBeUndefined();
    expect(check([ec256], ["ES256"])).toBeUndefined();
    expect(check([ec384], ["ES384"])).toBeUndefined();
    expect(check([ec521], ["ES512"])).toBeUndefined();
    expect(check([ed], ["EdDSA"])).toBeUndefined();
    expect(check([{ ...rsa, use: "sig", alg: "RS256", kid: "a" }], ["RS256"])).toBeUndefined();
  });

  it("refuses a set where no key fits the algorithms (curve, key type or the key's own alg)", () => {
    const none = (algs: string[]) => `no key fits the issuer's algorithms (${algs.join(", ")})`;
    expect(check([rsa], ["ES256"])).toBe(none(["ES256"]));
    expect(check([rsa], ["EdDSA", "ES512"])).toBe(none(["EdDSA", "ES512"]));
    expect(check([ec256], ["ES384", "RS256"])).toBe(none(["ES384", "RS256"]));
    expect(check([ec384], ["ES256", "ES512"])).toBe(none(["ES256", "ES512"]));
    expect(check([ec521], ["ES384"])).toBe(none(["ES384"]));
    expect(check([ed], ["ES256"])).toBe(none(["ES256"]));
    expect(check([{ ...rsa, alg: "RS512" }], ["RS256", "PS256"])).toBe(none(["RS256", "PS256"]));
    expect(check([{ ...ec256, alg: "ES384" }], ["ES256"])).toBe(none(["ES256"]));
  });

  it("a key whose alg is not a string fits no algorithm (jose never selects it): refused at start-up, not at every token", async () => {
    for (const alg of [7, null, ["RS256"], { alg: "RS256" }, true]) {
      expect(check([{ ...rsa, alg }], ["RS256"])).toBe("no key fits the issuer's algorithms (RS256)");
    }
    // what jose does with such a key at run time: never a match
    const keys = localKeys({ keys: [{ ...rsa, alg: 7, kid: "k" }] } as never);
    await expect(keys({ alg: "RS256", kid: "k" }, {} as never)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    // next to a usable key the set is accepted (and only that key is used)
    expect(check([{ ...rsa, alg: 7 }, { ...rsa, alg: "RS256" }], ["RS256"])).toBeUndefined();
  });

  it("one fitting key among others is enough", () => {
    expect(check([ec256, rsa], ["RS256"])).toBeUndefined();
    expect(check([{ ...rsa, alg: "PS512" }, { ...rsa, alg: "RS256" }], ["RS256"])).toBeUndefined();
  });

  it("at most 100 keys", () => {
    expect(check(Array.from({ length: 100 }, () => rsa))).toBeUndefined();
    expect(check(Array.from({ length: 101 }, () => rsa))).toBe('not a JWK Set (an object with "keys", at most 100)');
  });

  it("refuses what is not a JWK Set, an empty one, and entries that are not objects", () => {
    const notSet = 'not a JWK Set (an object with "keys", at most 100)';
    for (const v of [null, [], [rsa], "x", 1, {}, { keys: rsa }, { keys: [rsa, null] }, { keys: [[rsa]] }, { keys: ["k"] }]) {
      expect(checkStaticJwks(v, ["RS256"])).toBe(notSet);
    }
    expect(checkStaticJwks({ keys: [] }, ["RS256"])).toBe("the JWK Set has no keys");
  });

  it("names the key (by index) that is not RSA/EC/OKP, private, not for signatures, broken or too weak", () => {
    expect(check([rsa, { kty: "oct", k: "c2VjcmV0" }])).toBe("keys[1]: kty must be RSA, EC or OKP");
    expect(check([{ ...rsa, kty: undefined }])).toBe("keys[0]: kty must be RSA, EC or OKP");
    expect(check([rsa, rsa, { ...rsa, use: "enc" }])).toBe('keys[2]: use is not "sig"');
    expect(check([{ ...rsa, use: "" }])).toBe('keys[0]: use is not "sig"');
    expect(check([{ ...rsa, use: "sig" }])).toBeUndefined();
    expect(check([{ kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" }])).toBe("keys[0]: not a valid public key");
    expect(check([rsa, publicJwk(path.join(KEYS_DIR, "weak1024.key"))])).toBe("keys[1]: RSA keys must have at least 2048 bits");
  });

  it.each(["d", "p", "q", "dp", "dq", "qi", "oth", "k"])("any private member (%s) refuses the key, whatever its value", (member) => {
    expect(check([rsa, { ...rsa, [member]: "AQAB" }])).toBe("keys[1]: private key material (public keys only)");
    expect(check([{ ...ec256, [member]: "" }], ["ES256"])).toBe("keys[0]: private key material (public keys only)");
  });
});
