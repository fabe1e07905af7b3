import { refuse } from "../oauth/errors.js";
import { NS, attr, childElements, children, is, onlyChild } from "../xml/dom.js";
import type { XmlLimits } from "../xml/safe-parse.js";
import { signatureOf } from "../xml/signature.js";
import { parseOptionalInstant, parseSamlInstant } from "./time.js";
import { decodeSamlToken, trustedAssertion, trustedIdpFor, verifySignedElement } from "./signed-token.js";
import {
  attributeValues, bearerReplayMark, checkAudienceRestriction, checkIssueInstant, checkValidityWindow, samlText, subjectIdentifier,
} from "./rules.js";
import type { IdpRegistry, TrustedIdp } from "./idp-registry.js";
import type { SamlAttribute, VerifiedSubject } from "../subject/types.js";
import { TOKEN_TYPES } from "../oauth/constants.js";
import { decryptAssertion, type CiphertextBinding, type DecryptedAssertion, type DecryptionPolicy } from "./decrypt.js";

/**
 * SAML 2.0 subject tokens (RFC 8693 §3 token type `saml2`): a bare saml:Assertion, or a
 * samlp:Response carrying exactly one. The rules are those of RFC 7522 §3 (the closest profile for
 * presenting an assertion to a token endpoint) and SAML Core / Profiles, each failure with its own
 * reason code. Identity is read only from the signed bytes.
 */

export interface Saml2Context {
  /** Current time, ms since epoch (injected). */
  now: number;
  skewMs: number;
  /** The bridge's entity ID and any aliases an AudienceRestriction may name. */
  acceptedAudiences: ReadonlySet<string>;
  limits: XmlLimits & { maxTokenBytes: number };
  idps: IdpRegistry;
  /** The bridge's SP decryption keys; none: an EncryptedAssertion is `encrypted_assertion_unsupported`. */
  decryption?: DecryptionPolicy | undefined;
}

const BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol";
const SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";
const ENTITY_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

