import { refuse } from "../oauth/errors.js";
import { NS, attr, childElements, children, is, onlyChild } from "../xml/dom.js";
import { signatureOf } from "../xml/signature.js";
import { parseOptionalInstant, parseSamlInstant } from "./time.js";
import { decodeSamlToken, trustedAssertion, trustedIdpFor, verifySignedElement, type SamlVerifyContext } from "./signed-token.js";
import {
  attributeValues, bearerReplayMark, checkAudienceRestriction, checkIssueInstant, checkValidityWindow, qnameIs, samlText, subjectIdentifier,
} from "./rules.js";
import type { TrustedIdp } from "./idp-registry.js";
import type { Attribute, VerifiedSubject } from "../subject/types.js";
import { TOKEN_TYPES } from "../oauth/constants.js";

/**
 * SAML 1.1 subject tokens (RFC 8693 §3 token type `saml1`): a bare saml:Assertion
 * (urn:oasis:names:tc:SAML:1.0:assertion, MajorVersion 1, MinorVersion 1), or a SAML 1.1
 * samlp:Response carrying exactly one. Same trust rules as SAML 2.0 (signed-token.ts, rules.ts):
 * the signature is a direct child of the element it signs and references its AssertionID /
 * ResponseID, keys come only from the Issuer's metadata, identity is read only from the signed bytes.
 * SAML 1.1 specifics (OASIS SAML 1.1 Core, attack catalogue §E):
 *  - the Issuer is an attribute, and the IdP's metadata must list the SAML 1.1 protocol;
 *  - there is no SubjectConfirmationData: Conditions/@NotOnOrAfter is the expiry, so it is required;
 *  - every statement carries its own Subject: all must name the same subject, each confirmed bearer;
 *  - attributes are (AttributeNamespace, AttributeName) pairs.
 */

export type Saml1Context = SamlVerifyContext;

/** What an IdP's metadata protocolSupportEnumeration must list for it to present SAML 1.1. */
const SAML11_PROTOCOL = "urn:oasis:names:tc:SAML:1.1:protocol";
const BEARER = "urn:oasis:names:tc:SAML:1.0:cm:bearer";
/** Statements that carry a Subject; the abstract Statement / SubjectStatement types are refused. */
const SUBJECT_STATEMENTS = new Set(["AuthenticationStatement", "AttributeStatement", "AuthorizationDecisionStatement"]);

export function verifySaml1Token(value: string, ctx: Saml1Context): VerifiedSubject {
  const { xml, doc } = decodeSamlToken(value, ctx.limits);
  const root = doc.documentElement!;

  let response: Element | undefined;
  let assertion: Element;
  if (is(root, NS.saml1, "Assertion")) {
    assertion = root;
  } else if (is(root, NS.samlp1, "Response")) {
    response = root;
    assertion = soleAssertion(root);
  } else if (is(root, NS.saml2, "Assertion") || is(root, NS.samlp2, "Response")) {
    throw refuse("token_type_mismatch");
  } else {
    throw refuse("saml_shape_invalid");
  }

  // The (not yet trusted) Issuer only chooses whose keys to try; it is re-read from signed bytes.
  const idp = trustedIdpFor(issuerOf(assertion), ctx);
  // The IdP must declare SAML 1.1 in its metadata (as OpenSAML's metadata trust engine requires).
  if (!idp.metadata.protocols.includes(SAML11_PROTOCOL)) throw refuse("protocol_not_supported");

  const trustedResponse = response && signatureOf(response)
    ? verifySignedElement(xml, response, "ResponseID", idp, ctx.limits)
    : undefined;
  const trusted = trustedAssertion({
    documentText: xml, assertion, idAttribute: "AssertionID", response: trustedResponse,
    fromSignedResponse: soleAssertion, idp, limits: ctx.limits,
  });
  if (!is(trusted.element, NS.saml1, "Assertion")) throw refuse("saml_shape_invalid");

  // The status QName's value comes from the signed bytes, its prefix may need the received
  // Response's declarations (rules.ts qnameIs); an unsigned Response is both.
  if (response) checkResponse(trustedResponse?.element ?? response, trustedResponse?.received ?? response, idp);
  return checkAssertion(trusted.element, idp, ctx, trusted.keyFingerprint);
}

/** Exactly one SAML 1.1 saml:Assertion and nothing else called Assertion (catalogue A3–A7, A11, E10). */
function soleAssertion(response: Element): Element {
  const assertions = childElements(response).filter((k) => k.localName === "Assertion");
  if (assertions.length !== 1 || !is(assertions[0]!, NS.saml1, "Assertion")) throw refuse("saml_shape_invalid");
  return assertions[0]!;
}

