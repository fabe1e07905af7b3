import { createHash } from "node:crypto";
import type { SamlFederationConfig } from "../config/schema.js";
import type { IdpSource, TrustedIdp } from "../saml/idp-registry.js";
import type { Logger } from "../log/logger.js";
import { refuse } from "../oauth/errors.js";
import type { TrustedKey, SignatureVerifierKind } from "../xml/signature.js";
import { FederationError, entitiesOf, verifiedRoot } from "./document.js";
import { fetchDocument } from "./fetch.js";
import { entityIdSelected, sourceSummary, trustBuilder, type TrustBuilder } from "./trust.js";

type MdqConfig = Extract<SamlFederationConfig["source"], { kind: "mdq" }>;

/** A cached answer: a trusted entity. */
interface Entry {
  idp: TrustedIdp;
  /** Fetch again from this time on (ms). A positive entry stays usable past it until validUntil. */
  staleAt: number;
}

/**
 * A remembered non-answer: "no such (selected) entity" (404, not selected: issuer_unknown) or
 * "the last fetch failed" (cooldown: idp_metadata_unavailable unless a usable copy is cached).
 */
interface Absent {
  failed: boolean;
  /** Ask again from this time on (ms). */
  until: number;
}

export interface MdqDeps {
  source: SamlFederationConfig;
  mdq: MdqConfig;
  pinned: readonly TrustedKey[];
  tokenEndpoint: string;
  bridgeIssuer: string;
  verifier?: SignatureVerifierKind | undefined;
  fetch: typeof globalThis.fetch;
  log: Logger;
}

/** Longest entityID asked for: SAML Metadata §2.3.2 bounds entityID at 1024 characters. */
const MAX_ENTITY_ID = 1024;
const SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol";

/**
 * An MDQ responder (draft-young-md-query §3): GET {base}/entities/{id} with Accept
 * application/samlmetadata+xml, one entity per request. A response is used only when it carries
 * an enveloped signature by a pinned key, describes exactly the entity asked for (any other entity,
 * or more than one, is refused), has a future validUntil, and that entity is selected. Answers are
 * cached per entity for its cacheDuration within [minRefreshSeconds, maxRefreshSeconds], never past
 * validUntil; a 404 is remembered for negativeCacheSeconds, a failure for failureCooldownSeconds
 * (one request per entity per cooldown, however many exchanges claim it). Only `prefetch` does I/O; `byEntityId`
 * reads the cache synchronously, as the SAML verifiers need.
 */
export class MdqSource implements IdpSource {
  #d: MdqDeps;
  #build: TrustBuilder;
  /** Trusted entities, least recently used first (bounded by maxCacheEntries). */
  #cache = new Map<string, Entry>();
  /**
   * Negative and failure entries, bounded on their own (maxCacheEntries, least recently used
   * first): any Issuer name an authenticated client invents lands here, and must neither grow
   * memory nor push the trusted entities out of #cache.
   */
  #absent = new Map<string, Absent>();
  #inFlight = new Map<string, Promise<void>>();
  #protocols = new Set<string>([SAML2_PROTOCOL]);

  constructor(d: MdqDeps) {
    this.#d = d;
    this.#build = trustBuilder(d.source, d.tokenEndpoint, d.bridgeIssuer);
  }

  get id(): string {
    return this.#d.source.id;
  }

  byEntityId(entityId: string): TrustedIdp | undefined {
    return this.#cache.get(entityId)?.idp;
  }