export function verifySaml2Token(value: string, ctx: Saml2Context): VerifiedSubject {
  const { xml, doc } = decodeSamlToken(value, ctx.limits);
  const root = doc.documentElement!;

  let response: Element | undefined;
  let assertion: Element;
  if (is(root, NS.saml2, "Assertion") || is(root, NS.saml2, "EncryptedAssertion")) {
    assertion = root;
  } else if (is(root, NS.samlp2, "Response")) {
    response = root;
    assertion = soleAssertion(root);
  } else if (is(root, NS.saml1, "Assertion") || is(root, NS.samlp1, "Response")) {
    throw refuse("token_type_mismatch");
  } else {
    throw refuse("saml_shape_invalid");
  }

  // An EncryptedAssertion is decrypted with the bridge's SP keys, and the assertion inside then goes
  // through the same path as a plain one: its own signature is verified in the decrypted document
  // (`assertionXml`). Every decryption failure is the one reason `decryption_failed`; an algorithm
  // the policy does not allow is `encryption_algorithm_not_allowed`, decided before any key is used
  // (decrypt.ts).
  const encrypted = is(assertion, NS.saml2, "EncryptedAssertion");
  const decryption = ctx.decryption;
  if (encrypted && (!decryption || decryption.keys.length === 0)) throw refuse("encrypted_assertion_unsupported");
  const decrypt = (el: Element, binding: CiphertextBinding): DecryptedAssertion => decryptAssertion(el, decryption!, ctx.limits, binding);
  let assertionXml = xml;
  // A bare EncryptedAssertion: no signature covers the ciphertext and no IdP is known before the
  // plaintext names one, so only GCM (or CBC under the legacy switch) and no triple DES.
  // Keys bound to IdPs (`saml.decryptionKeys[].idps`) are then checked against the plaintext Issuer.
  const idpIdOf = (entityId: string): string | undefined => ctx.idps.byEntityId(entityId)?.id;
  const unbound: CiphertextBinding = { signedBy: undefined, attributedTo: undefined, attributedIdp: undefined, allowTripleDes: false, idpIdOf };
  if (encrypted && !response) ({ assertion, xml: assertionXml } = decrypt(assertion, unbound));

  // The (not yet trusted) Issuer only chooses whose keys to try; it is re-read from signed bytes.
  // Around an encrypted assertion the Response Issuer is required (Profiles §4.1.4.2) and chooses,
  // so that a Response signature is verified over the encrypted form before anything is decrypted.
  const claimedIssuer = issuerOf(encrypted && response ? response : assertion);
  const idp = trustedIdpFor(claimedIssuer, ctx);
  // The IdP must declare SAML 2.0 in its metadata, as it must declare SAML 1.1 for saml1 tokens.
  if (!idp.metadata.protocols.includes(SAML2_PROTOCOL)) throw refuse("protocol_not_supported");

  const trustedResponse = response && signatureOf(response)
    ? verifySignedElement(xml, response, "ID", idp, ctx.limits)
    : undefined;
  // The Response signature, when verified, covers the ciphertext (its reference is the Response).
  // It was verified with the keys of `idp`, the IdP chosen by the Response Issuer, which is the IdP
  // the assertion is attributed to (its Issuer must name it and its keys verify it): the CBC gate
  // and the Issuer binding in decrypt.ts rest on that, before any key is touched.
  const binding: CiphertextBinding = {
    signedBy: trustedResponse ? idp.metadata.entityId : undefined,
    attributedTo: idp.metadata.entityId,
    // Keys bound to other IdPs are never used for this ciphertext (decrypt.ts keysFor).
    attributedIdp: idp.id,
    allowTripleDes: idp.policy.allowTripleDesCbc,
    idpIdOf,
  };
  if (encrypted && response) ({ assertion, xml: assertionXml } = decrypt(assertion, binding));
  const trusted = trustedAssertion({
    documentText: assertionXml, assertion, idAttribute: "ID", response: trustedResponse, idp, limits: ctx.limits,
    // From the Response's signed bytes; an encrypted assertion is decrypted from the ciphertext, in
    // the namespace context, that the Response signature covers.
    fromSignedResponse: (signed) => (encrypted ? decrypt(soleAssertion(signed), binding).assertion : soleAssertion(signed)),
  });
  if (!is(trusted.element, NS.saml2, "Assertion")) throw refuse("saml_shape_invalid");

  if (response) checkResponse(trustedResponse?.element ?? response, idp);
  return checkAssertion(trusted.element, idp, ctx, trusted.keyFingerprint);
}

/**
 * Exactly one saml:Assertion or saml:EncryptedAssertion, and nothing that looks like another one
 * (catalogue A3–A7, A11, D15: an assertion beside an encrypted one, or two encrypted, is refused).
 */
function soleAssertion(response: Element): Element {
  const assertions = childElements(response).filter((k) => k.localName === "Assertion" || k.localName === "EncryptedAssertion");
  const sole = assertions[0];
  if (assertions.length !== 1 || !(is(sole!, NS.saml2, "Assertion") || is(sole!, NS.saml2, "EncryptedAssertion"))) {
    throw refuse("saml_shape_invalid");
  }
  return sole!;
}

function issuerOf(el: Element): string {
  const issuer = onlyChild(el, NS.saml2, "Issuer");
  if (issuer === "many") throw refuse("saml_shape_invalid");
  if (!issuer) throw refuse("issuer_missing");
  const value = samlText(issuer);
  if (value === "") throw refuse("issuer_missing");
  const format = attr(issuer, "Format");
  if (format !== undefined && format !== ENTITY_FORMAT) throw refuse("issuer_mismatch");
  return value;
}

