import { BlockList, isIP } from "node:net";
import { z } from "zod";
import { GRANT_SAML2_BEARER, GRANT_TOKEN_EXCHANGE, JWT_ALGORITHMS, RESERVED_CLAIMS, SCOPE_TOKEN, TOKEN_TYPES } from "../oauth/constants.js";
import { subjectNamespaceProblems } from "../policy/subject-namespace.js";
import { SCRYPT_LIMITS, scryptParamsOf, scryptParamsProblem } from "../clients/scrypt-params.js";
import { CLIENT_ASSERTION_ALGORITHMS } from "../clients/assertion-algorithms.js";
import { DPOP_ALGORITHMS, DPOP_DEFAULT_ALGORITHMS } from "../dpop/algorithms.js";
import { dnProblem } from "../clients/distinguished-name.js";
import { LOG_LEVELS } from "../log/logger.js";
import { GRANT_JWT_BEARER } from "../idjag/constants.js";
import { redisConnectionSchema } from "../redis/settings.js";

/**
 * The configuration schema: the single source of truth for what a config file may say. Strict
 * everywhere (an unknown key is a typo, and a typo is an error), cross-checked in `superRefine`,
 * and exported as JSON Schema by `npm run config-schema`. Every field carries a description; the
 * config reference (docs/configuration.md, `npm run docs`) is generated from these and a test
 * keeps the two in sync.
 */

const tokenType = z.enum([TOKEN_TYPES.saml2, TOKEN_TYPES.saml1, TOKEN_TYPES.idToken, TOKEN_TYPES.jwt, TOKEN_TYPES.accessToken]);
const actorTokenType = z.enum([TOKEN_TYPES.idToken, TOKEN_TYPES.jwt, TOKEN_TYPES.accessToken]);

/** Keys that would reach Object.prototype machinery if ever used as a property name. */

const httpsOrHttpUrl = z.url({ protocol: /^https?$/ });
const scopeToken = z.string().regex(SCOPE_TOKEN, "a scope token (RFC 6749 §3.3)");
/** Ids of SAML IdPs and JWT issuers (clients' `idps` name them; admin records use them too). */
export const SOURCE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const seconds = z.number().int().positive();
const userDirectory = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "a directory name");

const attributeSelector = z
  .strictObject({
    name: z.string().min(1).optional().describe("Attribute Name (SAML 2.0) or AttributeName (SAML 1.1); for a JWT issuer, the claim name. Give exactly one of name or friendlyName."),
    friendlyName: z.string().min(1).optional().describe("Attribute FriendlyName (SAML 2.0 only). Give exactly one of name or friendlyName."),
    nameFormat: z.string().min(1).optional().describe("Require this NameFormat (SAML 2.0) or AttributeNamespace (SAML 1.1) as well as the name."),
  })
  .refine((s) => (s.name === undefined) !== (s.friendlyName === undefined), {
    message: "give exactly one of name or friendlyName",
  });

const claimRule = z.strictObject({
  from: attributeSelector.describe("Which attribute supplies the claim."),
  multi: z.boolean().default(false).describe("Emit every value as an array (otherwise exactly one value is required)."),
  required: z.boolean().default(false).describe("Refuse the exchange (mapping_required_missing) when the attribute is absent."),
  default: z.union([z.string(), z.array(z.string())]).optional().describe("Value used when the attribute is absent."),
  transform: z.enum(["lowercase", "uppercase", "trim"]).optional().describe("Applied to every value."),
});

const scopeRule = z.strictObject({
  when: attributeSelector.optional().describe("Attribute to test; omit (with anyOf) to grant unconditionally. when and anyOf go together."),
  anyOf: z.array(z.string()).min(1).optional().describe("The rule applies when the attribute has any of these values; required with when, not allowed without it."),
  grant: z.array(scopeToken).min(1).describe("Scopes the subject may then receive."),
}).refine((r) => (r.when === undefined) === (r.anyOf === undefined), { message: "when and anyOf go together" });

const requireRule = z.strictObject({
  attribute: attributeSelector.describe("Attribute that must be present."),
  anyOf: z.array(z.string()).min(1).describe("It must carry at least one of these values."),
});

const mapping = z.strictObject({
  subject: z
    .union([
      z.strictObject({ nameId: z.literal(true).describe("Use the NameID / NameIdentifier.") }),
      z.strictObject({ attribute: attributeSelector.describe("Use this single-valued attribute.") }),
    ])
    .default({ nameId: true })
    .describe("Where `sub` comes from."),
  claims: z.record(
    z.string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/, "a claim name")
      // (`__proto__` and the like are refused before the schema runs: config/load.ts.)
      .refine((k) => !(RESERVED_CLAIMS as readonly string[]).includes(k), "reserved claim: only the bridge sets it"),
    claimRule,
  )
    .default({})
    .describe("Token claims from attributes, by claim name."),
  scopes: z.array(scopeRule).default([]).describe("Scopes the subject may have (the mapping's grant); nothing listed grants nothing."),
  require: z.array(requireRule).default([]).describe("Conditions that must all hold, or the exchange is refused (policy_condition_failed)."),
  mayAct: attributeSelector.optional().describe("Attribute naming the only party that may act for the subject (RFC 8693 §4.4 may_act: an actor's `sub`, or a client id)."),
  subjectPrefix: z.string().regex(/^[\x21-\x7E]{1,64}$/, "printable ASCII, no spaces").optional().describe("Prepended to `sub`: the source's subject namespace (RFC 7519 §4.1.2). Sources whose subjects can reach one audience need prefixes of which neither is a prefix of the other (or one userDirectory); otherwise start-up is refused."),
  userDirectory: userDirectory.optional().describe("Declares the user directory this source's identifiers come from (overrides the top-level userDirectory). Sources of one directory with the same subjectPrefix are one subject namespace and may serve one audience together."),
});

const samlIdp = z.strictObject({
  id: z.string().regex(SOURCE_ID).describe("Local name of the IdP (used by clients' `idps`)."),
  metadataFile: z.string().min(1).describe("Path of the IdP's SAML metadata (relative to the config file)."),
  entityId: z.string().min(1).optional().describe("The IdP's entityID; required when the metadata holds several IdPs, and checked when given."),
  allowSha1: z.boolean().default(false).describe("Accept RSA-SHA1 signatures and SHA-1 digests from this IdP (legacy only)."),
  requireSignedAssertion: z.boolean().default(true).describe("Require the Assertion itself to be signed (RFC 7522 §3); false also accepts a signed Response around an unsigned assertion."),
  recipients: z.array(httpsOrHttpUrl).min(1).optional().describe("Accepted SubjectConfirmationData Recipient / Response Destination values (RFC 7522 §3); default: the token endpoint."),
  maxAssertionAgeSeconds: seconds.default(300).describe("Refuse assertions whose IssueInstant is older than this."),
  allowTripleDesCbc: z.boolean().default(false).describe("Decrypt EncryptedAssertions from this IdP whose content is tripledes-cbc (XML Encryption 1.1 §5.2.1; pysaml2 sends nothing else). Still CBC: only under a Response signed by this IdP, unless saml.allowUnsignedCbc. Otherwise refused: encryption_algorithm_not_allowed."),
  mapping: mapping.default({ subject: { nameId: true }, claims: {}, scopes: [], require: [] }).describe("How attributes become claims and scopes."),
});

/**
 * A federation source (src/federation, docs/federation.md): a signed md:EntitiesDescriptor
 * aggregate (file or URL) or an MDQ responder, whose selected IdP entities are trusted with one
 * mapping and policy (the fields of a samlIdps entry), per-entity overrides aside.
 */