  /** MDQ serves on demand: the summary advertises SAML 2.0 and whatever cached entities speak. */
  summary(): TrustedIdp {
    return sourceSummary(this.#d.source, this.#d.tokenEndpoint, [...this.#protocols]);
  }

  cacheSize(): number {
    return this.#cache.size;
  }

  /** Remembered 404s, unselected entities and failures in their cooldown. */
  absentSize(): number {
    return this.#absent.size;
  }

  /** The request path of an entity (draft-young-md-query §2.5: the entityID, or {sha1} + hex of its SHA-1). */
  entityPath(entityId: string): string | undefined {
    const id = this.#d.mdq.identifier === "sha1" ? `{sha1}${createHash("sha1").update(entityId, "utf8").digest("hex")}` : encodeURIComponent(entityId);
    // "." and ".." survive encodeURIComponent and are dot segments to the URL parser (WHATWG URL
    // §4.4 path state): "{base}/entities/." is {base}/entities/, which an MDQ responder answers
    // with every entity it has (draft-young-md-query §3.2), ".." is {base}/. Neither is an absolute
    // URI, so neither is an entityID (SAML Core §8.3.6): never asked for.
    if (id === "." || id === "..") return undefined;
    return `${this.#d.mdq.baseUrl.replace(/\/+$/, "")}/entities/${id}`;
  }

  /**
   * Makes sure the cache holds a fresh answer for `entityId`. Throws idp_metadata_unavailable when
   * the responder cannot give one and nothing usable is cached; a stale positive entry whose
   * validUntil has not passed is kept through a failed refresh (and the failure logged).
   */
  async prefetch(entityId: string, now: number): Promise<void> {
    if (entityId.length === 0 || entityId.length > MAX_ENTITY_ID) return;
    // Not selectable by its entityID: nothing to ask (byEntityId stays undefined: issuer_unknown).
    if (!entityIdSelected(this.#d.source.select, entityId)) return;
    const url = this.entityPath(entityId);
    if (url === undefined) return;
    const cached = this.#cache.get(entityId);
    if (cached && now < cached.staleAt) {
      touch(this.#cache, entityId, cached);
      return;
    }
    const absent = this.#absent.get(entityId);
    if (absent && now < absent.until) {
      touch(this.#absent, entityId, absent);
      // A failure in its cooldown is answered as the failure was, without asking again.
      if (absent.failed && !usable(cached, now)) throw refuse("idp_metadata_unavailable");
      return;
    }
    let running = this.#inFlight.get(entityId);
    if (!running) {
      if (this.#inFlight.size >= this.#d.mdq.maxConcurrentFetches) {
        if (usable(cached, now)) return;
        throw refuse("idp_metadata_unavailable");
      }
      running = this.#fetch(entityId, url, now).finally(() => this.#inFlight.delete(entityId));
      this.#inFlight.set(entityId, running);
    }
    try {
      await running;
    } catch (e) {
      if (!(e instanceof FederationError)) throw e;
      if (usable(this.#cache.get(entityId), now)) return;
      throw refuse("idp_metadata_unavailable");
    }
  }

  async #fetch(entityId: string, url: string, now: number): Promise<void> {
    const s = this.#d.source;
    try {
      const got = await fetchDocument(url, {
        fetch: this.#d.fetch, timeoutMs: s.fetchTimeoutMs, maxBytes: s.maxBytes, accept: "application/samlmetadata+xml",
      });
      if (got.status === 404) {
        this.#forget(entityId, now + this.#d.mdq.negativeCacheSeconds * 1000);
        return;
      }
      // The answer to one query is one entity (an EntityDescriptor, or an EntitiesDescriptor around
      // one): parsing stops at the element bound of one entity, so an answer the size of an
      // aggregate costs a bounded parse, not seconds of the event loop per request.
      const root = verifiedRoot(got.body, { pinned: this.#d.pinned, bounds: { ...s, maxEntities: 1 }, verifier: this.#d.verifier });
      // No `want` here: the one entity must be found (and be the one asked for) before selection.
      const doc = entitiesOf(root, now, { requireValidUntil: s.requireValidUntil });
      // Exactly the entity asked for: a responder (or anyone between) answering with another
      // entity, even a validly signed one, must not have it trusted under this name.
      if (doc.entities.length !== 1 || doc.entities[0]!.metadata.entityId !== entityId) {
        throw new FederationError(doc.entities.length === 0 ? "metadata_no_entity" : "metadata_wrong_entity");
      }
      const idp = this.#build(doc.entities[0]!);
      let ttl = s.maxRefreshSeconds * 1000;
      if (doc.cacheDurationMs !== undefined) ttl = Math.min(ttl, doc.cacheDurationMs);
      ttl = Math.max(ttl, s.minRefreshSeconds * 1000);
      const validUntil = idp?.metadata.validUntil;
      if (validUntil !== undefined) ttl = Math.min(ttl, validUntil - now);
      // Not selected (registration authority, entity attributes): remembered like a 404.
      if (!idp) {
        this.#forget(entityId, now + this.#d.mdq.negativeCacheSeconds * 1000);
        return;
      }
      this.#absent.delete(entityId);
      bounded(this.#cache, entityId, { idp, staleAt: now + ttl }, this.#d.mdq.maxCacheEntries);
      for (const p of idp.metadata.protocols) this.#protocols.add(p);
    } catch (e) {
      if (e instanceof FederationError) {
        this.#d.log({ event: "federation_mdq_failed", level: "warn", federation: s.id, entity_id: entityId, reason: e.problem });
        // Cooldown: however many exchanges claim this Issuer meanwhile, the responder is asked
        // once per failureCooldownSeconds (a cached copy within validUntil still serves).
        const cooldown = this.#d.mdq.failureCooldownSeconds * 1000;
        if (cooldown > 0) bounded(this.#absent, entityId, { failed: true, until: now + cooldown }, this.#d.mdq.maxCacheEntries);
      }
      throw e;
    }
  }

  /** No such selected entity: the trusted copy goes (removed from the federation), a negative entry stays. */
  #forget(entityId: string, until: number): void {
    this.#cache.delete(entityId);
    bounded(this.#absent, entityId, { failed: false, until }, this.#d.mdq.maxCacheEntries);
  }
}

/** Most recently used last (Map keeps insertion order). */
function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
}

/** Insert as most recently used; past `max`, the least recently used go. */
function bounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  touch(map, key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}

/** A positive entry whose metadata has not expired (validUntil enforced again at verification). */
function usable(e: Entry | undefined, now: number): boolean {
  return e !== undefined && (e.idp.metadata.validUntil === undefined || now < e.idp.metadata.validUntil);
}
