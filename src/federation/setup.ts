import { readFileSync } from "node:fs";
import { ConfigError, resolvePath } from "../config/load.js";
import type { Config, SamlFederationConfig } from "../config/schema.js";
import { MetadataError, trustedKeyFromCertificate } from "../saml/metadata.js";
import type { IdpRegistry } from "../saml/idp-registry.js";
import type { SamlLimits } from "../saml/signed-token.js";
import type { SubjectVerifier } from "../subject/verifiers.js";
import { TOKEN_TYPES } from "../oauth/constants.js";
import type { Logger } from "../log/logger.js";
import type { TrustedKey } from "../xml/signature.js";
import { AggregateSource } from "./aggregate-source.js";
import { MdqSource } from "./mdq-source.js";
import { checkSourceUrl } from "./fetch.js";
import { claimedIssuers } from "./claimed-issuer.js";

/**
 * The federation sources of a config (`samlFederations`), registered with the IdP registry after
 * its local IdPs: aggregates load (file sources synchronously at start-up, where a bad file stops
 * start-up with its config path) and refresh on a tick; MDQ sources answer on demand.
 */
export class Federations {
  readonly aggregates: AggregateSource[] = [];
  readonly mdq: MdqSource[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number, private readonly registry: Pick<IdpRegistry, "byEntityId">) {}

  byId(id: string): AggregateSource | MdqSource | undefined {
    return [...this.aggregates, ...this.mdq].find((s) => s.id === id);
  }

  /** Due aggregate refreshes (one failure never stops the others). */
  async tick(): Promise<void> {
    const now = this.now();
    await Promise.all(this.aggregates.map((a) => a.tick(now).catch(() => undefined)));
  }

  /** Every MDQ source that may know these (claimed) entityIDs warms its cache (claimed-issuer.ts). */
  async prefetch(entityIds: readonly string[], now: number): Promise<void> {
    for (const entityId of entityIds) {
      // Known locally or through an aggregate (which the registry consults first): nothing to ask.
      const known = this.registry.byEntityId(entityId);
      if (known !== undefined && !this.mdq.some((m) => m.byEntityId(entityId) === known)) continue;
      for (const source of this.mdq) {
        await source.prefetch(entityId, now);
        // The first source (in config order) that has it is the one the registry answers with.
        if (source.byEntityId(entityId) !== undefined) break;
      }
    }
  }

  start(tickMs: number): void {
    if (tickMs > 0 && this.aggregates.length > 0) {
      this.#timer = setInterval(() => void this.tick(), tickMs);
      this.#timer.unref();
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

export interface FederationDeps {
  baseDir: string;
  tokenEndpoint: string;
  now: () => number;
  log: Logger;
  fetch?: typeof globalThis.fetch | undefined;
}

export async function loadFederations(
  config: Pick<Config, "samlFederations" | "issuer" | "saml">,
  registry: IdpRegistry,
  deps: FederationDeps,
): Promise<Federations> {
  const set = new Federations(deps.now, registry);
  const fetch = deps.fetch ?? globalThis.fetch;
  const pending: Promise<unknown>[] = [];
  config.samlFederations.forEach((source: SamlFederationConfig, i) => {
    const path = `samlFederations[${i}]`;
    const pinned: TrustedKey[] = source.signingCertFiles.map((file, j) => {
      try {
        return trustedKeyFromCertificate(readFileSync(resolvePath(deps.baseDir, file), "utf8"));
      } catch (e) {
        throw new ConfigError([{ path: `${path}.signingCertFiles[${j}]`, message: e instanceof MetadataError ? e.message : `cannot read ${file}` }]);
      }
    });
    const common = { source, pinned, tokenEndpoint: deps.tokenEndpoint, bridgeIssuer: config.issuer, verifier: config.saml.signatureVerifier, fetch, log: deps.log };
    const s = source.source;
    if (s.kind === "mdq") {
      const bad = checkSourceUrl(s.baseUrl, source.allowLoopbackHttp) ?? checkMdqBase(s.baseUrl);
      if (bad) throw new ConfigError([{ path: `${path}.source.baseUrl`, message: bad }]);
      const mdq = new MdqSource({ ...common, mdq: s });
      set.mdq.push(mdq);
      registry.addSource(mdq);
      return;
    }
    if (s.kind === "file") {
      const agg = new AggregateSource({ ...common, location: { file: resolvePath(deps.baseDir, s.path) } });
      const outcome = agg.loadSync(deps.now());
      if (!outcome.ok) throw new ConfigError([{ path: `${path}.source.path`, message: `aggregate refused: ${outcome.problem}` }]);
      set.aggregates.push(agg);
      registry.addSource(agg);
      return;
    }
    const bad = checkSourceUrl(s.url, source.allowLoopbackHttp);
    if (bad) throw new ConfigError([{ path: `${path}.source.url`, message: bad }]);
    const agg = new AggregateSource({ ...common, location: { url: s.url } });
    set.aggregates.push(agg);
    registry.addSource(agg);
    // A URL source that cannot be loaded at start-up is logged and retried: until it loads, its
    // entities are unknown (fail closed), and the rest of the bridge serves.
    pending.push(agg.refresh(deps.now()));
  });
  await Promise.all(pending);
  return set;
}

/**
 * Wraps the SAML verifiers so that, when some source is an MDQ responder, the entity a token claims
 * to come from is fetched (and cached) before the synchronous verification: see claimed-issuer.ts
 * for why reading the unverified Issuer for this is safe.
 */
export function withFederationPrefetch<M extends Map<string, SubjectVerifier>>(verifiers: M, federations: Federations, limits: SamlLimits): M {
  if (federations.mdq.length === 0) return verifiers;
  for (const type of [TOKEN_TYPES.saml2, TOKEN_TYPES.saml1]) {
    const inner = verifiers.get(type);
    if (!inner) continue;
    verifiers.set(type, async (token, now) => {
      await federations.prefetch(claimedIssuers(token, limits), now);
      return inner(token, now);
    });
  }
  return verifiers;
}

/**
 * An MDQ base URL is a prefix that `/entities/{id}` is appended to (draft-young-md-query §3): a
 * query or fragment would swallow the entity path (the id would land in the query string, or never
 * be sent), and credentials in the URL would be sent to, and logged by, every hop.
 */
function checkMdqBase(baseUrl: string): string | undefined {
  const u = new URL(baseUrl);
  if (u.search !== "" || baseUrl.includes("?")) return "an MDQ base URL takes no query: /entities/{id} is appended to it";
  if (u.hash !== "" || baseUrl.includes("#")) return "an MDQ base URL takes no fragment: /entities/{id} is appended to it";
  if (u.username !== "" || u.password !== "") return "an MDQ base URL takes no credentials";
  return undefined;
}