const entityAttributeRule = z.strictObject({
  name: z.string().min(1).describe("The entity attribute's Name (mdattr:EntityAttributes / saml:Attribute), e.g. http://macedir.org/entity-category."),
  nameFormat: z.string().min(1).optional().describe("Require this NameFormat as well."),
  anyOf: z.array(z.string().min(1)).min(1).describe("The entity must carry at least one of these values, e.g. http://refeds.org/category/research-and-scholarship."),
});
const federationSelect = z.strictObject({
  all: z.boolean().default(false).describe("Trust every IdP entity of the source (the other criteria still apply). Without it, at least one criterion is required."),
  entityIds: z.array(z.string().min(1)).optional().describe("Only these entityIDs (exact). With entityIdPatterns: either matches."),
  entityIdPatterns: z.array(z.string().min(1).max(1024)).optional().describe("Only entityIDs matching one of these patterns, where `*` matches any run of characters and everything else is literal (e.g. https://*.example.edu/*)."),
  registrationAuthorities: z.array(z.string().min(1)).optional().describe("Only entities registered by one of these (mdrpi:RegistrationInfo registrationAuthority, on the entity or inherited from an enclosing EntitiesDescriptor)."),
  entityAttributes: z.array(entityAttributeRule).optional().describe("Every rule must hold (mdattr:EntityAttributes on the entity or an enclosing EntitiesDescriptor), e.g. R&S or SIRTFI (urn:oasis:names:tc:SAML:attribute:assurance-certification = https://refeds.org/sirtfi)."),
}).refine((s) => s.all || s.entityIds !== undefined || s.entityIdPatterns !== undefined || s.registrationAuthorities !== undefined || s.entityAttributes !== undefined, {
  message: "give at least one criterion, or all: true",
}).describe("Which of the source's IdP entities are trusted; only entities with an IDPSSODescriptor and a signing key count.");
const federationEntityOverride = samlIdp.pick({ allowSha1: true, requireSignedAssertion: true, recipients: true, maxAssertionAgeSeconds: true, allowTripleDesCbc: true }).partial().extend({
  entityId: z.string().min(1).describe("The entity this override applies to (it must also be selected)."),
  mapping: mapping.optional().describe("Replaces the source's mapping for this entity; subjectPrefix and userDirectory stay the source's (the subject namespace is decided per source)."),
}).refine((o) => o.mapping?.subjectPrefix === undefined && o.mapping?.userDirectory === undefined, {
  message: "subjectPrefix and userDirectory are set on the source's mapping only",
});
const loopbackNote = "Plain http is accepted only for a loopback host and only with allowLoopbackHttp (tests).";
const samlFederation = samlIdp.omit({ metadataFile: true, entityId: true }).extend({
  id: z.string().regex(SOURCE_ID).describe("Local name of the source (used by clients' `idps`, and as the `source` of every entity it trusts)."),
  source: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("file"), path: z.string().min(1).describe("Path of the aggregate (relative to the config file); re-read on every refresh.") }),
    z.strictObject({ kind: z.literal("url"), url: httpsOrHttpUrl.describe(`URL of the aggregate (https). ${loopbackNote}`) }),
    z.strictObject({
      kind: z.literal("mdq"),
      baseUrl: httpsOrHttpUrl.describe(`MDQ base URL (draft-young-md-query): entities are fetched from {baseUrl}/entities/{id}. ${loopbackNote}`),
      identifier: z.enum(["entityId", "sha1"]).default("entityId").describe("How {id} names the entity: the URL-encoded entityID, or {sha1}hex of it."),
      negativeCacheSeconds: seconds.max(86_400).default(300).describe("How long a 404 (no such entity) is remembered."),
      failureCooldownSeconds: z.number().int().min(0).max(3_600).default(30).describe("After a failed fetch of an entity (timeout, refused connection, non-404 error status, an answer that does not verify), it is not asked for again for this long: meanwhile its cached copy (if still within validUntil) is used, else idp_metadata_unavailable (503). 0: no cooldown."),
      maxCacheEntries: z.number().int().min(16).max(1_000_000).default(10_000).describe("Most trusted entities kept, and separately most remembered 404s, unselected entities and failures; the least recently used is dropped first."),
      maxConcurrentFetches: z.number().int().min(1).max(256).default(16).describe("Most MDQ requests in flight; past it an unknown issuer is answered idp_metadata_unavailable (503)."),
    }),
  ]).describe("Where the metadata comes from: an aggregate (file or URL) or an MDQ responder."),
  allowLoopbackHttp: z.boolean().default(false).describe("Accept http:// for a loopback host (127.0.0.0/8, ::1, localhost): tests only."),
  signingCertFiles: z.array(z.string().min(1)).min(1).describe("Pinned metadata-signing certificates (PEM): the aggregate or every MDQ response must carry an enveloped signature by one of them on its root."),
  requireValidUntil: z.boolean().default(true).describe("Refuse a document whose root has no validUntil (without it, an old signed copy could be replayed forever)."),
  maxBytes: z.number().int().min(4096).max(512 * 1024 * 1024).default(64 * 1024 * 1024).describe("Largest document accepted (the aggregate, or one MDQ response)."),
  maxEntities: z.number().int().min(1).max(200_000).default(20_000).describe("Most EntityDescriptors in the aggregate (all roles counted); the XML element bound is this times maxElementsPerEntity."),
  maxElementsPerEntity: z.number().int().min(16).max(10_000).default(400).describe("Average elements per entity allowed by the parser bound."),
  maxElementNames: z.number().int().min(32).max(1024).default(256).describe("Most distinct element names (QNames) in the document (the parser's work grows with names × size)."),
  fetchTimeoutMs: z.number().int().min(100).max(300_000).default(30_000).describe("Time bound of one fetch (aggregate or MDQ request)."),
  minRefreshSeconds: seconds.min(1).default(300).describe("Shortest time between two loads of the aggregate (also the retry delay after a failure), and the shortest an MDQ entity is cached."),
  maxRefreshSeconds: seconds.min(1).default(21_600).describe("Longest time between two loads of the aggregate (cacheDuration and validUntil can make it shorter), and the longest an MDQ entity is cached."),
  select: federationSelect,
  subjectNamespace: z.enum(["entityId", "source"]).default("entityId").describe("entityId (default): each entity's subjects get their own namespace, mapping.subjectPrefix + the entityID (with % and ! percent-encoded) + \"!\". source: every entity shares mapping.subjectPrefix, allowed only with a declared userDirectory (the entities assert identifiers of one directory)."),
  entities: z.array(federationEntityOverride).default([]).describe("Per-entity overrides of the policy fields and mapping."),
});
export type SamlFederationConfig = z.infer<typeof samlFederation>;

/** The IdP fields an admin sends (PUT /admin/idps/{id}): a config entry without id/metadataFile. */
export const adminIdpInput = samlIdp
  .omit({ id: true, metadataFile: true })
  .extend({
    metadata: z.string().min(1).optional().describe("The IdP's SAML metadata XML."),
    metadataUrl: httpsOrHttpUrl.optional().describe("URL the metadata is fetched (and refreshed) from."),
    force: z.boolean().default(false).describe("Accept metadata that shares no signing key with the current one."),
  })
  .refine((r) => (r.metadata === undefined) !== (r.metadataUrl === undefined), {
    message: "give exactly one of metadata or metadataUrl",
  });
export type AdminIdpInput = z.infer<typeof adminIdpInput>;

const admin = z.strictObject({
  tokens: z.array(z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/).describe("Admin name, written to the audit log."),
    tokenHash: z.string().regex(/^sha256:[A-Za-z0-9_-]{43}$/, "sha256:<b64url> (npm run hash-secret)").describe("SHA-256 hash of the admin's bearer token."),
  })).min(1).describe("Admin credentials (bearer tokens, stored hashed)."),
  store: z.discriminatedUnion("kind", [
    z.strictObject({
      kind: z.literal("file"),
      directory: z.string().min(1).describe("Folder for admin-managed IdP records (relative to the config file)."),
    }),
    z.strictObject({
      kind: z.literal("redis"),
      redisUrl: z.string().regex(/^rediss?:\/\//).optional().describe("Redis URL (one server); same as `redis: { url }`. Give this or `redis`."),
      redis: redisConnectionSchema.optional().describe("How to reach Redis: `{ url }`, `{ sentinel: {...} }` or `{ cluster: {...} }` (see the operations docs). Give this or `redisUrl`."),
      keyPrefix: z.string().default("fedbridge:idps:").describe("Prefix of the record keys and change channel."),
    }),
  ]).describe("Where admin-managed IdP records live: file (one instance) or redis (shared by every instance)."),
  maxMetadataBytes: z.number().int().min(1024).max(10 * 1024 * 1024).default(1_048_576).describe("Largest metadata document accepted."),
  metadataSigningCertFiles: z.array(z.string().min(1)).default([]).describe("Pinned certificates: when set, uploaded and fetched metadata must be signed by one of them."),
  certExpiryWarningDays: z.number().int().min(1).max(365).default(30).describe("Signing certificates expiring within this many days are flagged."),
  refreshIntervalSeconds: seconds.min(60).default(3600).describe("Longest time between two fetches of URL metadata (cacheDuration and validUntil can make it shorter)."),
  minRefreshSeconds: seconds.min(5).default(60).describe("Shortest time between two fetches of URL metadata."),
  fetchTimeoutMs: z.number().int().min(100).max(60_000).default(5_000).describe("Timeout of one metadata fetch."),
  storeTimeoutMs: z.number().int().min(500).max(30_000).default(2_000).describe("Bound of one record-store call: past it the admin gets 503 and the write can no longer be applied."),
  auditMaxEntries: z.number().int().min(100).max(1_000_000).default(10_000).describe("Audit entries kept in the record store for GET /admin/audit (the oldest are dropped first; the log line is kept regardless)."),
}).describe("Run-time IdP management (/admin): admin credentials and the record store.");