/** samlp:Response rules (SAML Core §3.2.2, Profiles §4.1.4.2; catalogue D3, D13, D14, D12b). */
function checkResponse(response: Element, idp: TrustedIdp): void {
  if (attr(response, "Version") !== "2.0") throw refuse("saml_version_invalid");
  const status = onlyChild(response, NS.samlp2, "Status");
  if (!status || status === "many") throw refuse("status_not_success");
  const code = onlyChild(status, NS.samlp2, "StatusCode");
  if (!code || code === "many" || attr(code, "Value") !== SUCCESS) throw refuse("status_not_success");
  if (attr(response, "InResponseTo") !== undefined) throw refuse("in_response_to_present");
  const destination = attr(response, "Destination");
  if (destination !== undefined && !idp.policy.recipients.includes(destination)) {
    throw refuse("destination_mismatch");
  }
  // The Response Issuer is optional (SAML Core §3.2.2); when present it must name the same IdP.
  if (onlyChild(response, NS.saml2, "Issuer") !== undefined && issuerOf(response) !== idp.metadata.entityId) {
    throw refuse("issuer_mismatch");
  }
}

function checkAssertion(a: Element, idp: TrustedIdp, ctx: Saml2Context, keyFingerprint: string): VerifiedSubject {
  if (attr(a, "Version") !== "2.0") throw refuse("saml_version_invalid");
  const id = attr(a, "ID");
  if (!id) throw refuse("assertion_id_missing");
  if (issuerOf(a) !== idp.metadata.entityId) throw refuse("issuer_mismatch");

  // IssueInstant: not in the future, not older than the IdP's maximum age (catalogue D8).
  const issuedAt = checkIssueInstant(attr(a, "IssueInstant"), idp, ctx);

  const { notOnOrAfter: conditionsExpiry, proxyAudiences, proxyCount } = checkConditions(a, ctx);
  const { nameId, nameIdFormat, confirmationExpiry } = checkSubject(a, idp, ctx);
  const authn = readAuthnStatements(a, ctx);
  const attributes = readAttributes(a);

  const expiresAt = Math.min(confirmationExpiry, conditionsExpiry ?? Number.POSITIVE_INFINITY);
  return {
    tokenType: TOKEN_TYPES.saml2,
    source: { id: idp.id, issuer: idp.metadata.entityId, mapping: idp.mapping },
    subject: nameId,
    nameIdFormat,
    attributes,
    issuedAt,
    expiresAt,
    notAfter: authn.sessionNotOnOrAfter,
    authTime: authn.authTime,
    acr: authn.acr,
    // SAML Profiles §4.1.4.5 / RFC 7522 §3: a bearer assertion is used once. Keep the mark until
    // the assertion could no longer pass the time checks: its expiry or maximum age, plus skew.
    oneTimeUse: bearerReplayMark(id, expiresAt, issuedAt, idp, ctx.skewMs),
    act: undefined,
    mayAct: undefined,
    granted: undefined,
    keyId: keyFingerprint,
    proxyAudiences,
    proxyCount,
  };
}

/**
 * Conditions (SAML Core §2.5.1): time window with skew (NotOnOrAfter exclusive), every
 * AudienceRestriction must name us (they are ANDed, §2.5.1.4), at most one OneTimeUse (§2.5.1.5)
 * and one ProxyRestriction (§2.5.1.6), and unknown condition types, including any Condition
 * extension (xsi:typed saml:Condition), are refused (RFC 7522 §3). Returns the Conditions'
 * NotOnOrAfter, if any, and the ProxyRestriction's audiences (see proxyRestriction).
 */
