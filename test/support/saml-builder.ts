// Builds UNSIGNED SAML 2.0 XML strings for tests. Sign them with ./independent-signers.ts.
// Deterministic for given inputs (pass `id` and `now`; otherwise a random ID / the current time is used).
// No whitespace between elements, so what a signer signs is exactly what a verifier sees.
import { randomBytes } from "node:crypto";
import {
  AC_PASSWORD_PROTECTED_TRANSPORT,
  BRIDGE_ENTITY_ID,
  CM_BEARER,
  IDP1,
  NAMEID_EMAIL,
  SAML2_ASSERTION_NS,
  SAML2_PROTOCOL_NS,
  STATUS_SUCCESS,
  TOKEN_ENDPOINT,
} from "./constants.js";

export interface Attr {
  name: string;
  friendlyName?: string;
  nameFormat?: string;
  values: string[];
}

export interface Assertion2Options {
  id?: string;
  issuer?: string;
  issueInstant?: Date;
  nameId?: string;
  nameIdFormat?: string;
  /** One AudienceRestriction with these Audience values (default [BRIDGE_ENTITY_ID]); [] = omit AudienceRestriction. */
  audiences?: string[];
  /** SubjectConfirmationData/@Recipient (default TOKEN_ENDPOINT; null = omit). */
  recipient?: string | null;
  /** Conditions/@NotBefore (default now-1m; null = omit). */
  notBefore?: Date | null;
  /** Conditions/@NotOnOrAfter (default now+5m; null = omit). */
  notOnOrAfter?: Date | null;
  /** SubjectConfirmationData/@NotOnOrAfter (default now+5m; null = omit). */
  scdNotOnOrAfter?: Date | null;
  /** SubjectConfirmation/@Method (default bearer). */
  method?: string;
  authnInstant?: Date;
  sessionNotOnOrAfter?: Date;
  authnContextClassRef?: string;
  omitAuthnStatement?: boolean;
  /** AttributeStatement (omitted when empty); default [{ name: "role", values: ["user"] }]. */
  attributes?: Attr[];
  /** Element prefix for the assertion namespace; "" = default namespace. Default "saml". */
  prefix?: "saml" | "saml2" | "";
  /** Base time for the defaults (default new Date()). */
  now?: Date;
}

export interface Response2Options {
  id?: string;
  /** Response Issuer (default: the first assertion's Issuer text, else IDP1; null = omit). */
  issuer?: string | null;
  /** Response/@Destination (default TOKEN_ENDPOINT; null = omit). */
  destination?: string | null;
  /** Top-level StatusCode (default Success). */
  statusCode?: string;
  inResponseTo?: string;
  issueInstant?: Date;
  now?: Date;
}

const XS_NS = "http://www.w3.org/2001/XMLSchema";
const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
const MINUTE = 60_000;

/** xs:dateTime in UTC with milliseconds and a Z, e.g. 2026-11-26T07:00:00.000Z. */
export function samlTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error("invalid Date");
  return d.toISOString();
}

export function randomSamlId(prefix: string): string {
  return prefix + randomBytes(16).toString("hex");
}

/** Escapes character data (text content). */
export function escText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#xD;");
}