const jwtIssuer = z
  .strictObject({
    id: z.string().regex(SOURCE_ID).describe("Local name of the issuer (used by clients' `idps`)."),
    issuer: httpsOrHttpUrl.describe("Exact `iss` value of its tokens."),
    jwksFile: z.string().min(1).optional().describe("Static JWKS file (relative to the config file). Give exactly one of jwksFile, jwksUri or discoveryUrl."),
    jwksUri: httpsOrHttpUrl.optional().describe("JWKS URL, fetched at run time and cached. Give exactly one of jwksFile, jwksUri or discoveryUrl."),
    discoveryUrl: httpsOrHttpUrl.optional().describe("OIDC discovery document URL; its jwks_uri is used (and its issuer must match). Give exactly one of jwksFile, jwksUri or discoveryUrl."),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(["RS256", "ES256"]).describe("Accepted JWS algorithms (asymmetric only)."),
    audiences: z.array(z.string().min(1)).min(1).describe("Accepted `aud` values (the bridge's client id at that issuer)."),
    tokenTypes: z.array(z.enum([TOKEN_TYPES.idToken, TOKEN_TYPES.jwt])).default([TOKEN_TYPES.idToken, TOKEN_TYPES.jwt]).describe("subject_token_type values its tokens may arrive as."),
    maxTokenAgeSeconds: seconds.default(3600).describe("Refuse tokens whose `iat` is older than this."),
    maxLifetimeSeconds: seconds.default(86_400).describe("Refuse tokens whose `exp` is further than this from `iat`."),
    oneTimeUse: z.boolean().default(false).describe("Accept each token once (by `jti`, which is then required) through the replay store."),
    jwksCacheSeconds: seconds.default(600).describe("How long fetched keys are cached."),
    jwksCooldownSeconds: seconds.default(30).describe("Least time between two fetches (an unknown `kid` cannot make the bridge hammer the issuer)."),
    mapping: mapping.default({ subject: { nameId: true }, claims: {}, scopes: [], require: [] }).describe("Claims → token claims and scopes (`name` is the claim name; `nameId` is `sub`)."),
    actorBinding: z.enum(["azp", "sub", "none"]).default("azp").describe("How its tokens bind to the presenting client as actor_token: azp (default) = the token must name its party in azp/client_id and the client must list it in issuerParties (missing: actor_client_missing; another: actor_client_mismatch); sub = the party is azp/client_id when present, else `sub` (workload tokens that name no client); none = any holder may present it (explicit permissive opt-in)."),
    bindSubjectTokens: z.boolean().default(false).describe("Apply the same binding to subject tokens: one that names a party in azp/client_id must name one the presenting client lists in issuerParties (subject_client_mismatch)."),
    idJag: z.strictObject({
      maxLifetimeSeconds: seconds.max(3600).default(600).describe("Refuse ID-JAGs whose `exp` is further than this from `iat` (token_lifetime_too_long): the grant is meant to be short-lived."),
    }).optional().describe("Accept this issuer's Identity Assertion JWT Authorization Grants (Cross-App Access, typ oauth-id-jag+jwt) at POST /token with grant_type jwt-bearer (RFC 7523). Their `aud` must be this bridge's `issuer` (not `audiences`), `client_id` the authenticated client, each `jti` is accepted once. Omit to refuse them."),
  })
  .refine((i) => [i.jwksFile, i.jwksUri, i.discoveryUrl].filter((x) => x !== undefined).length === 1, {
    message: "give exactly one of jwksFile, jwksUri or discoveryUrl",
  });

/**
 * A client's `jwks_uri` (RFC 7591 §2): https, or http to a loopback address only (a local key
 * server, tests); never with credentials in it. Fetched at run time (clients/jwks-uri.ts).
 */
const clientJwksUri = z.url({ protocol: /^https?$/ }).refine((u) => {
  const url = new URL(u);
  if (url.username !== "" || url.password !== "" || url.hash !== "") return false;
  if (url.protocol === "https:") return true;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}, "https (http only to a loopback address), without credentials or fragment");

/** Where a client's public keys come from: inline, a file, or its jwks_uri (clients/jwks-uri.ts). */
const clientJwksFields = (what: string) => ({
  // `what`: a lower-case noun phrase ("the client's public keys …").
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(100).describe("The JWKs (RFC 7517 §4), 1 to 100; give each a `kid` when there are several.") }).optional().describe(`${what[0]!.toUpperCase()}${what.slice(1)} inline, as a JWK Set (RFC 7517 §5). Give exactly one of jwks, jwksFile or jwksUri.`),
  jwksFile: z.string().min(1).optional().describe(`Path of a JWK Set file with ${what} (read at start-up; relative to the config file). Give exactly one of jwks, jwksFile or jwksUri.`),
  jwksUri: clientJwksUri.optional().describe(`The client's jwks_uri (RFC 7591 §2) with ${what}: https (http only to a loopback address), fetched when first needed with a timeout, a 64 KiB bound and no redirects, cached for jwksCacheSeconds, refetched early when no key matches (at most once per jwksCooldownSeconds); a failed fetch keeps the last good set for at most jwksMaxStaleSeconds after it was fetched; never fetched yet (or the last good set older than that) and unreachable: 503 client_keys_unavailable. Give exactly one of jwks, jwksFile or jwksUri.`),
  jwksCacheSeconds: z.number().int().min(10).max(86_400).default(300).describe("jwksUri only: how long a fetched key set is used before the next use refetches it."),
  jwksCooldownSeconds: z.number().int().min(1).max(3600).default(30).describe("jwksUri only: least time between two fetches (an unknown kid or certificate refetches at most this often)."),
  jwksMaxStaleSeconds: z.number().int().min(60).max(2_592_000).default(86_400).describe("jwksUri only: while fetches fail, the last good key set is still used for at most this long after it was fetched (at least jwksCacheSeconds); then the client's authentications fail with 503 client_keys_unavailable until a fetch succeeds, so a key the client removed cannot stay accepted indefinitely while its server is down."),
});
const oneJwksSource = (p: { jwks?: unknown; jwksFile?: unknown; jwksUri?: unknown }): boolean =>
  [p.jwks, p.jwksFile, p.jwksUri].filter((x) => x !== undefined).length === 1;
const staleAfterCache = (p: { jwksCacheSeconds: number; jwksMaxStaleSeconds: number }): boolean => p.jwksMaxStaleSeconds >= p.jwksCacheSeconds;
const STALE_AFTER_CACHE = { message: "jwksMaxStaleSeconds must be at least jwksCacheSeconds", path: ["jwksMaxStaleSeconds"] };

/** `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9): the client's public keys. */
const privateKeyJwt = z.strictObject({
  ...clientJwksFields("the client's public keys (public asymmetric signature keys only: RSA ≥ 2048 bits, EC, Ed25519)"),
  algorithms: z.array(z.enum(CLIENT_ASSERTION_ALGORITHMS)).min(1).default(["RS256", "PS256", "ES256"]).describe("Signature algorithms this client's assertions may use (asymmetric only: none and HMAC are never accepted). Any other alg: client_auth_failed."),
  maxLifetimeSeconds: z.number().int().min(10).max(3600).default(300).describe("Refuse assertions whose exp is further than this from iat or from now (client_assertion_lifetime_too_long): assertions are meant to be minted per request."),
}).refine(oneJwksSource, { message: "give exactly one of jwks, jwksFile or jwksUri" }).refine(staleAfterCache, STALE_AFTER_CACHE);

/**
 * RFC 8705 §2.1 `tls_client_auth` (PKI): the client certificate must chain to server.tls.clientCaFile
 * and carry the one expected value (§2.1.2: exactly one of the five metadata parameters).
 */
const TLS_CLIENT_AUTH_KEYS = ["subjectDn", "sanDns", "sanUri", "sanIp", "sanEmail"] as const;
const tlsClientAuth = z.strictObject({
  subjectDn: z.string().min(1).max(1024).superRefine((v, ctx) => {
    const problem = dnProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }).optional().describe("tls_client_auth_subject_dn: the certificate's subject DN as an RFC 4514 string (most specific first, e.g. `CN=client-a,O=Example,C=SE`); compared RDN by RDN, attribute types case-insensitively (UID is userId; uniqueIdentifier only by its OID 0.9.2342.19200300.100.1.44), values exactly; the characters RFC 4514 §3 reserves (`,` `+` `\"` `\\` `;` `<` `>`) must be escaped with a backslash."),
  sanDns: z.string().regex(/^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*$/, "a DNS name (no wildcard)").optional().describe("tls_client_auth_san_dns: a dNSName SAN entry the certificate must carry (case-insensitive; a wildcard entry in the certificate does not match)."),
  sanUri: z.url().max(2048).optional().describe("tls_client_auth_san_uri: a uniformResourceIdentifier SAN entry the certificate must carry (compared exactly)."),
  sanIp: z.string().refine((v) => isIP(v) !== 0, "an IPv4 or IPv6 address").optional().describe("tls_client_auth_san_ip: an iPAddress SAN entry the certificate must carry (IPv4 or IPv6, compared as addresses)."),
  sanEmail: z.string().regex(/^[^@\s"]{1,64}@[^@\s"]{1,253}$/, "an email address").optional().describe("tls_client_auth_san_email: an rfc822Name SAN entry the certificate must carry."),
}).refine((t) => TLS_CLIENT_AUTH_KEYS.filter((k) => t[k] !== undefined).length === 1, {
  message: `give exactly one of ${TLS_CLIENT_AUTH_KEYS.join(", ")}`,
});

