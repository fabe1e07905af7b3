// Builds UNSIGNED SAML 1.1 XML strings for tests (OASIS SAML 1.1 Core; attack catalogue §0.1 B-S11).
// Sign them with signSaml11WithXmlsec1 / signSaml11WithSamlsign (./independent-signers.ts): the
// ds:Signature goes LAST in an Assertion and FIRST in a Response, as the SAML 1.1 schema says.
// Deterministic for given inputs (pass `id` and `now`). Compact by default; `pretty: true` indents
// the way some IdPs send it (whitespace between elements, inside the signed content).
import path from "node:path";
import { randomBytes } from "node:crypto";
import { BRIDGE_ENTITY_ID, KEYS_DIR, METADATA_DIR, TOKEN_ENDPOINT } from "./constants.js";
import { escAttr, escText, samlTime, stripXmlDecl } from "./saml-builder.js";
import type { KeyPair } from "./independent-signers.js";

// ---- TEST-ONLY identities and URIs --------------------------------------------------------------------
/** Shibboleth-style IdP speaking SAML 1.1 and 2.0 (metadata lists both protocols). */
export const IDP11 = "https://idp11.test/shibboleth";
export const METADATA_IDP11 = path.join(METADATA_DIR, "idp11-saml11.xml");
export const KEYS_IDP11: KeyPair = { key: path.join(KEYS_DIR, "idp11.key"), cert: path.join(KEYS_DIR, "idp11.crt") };

export const SAML1_ASSERTION_NS = "urn:oasis:names:tc:SAML:1.0:assertion";
export const SAML1_PROTOCOL_NS = "urn:oasis:names:tc:SAML:1.0:protocol";
export const SAML11_PROTOCOL = "urn:oasis:names:tc:SAML:1.1:protocol";
export const CM_BEARER_11 = "urn:oasis:names:tc:SAML:1.0:cm:bearer";
export const CM_HOLDER_OF_KEY_11 = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key";
export const CM_SENDER_VOUCHES_11 = "urn:oasis:names:tc:SAML:1.0:cm:sender-vouches";
export const CM_ARTIFACT_11 = "urn:oasis:names:tc:SAML:1.0:cm:artifact";
export const AM_PASSWORD_11 = "urn:oasis:names:tc:SAML:1.0:am:password";
export const NAMEID_EMAIL_11 = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/** Shibboleth 1.x attribute namespace. */
export const SHIB_ATTR_NS = "urn:mace:shibboleth:1.0:attributeNamespace:uri";
/** ADFS / WS-Federation claims namespace (catalogue E9's other namespace). */
export const CLAIMS_ATTR_NS = "http://schemas.xmlsoap.org/claims";

const XS_NS = "http://www.w3.org/2001/XMLSchema";
const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
const MINUTE = 60_000;

export interface Attr11 {
  name: string;
  /** AttributeNamespace (default SHIB_ATTR_NS; null = omit). */
  namespace?: string | null;
  values: string[];
}

export interface Subject11 {
  nameId?: string;
  /** NameIdentifier/@Format (default emailAddress; null = omit). */
  format?: string | null;
  /** NameIdentifier/@NameQualifier (default: none). */
  qualifier?: string;
  /** ConfirmationMethod values in one SubjectConfirmation (default [bearer]; [] = no SubjectConfirmation). */
  methods?: string[];
  /** Leave the NameIdentifier out (a Subject with only a SubjectConfirmation). */
  omitNameId?: boolean;
}