/** Escapes an attribute value for a double-quoted attribute. */
export function escAttr(s: string): string {
  return escText(s).replace(/"/g, "&quot;").replace(/\t/g, "&#x9;").replace(/\n/g, "&#xA;");
}

function attrs(list: ReadonlyArray<readonly [string, string | null | undefined]>): string {
  let out = "";
  for (const [name, value] of list) if (value !== null && value !== undefined) out += ` ${name}="${escAttr(value)}"`;
  return out;
}

export function buildAssertion2(o: Assertion2Options = {}): string {
  const now = o.now ?? new Date();
  const rel = (ms: number): Date => new Date(now.getTime() + ms);
  const pick = <T>(v: T | null | undefined, dflt: T): T | null => (v === undefined ? dflt : v);

  const px = o.prefix ?? "saml";
  const t = (local: string): string => (px === "" ? local : `${px}:${local}`);
  const el = (local: string, attributes: string, content: string | null): string =>
    content === null ? `<${t(local)}${attributes}/>` : `<${t(local)}${attributes}>${content}</${t(local)}>`;

  const id = o.id ?? randomSamlId("_a");
  const issueInstant = o.issueInstant ?? now;
  const nsDecl = px === "" ? ` xmlns="${SAML2_ASSERTION_NS}"` : ` xmlns:${px}="${SAML2_ASSERTION_NS}"`;

  // Subject
  const scdAttrs = attrs([
    ["NotOnOrAfter", mapDate(pick(o.scdNotOnOrAfter, rel(5 * MINUTE)))],
    ["Recipient", pick(o.recipient, TOKEN_ENDPOINT)],
  ]);
  // A SubjectConfirmationData without attributes is left out altogether.
  const scd = scdAttrs === "" ? "" : el("SubjectConfirmationData", scdAttrs, null);
  const subject = el(
    "Subject",
    "",
    el("NameID", attrs([["Format", o.nameIdFormat ?? NAMEID_EMAIL]]), escText(o.nameId ?? "alice@example.com")) +
      el("SubjectConfirmation", attrs([["Method", o.method ?? CM_BEARER]]), scd === "" ? null : scd),
  );

  // Conditions (left out when it would be empty)
  const audiences = o.audiences ?? [BRIDGE_ENTITY_ID];
  const audienceRestriction =
    audiences.length === 0 ? "" : el("AudienceRestriction", "", audiences.map((a) => el("Audience", "", escText(a))).join(""));
  const condAttrs = attrs([
    ["NotBefore", mapDate(pick(o.notBefore, rel(-MINUTE)))],
    ["NotOnOrAfter", mapDate(pick(o.notOnOrAfter, rel(5 * MINUTE)))],
  ]);
  const conditions =
    condAttrs === "" && audienceRestriction === "" ? "" : el("Conditions", condAttrs, audienceRestriction === "" ? null : audienceRestriction);

  // AuthnStatement
  const authn = o.omitAuthnStatement
    ? ""
    : el(
        "AuthnStatement",
        attrs([
          ["AuthnInstant", samlTime(o.authnInstant ?? issueInstant)],
          ["SessionNotOnOrAfter", o.sessionNotOnOrAfter ? samlTime(o.sessionNotOnOrAfter) : null],
        ]),
        el("AuthnContext", "", el("AuthnContextClassRef", "", escText(o.authnContextClassRef ?? AC_PASSWORD_PROTECTED_TRANSPORT))),
      );

  // AttributeStatement
  const attributes = o.attributes ?? [{ name: "role", values: ["user"] }];
  const attrStatement =
    attributes.length === 0
      ? ""
      : el(
          "AttributeStatement",
          "",
          attributes
            .map((a) =>
              el(
                "Attribute",
                attrs([
                  ["Name", a.name],
                  ["NameFormat", a.nameFormat],
                  ["FriendlyName", a.friendlyName],
                ]),
                a.values.length === 0 ? null : a.values.map((v) => el("AttributeValue", ' xsi:type="xs:string"', escText(v))).join(""),
              ),
            )
            .join(""),
        );

  return (
    `<${t("Assertion")}${nsDecl} xmlns:xs="${XS_NS}" xmlns:xsi="${XSI_NS}"` +
    attrs([
      ["ID", id],
      ["Version", "2.0"],
      ["IssueInstant", samlTime(issueInstant)],
    ]) +
    ">" +
    el("Issuer", "", escText(o.issuer ?? IDP1)) +
    subject +
    conditions +
    authn +
    attrStatement +
    `</${t("Assertion")}>`
  );
}

/** Wraps one or more assertions (signed or not) verbatim in a samlp:Response. A leading XML declaration on an assertion is dropped. */
export function buildResponse2(assertionXml: string | string[], o: Response2Options = {}): string {
  const list = (Array.isArray(assertionXml) ? assertionXml : [assertionXml]).map(stripXmlDecl);
  const now = o.now ?? new Date();
  const issuer = o.issuer === undefined ? (firstIssuer(list[0] ?? "") ?? IDP1) : o.issuer;
  return (
    `<samlp:Response xmlns:samlp="${SAML2_PROTOCOL_NS}" xmlns:saml="${SAML2_ASSERTION_NS}"` +
    attrs([
      ["ID", o.id ?? randomSamlId("_r")],
      ["Version", "2.0"],
      ["IssueInstant", samlTime(o.issueInstant ?? now)],
      ["Destination", o.destination === undefined ? TOKEN_ENDPOINT : o.destination],
      ["InResponseTo", o.inResponseTo],
    ]) +
    ">" +
    (issuer === null ? "" : `<saml:Issuer>${escText(issuer)}</saml:Issuer>`) +
    `<samlp:Status><samlp:StatusCode Value="${escAttr(o.statusCode ?? STATUS_SUCCESS)}"/></samlp:Status>` +
    list.join("") +
    "</samlp:Response>"
  );
}

/** Removes a leading `<?xml ...?>` declaration (and surrounding whitespace/BOM) so the XML can be embedded. */
export function stripXmlDecl(xml: string): string {
  return xml.replace(/^\uFEFF?\s*<\?xml[^?]*\?>\s*/, "").trim();
}

function mapDate(d: Date | null): string | null {
  return d === null ? null : samlTime(d);
}

function firstIssuer(xml: string): string | null {
  const m = /<(?:[A-Za-z_][\w.-]*:)?Issuer(?:\s[^>]*)?>([^<]*)<\//.exec(xml);
  return m?.[1] === undefined ? null : unescapeText(m[1]);
}

function unescapeText(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_m, d: string) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&amp;/g, "&");
}