/** RFC 8705 §2.2 `self_signed_tls_client_auth`: the certificates (or keys) the client registered. */
const selfSignedTlsClientAuth = z.strictObject({
  ...clientJwksFields("the client's certificates (a JWK's x5c[0], matched exactly) or public keys (a JWK without x5c, matched by key)"),
}).refine(oneJwksSource, { message: "give exactly one of jwks, jwksFile or jwksUri" }).refine(staleAfterCache, STALE_AFTER_CACHE);

const client = z.strictObject({
  id: z.string().regex(/^[\x21-\x7E]{1,128}$/, "printable ASCII without spaces").describe("client_id."),
  privateKeyJwt: privateKeyJwt.optional().describe("Authenticate this client with private_key_jwt (a JWT signed with its private key, RFC 7523 §2.2) instead of a secret: its jti is accepted once, its aud must be the bridge's issuer or token endpoint. Give exactly one of secretHash, privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth."),
  tlsClientAuth: tlsClientAuth.optional().describe("Authenticate this client with tls_client_auth (RFC 8705 §2.1): a client certificate presented in the TLS handshake with the bridge (server.tls, whose clientCaFile it must chain to, unexpired) that carries the expected subject DN or SAN; the request names the client in client_id. Give exactly one of secretHash, privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth."),
  selfSignedTlsClientAuth: selfSignedTlsClientAuth.optional().describe("Authenticate this client with self_signed_tls_client_auth (RFC 8705 §2.2): the certificate presented in the TLS handshake with the bridge (server.tls) must be one registered here (no CA and no validity-period check: the registration is the trust); the request names the client in client_id. Give exactly one of secretHash, privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth."),
  certificateBoundTokens: z.boolean().default(false).describe("Bind this client's access tokens to its TLS client certificate (RFC 8705 §3): they carry cnf.x5t#S256, and a resource server must check it. Only for a tlsClientAuth or selfSignedTlsClientAuth client. A bound token presented back to the bridge as subject_token or actor_token needs the same certificate on that request (token_certificate_mismatch otherwise)."),
  secretHash: z
    .string()
    .regex(/^(sha256:[A-Za-z0-9_-]{43}|scrypt:\d+:\d+:\d+:[A-Za-z0-9_-]{22,}:[A-Za-z0-9_-]{43,})$/, "sha256:<b64url> or scrypt:N:r:p:<salt>:<hash> (npm run hash-secret)")
    .superRefine((h, ctx) => {
      const params = scryptParamsOf(h);
      const problem = params && scryptParamsProblem(params);
      if (problem) ctx.addIssue({ code: "custom", message: `scrypt parameters out of bounds: ${problem}` });
    })
    .optional()
    .describe(`Hash of the client secret (client_secret_basic / client_secret_post), made by \`npm run hash-secret\`; omit it for a privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth client. scrypt: N a power of two ${SCRYPT_LIMITS.minN}–${SCRYPT_LIMITS.maxN}, r ≤ ${SCRYPT_LIMITS.maxR}, p ≤ ${SCRYPT_LIMITS.maxP}, 128·N·r ≤ ${SCRYPT_LIMITS.maxMemoryBytes / 1024 / 1024} MiB, N·r·p ≤ ${SCRYPT_LIMITS.maxWork}; every scrypt client uses the same N, r, p.`),
  grantTypes: z.array(z.enum([GRANT_TOKEN_EXCHANGE, GRANT_SAML2_BEARER, GRANT_JWT_BEARER])).default([GRANT_TOKEN_EXCHANGE]).describe("Grants this client may use; an empty list authenticates but grants nothing. jwt-bearer: present an ID-JAG from a jwtIssuers entry with idJag (Cross-App Access)."),
  audiences: z.array(z.string().min(1)).min(1).describe("Audience ids (from `audiences`) this client may request."),
  defaultAudience: z.string().min(1).optional().describe("Audience used when the request names none."),
  scopes: z.array(scopeToken).default([]).describe("Largest scope this client may receive."),
  subjectTokenTypes: z.array(tokenType).default([TOKEN_TYPES.saml2]).describe("subject_token_type values this client may present (access_token: the bridge's own tokens, for the next hop of a chain)."),
  actorTokenTypes: z.array(actorTokenType).default([]).describe("actor_token_type values this client may present (RFC 8693 §2.1)."),
  idps: z.array(z.string()).default([]).describe("Ids of the SAML IdPs and JWT issuers whose tokens this client may exchange."),
  issuerParties: z.record(
    z.string().regex(SOURCE_ID),
    z.array(z.string().min(1).max(1024)).min(1).max(100),
  ).default({}).describe("By JWT issuer id: this client's identifiers at that issuer (the azp / client_id its tokens name; for an issuer with actorBinding sub, the workload subjects). Only tokens naming one of them may be presented by this client as actor_token (and as subject_token when the issuer sets bindSubjectTokens)."),
  mode: z.enum(["delegation", "impersonation"]).default("delegation").describe("delegation: the token carries act naming the acting party (RFC 8693 §4.1); impersonation: no act."),
  impersonateChains: z.boolean().default(false).describe("Let an impersonation client drop an existing delegation chain (off: such subject tokens are refused)."),
  introspect: z.boolean().default(false).describe("May call POST /introspect (RFC 7662): for resource servers."),
  dpop: z.enum(["allowed", "required"]).optional().describe("DPoP (RFC 9449) at POST /token: allowed (the default: a request with a DPoP proof gets a DPoP-bound token, one without a Bearer token) or required (a request without a proof is refused, dpop_proof_missing; RFC 9449 §5.2 dpop_bound_access_tokens)."),
  rateLimit: z.strictObject({
    max: z.number().int().min(1).max(1_000_000).describe("Most token requests of this client in one window."),
    windowSeconds: z.number().int().min(1).max(86_400).describe("Length of the window in seconds."),
  }).optional().describe("This client's own token-request limit, instead of rateLimits.perClient (applies even when perClient is off): for a client whose volume differs from the rest, e.g. a gateway."),
});

const audience = z.strictObject({
  id: z.string().min(1).describe("The audience value: what `audience`/`resource` carry and what `aud` says."),
  scopes: z.array(scopeToken).default([]).describe("Scopes this resource server understands."),
  defaultScopes: z.array(scopeToken).default([]).describe("Granted when the request has no `scope` (still intersected with everything else)."),
  tokenTtlSeconds: seconds.optional().describe("Shorter lifetime for tokens for this audience."),
  mayAct: z.string().min(1).optional().describe("Client id that alone may re-exchange tokens issued for this audience: they carry may_act {sub, iss} (RFC 8693 §4.4)."),
  requireDpop: z.boolean().optional().describe("Issue only DPoP-bound tokens (RFC 9449) for this audience: a token request naming it without a DPoP proof is refused (dpop_proof_missing), whatever the client's dpop setting. Default false."),
});

/** Cross-App Access, IdP side: a resource authorization server the bridge issues ID-JAGs for. */
const resourceAuthorizationServer = z.strictObject({
  id: z.string().regex(SOURCE_ID).describe("Local name (logs, explain)."),
  issuer: httpsOrHttpUrl.describe("Its RFC 8414 issuer identifier: the `audience` a client requests and the `aud` of the ID-JAG (compared exactly)."),
  grantTtlSeconds: seconds.max(3600).default(300).describe("Lifetime of the ID-JAGs issued for it (never past the subject token's own expiry)."),
  subjectClaim: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/).optional().describe("Mapped claim whose single value becomes the ID-JAG `sub`, when this server knows the user by another identifier than the mapped `sub` (draft §3.1: the identifier it receives in SSO). Missing or multi-valued: id_jag_subject_claim_missing."),
  clients: z.array(z.strictObject({
    client: z.string().min(1).describe("Id of a bridge client (`clients[].id`) that may request ID-JAGs for this server."),
    clientId: z.string().min(1).max(1024).describe("The client_id that client is known by at this server: the ID-JAG `client_id` (draft §3.1, §5)."),
    resources: z.array(httpsOrHttpUrl).default([]).describe("Resource identifiers (RFC 8707) it may request; omitted `resource` grants all of them; none listed: the request may not name one."),
    scopes: z.array(scopeToken).default([]).describe("Scopes it may request at this server (also bounded by the subject's mapping grant)."),
    defaultScopes: z.array(scopeToken).default([]).describe("Granted when the request has no `scope` (intersected the same way; empty: scope_empty)."),
  })).min(1).describe("Which bridge clients may request ID-JAGs for this server, and with what."),
});

const signingKey = z
  .strictObject({
    kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).describe("Key id, published in the JWKS and set in every token header."),
    alg: z.enum(["RS256", "PS256", "ES256", "ES384", "EdDSA"]).describe("JWS algorithm."),
    privateKeyFile: z.string().min(1).optional().describe("PKCS#8 PEM private key (the first key with one signs). Give exactly one of privateKeyFile or publicKeyFile."),
    publicKeyFile: z.string().min(1).optional().describe("PEM public key of a retired key, still published for verification. Give exactly one of privateKeyFile or publicKeyFile."),
  })
  .refine((k) => (k.privateKeyFile === undefined) !== (k.publicKeyFile === undefined), {
    message: "give exactly one of privateKeyFile or publicKeyFile",
  });

