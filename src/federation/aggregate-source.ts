import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import type { SamlFederationConfig } from "../config/schema.js";
import type { IdpSource, TrustedIdp } from "../saml/idp-registry.js";
import type { Logger } from "../log/logger.js";
import type { TrustedKey, SignatureVerifierKind } from "../xml/signature.js";
import { FederationError, entitiesOf, verifiedRoot } from "./document.js";
import { fetchDocument } from "./fetch.js";
import { selected, sourceSummary, trustBuilder, type TrustBuilder } from "./trust.js";

/** One loaded copy of an aggregate: built off to the side, then swapped in with one assignment. */
interface Snapshot {
  byEntityId: ReadonlyMap<string, TrustedIdp>;
  /** The aggregate's validUntil (ms): past it, none of its entities is trusted (fail closed). */
  validUntil: number | undefined;
  cacheDurationMs: number | undefined;
  loadedAt: number;
  summary: TrustedIdp;
}

export interface AggregateDeps {
  source: SamlFederationConfig;
  /** Where the document comes from: the resolved file path, or the URL. */
  location: { file: string } | { url: string };
  pinned: readonly TrustedKey[];
  tokenEndpoint: string;
  bridgeIssuer: string;
  verifier?: SignatureVerifierKind | undefined;
  fetch: typeof globalThis.fetch;
  log: Logger;
}

export interface LoadOutcome {
  ok: boolean;
  /** The refusal's stable code, when not ok. */
  problem?: string;
  entities?: number;
}

/**
 * A signed md:EntitiesDescriptor aggregate (file or URL), refreshed by its cacheDuration and
 * validUntil within [minRefreshSeconds, maxRefreshSeconds]. A refresh that fails in any way
 * (fetch, size, parse, signature, expired validUntil) keeps the last good copy, logs the cause and
 * retries after minRefreshSeconds; the last good copy is trusted only until its own validUntil.
 * Lookups are one Map.get on the current snapshot: their cost does not grow with the aggregate.
 */
export class AggregateSource implements IdpSource {
  #d: AggregateDeps;
  #build: TrustBuilder;
  #current: Snapshot | undefined;
  #nextAttempt = 0;
  #failures = 0;
  #running: Promise<LoadOutcome> | undefined;

  constructor(d: AggregateDeps) {
    this.#d = d;
    this.#build = trustBuilder(d.source, d.tokenEndpoint, d.bridgeIssuer);
  }

  get id(): string {
    return this.#d.source.id;
  }

  byEntityId(entityId: string): TrustedIdp | undefined {
    // The snapshot's own expiry is also each entity's (metadata.validUntil is the minimum along the
    // path), which signed-token.ts refuses as metadata_expired; undefined past it would say less.
    return this.#current?.byEntityId.get(entityId);
  }

  summary(): TrustedIdp {
    return this.#current?.summary ?? sourceSummary(this.#d.source, this.#d.tokenEndpoint, []);
  }

  /** Entities trusted now (tests, readiness, the CLI). */
  size(): number {
    return this.#current?.byEntityId.size ?? 0;
  }

  /** Consecutive failed loads since the last good one. */
  failures(): number {
    return this.#failures;
  }

  /** When the next load is due (ms since epoch). */
  nextAttemptAt(): number {
    return this.#nextAttempt;
  }