function checkConditions(a: Element, ctx: Saml2Context): { notOnOrAfter: number | undefined; proxyAudiences: readonly string[] | undefined; proxyCount: number | undefined } {
  const conditions = onlyChild(a, NS.saml2, "Conditions");
  if (conditions === "many") throw refuse("saml_shape_invalid");
  if (!conditions) throw refuse("audience_mismatch");
  const notBefore = parseOptionalInstant(attr(conditions, "NotBefore"));
  const notOnOrAfter = parseOptionalInstant(attr(conditions, "NotOnOrAfter"));
  checkValidityWindow(notBefore, notOnOrAfter, ctx);
  let restrictions = 0;
  let oneTimeUse = 0;
  const proxies: Element[] = [];
  for (const c of childElements(conditions)) {
    if (is(c, NS.saml2, "AudienceRestriction")) {
      restrictions++;
      checkAudienceRestriction(children(c, NS.saml2, "Audience"), ctx.acceptedAudiences);
    } else if (is(c, NS.saml2, "OneTimeUse")) {
      // What the replay store enforces for every bearer assertion anyway.
      oneTimeUse++;
    } else if (is(c, NS.saml2, "ProxyRestriction")) {
      proxies.push(c);
    } else {
      throw refuse("condition_unsupported");
    }
  }
  // §2.5.1.5 / §2.5.1.6: "A SAML authority MUST NOT include more than one" of either.
  if (oneTimeUse > 1 || proxies.length > 1) throw refuse("saml_shape_invalid");
  if (restrictions === 0) throw refuse("audience_mismatch");
  const proxy = proxies[0] ? proxyRestriction(proxies[0], ctx.acceptedAudiences) : undefined;
  return { notOnOrAfter, proxyAudiences: proxy?.audiences, proxyCount: proxy?.count };
}

/** xs:nonNegativeInteger, bounded (a count of indirections: anything above 9 digits is refused). */
const NON_NEGATIVE_INTEGER = /^\+?[0-9]{1,9}$/;

/**
 * saml:ProxyRestriction (SAML Core §2.5.1.6): limits on relying parties that "subsequently act as
 * asserting parties themselves and issue assertions of their own on the basis of" this one. The
 * bridge does exactly that: the access token it mints is a new assertion about the subject,
 * issued on the basis of this one, so it is the first indirection.
 *  - Count: the most indirections allowed; Count="0" forbids any (`proxy_restriction_forbids`).
 *    Count ≥ 1 allows this token (one indirection).
 *  - Audience*: "the set of audiences to whom the asserting party permits new assertions to be
 *    issued on the basis of this assertion". Two rules, both enforced (the stricter reading of each):
 *    the bridge itself must be among them (its entity ID or a configured alias), or it may not
 *    issue at all (`proxy_restriction_forbids`); and when the list names audiences beyond the
 *    bridge's own identifiers, those are the only audiences the issued token may carry: they are
 *    returned, and every audience of the token must be among them (mapping/mapper.ts
 *    checkProxyAudiences, `proxy_audience_not_allowed`). None listed: no audience limit.
 * The content is refused unless it is Audience elements only.
 */
function proxyRestriction(p: Element, bridge: ReadonlySet<string>): { audiences: readonly string[] | undefined; count: number | undefined } {
  const count = attr(p, "Count");
  if (count !== undefined) {
    if (!NON_NEGATIVE_INTEGER.test(count)) throw refuse("saml_shape_invalid");
    if (Number(count) === 0) throw refuse("proxy_restriction_forbids");
  }
  // Both travel on in the issued token (claim proxy_restriction) and bind every later re-exchange.
  const limit = count === undefined ? undefined : Number(count);
  const kids = childElements(p);
  if (!kids.every((k) => is(k, NS.saml2, "Audience"))) throw refuse("saml_shape_invalid");
  if (kids.length === 0) return { audiences: undefined, count: limit };
  const listed = kids.map(samlText);
  if (!listed.some((a) => bridge.has(a))) throw refuse("proxy_restriction_forbids");
  const downstream = listed.filter((a) => !bridge.has(a));
  return { audiences: downstream.length === 0 ? undefined : downstream, count: limit };
}

/**
 * Subject (SAML Profiles §4.1.4.2, RFC 7522 §3): a NameID, and at least one bearer
 * SubjectConfirmation whose data has an unexpired NotOnOrAfter, no NotBefore, no InResponseTo (the
 * bridge never sent an AuthnRequest) and an accepted Recipient (RFC 7522 §3: the token endpoint,
 * unless the IdP's config lists other recipients).
 */