/**
 * One rate limit (src/limits): at most `max` counts per key in a fixed window of `windowSeconds`
 * starting with the key's first count. Off unless enabled; the defaults are the suggested values.
 */
const rateLimit = (max: number, windowSeconds: number, what: string, effect: string) => z.strictObject({
  enabled: z.boolean().default(false).describe("Turn this limit on (off by default)."),
  max: z.number().int().min(1).max(1_000_000).default(max).describe(`Most ${what} in one window.`),
  windowSeconds: z.number().int().min(1).max(86_400).default(windowSeconds).describe("Length of the window in seconds (a fixed window, from the key's first count)."),
}).default({ enabled: false, max, windowSeconds }).describe(effect);
const RATE_LIMITS_DEFAULT = {
  store: "memory" as const, keyPrefix: "fedbridge:rl", timeoutMs: 250,
  perClient: { enabled: false, max: 600, windowSeconds: 60 },
  perSource: { enabled: false, max: 6_000, windowSeconds: 60 },
  perSubject: { enabled: false, max: 60, windowSeconds: 60 },
  failedAuthPerClientId: { enabled: false, max: 10, windowSeconds: 300 },
  failedAuthPerAddress: { enabled: false, max: 50, windowSeconds: 300 },
};

/** A `server.trustProxy` entry: an IP address, a CIDR, or one of Express's named ranges. */
const trustedProxy = z.string().max(64).refine((v) => {
  if (v === "loopback" || v === "linklocal" || v === "uniquelocal") return true;
  const [ip, prefix, ...rest] = v.split("/");
  const family = isIP(ip ?? "");
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) return false;
  return !tooWide(ip!, Number(prefix), family);
}, "an IP address, a CIDR (10.0.0.0/8, fd00::/8) no wider than an IPv4 /8, loopback, linklocal or uniquelocal");

/**
 * A range wider than an IPv4 /8 (or an IPv6 /8) trusts nearly everyone, which is `trustProxy: true`
 * spelled as a CIDR: any caller could then name its own address. IPv6 ranges that cover IPv4-mapped
 * space (::ffff:0:0/96, ::/8: what a dual-stack socket reports for IPv4 clients) count as IPv4.
 */
function tooWide(ip: string, prefix: number, family: number): boolean {
  if (family === 4) return prefix < 8;
  if (prefix < 8) return true;
  if (prefix >= 104) return false;
  const range = new BlockList();
  range.addSubnet(ip, prefix, "ipv6");
  const mapped = new BlockList();
  mapped.addSubnet("::ffff:0:0", 96, "ipv6");
  return range.check("::ffff:0.0.0.0", "ipv6") || mapped.check(ip, "ipv6");
}