export interface Assertion11Options {
  id?: string;
  issuer?: string;
  issueInstant?: Date;
  majorVersion?: string | null;
  minorVersion?: string | null;
  /** Subject of every statement (default alice@example.com, emailAddress, bearer). */
  subject?: Subject11;
  /** Subject of the AttributeStatement only (default: `subject`). */
  attributeSubject?: Subject11;
  /** One AudienceRestrictionCondition with these Audience values (default [BRIDGE_ENTITY_ID]); [] = none. */
  audiences?: string[];
  /** Conditions/@NotBefore (default now-1m; null = omit). */
  notBefore?: Date | null;
  /** Conditions/@NotOnOrAfter (default now+5m; null = omit). */
  notOnOrAfter?: Date | null;
  /** Leave the Conditions element out altogether. */
  omitConditions?: boolean;
  /** Extra XML appended inside Conditions (e.g. a DoNotCacheCondition). */
  extraConditions?: string;
  authenticationMethod?: string;
  authenticationInstant?: Date;
  omitAuthenticationStatement?: boolean;
  /** AttributeStatement (omitted when empty); default [{ name: "role", values: ["user"] }] in SHIB_ATTR_NS. */
  attributes?: Attr11[];
  /** Element prefix for the assertion namespace; "" = default namespace. Default "saml". */
  prefix?: "saml" | "saml1" | "";
  /** xsi:type="xs:string" on AttributeValues (default true; many 1.1 IdPs send none). */
  xsiType?: boolean;
  /** Indent the output (whitespace between elements, as some IdPs send it). */
  pretty?: boolean;
  now?: Date;
}

export interface Response11Options {
  id?: string;
  /** Response/@Recipient (default TOKEN_ENDPOINT; null = omit). */
  recipient?: string | null;
  /** Top-level StatusCode/@Value, a QName (default "samlp:Success"). */
  statusCode?: string;
  inResponseTo?: string;
  majorVersion?: string | null;
  minorVersion?: string | null;
  issueInstant?: Date;
  pretty?: boolean;
  now?: Date;
}

export function randomSaml11Id(prefix: string): string {
  return prefix + randomBytes(16).toString("hex");
}

function attrs(list: ReadonlyArray<readonly [string, string | null | undefined]>): string {
  let out = "";
  for (const [name, value] of list) if (value !== null && value !== undefined) out += ` ${name}="${escAttr(value)}"`;
  return out;
}

export function buildAssertion11(o: Assertion11Options = {}): string {
  const now = o.now ?? new Date();
  const rel = (ms: number): Date => new Date(now.getTime() + ms);
  const pick = <T>(v: T | null | undefined, dflt: T): T | null => (v === undefined ? dflt : v);
  const px = o.prefix ?? "saml";
  const t = (local: string): string => (px === "" ? local : `${px}:${local}`);
  const el = (local: string, attributes: string, content: string | null): string =>
    content === null ? `<${t(local)}${attributes}/>` : `<${t(local)}${attributes}>${content}</${t(local)}>`;
  const date = (d: Date | null): string | null => (d === null ? null : samlTime(d));

  const id = o.id ?? randomSaml11Id("_a");
  const issueInstant = o.issueInstant ?? now;
  const nsDecl = px === "" ? ` xmlns="${SAML1_ASSERTION_NS}"` : ` xmlns:${px}="${SAML1_ASSERTION_NS}"`;

  const subjectXml = (s: Subject11 = {}): string => {
    const methods = s.methods ?? [CM_BEARER_11];
    const nameId = s.omitNameId
      ? ""
      : el("NameIdentifier", attrs([["Format", pick(s.format, NAMEID_EMAIL_11)], ["NameQualifier", s.qualifier]]), escText(s.nameId ?? "alice@example.com"));
    const confirmation =
      methods.length === 0 ? "" : el("SubjectConfirmation", "", methods.map((m) => el("ConfirmationMethod", "", escText(m))).join(""));
    return el("Subject", "", nameId + confirmation);
  };

  const audiences = o.audiences ?? [BRIDGE_ENTITY_ID];
  const restriction =
    audiences.length === 0 ? "" : el("AudienceRestrictionCondition", "", audiences.map((a) => el("Audience", "", escText(a))).join(""));
  const condContent = restriction + (o.extraConditions ?? "");
  const conditions = o.omitConditions
    ? ""
    : el(
        "Conditions",
        attrs([
          ["NotBefore", date(pick(o.notBefore, rel(-MINUTE)))],
          ["NotOnOrAfter", date(pick(o.notOnOrAfter, rel(5 * MINUTE)))],
        ]),
        condContent === "" ? null : condContent,
      );

  const authn = o.omitAuthenticationStatement
    ? ""
    : el(
        "AuthenticationStatement",
        attrs([
          ["AuthenticationMethod", o.authenticationMethod ?? AM_PASSWORD_11],
          ["AuthenticationInstant", samlTime(o.authenticationInstant ?? issueInstant)],
        ]),
        subjectXml(o.subject),
      );

  const attributes = o.attributes ?? [{ name: "role", values: ["user"] }];
  const typed = o.xsiType ?? true;
  const attrStatement =
    attributes.length === 0
      ? ""
      : el(
          "AttributeStatement",
          "",
          subjectXml(o.attributeSubject ?? o.subject) +
            attributes
              .map((a) =>
                el(
                  "Attribute",
                  attrs([["AttributeName", a.name], ["AttributeNamespace", pick(a.namespace, SHIB_ATTR_NS)]]),
                  a.values.map((v) => el("AttributeValue", typed ? ' xsi:type="xs:string"' : "", escText(v))).join(""),
                ),
              )
              .join(""),
        );

  const xml =
    `<${t("Assertion")}${nsDecl}${typed ? ` xmlns:xs="${XS_NS}" xmlns:xsi="${XSI_NS}"` : ""}` +
    attrs([
      ["MajorVersion", pick(o.majorVersion, "1")],
      ["MinorVersion", pick(o.minorVersion, "1")],
      ["AssertionID", id],
      ["Issuer", o.issuer ?? IDP11],
      ["IssueInstant", samlTime(issueInstant)],
    ]) +
    ">" +
    conditions +
    authn +
    attrStatement +
    `</${t("Assertion")}>`;
  return o.pretty ? prettyPrint(xml) : xml;
}

