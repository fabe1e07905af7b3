import type { ClientConfig, AudienceConfig } from "../config/schema.js";
import type { Form } from "../oauth/params.js";
import type { MappedSubject } from "../mapping/mapper.js";
import type { VerifiedSubject } from "../subject/types.js";
import type { ActClaim } from "../oauth/claims.js";
import type { IssuedToken } from "../tokens/access-token.js";
import type { ExchangeServices } from "./services.js";

/**
 * A grant is an ordered list of named steps over one context (the node-oidc-provider shape):
 * each step reads what earlier steps established and adds its own part, or throws an OAuthError.
 * The step name goes into the exchange log, so a refusal says where it happened.
 */
export interface ExchangeContext {
  readonly now: number;
  readonly form: Form;
  readonly client: ClientConfig;
  /**
   * The request's DPoP header field values (RFC 9449 §4.1), one per header line as received, for
   * check_dpop (src/dpop/steps.ts). Set by the token endpoint only; absent elsewhere (explain).
   */
  readonly dpopProofs?: readonly string[];
  /**
   * RFC 8705 §3.1 `x5t#S256` of the client certificate of the request's TLS connection (the bridge
   * terminating TLS), for certificate binding (src/exchange/steps/certificate-binding.ts). Set by
   * the token endpoint only.
   */
  readonly certificateThumbprint?: string;
  request?: {
    subjectToken: string;
    subjectTokenType: string;
    actorToken: string | undefined;
    actorTokenType: string | undefined;
    requestedTokenType: string;
    audience: string[];
    resource: string[];
    scope: string[] | undefined;
  };
  targets?: AudienceConfig[];
  subject?: VerifiedSubject;
  actor?: VerifiedSubject;
  mapped?: MappedSubject;
  scope?: string[];
  act?: ActClaim | undefined;
  expiresAt?: number;
  /**
   * Proof-of-possession binding of the token to be issued (RFC 7800 `cnf`): the DPoP key's JWK
   * thumbprint (RFC 9449 §6.1 `jkt`) and/or the client certificate's thumbprint (RFC 8705 §3.1
   * `x5t#S256`). Set before issue_token by the steps that checked the proof; absent: a bearer token.
   */
  confirmation?: Confirmation;
  issued?: IssuedToken;
}

/** RFC 7800 §3.1 confirmation members the bridge can bind a token to. */
export interface Confirmation {
  jkt?: string;
  "x5t#S256"?: string;
}

export interface Step {
  readonly name: string;
  run(ctx: ExchangeContext, services: ExchangeServices): void | Promise<void>;
}

export function step(name: string, run: Step["run"]): Step {
  return { name, run };
}

/** Reads a value an earlier step must have set; a miss is a programming error, not a client one. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`pipeline order: ${what} not set`);
  return value;
}

export class StepFailure extends Error {
  override name = "StepFailure";
  constructor(readonly step: string, override readonly cause: unknown) {
    super(`step ${step} failed`);
  }
}

/**
 * What watches a grant's pipeline (metrics, tracing: metrics/exchange-observer.ts). `exchange`
 * is called once per run and returns that run's hooks; none of them may throw or change the
 * outcome. Optional: a pipeline without an observer runs the same.
 */
export interface PipelineObserver {
  exchange(ctx: ExchangeContext): ExchangeObservation;
}

export interface ExchangeObservation {
  /** A step starts; the returned function is called when it ends (`error` undefined: it passed). */
  step(name: string): (error: unknown) => void;
  /** The run ends: issued (`error` undefined) or refused/failed at `step`. */
  end(error: unknown, step?: string): void;
}

/**
 * The one place steps run: each step in order, each failure wrapped with the step's name, and
 * every step timed and traced through the services' observer, whatever the grant.
 */
export async function runSteps(steps: readonly Step[], ctx: ExchangeContext, services: ExchangeServices): Promise<void> {
  const observation = services.observer?.exchange(ctx);
  for (const s of steps) {
    const done = observation?.step(s.name);
    try {
      await s.run(ctx, services);
    } catch (e) {
      done?.(e);
      observation?.end(e, s.name);
      throw new StepFailure(s.name, e);
    }
    done?.(undefined);
  }
  observation?.end(undefined);
}