export const configSchema = z
  .strictObject({
    issuer: httpsOrHttpUrl.describe("The bridge's issuer URL: `iss` of issued tokens and the RFC 8414 issuer."),
    tokenEndpoint: httpsOrHttpUrl.optional().describe("Public URL of POST /token; defaults to issuer + /token."),
    saml: z.strictObject({
      entityId: z.string().min(1).describe("The bridge's SAML entity ID: assertions must name it in an AudienceRestriction."),
      audienceAliases: z.array(z.string().min(1)).default([]).describe("Further accepted Audience values (e.g. the token endpoint URL)."),
      decryptionKeys: z.array(z.strictObject({
        privateKeyFile: z.string().min(1).describe("PKCS#8 PEM private key."),
        certificateFile: z.string().min(1).describe("PEM certificate, published in the SP metadata."),
        idps: z.array(z.string().regex(SOURCE_ID)).min(1).max(1000).optional().describe("Ids of the SAML IdPs (config or admin-managed) whose ciphertext this key may decrypt: under a Response, only when the Response's IdP is listed (decided before the key is used); a bare EncryptedAssertion's decrypted Issuer must be listed. Omitted: shared by every IdP. Per-IdP keys keep one tenant IdP from making the bridge decrypt another's captured ciphertext; `GET /saml/metadata?idp=<id>` lists only the certificates that IdP may use."),
      })).default([]).describe("The bridge's SP encryption keys for EncryptedAssertion (several: rollover; the first is advertised first)."),
      allowRsa15KeyTransport: z.boolean().default(false).describe("Accept RSA PKCS#1 v1.5 key transport (a padding oracle: legacy IdPs only)."),
      allowUnsignedCbc: z.boolean().default(false).describe("Decrypt AES-CBC content that no verified Response signature covers (CBC is malleable: a decryption oracle; legacy IdPs that send unsigned Responses only)."),
      signatureVerifier: z.enum(["native", "xml-crypto"]).default("native").describe("XML signature verifier: `native` (SignedInfo verified first with node:crypto, one key, linear canonicalization) or `xml-crypto` (the previous SignedXml.checkSignature path, kept as a fallback and as the oracle of the differential tests)."),
    }).describe("The bridge as a SAML relying party."),
    tokens: z.strictObject({
      ttlSeconds: seconds.max(86_400).default(300).describe("Lifetime of issued access tokens."),
      clockSkewSeconds: z.number().int().min(0).max(600).default(60).describe("Tolerance for every time comparison."),
    }).default({ ttlSeconds: 300, clockSkewSeconds: 60 }).describe("Issued tokens and time checks."),
    signing: z.strictObject({
      keys: z.array(signingKey).min(1).describe("Token signing keys: the first with a private key signs; all are published."),
    }).describe("Keys that sign issued tokens (RFC 9068)."),
    limits: z.strictObject({
      maxBodyBytes: z.number().int().min(4096).max(4 * 1024 * 1024).default(262_144).describe("Largest POST body accepted."),
      maxTokenBytes: z.number().int().min(1024).max(1024 * 1024).default(131_072).describe("Largest decoded subject token."),
      maxXmlDepth: z.number().int().min(8).max(256).default(48).describe("Deepest XML nesting accepted."),
      maxXmlElements: z.number().int().min(16).max(100_000).default(2_000).describe("Most XML elements accepted (each costs canonicalization and digest time per signature check)."),
      maxXmlNodes: z.number().int().min(64).max(500_000).default(10_000).describe("Most XML nodes of every kind accepted in one document: elements, attributes and namespace declarations, text runs, CDATA sections, comments, character and entity references (real SAML has two to four per element, a pretty-printed 128 KB assertion about 6,000; each costs parser and canonicalization work)."),
      maxXmlAttributesPerElement: z.number().int().min(8).max(256).default(32).describe("Most attributes, namespace declarations included, on one XML element (a SAML Assertion carries about ten)."),
      maxTargets: z.number().int().min(1).max(32).default(5).describe("Most audience + resource values in one request."),
    }).default({ maxBodyBytes: 262_144, maxTokenBytes: 131_072, maxXmlDepth: 48, maxXmlElements: 2_000, maxXmlNodes: 10_000, maxXmlAttributesPerElement: 32, maxTargets: 5 }).describe("Input bounds."),
    clients: z.array(client).min(1).describe("OAuth clients allowed to call the token endpoint."),
    audiences: z.array(audience).min(1).describe("Resource servers tokens may be issued for."),
    samlIdps: z.array(samlIdp).default([]).describe("Trusted SAML identity providers."),
    samlFederations: z.array(samlFederation).default([]).describe("Federation sources of SAML IdPs: signed metadata aggregates and MDQ responders (docs/federation.md)."),
    jwtIssuers: z.array(jwtIssuer).default([]).describe("Trusted issuers of ID tokens and JWTs (OIDC providers, CI platforms)."),
    resourceAuthorizationServers: z.array(resourceAuthorizationServer).default([]).describe("Cross-App Access, IdP side: resource authorization servers the bridge issues ID-JAGs for (token exchange with requested_token_type urn:ietf:params:oauth:token-type:id-jag). Empty: ID-JAGs are refused."),
    userDirectory: userDirectory.optional().describe("Declares that every source (SAML IdP, JWT issuer, admin-managed IdP) without its own mapping.userDirectory asserts identifiers from this one user directory, so that with equal subjectPrefix values they may serve one audience (a single-directory organisation). Unset (the default): sources reaching one audience need distinct subject namespaces, or start-up is refused."),
    admin: admin.optional(),
    dpop: z.strictObject({
      algorithms: z.array(z.enum(DPOP_ALGORITHMS)).min(1).default(DPOP_DEFAULT_ALGORITHMS).describe("JWS algorithms a DPoP proof may use (asymmetric only: none and HMAC are never accepted; RFC 9449 §4.3); advertised as dpop_signing_alg_values_supported. Any other alg: dpop_proof_alg_forbidden."),
      maxAgeSeconds: z.number().int().min(1).max(600).default(60).describe("A proof's iat may be at most this old (dpop_proof_expired): proofs are made per request (RFC 9449 §4.3 check 11, §11.1). Its jti is remembered in the replay store for this long."),
      futureSkewSeconds: z.number().int().min(0).max(60).default(5).describe("A proof's iat may be at most this far in the future (dpop_proof_not_yet_valid): the client's clock may run a little ahead."),
      nonce: z.strictObject({
        secretFile: z.string().min(1).describe("File holding the secret (at least 32 bytes, e.g. `openssl rand -base64 48`) the nonces are derived from (HMAC-SHA256 of a time window and the client id): give every instance the same file, so a nonce from one is good at all (relative to the config file)."),
        lifetimeSeconds: z.number().int().min(10).max(3600).default(120).describe("Length of a nonce's time window: a nonce is accepted in its window and the next, so for this long at least and twice this at most."),
      }).optional().describe("Require server-issued nonces in every DPoP proof (RFC 9449 §8): a proof without one, or with a stale or foreign one, is refused with use_dpop_nonce and a fresh nonce in the DPoP-Nonce header, which every token response to a DPoP request also carries. Omit: no nonces."),
    }).default({ algorithms: DPOP_DEFAULT_ALGORITHMS, maxAgeSeconds: 60, futureSkewSeconds: 5 }).describe("DPoP proofs at POST /token (RFC 9449): a request with one valid DPoP header gets a token bound to the proof's key (cnf.jkt, token_type DPoP). Which clients and audiences must use it: clients[].dpop, audiences[].requireDpop."),
    delegation: z.strictObject({
      maxChainDepth: z.number().int().min(1).max(16).default(4).describe("Most nested actors an issued token may record (RFC 8693 §4.1 act chain); an incoming chain that would exceed it is refused (delegation_too_deep)."),
      maxChainBytes: z.number().int().min(256).max(16_384).default(4096).describe("Largest `act` claim (UTF-8 JSON bytes) an issued token may carry, the new actor included (act_claim_too_large)."),
    }).default({ maxChainDepth: 4, maxChainBytes: 4096 }).describe("Delegation chains."),
    replay: z.strictObject({
      store: z.enum(["memory", "redis"]).default("memory").describe("memory: one process only; redis: shared by every instance."),
      redisUrl: z.string().regex(/^rediss?:\/\//).optional().describe("Redis URL (one server); same as `redis: { url }`. For store: redis, give this or `redis`."),
      redis: redisConnectionSchema.optional().describe("How to reach Redis: `{ url }`, `{ sentinel: {...} }` (follows failovers) or `{ cluster: {...} }` (see the operations docs). For store: redis, give this or `redisUrl`."),
      keyPrefix: z.string().default("fedbridge:replay:").describe("Prefix of replay keys in Redis. On a cluster it is wrapped in a hash tag (`{fedbridge:replay:}`) unless it contains one, so every mark runs on one slot."),
      timeoutMs: z.number().int().min(50).max(10_000).default(1_000).describe("Per-command timeout; past it the exchange fails with 503."),
      memoryMaxEntries: z.number().int().min(100).default(100_000).describe("Bound of the in-memory store; when full, new assertions are refused (503) rather than old entries forgotten."),
      initializeEmptyStore: z.boolean().default(true).describe("On an instance's first connection, a store without an epoch marker is taken as new: the marker is created and exchanges start at once. Off: such a store is treated as lost (closed for the lost-store window or until `npm run replay-reopen`), for operators who would rather initialise every store by hand than risk a store that lost its data while no instance was running. An instance that has seen the marker always notices its loss."),
      quarantineOnServerChange: z.boolean().optional().describe("Treat a new Redis server (a restart or a failover: another run_id) like a lost store and refuse exchanges for the lost-store window. Default: on with Sentinel or Cluster (a failover of a live master can lose acknowledged marks, even with waitReplicas, and only this closes that gap for certain), off for a single server (whose restart without data the epoch marker catches). Set false on a replicated store only with waitReplicas >= 1 and planned switchovers that pause writes first (docs/operations.md, Redis topologies): the mark counter then detects lost marks only on a best-effort basis."),
      waitReplicas: z.number().int().min(0).max(16).default(0).describe("An exchange succeeds only once this many replicas acknowledged its replay mark (Redis WAIT), so a failover to a replica cannot forget it; fewer within waitTimeoutMs: 503, the token stays used. 0: no WAIT (asynchronous replication may lose the last marks on failover). Set it to at least 1 with Sentinel or Cluster."),
      waitTimeoutMs: z.number().int().min(1).max(5_000).default(250).describe("How long a mark waits for waitReplicas acknowledgements; must be below timeoutMs."),
    }).default({ store: "memory", keyPrefix: "fedbridge:replay:", timeoutMs: 1_000, memoryMaxEntries: 100_000, initializeEmptyStore: true, waitReplicas: 0, waitTimeoutMs: 250 }).describe("Where used assertion IDs are recorded."),
    server: z.strictObject({
      headersTimeoutMs: z.number().int().min(1_000).max(120_000).default(5_000).describe("A client must send the complete request headers within this time of its first byte, or the connection is closed (408); a connection silent this long while none of its requests is being answered is closed too. Held to within about a second."),
      requestTimeoutMs: z.number().int().min(1_000).max(300_000).default(10_000).describe("A client must send the complete request (headers and body) within this time, or the connection is closed (408). Held to within about a second."),
      keepAliveTimeoutMs: z.number().int().min(0).max(120_000).default(5_000).describe("An idle keep-alive connection is closed after this time."),
      tls: z.strictObject({
        certFile: z.string().min(1).describe("PEM certificate chain of the listener (relative to the config file)."),
        keyFile: z.string().min(1).describe("PEM private key of the listener."),
        clientCaFile: z.string().min(1).optional().describe("PEM CA certificates that client certificates may chain to (tls_client_auth, RFC 8705 §2.1; required by tlsClientAuth clients). A client certificate is then requested, never required: connections without one are accepted, and only a client configured for mTLS needs one."),
      }).optional().describe("Serve HTTPS instead of HTTP (OAuth requires TLS at the token endpoint, RFC 6749 §3.2; MCP clients refuse plain http). Omit behind a TLS-terminating proxy."),
      trustProxy: z.union([z.literal(false), z.number().int().min(1).max(10), z.array(trustedProxy).min(1).max(100)]).default(false).describe("Which proxies in front of the bridge may name the client's address in X-Forwarded-For (Express `trust proxy`), used by the per-address rate limit. false (default): the TCP peer is the client and X-Forwarded-For is ignored (anyone can write it). A number n: n proxies are in front, each appending to X-Forwarded-For: the client is the n-th address from the right. A list of proxy addresses and CIDRs (or loopback, linklocal, uniquelocal): the client is the rightmost address not in the list. `true` (trust everything) is not accepted: every caller could then choose its own address."),
      shutdownGraceMs: z.number().int().min(100).max(600_000).default(10_000).describe("On SIGTERM/SIGINT, the whole drain (shutdownDelayMs, the exchanges in flight, closing Redis) must end within this time of the signal, else the process exits 3 with the rest cut off. Keep it below your orchestrator's kill deadline (Kubernetes terminationGracePeriodSeconds) and above the slowest exchange you expect (about server.requestTimeoutMs)."),
      shutdownDelayMs: z.number().int().min(0).max(300_000).default(0).describe("On SIGTERM/SIGINT, /readyz answers 503 at once but new connections are still accepted (answered with `Connection: close`) for this long before the listener closes, so a load balancer that polls /readyz stops routing here first. Set it to about your load balancer's probe period times its failure threshold (Kubernetes: readinessProbe periodSeconds x failureThreshold); 0 closes the listener at once."),
    }).default({ headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, trustProxy: false, shutdownGraceMs: 10_000, shutdownDelayMs: 0 }).describe("HTTP server timeouts (slow clients) and the shutdown drain."),
    clientAuth: z.strictObject({
      maxConcurrentHashes: z.number().int().min(1).max(16).default(2).describe("Most client-secret hashes (scrypt) computed at once, on the libuv thread pool that also signs tokens."),
      maxQueuedHashes: z.number().int().min(0).max(1_024).default(16).describe("Most authentications waiting for a hash slot; past it a request is refused at once (503 client_auth_overloaded, Retry-After) instead of queueing."),
    }).default({ maxConcurrentHashes: 2, maxQueuedHashes: 16 }).describe("Bound of the work client authentication may cost."),
    metrics: z.strictObject({
      enabled: z.boolean().default(false).describe("Serve the Prometheus metrics at GET /metrics (off by default: the series name your clients and IdPs)."),
      port: z.number().int().min(0).max(65535).optional().describe("Serve /metrics on this port of its own (on metrics.host) instead of the main one, to keep it off the public listener; 0 picks a free port. Unset: on the main port."),
      host: z.string().min(1).default("127.0.0.1").describe("Listen address of the metrics port (metrics.port); use 0.0.0.0 only where a firewall or network policy limits who can reach it."),
      tokenHash: z.string().regex(/^sha256:[A-Za-z0-9_-]{43}$/, "sha256:<b64url> (npm run hash-secret)").optional().describe("SHA-256 hash of a bearer token every scrape must present (Prometheus `authorization: { credentials_file: ... }`); unset: no token is asked for."),
      exemplars: z.boolean().default(true).describe("Expose OpenMetrics 1.0 with exemplars (each exchange's request_id and trace_id on fedbridge_exchanges_total and fedbridge_exchange_duration_seconds); false: the classic Prometheus text format 0.0.4 without exemplars."),
      processMetrics: z.boolean().default(true).describe("Include the Node.js process metrics (CPU, memory, event-loop lag, GC, file descriptors)."),
    }).default({ enabled: false, host: "127.0.0.1", exemplars: true, processMetrics: true }).describe("Prometheus metrics (see the operations documentation for the series and alert rules)."),
    tracing: z.strictObject({
      enabled: z.boolean().default(false).describe("Export an OpenTelemetry span per exchange and per pipeline step over OTLP/HTTP (requires tracing.otlpEndpoint)."),
      otlpEndpoint: httpsOrHttpUrl.optional().describe("OTLP/HTTP traces URL of your collector, e.g. http://otel-collector:4318/v1/traces."),
      serviceName: z.string().regex(/^[\x21-\x7E]{1,64}$/, "printable ASCII, no spaces").default("fedbridge").describe("service.name of the exported spans."),
      sampleRatio: z.number().min(0).max(1).default(1).describe("Share of new traces recorded (0-1); a caller's W3C traceparent sampled flag is followed."),
      exportTimeoutMs: z.number().int().min(100).max(60_000).default(5_000).describe("Timeout of one export to the collector (export runs in the background, never in an exchange)."),
    }).default({ enabled: false, serviceName: "fedbridge", sampleRatio: 1, exportTimeoutMs: 5_000 }).describe("OpenTelemetry tracing of the exchange pipeline."),
    log: z.strictObject({
      level: z.enum(LOG_LEVELS).default("info").describe("Lowest level written: info (the default: one line per exchange, admin changes, start-up), warn (only failures the bridge works around: metadata refresh, Redis, key fetches, expiring certificates), error (only internal errors); debug writes every line."),
    }).default({ level: "info" }).describe("Log output (JSON lines on stdout)."),
    rateLimits: z.strictObject({
      store: z.enum(["memory", "redis"]).default("memory").describe("memory: counters in this process (one instance; under start:cluster, per worker); redis: counters shared by every instance, in the Redis of replay.redisUrl (which is then required)."),
      keyPrefix: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, "letters, digits, : _ . -").default("fedbridge:rl").describe("Prefix of the counter keys in Redis (each key is the prefix, the limit's name and a hash: never a client id, subject or address)."),
      timeoutMs: z.number().int().min(10).max(5_000).default(250).describe("Bound of one limiter call to Redis. Past it, or while Redis is unreachable, limits fail open (the request goes on unlimited, logged as rate_limit_store_unavailable), while the replay check still fails closed (503)."),
      perClient: rateLimit(600, 60, "token requests of one authenticated client",
        "Token requests per client, counted right after client authentication; past max: 429 rate_limited with Retry-After. Size it above the client's peak rate."),
      perSource: rateLimit(6_000, 60, "exchanges of verified tokens from one SAML IdP or JWT issuer (the bridge's own tokens are one source)",
        "Exchanges per token source, counted once the token is verified and the client may use its source, before the one-time mark (a limited assertion stays usable after Retry-After)."),
      perSubject: rateLimit(60, 60, "exchanges of verified tokens naming one subject of one source",
        "Exchanges per subject (one user or workload of one source), counted like perSource; the key is a hash, never the identifier."),
      failedAuthPerClientId: rateLimit(10, 300, "failed client authentications naming one client_id",
        "Failed client authentications per client_id, configured or not (an unknown id is answered alike). After max failures every authentication naming that id is refused (429) without checking the secret, the right one included, until the window ends: anyone who knows a client id can cause that, so keep failedAuthPerAddress lower."),
      failedAuthPerAddress: rateLimit(50, 300, "failed client authentications from one remote address",
        "Failed client authentications per remote address (an IPv4 address, or an IPv6 /64; behind a proxy see server.trustProxy). After max failures every authentication from it is refused (429) without checking the secret until the window ends."),
    }).default(RATE_LIMITS_DEFAULT).describe("Rate limits (429 rate_limited with Retry-After): per client, per token source, per subject, and failed client authentications per client_id and per remote address. Each is off until enabled."),
  })
  .superRefine((c, ctx) => {
    const dup = (list: readonly { id: string }[], path: string): void => {
      const seen = new Set<string>();
      list.forEach((x, i) => {
        if (seen.has(x.id)) ctx.addIssue({ code: "custom", path: [path, i, "id"], message: `duplicate id "${x.id}"` });
        seen.add(x.id);
      });
    };
    dup(c.clients, "clients");
    dup(c.audiences, "audiences");
    dup(c.samlIdps, "samlIdps");
    const kids = new Set<string>();
    c.signing.keys.forEach((k, i) => {
      if (kids.has(k.kid)) ctx.addIssue({ code: "custom", path: ["signing", "keys", i, "kid"], message: `duplicate kid "${k.kid}"` });
      kids.add(k.kid);
    });
    if (!c.signing.keys.some((k) => k.privateKeyFile)) {
      ctx.addIssue({ code: "custom", path: ["signing", "keys"], message: "at least one key needs a privateKeyFile" });
    }
    if (c.tracing.enabled && c.tracing.otlpEndpoint === undefined) {
      ctx.addIssue({ code: "custom", path: ["tracing", "otlpEndpoint"], message: "required when tracing.enabled is true" });
    }
    if (c.server.headersTimeoutMs > c.server.requestTimeoutMs) {
      ctx.addIssue({ code: "custom", path: ["server", "headersTimeoutMs"], message: "must not exceed server.requestTimeoutMs" });
    }
    if (c.server.shutdownDelayMs >= c.server.shutdownGraceMs) {
      ctx.addIssue({ code: "custom", path: ["server", "shutdownDelayMs"], message: "must be below server.shutdownGraceMs (the delay is spent inside the grace period, leaving time for the exchanges in flight)" });
    }
    // One scrypt cost for every client: a failed authentication then costs one hash of that cost
    // whatever the client id and its hash kind, so timing tells no ids apart (clients/registry.ts).
    const costs = new Set(c.clients.map((cl) => scryptParamsOf(cl.secretHash ?? "")).filter((p) => p !== undefined).map((p) => `${p.N}:${p.r}:${p.p}`));
    if (costs.size > 1) {
      ctx.addIssue({ code: "custom", path: ["clients"], message: `every scrypt secretHash must use the same N:r:p (found ${[...costs].join(", ")})` });
    }
    if (c.rateLimits.store === "redis" && !c.replay.redisUrl && !(c.replay as { redis?: unknown }).redis) {
      ctx.addIssue({ code: "custom", path: ["rateLimits", "store"], message: "redis needs the replay store's Redis (replay.redisUrl): the limiters use it" });
    }
    if (c.replay.store === "redis" && !c.replay.redisUrl && !c.replay.redis) {
      ctx.addIssue({ code: "custom", path: ["replay", "redisUrl"], message: "required when store is redis" });
    }
    if (c.replay.redisUrl && c.replay.redis) {
      ctx.addIssue({ code: "custom", path: ["replay", "redis"], message: "give redis or redisUrl, not both" });
    }
    if (c.replay.waitReplicas > 0 && c.replay.waitTimeoutMs >= c.replay.timeoutMs) {
      ctx.addIssue({ code: "custom", path: ["replay", "waitTimeoutMs"], message: "must be below replay.timeoutMs" });
    }
    if (c.admin?.store.kind === "redis" && (c.admin.store.redisUrl === undefined) === (c.admin.store.redis === undefined)) {
      ctx.addIssue({ code: "custom", path: ["admin", "store", "redisUrl"], message: "give exactly one of redisUrl or redis" });
    }
    const audiences = new Map(c.audiences.map((a) => [a.id, a]));
    const clientIds = new Set(c.clients.map((cl) => cl.id));
    c.audiences.forEach((a, i) => {
      if (a.mayAct !== undefined && !clientIds.has(a.mayAct)) {
        ctx.addIssue({ code: "custom", path: ["audiences", i, "mayAct"], message: `unknown client "${a.mayAct}"` });
      }
      a.defaultScopes.forEach((s, j) => {
        if (!a.scopes.includes(s)) ctx.addIssue({ code: "custom", path: ["audiences", i, "defaultScopes", j], message: `"${s}" is not in this audience's scopes` });
      });
    });
    const idps = new Set([...c.samlIdps.map((i) => i.id), ...c.jwtIssuers.map((i) => i.id), ...c.samlFederations.map((f) => f.id)]);
    c.samlFederations.forEach((f, i) => {
      if (c.samlIdps.some((s) => s.id === f.id) || c.jwtIssuers.some((j) => j.id === f.id)) {
        ctx.addIssue({ code: "custom", path: ["samlFederations", i, "id"], message: `"${f.id}" is also a SAML IdP or JWT issuer id` });
      }
      if (c.samlFederations.findIndex((o) => o.id === f.id) !== i) ctx.addIssue({ code: "custom", path: ["samlFederations", i, "id"], message: `duplicate id "${f.id}"` });
      // Entities of one source sharing a namespace is one directory's word, never a default.
      if (f.subjectNamespace === "source" && (f.mapping.userDirectory ?? c.userDirectory) === undefined) {
        ctx.addIssue({ code: "custom", path: ["samlFederations", i, "subjectNamespace"], message: "source needs a declared userDirectory (mapping.userDirectory or the top-level one); otherwise use entityId" });
      }
      if (f.minRefreshSeconds > f.maxRefreshSeconds) ctx.addIssue({ code: "custom", path: ["samlFederations", i, "minRefreshSeconds"], message: "must not exceed maxRefreshSeconds" });
    });
    c.jwtIssuers.forEach((j, i) => {
      // The bridge's issuer is the namespace of its clients and its own tokens: no source may share it.
      if (j.issuer === c.issuer) ctx.addIssue({ code: "custom", path: ["jwtIssuers", i, "issuer"], message: "must differ from the bridge's own issuer" });
      if (c.samlIdps.some((s) => s.id === j.id)) ctx.addIssue({ code: "custom", path: ["jwtIssuers", i, "id"], message: `"${j.id}" is also a SAML IdP id` });
    });
    dup(c.jwtIssuers, "jwtIssuers");
    dup(c.resourceAuthorizationServers, "resourceAuthorizationServers");
    const rasIssuers = new Set<string>();
    c.resourceAuthorizationServers.forEach((r, i) => {
      // Draft §8.3: the bridge never takes its own ID-JAGs; an audience of itself would be one.
      if (r.issuer === c.issuer) ctx.addIssue({ code: "custom", path: ["resourceAuthorizationServers", i, "issuer"], message: "must differ from the bridge's own issuer" });
      // An ID-JAG and an access token share iss and key: the same aud would leave only `typ` to tell
      // them apart (RFC 8725 §2.8, §3.11), and a resource server that skips it would take a grant as a token.
      if (audiences.has(r.issuer)) ctx.addIssue({ code: "custom", path: ["resourceAuthorizationServers", i, "issuer"], message: "must differ from every audience id (an ID-JAG's aud would equal that audience's access tokens')" });
      if (rasIssuers.has(r.issuer)) ctx.addIssue({ code: "custom", path: ["resourceAuthorizationServers", i, "issuer"], message: "same issuer as another resource authorization server" });
      rasIssuers.add(r.issuer);
      const seenClients = new Set<string>();
      r.clients.forEach((rc, j) => {
        const path = ["resourceAuthorizationServers", i, "clients", j];
        if (!clientIds.has(rc.client)) ctx.addIssue({ code: "custom", path: [...path, "client"], message: `unknown client "${rc.client}"` });
        if (seenClients.has(rc.client)) ctx.addIssue({ code: "custom", path: [...path, "client"], message: `client "${rc.client}" listed twice` });
        seenClients.add(rc.client);
        rc.defaultScopes.forEach((s, k) => {
          if (!rc.scopes.includes(s)) ctx.addIssue({ code: "custom", path: [...path, "defaultScopes", k], message: `"${s}" is not in this entry's scopes` });
        });
      });
    });
    c.saml.decryptionKeys.forEach((k, i) => {
      k.idps?.forEach((d, j) => {
        // SAML IdPs only; with the admin API on, an id may name an IdP an admin manages at run time.
        const path = ["saml", "decryptionKeys", i, "idps", j];
        if (c.jwtIssuers.some((ji) => ji.id === d)) ctx.addIssue({ code: "custom", path, message: `"${d}" is a JWT issuer, not a SAML IdP` });
        else if (!c.samlIdps.some((s) => s.id === d) && c.admin === undefined) ctx.addIssue({ code: "custom", path, message: `unknown SAML IdP "${d}"` });
      });
    });
    c.clients.forEach((cl, i) => {
      // One authentication method per client: a secret, or private_key_jwt (RFC 7591 §2 token_endpoint_auth_method).
      const methods = [cl.secretHash, cl.privateKeyJwt, cl.tlsClientAuth, cl.selfSignedTlsClientAuth].filter((m) => m !== undefined).length;
      if (methods !== 1) {
        ctx.addIssue({ code: "custom", path: ["clients", i], message: "give exactly one of secretHash, privateKeyJwt, tlsClientAuth or selfSignedTlsClientAuth" });
      }
      // RFC 8705 needs the certificate of the TLS handshake: the bridge must terminate TLS itself.
      if (cl.tlsClientAuth !== undefined && c.server.tls?.clientCaFile === undefined) {
        ctx.addIssue({ code: "custom", path: ["clients", i, "tlsClientAuth"], message: "needs server.tls with a clientCaFile (the CAs client certificates must chain to)" });
      }
      if (cl.selfSignedTlsClientAuth !== undefined && c.server.tls === undefined) {
        ctx.addIssue({ code: "custom", path: ["clients", i, "selfSignedTlsClientAuth"], message: "needs server.tls (the bridge must see the client's certificate)" });
      }
      if (cl.certificateBoundTokens && cl.tlsClientAuth === undefined && cl.selfSignedTlsClientAuth === undefined) {
        ctx.addIssue({ code: "custom", path: ["clients", i, "certificateBoundTokens"], message: "only for a tlsClientAuth or selfSignedTlsClientAuth client" });
      }
      cl.audiences.forEach((a, j) => {
        if (!audiences.has(a)) ctx.addIssue({ code: "custom", path: ["clients", i, "audiences", j], message: `unknown audience "${a}"` });
      });
      if (cl.grantTypes.includes(GRANT_SAML2_BEARER) && cl.defaultAudience === undefined) {
        ctx.addIssue({ code: "custom", path: ["clients", i, "defaultAudience"], message: "required for the saml2-bearer grant (RFC 7522 has no audience parameter)" });
      }
      if (cl.defaultAudience !== undefined && !cl.audiences.includes(cl.defaultAudience)) {
        ctx.addIssue({ code: "custom", path: ["clients", i, "defaultAudience"], message: "must be one of the client's audiences" });
      }
      cl.idps.forEach((d, j) => {
        // With the admin API on, an id may name an IdP an admin manages at run time.
        if (!idps.has(d) && c.admin === undefined) ctx.addIssue({ code: "custom", path: ["clients", i, "idps", j], message: `unknown SAML IdP or JWT issuer "${d}"` });
      });
      for (const issuerId of Object.keys(cl.issuerParties)) {
        if (!c.jwtIssuers.some((j) => j.id === issuerId)) {
          ctx.addIssue({ code: "custom", path: ["clients", i, "issuerParties", issuerId], message: `unknown JWT issuer "${issuerId}"` });
        } else if (!cl.idps.includes(issuerId)) {
          ctx.addIssue({ code: "custom", path: ["clients", i, "issuerParties", issuerId], message: `"${issuerId}" is not in this client's idps` });
        }
      }
    });
    // One `sub`, one person: sources reaching one audience need distinct subject namespaces
    // (src/policy/subject-namespace.ts; admin-managed IdPs are checked at onboarding).
    const sources = [
      ...c.samlIdps.map((s, i) => ({ id: s.id, path: ["samlIdps", i], subjectPrefix: s.mapping.subjectPrefix, userDirectory: s.mapping.userDirectory ?? c.userDirectory })),
      ...c.jwtIssuers.map((j, i) => ({ id: j.id, path: ["jwtIssuers", i], subjectPrefix: j.mapping.subjectPrefix, userDirectory: j.mapping.userDirectory ?? c.userDirectory })),
      // A federation's entities all live under its mapping.subjectPrefix; with entityId namespaces
      // they are distinct from each other by construction but no directory is shared with others.
      ...c.samlFederations.map((f, i) => ({
        id: f.id, path: ["samlFederations", i], subjectPrefix: f.mapping.subjectPrefix,
        userDirectory: f.subjectNamespace === "source" ? f.mapping.userDirectory ?? c.userDirectory : undefined,
      })),
    ];
    for (const p of subjectNamespaceProblems(c.clients, sources)) ctx.addIssue({ code: "custom", path: p.path, message: p.message });
  });

export type Config = z.infer<typeof configSchema>;
export type ClientConfig = Config["clients"][number];
export type AudienceConfig = Config["audiences"][number];
export type SamlIdpConfig = Config["samlIdps"][number];
export type MappingConfig = SamlIdpConfig["mapping"];
export type AttributeSelector = z.infer<typeof attributeSelector>;
export type JwtIssuerConfig = Config["jwtIssuers"][number];
export type ResourceAuthorizationServerConfig = Config["resourceAuthorizationServers"][number];
export type AdminConfig = NonNullable<Config["admin"]>;