function issuerOf(assertion: Element): string {
  const issuer = attr(assertion, "Issuer");
  if (!issuer) throw refuse("issuer_missing");
  return issuer;
}

function checkVersion(el: Element): void {
  if (attr(el, "MajorVersion") !== "1" || attr(el, "MinorVersion") !== "1") throw refuse("saml_version_invalid");
}

/**
 * SAML 1.1 samlp:Response (SAML 1.1 Core §3.4, catalogue E10): version 1.1, top-level StatusCode
 * samlp:Success, no InResponseTo (the bridge never sent a request), and a Recipient, when present,
 * among the accepted recipients. `response` is the Response read from the signed bytes (or the
 * received one when it is unsigned), `received` the Response as received: the StatusCode Value is
 * an xs:QName whose prefix exclusive canonicalization may have left unbound in the signed bytes;
 * it is resolved by rules.ts `qnameIs` (signed declarations first, then the received Response's).
 */
function checkResponse(response: Element, received: Element, idp: TrustedIdp): void {
  checkVersion(response);
  const code = statusCode(response);
  const receivedCode = statusCode(received);
  const value = attr(code, "Value");
  // The received StatusCode is the signed one (the received Response canonicalizes to the signed
  // bytes); it is compared all the same, since only its declarations are used.
  if (attr(receivedCode, "Value") !== value || !qnameIs(value, code, receivedCode, received, NS.samlp1, "Success")) {
    throw refuse("status_not_success");
  }
  if (attr(response, "InResponseTo") !== undefined) throw refuse("in_response_to_present");
  const recipient = attr(response, "Recipient");
  if (recipient !== undefined && !idp.policy.recipients.includes(recipient)) throw refuse("recipient_mismatch");
}

/** The one top-level samlp:StatusCode of a SAML 1.1 Response. */
function statusCode(response: Element): Element {
  const status = onlyChild(response, NS.samlp1, "Status");
  if (!status || status === "many") throw refuse("status_not_success");
  const code = onlyChild(status, NS.samlp1, "StatusCode");
  if (!code || code === "many") throw refuse("status_not_success");
  return code;
}

function checkAssertion(a: Element, idp: TrustedIdp, ctx: Saml1Context, keyFingerprint: string): VerifiedSubject {
  checkVersion(a);
  const id = attr(a, "AssertionID");
  if (!id) throw refuse("assertion_id_missing");
  if (issuerOf(a) !== idp.metadata.entityId) throw refuse("issuer_mismatch");
  const issuedAt = checkIssueInstant(attr(a, "IssueInstant"), idp, ctx);
  checkChildren(a);
  const expiresAt = checkConditions(a, ctx);
  const { subject, authTime, acr, attributes } = readStatements(a);

  return {
    tokenType: TOKEN_TYPES.saml1,
    source: { id: idp.id, issuer: idp.metadata.entityId, mapping: idp.mapping },
    subject: subject.value,
    nameIdFormat: subject.format,
    attributes,
    issuedAt,
    expiresAt,
    notAfter: undefined,
    authTime,
    acr,
    // A bearer assertion is used once: IdP entityID + AssertionID, as for SAML 2.0.
    oneTimeUse: bearerReplayMark(id, expiresAt, issuedAt, idp, ctx.skewMs),
    act: undefined,
    mayAct: undefined,
    granted: undefined,
    keyId: keyFingerprint,
  };
}

/**
 * The assertion's children are those of SAML 1.1 Core §2.3.2: Conditions, Advice, the statements
 * the bridge understands and the (removed) signature. SAML 2.0 elements mean a version mix-up
 * (catalogue E4); anything else, such as an extension Statement, is refused.
 */
function checkChildren(a: Element): void {
  let conditions = 0;
  let advice = 0;
  for (const c of childElements(a)) {
    if (c.namespaceURI === NS.saml2 || c.namespaceURI === NS.samlp2) throw refuse("saml_version_invalid");
    if (is(c, NS.ds, "Signature")) continue;
    if (c.namespaceURI !== NS.saml1) throw refuse("saml_shape_invalid");
    if (c.localName === "Conditions") conditions++;
    else if (c.localName === "Advice") advice++;
    else if (!SUBJECT_STATEMENTS.has(c.localName)) throw refuse("saml_shape_invalid");
  }
  if (conditions > 1 || advice > 1) throw refuse("saml_shape_invalid");
}