  /** Loads when due (the refresh tick); a load in progress is shared, never doubled. */
  async tick(now: number): Promise<void> {
    if (now >= this.#nextAttempt) await this.refresh(now);
  }

  /** Loads now, whatever the schedule. */
  refresh(now: number): Promise<LoadOutcome> {
    this.#running ??= this.#load(now).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Start-up load of a file source, synchronous so that a bad file stops start-up with its path. */
  loadSync(now: number): LoadOutcome {
    if (!("file" in this.#d.location)) throw new Error("loadSync is for file sources");
    let xml: string;
    try {
      xml = readFileSync(this.#d.location.file, "utf8");
    } catch (e) {
      return this.#failed(now, `file_unreadable_${(e as NodeJS.ErrnoException).code ?? "error"}`);
    }
    return this.#apply(xml, now);
  }

  async #load(now: number): Promise<LoadOutcome> {
    let xml: string;
    try {
      if ("file" in this.#d.location) {
        xml = await readFile(this.#d.location.file, "utf8");
      } else {
        const s = this.#d.source;
        const got = await fetchDocument(this.#d.location.url, {
          fetch: this.#d.fetch, timeoutMs: s.fetchTimeoutMs, maxBytes: s.maxBytes, accept: "application/samlmetadata+xml",
        });
        if (got.status === 404) throw new FederationError("http_404");
        xml = got.body;
      }
    } catch (e) {
      const problem = e instanceof FederationError ? e.problem : `file_unreadable_${(e as NodeJS.ErrnoException).code ?? "error"}`;
      return this.#failed(now, problem);
    }
    return this.#apply(xml, now);
  }

  #apply(xml: string, now: number): LoadOutcome {
    const s = this.#d.source;
    let next: Snapshot;
    let skipped: Record<string, number>;
    let unselected = 0;
    try {
      const root = verifiedRoot(xml, { pinned: this.#d.pinned, bounds: s, verifier: this.#d.verifier });
      const doc = entitiesOf(root, now, { requireValidUntil: s.requireValidUntil, want: (labels) => selected(s.select, labels) });
      skipped = doc.skipped;
      const byEntityId = new Map<string, TrustedIdp>();
      const protocols = new Set<string>();
      for (const e of doc.entities) {
        const idp = this.#build(e);
        if (idp === undefined) {
          unselected++;
          continue;
        }
        byEntityId.set(idp.metadata.entityId, idp);
        for (const p of idp.metadata.protocols) protocols.add(p);
      }
      next = {
        byEntityId, validUntil: doc.validUntil, cacheDurationMs: doc.cacheDurationMs, loadedAt: now,
        summary: sourceSummary(s, this.#d.tokenEndpoint, [...protocols]),
      };
    } catch (e) {
      if (e instanceof FederationError) return this.#failed(now, e.problem);
      throw e;
    }
    // The swap: one assignment, so a lookup sees the old copy or the new one, never a mix.
    this.#current = next;
    this.#failures = 0;
    this.#nextAttempt = now + this.#interval(next, now);
    this.#d.log({
      event: "federation_loaded", federation: s.id, entities: next.byEntityId.size, not_selected: unselected,
      skipped: Object.values(skipped).reduce((a, b) => a + b, 0),
    });
    return { ok: true, entities: next.byEntityId.size };
  }

  /**
   * SAML Metadata §2.3 / metadata-iop: honour cacheDuration, and load again well before validUntil
   * (half the time left), within the configured bounds.
   */
  #interval(snap: Snapshot, now: number): number {
    const s = this.#d.source;
    let ms = s.maxRefreshSeconds * 1000;
    if (snap.cacheDurationMs !== undefined) ms = Math.min(ms, snap.cacheDurationMs);
    if (snap.validUntil !== undefined) ms = Math.min(ms, (snap.validUntil - now) / 2);
    return Math.max(ms, s.minRefreshSeconds * 1000);
  }

  #failed(now: number, problem: string): LoadOutcome {
    this.#failures++;
    this.#nextAttempt = now + this.#d.source.minRefreshSeconds * 1000;
    const cur = this.#current;
    this.#d.log({
      event: "federation_refresh_failed", level: "warn", federation: this.#d.source.id, reason: problem,
      // What is still trusted: the last good copy, until its validUntil (then nothing: fail closed).
      kept_entities: cur && (cur.validUntil === undefined || now < cur.validUntil) ? cur.byEntityId.size : 0,
    });
    return { ok: false, problem };
  }
}