/** Wraps assertion(s) verbatim in a SAML 1.1 samlp:Response (Status first; no Signature). */
export function buildResponse11(assertionXml: string | string[], o: Response11Options = {}): string {
  const list = (Array.isArray(assertionXml) ? assertionXml : [assertionXml]).map(stripXmlDecl);
  const now = o.now ?? new Date();
  const pick = <T>(v: T | null | undefined, dflt: T): T | null => (v === undefined ? dflt : v);
  // The assertions are spliced in verbatim (pretty-printing never touches their signed bytes).
  const marker = `FEDBRIDGE-ASSERTIONS-${randomBytes(8).toString("hex")}`;
  const shell =
    `<samlp:Response xmlns:samlp="${SAML1_PROTOCOL_NS}"` +
    attrs([
      ["MajorVersion", pick(o.majorVersion, "1")],
      ["MinorVersion", pick(o.minorVersion, "1")],
      ["ResponseID", o.id ?? randomSaml11Id("_r")],
      ["IssueInstant", samlTime(o.issueInstant ?? now)],
      ["Recipient", pick(o.recipient, TOKEN_ENDPOINT)],
      ["InResponseTo", o.inResponseTo],
    ]) +
    ">" +
    `<samlp:Status><samlp:StatusCode Value="${escAttr(o.statusCode ?? "samlp:Success")}"/></samlp:Status>` +
    marker +
    "</samlp:Response>";
  if (!o.pretty) return shell.replace(marker, list.join(""));
  return prettyPrint(shell).replace(marker, list.map((a) => `\n  ${a}`).join("") + "\n");
}

/**
 * Indents compact XML (two spaces a level). Elements holding only text stay on one line, so no text
 * value changes: only whitespace between elements is added, as pretty-printing IdPs do.
 */
export function prettyPrint(xml: string): string {
  const tokens = xml.split(/(<[^>]+>)/).filter((s) => s !== "");
  let out = "";
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const pad = "\n" + "  ".repeat(depth);
    if (tok.startsWith("</")) {
      depth--;
      out += "\n" + "  ".repeat(depth) + tok;
    } else if (tok.startsWith("<?")) {
      out += tok;
    } else if (tok.startsWith("<")) {
      const textOnly = !tok.endsWith("/>") && !tokens[i + 1]?.startsWith("<") && tokens[i + 2]?.startsWith("</");
      if (textOnly) {
        out += pad + tok + tokens[i + 1] + tokens[i + 2];
        i += 2;
      } else {
        out += pad + tok;
        if (!tok.endsWith("/>")) depth++;
      }
    } else {
      out += tok;
    }
  }
  return out.replace(/^\n/, "");
}