/**
 * Conditions (SAML 1.1 Core §2.3.2.1): the time window with skew (NotOnOrAfter exclusive and
 * required: SAML 1.1 has no SubjectConfirmationData, so this is the assertion's only expiry), every
 * AudienceRestrictionCondition must name us (ANDed, §2.3.2.1.3), DoNotCacheCondition is accepted
 * (the bridge keeps nothing but the replay mark), anything else is refused. Returns NotOnOrAfter.
 */
function checkConditions(a: Element, ctx: Saml1Context): number {
  const conditions = onlyChild(a, NS.saml1, "Conditions");
  if (conditions === "many") throw refuse("saml_shape_invalid");
  if (!conditions) throw refuse("audience_mismatch");
  const notBefore = parseOptionalInstant(attr(conditions, "NotBefore"));
  const notOnOrAfter = parseOptionalInstant(attr(conditions, "NotOnOrAfter"));
  checkValidityWindow(notBefore, notOnOrAfter, ctx);
  if (notOnOrAfter === undefined) throw refuse("assertion_expiry_missing");
  let restrictions = 0;
  for (const c of childElements(conditions)) {
    if (is(c, NS.saml1, "AudienceRestrictionCondition")) {
      restrictions++;
      checkAudienceRestriction(children(c, NS.saml1, "Audience"), ctx.acceptedAudiences);
    } else if (!is(c, NS.saml1, "DoNotCacheCondition")) {
      throw refuse("condition_unsupported");
    }
  }
  if (restrictions === 0) throw refuse("audience_mismatch");
  return notOnOrAfter;
}

interface SubjectName {
  value: string;
  format: string | undefined;
  qualifier: string | undefined;
}

/**
 * Statements (SAML 1.1 Core §2.4): each has its own Subject; every one must name the same subject
 * (NameIdentifier value, Format and NameQualifier) and be confirmed by the bearer method (SAML 1.1
 * Bindings and Profiles, Browser/POST: every subject statement carries ConfirmationMethod bearer).
 * Authentication time and method come from AuthenticationStatements, attributes from the
 * assertion's own AttributeStatements (never from Advice).
 */
function readStatements(a: Element) {
  let subject: SubjectName | undefined;
  let authTime: number | undefined;
  let acr: string | undefined;
  const attributes: Attribute[] = [];
  for (const st of childElements(a)) {
    if (st.namespaceURI !== NS.saml1 || !SUBJECT_STATEMENTS.has(st.localName)) continue;
    const named = statementSubject(st);
    if (subject === undefined) subject = named;
    else if (named.value !== subject.value || named.format !== subject.format || named.qualifier !== subject.qualifier) {
      throw refuse("subject_mismatch");
    }
    if (st.localName === "AuthenticationStatement") {
      const instant = parseSamlInstant(attr(st, "AuthenticationInstant"));
      authTime = authTime === undefined ? instant : Math.max(authTime, instant);
      acr ??= attr(st, "AuthenticationMethod");
    } else if (st.localName === "AttributeStatement") {
      for (const at of children(st, NS.saml1, "Attribute")) {
        const name = attr(at, "AttributeName");
        const namespace = attr(at, "AttributeNamespace");
        if (!name || !namespace) throw refuse("saml_shape_invalid");
        // A mapping selects SAML 1.1 attributes by name = AttributeName, nameFormat = AttributeNamespace.
        attributes.push({ name, friendlyName: undefined, nameFormat: namespace, values: attributeValues(children(at, NS.saml1, "AttributeValue")) });
      }
    }
  }
  if (subject === undefined) throw refuse("subject_missing");
  return { subject, authTime, acr, attributes };
}

function statementSubject(statement: Element): SubjectName {
  const subject = onlyChild(statement, NS.saml1, "Subject");
  if (subject === "many") throw refuse("subject_invalid");
  if (!subject) throw refuse("subject_missing");
  const nameId = onlyChild(subject, NS.saml1, "NameIdentifier");
  if (nameId === "many") throw refuse("subject_invalid");
  if (!nameId) throw refuse("subject_missing");
  const value = subjectIdentifier(nameId);
  const bearer = children(subject, NS.saml1, "SubjectConfirmation").some((c) =>
    // Every ConfirmationMethod is read as text (element content refused) before any is compared.
    children(c, NS.saml1, "ConfirmationMethod").map(samlText).includes(BEARER));
  if (!bearer) throw refuse("subject_confirmation_invalid");
  return { value, format: attr(nameId, "Format"), qualifier: attr(nameId, "NameQualifier") };
}
