import { createPrivateKey, randomBytes, randomUUID, sign as cryptoSign } from "node:crypto";
import { SignedXml } from "xml-crypto";

/**
 * The benchmark's subject tokens, built and signed before any timing: an enterprise-shaped SAML 2.0
 * samlp:Response (the shape Entra ID / AD FS send: one signed assertion in the default namespace,
 * ten attributes, the signing certificate in KeyInfo, ≈5 KB), the same assertion bare, a SAML 1.1
 * assertion, and OIDC ID tokens (RS256). Signed with xml-crypto / node:crypto: fine for a load
 * generator; the test suite's positive fixtures come from independent implementations.
 */

export const SCENARIOS = ["response", "assertion", "saml11", "idtoken"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const BENCH = {
  idpEntityId: "https://sts.bench.invalid/7d2c1f0e-0000-4000-8000-000000000001/",
  spEntityId: "https://bridge.bench.invalid/saml",
  issuer: "https://bridge.bench.invalid",
  tokenEndpoint: "https://bridge.bench.invalid/token",
  oidcIssuer: "https://login.bench.invalid/v2.0",
  oidcAudience: "bench-bridge-at-oidc",
  apiSaml: "https://api-saml.bench.invalid",
  apiOidc: "https://api-oidc.bench.invalid",
  tenant: "7d2c1f0e-0000-4000-8000-000000000001",
} as const;

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const guid = (): string => randomUUID();

interface User {
  email: string;
  given: string;
  surname: string;
  oid: string;
  groups: string[];
}

function user(i: number): User {
  return {
    email: `User.${i}@Bench.invalid`, given: `Given${i}`, surname: `Surname${i}`, oid: guid(),
    // Two group names the scope rules use, and GUID groups as Entra sends them.
    groups: ["staff", "editors", guid(), guid(), guid()],
  };
}

/** Ten attributes, as Entra ID names them (SAML 2.0: Name only; SAML 1.1: AttributeName + namespace). */
function attributes(u: User, lean: boolean): [string, string[]][] {
  const all: [string, string[]][] = [
    ["http://schemas.microsoft.com/identity/claims/tenantid", [BENCH.tenant]],
    ["http://schemas.microsoft.com/identity/claims/objectidentifier", [u.oid]],
    ["http://schemas.microsoft.com/identity/claims/displayname", [`${u.given} ${u.surname}`]],
    ["http://schemas.microsoft.com/identity/claims/identityprovider", [BENCH.idpEntityId]],
    ["http://schemas.microsoft.com/claims/authnmethodsreferences", ["http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password", "http://schemas.microsoft.com/claims/multipleauthn"]],
    ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", [u.given]],
    ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", [u.surname]],
    ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", [u.email]],
    ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", [u.email]],
    ["http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", u.groups],
  ];
  // Small tokens (--size below the natural size): the two attributes the mapping requires.
  return lean ? all.filter(([n]) => n.endsWith("/emailaddress") || n.endsWith("/groups")) : all;
}

/** An attribute the mapping ignores, grown to reach --size: more group GUIDs, as a large tenant sends. */
const PADDING_ATTRIBUTE = "http://schemas.xmlsoap.org/claims/Group";
const PADDING_VALUE_BYTES = "<AttributeValue>00000000-0000-0000-0000-000000000000</AttributeValue>".length;

export interface TokenOptions {
  scenario: Scenario;
  /** Target size of the token (the XML, or the JWT) in bytes; 0 = its natural size. */
  size: number;
  now: number;
  /** Seconds the token stays valid. */
  lifetime: number;
}

interface Shape {
  padValues: number;
  /** Two attributes and no KeyInfo: for sizes below the natural one. */
  lean: boolean;
}

function samlAssertion20(u: User, o: TokenOptions, { padValues, lean }: Shape): string {
  const id = `_${randomBytes(16).toString("hex")}`;
  const at = (s: number): string => iso(o.now + s * 1000);
  const attrs = attributes(u, lean);
  if (padValues > 0) attrs.push([PADDING_ATTRIBUTE, Array.from({ length: padValues }, guid)]);
  return `<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" IssueInstant="${at(0)}" Version="2.0">`
    + `<Issuer>${esc(BENCH.idpEntityId)}</Issuer>`
    + `<Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(u.email)}</NameID>`
    + `<SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><SubjectConfirmationData NotOnOrAfter="${at(o.lifetime)}" Recipient="${esc(BENCH.tokenEndpoint)}"/></SubjectConfirmation></Subject>`
    + `<Conditions NotBefore="${at(-60)}" NotOnOrAfter="${at(o.lifetime)}"><AudienceRestriction><Audience>${esc(BENCH.spEntityId)}</Audience></AudienceRestriction></Conditions>`
    + `<AttributeStatement>${attrs.map(([name, values]) => `<Attribute Name="${esc(name)}">${values.map((v) => `<AttributeValue>${esc(v)}</AttributeValue>`).join("")}</Attribute>`).join("")}</AttributeStatement>`
    + `<AuthnStatement AuthnInstant="${at(-30)}" SessionIndex="_${randomBytes(16).toString("hex")}"><AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</AuthnContextClassRef></AuthnContext></AuthnStatement>`
    + `</Assertion>`;
}

function samlAssertion11(u: User, o: TokenOptions, { padValues, lean }: Shape): string {
  const id = `_${randomBytes(16).toString("hex")}`;
  const at = (s: number): string => iso(o.now + s * 1000);
  const ns = "http://schemas.xmlsoap.org/claims";
  const subject = `<saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(u.email)}</saml:NameIdentifier>`
    + `<saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject>`;
  const attrs = attributes(u, lean);
  if (padValues > 0) attrs.push([PADDING_ATTRIBUTE, Array.from({ length: padValues }, guid)]);
  return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="${id}" Issuer="${esc(BENCH.idpEntityId)}" IssueInstant="${at(0)}">`
    + `<saml:Conditions NotBefore="${at(-60)}" NotOnOrAfter="${at(o.lifetime)}"><saml:AudienceRestrictionCondition><saml:Audience>${esc(BENCH.spEntityId)}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>`
    + `<saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="${at(-30)}">${subject}</saml:AuthenticationStatement>`
    + `<saml:AttributeStatement>${subject}${attrs.map(([name, values]) => `<saml:Attribute AttributeName="${esc(name)}" AttributeNamespace="${ns}">${values.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join("")}</saml:Attribute>`).join("")}</saml:AttributeStatement>`
    + `</saml:Assertion>`;
}

function xmlSign(xml: string, keyPem: string, certPem: string | undefined, version: "2.0" | "1.1"): string {
  const sig = new SignedXml({
    privateKey: keyPem,
    ...(certPem ? { publicCert: certPem } : {}),
    ...(version === "1.1" ? { idAttribute: "AssertionID" } : {}),
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
  });
  sig.addReference({
    xpath: "/*[local-name(.)='Assertion']",
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
    transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"],
  });
  sig.computeSignature(xml, {
    location: version === "1.1" ? { reference: "/*", action: "append" } : { reference: "/*/*[local-name(.)='Issuer']", action: "after" },
  });
  return sig.getSignedXml();
}

function response(signedAssertion: string, now: number): string {
  return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_${randomBytes(16).toString("hex")}" Version="2.0" IssueInstant="${iso(now)}" Destination="${esc(BENCH.tokenEndpoint)}">`
    + `<Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">${esc(BENCH.idpEntityId)}</Issuer>`
    + `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>`
    + signedAssertion
    + `</samlp:Response>`;
}

export interface Signer {
  idpKeyPem: string;
  idpCertPem: string;
  oidcKeyPem: string;
  oidcKid: string;
}

function oneXml(i: number, o: TokenOptions, s: Signer, shape: Shape): string {
  const u = user(i);
  const cert = shape.lean ? undefined : s.idpCertPem;
  if (o.scenario === "saml11") return xmlSign(samlAssertion11(u, o, shape), s.idpKeyPem, cert, "1.1");
  const signed = xmlSign(samlAssertion20(u, o, shape), s.idpKeyPem, cert, "2.0");
  return o.scenario === "response" ? response(signed, o.now) : signed;
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");

function idToken(i: number, o: TokenOptions, s: Signer, key: ReturnType<typeof createPrivateKey>): string {
  const u = user(i);
  const now = Math.floor(o.now / 1000);
  const header = b64url({ alg: "RS256", kid: s.oidcKid, typ: "JWT" });
  const payload = b64url({
    iss: BENCH.oidcIssuer, sub: u.oid, aud: BENCH.oidcAudience, iat: now, nbf: now, exp: now + o.lifetime, jti: randomUUID(),
    nonce: randomBytes(12).toString("base64url"), tid: BENCH.tenant, oid: u.oid, email: u.email, name: `${u.given} ${u.surname}`,
    given_name: u.given, family_name: u.surname, preferred_username: u.email, groups: u.groups, amr: ["pwd", "mfa"],
  });
  const input = `${header}.${payload}`;
  return `${input}.${cryptoSign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

/** Subject tokens i in [from, to): the XML (or the JWT), not yet encoded for the form. */
export function makeTokens(from: number, to: number, o: TokenOptions, s: Signer): string[] {
  if (o.scenario === "idtoken") {
    const key = createPrivateKey(s.oidcKeyPem);
    return Array.from({ length: to - from }, (_, k) => idToken(from + k, o, s, key));
  }
  // Padding: measure one unpadded token, then add the values that make up the difference.
  let shape: Shape = { padValues: 0, lean: false };
  if (o.size > 0) {
    const natural = Buffer.byteLength(oneXml(from, o, s, shape));
    if (o.size < natural) shape = { padValues: 0, lean: true };
    const base = Buffer.byteLength(oneXml(from, o, s, shape));
    shape.padValues = Math.max(0, Math.round((o.size - base) / (PADDING_VALUE_BYTES + (o.scenario === "saml11" ? 10 : 0))));
  }
  return Array.from({ length: to - from }, (_, k) => oneXml(from + k, o, s, shape));
}

export const TOKEN_TYPE: Record<Scenario, string> = {
  response: "urn:ietf:params:oauth:token-type:saml2",
  assertion: "urn:ietf:params:oauth:token-type:saml2",
  saml11: "urn:ietf:params:oauth:token-type:saml1",
  idtoken: "urn:ietf:params:oauth:token-type:id_token",
};

/** The POST /token form of one token (RFC 8693 §2.1; SAML tokens base64url, RFC 8693 §3). */
export function formBody(scenario: Scenario, token: string): string {
  const form = new URLSearchParams();
  form.append("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange");
  form.append("subject_token", scenario === "idtoken" ? token : Buffer.from(token, "utf8").toString("base64url"));
  form.append("subject_token_type", TOKEN_TYPE[scenario]);
  form.append("audience", scenario === "idtoken" ? BENCH.apiOidc : BENCH.apiSaml);
  form.append("scope", "read");
  return form.toString();
}
