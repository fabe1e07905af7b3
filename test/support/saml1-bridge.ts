// SAML 1.1 test wiring: the idp11 IdP (metadata listing SAML 1.1 and 2.0) added to the test config by
// `patch` only (harness.ts baseConfig stays as it is), and fresh signed SAML 1.1 fixtures from the
// independent signers (xmlsec1, OpenSAML's samlsign), timed by the bridge clock.
import { CLIENTS, SAML2, exchange, type TestBridge } from "./harness.js";
import { TOKEN_ENDPOINT, TOKEN_TYPE_SAML1 } from "./constants.js";
import { signSaml11WithSamlsign, signSaml11WithXmlsec1, type SignOptions } from "./independent-signers.js";
import {
  KEYS_IDP11,
  SHIB_ATTR_NS,
  buildAssertion11,
  buildResponse11,
  randomSaml11Id,
  type Assertion11Options,
  type Response11Options,
} from "./saml1-builder.js";

export const SAML1 = TOKEN_TYPE_SAML1;
export type Signer11 = "xmlsec1" | "samlsign";

/** idp11's mapping: `role` (AttributeName) in the Shibboleth URI namespace (AttributeNamespace → nameFormat). */
export function idp11Mapping(): Record<string, any> {
  const role = { name: "role", nameFormat: SHIB_ATTR_NS };
  return {
    subject: { nameId: true },
    claims: { role: { from: role, multi: true } },
    scopes: [
      { when: role, anyOf: ["user"], grant: ["read"] },
      { when: role, anyOf: ["editor", "admin"], grant: ["read", "write"] },
    ],
  };
}

/**
 * Config patch: trust idp11 (test/fixtures/metadata/idp11-saml11.xml) and let client c1 use it and
 * present saml1 as well as saml2 subject tokens. `idp` overrides fields of idp11's config entry.
 */
export function withIdp11(c: Record<string, any>, idp: Record<string, any> = {}): void {
  c.samlIdps.push({
    id: "idp11",
    metadataFile: "metadata/idp11-saml11.xml",
    recipients: [TOKEN_ENDPOINT],
    mapping: idp11Mapping(),
    ...idp,
  });
  const c1 = c.clients.find((x: { id: string }) => x.id === CLIENTS.c1.id);
  c1.idps = [...c1.idps, "idp11"];
  c1.subjectTokenTypes = [SAML2, SAML1];
}

export function sign11(xml: string, id: string, signer: Signer11 = "xmlsec1", o: Partial<SignOptions> = {}): string {
  const opts: SignOptions = { key: KEYS_IDP11, ...o };
  return signer === "xmlsec1" ? signSaml11WithXmlsec1(xml, id, opts) : signSaml11WithSamlsign(xml, id, opts);
}

export interface Fixture11 {
  xml: string;
  /** AssertionID (the replay key). */
  id: string;
  /** ResponseID ("" for a bare assertion). */
  rid: string;
}

export interface Assertion11Spec {
  o?: Assertion11Options;
  /** String edit applied before signing (must change the XML). */
  mutate?: (xml: string) => string;
  /** Signer (default xmlsec1); null = leave unsigned. */
  signer?: Signer11 | null;
  sign?: Partial<SignOptions>;
}

/** B-S11: a bare SAML 1.1 assertion from idp11, signed by an independent implementation. */
export function assertion11(b: Pick<TestBridge, "clock">, spec: Assertion11Spec = {}): Fixture11 {
  const id = randomSaml11Id("_a");
  let xml = buildAssertion11({ now: new Date(b.clock.now), ...spec.o, id });
  if (spec.mutate) {
    const before = xml;
    xml = spec.mutate(xml);
    if (xml === before) throw new Error("mutation had no effect");
  }
  if (spec.signer !== null) xml = sign11(xml, id, spec.signer ?? "xmlsec1", spec.sign);
  return { xml, id, rid: "" };
}

export interface Response11Spec {
  assertion?: Assertion11Spec;
  /** Further assertions / elements after the first one. */
  more?: string[];
  r?: Response11Options;
  mutate?: (xml: string) => string;
  /** Signer of the Response (default xmlsec1); null = unsigned Response. */
  signer?: Signer11 | null;
}

/** A SAML 1.1 samlp:Response around an assertion (signed per `assertion.signer`), itself signed per `signer`. */
export function response11(b: Pick<TestBridge, "clock">, spec: Response11Spec = {}): Fixture11 {
  const a = assertion11(b, spec.assertion);
  const rid = randomSaml11Id("_r");
  let xml = buildResponse11([a.xml, ...(spec.more ?? [])], { now: new Date(b.clock.now), ...spec.r, id: rid });
  if (spec.mutate) {
    const before = xml;
    xml = spec.mutate(xml);
    if (xml === before) throw new Error("mutation had no effect");
  }
  if (spec.signer !== null) xml = sign11(xml, rid, spec.signer ?? "xmlsec1");
  return { xml, id: a.id, rid };
}

/** POST /token with a saml1 subject token (client c1, audience API, scope read unless told). */
export function send11(b: TestBridge, xml: string, o: { scope?: string; tokenType?: string; rawToken?: string } = {}) {
  return exchange(b, {
    ...(o.rawToken !== undefined ? { rawToken: o.rawToken } : { xml }),
    tokenType: o.tokenType ?? SAML1,
    scope: o.scope ?? "read",
  });
}