function checkSubject(a: Element, idp: TrustedIdp, ctx: Saml2Context) {
  const subject = onlyChild(a, NS.saml2, "Subject");
  if (!subject || subject === "many") throw refuse("subject_missing");
  const nameIdEl = onlyChild(subject, NS.saml2, "NameID");
  if (nameIdEl === "many") throw refuse("subject_invalid");
  if (!nameIdEl) throw refuse(children(subject, NS.saml2, "EncryptedID").length ? "encrypted_assertion_unsupported" : "subject_missing");
  // No silent trimming: a padded or empty identifier is refused, never reinterpreted (catalogue D19).
  const nameId = subjectIdentifier(nameIdEl);

  const bearers = children(subject, NS.saml2, "SubjectConfirmation").filter((c) => attr(c, "Method") === BEARER);
  if (bearers.length === 0) throw refuse("subject_confirmation_invalid");
  let firstFailure: unknown;
  for (const confirmation of bearers) {
    try {
      return { nameId, nameIdFormat: attr(nameIdEl, "Format"), confirmationExpiry: checkBearer(confirmation, idp, ctx) };
    } catch (e) {
      firstFailure ??= e;
    }
  }
  throw firstFailure;
}

function checkBearer(confirmation: Element, idp: TrustedIdp, ctx: Saml2Context): number {
  const data = onlyChild(confirmation, NS.saml2, "SubjectConfirmationData");
  if (!data || data === "many") throw refuse("subject_confirmation_invalid");
  if (attr(data, "NotBefore") !== undefined) throw refuse("subject_confirmation_invalid");
  if (attr(data, "InResponseTo") !== undefined) throw refuse("in_response_to_present");
  const notOnOrAfter = attr(data, "NotOnOrAfter");
  if (notOnOrAfter === undefined) throw refuse("subject_confirmation_invalid");
  const expiry = parseSamlInstant(notOnOrAfter);
  if (ctx.now - ctx.skewMs >= expiry) throw refuse("assertion_expired");
  const recipient = attr(data, "Recipient");
  if (recipient === undefined || !idp.policy.recipients.includes(recipient)) {
    throw refuse("recipient_mismatch");
  }
  return expiry;
}

function readAuthnStatements(a: Element, ctx: Saml2Context) {
  let authTime: number | undefined;
  let acr: string | undefined;
  let sessionNotOnOrAfter: number | undefined;
  for (const st of children(a, NS.saml2, "AuthnStatement")) {
    const instant = parseSamlInstant(attr(st, "AuthnInstant"));
    authTime = authTime === undefined ? instant : Math.max(authTime, instant);
    const session = parseOptionalInstant(attr(st, "SessionNotOnOrAfter"));
    if (session !== undefined) {
      if (ctx.now - ctx.skewMs >= session) throw refuse("session_expired");
      sessionNotOnOrAfter = sessionNotOnOrAfter === undefined ? session : Math.min(sessionNotOnOrAfter, session);
    }
    const context = onlyChild(st, NS.saml2, "AuthnContext");
    if (context && context !== "many") {
      const classRef = onlyChild(context, NS.saml2, "AuthnContextClassRef");
      // Every AuthnContextClassRef is read as text (element content refused), even when not used.
      if (classRef && classRef !== "many") {
        const value = samlText(classRef);
        acr ??= value;
      }
    }
  }
  return { authTime, acr, sessionNotOnOrAfter };
}

/** Attributes of the assertion's own AttributeStatements only: never from Advice (catalogue A10). */
function readAttributes(a: Element): SamlAttribute[] {
  const out: SamlAttribute[] = [];
  for (const statement of children(a, NS.saml2, "AttributeStatement")) {
    for (const at of children(statement, NS.saml2, "Attribute")) {
      const name = attr(at, "Name");
      if (!name) throw refuse("saml_shape_invalid");
      const values = attributeValues(children(at, NS.saml2, "AttributeValue"));
      out.push({ name, friendlyName: attr(at, "FriendlyName"), nameFormat: attr(at, "NameFormat"), values });
    }
  }
  return out;
}
