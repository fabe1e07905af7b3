import { z } from "zod";
import { adminIdpInput } from "../config/schema.js";

/**
 * OpenAPI 3.1 description of the admin API (served at GET /admin/openapi.json). Its schemas are
 * JSON Schema 2020-12 (OpenAPI 3.1 §4.8.24), generated from zod: the request schema is the one
 * the API validates with, the response schemas are checked against real responses in
 * test/admin/openapi.test.ts.
 */
// Strict objects: a field the description does not name fails the response check.
const error = z.strictObject({ error: z.string(), reasons: z.array(z.string()).optional() });
const certificate = z.strictObject({
  fingerprint: z.string(), notBefore: z.string(), notAfter: z.string(), expiresSoon: z.boolean(), expired: z.boolean(),
});
const idp = z.strictObject({
  id: z.string(), entityId: z.string(), source: z.enum(["file", "upload", "url"]), editable: z.boolean(),
  version: z.number().int().optional(), protocols: z.array(z.string()), signingCertificates: z.array(certificate),
  validUntil: z.string().optional(), metadataUrl: z.string().optional(), lastRefreshAt: z.string().optional(),
  lastRefreshError: z.string().optional(), updatedAt: z.string().optional(), updatedBy: z.string().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});
const auditEntry = z.strictObject({
  seq: z.number().int(), at: z.string(), actor: z.string(), action: z.string(), outcome: z.enum(["applied", "refused"]),
  idp: z.string().optional(), status: z.number().int().optional(), error: z.string().optional(), reasons: z.array(z.string()).optional(),
  method: z.string().optional(), path: z.string().optional(), remote: z.string().optional(), version: z.number().int().optional(),
  entityId: z.string().optional(), previousEntityId: z.string().optional(), oldFingerprints: z.array(z.string()).optional(),
  newFingerprints: z.array(z.string()).optional(), removedFingerprints: z.array(z.string()).optional(), forced: z.boolean().optional(),
  changes: z.array(z.strictObject({ field: z.string(), from: z.unknown(), to: z.unknown() })).optional(),
});
const historyEntry = z.strictObject({ at: z.string(), idp: z.string(), action: z.string(), by: z.string(), keys: z.array(z.string()), forced: z.boolean() });
const keys = z.strictObject({
  entityId: z.string(), owner: z.string().nullable(), version: z.number().int(), keys: z.array(z.string()), history: z.array(historyEntry),
});
const check = z.strictObject({ name: z.string(), ok: z.boolean(), reasons: z.array(z.string()) });
const preview = z.strictObject({
  entityId: z.string().optional(), protocols: z.array(z.string()).optional(),
  ssoEndpoints: z.array(z.strictObject({ binding: z.string(), location: z.string() })).optional(),
  certificates: z.array(z.strictObject({
    fingerprint: z.string(), subject: z.string(), subjectCN: z.string().optional(), issuer: z.string(), selfSigned: z.boolean(),
    keyType: z.string(), keyBits: z.number().int().optional(), curve: z.string().optional(), notBefore: z.string(), notAfter: z.string(),
    expiresInDays: z.number().int(),
  })).optional(),
  validUntil: z.string().optional(),
  checks: z.array(check),
  keys: z.strictObject({ kept: z.array(z.string()), added: z.array(z.string()), removed: z.array(z.string()) }).optional(),
  ok: z.boolean(),
});
const tombstone = z.strictObject({
  id: z.string(), entityId: z.string().optional(), retiredAt: z.string(), retiredBy: z.string(), fingerprints: z.array(z.string()), blocks: z.string(),
});
const previewInput = z.strictObject({
  metadata: z.string().optional(), metadataUrl: z.string().optional(), id: z.string().optional(), entityId: z.string().optional(), force: z.boolean().optional(),
});

const schema = (s: z.ZodType, io: "input" | "output" = "output"): Record<string, unknown> => {
  const out = z.toJSONSchema(s, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
  delete out.$schema;
  return out;
};

export const ADMIN_SCHEMAS = {
  Error: error, Idp: idp, IdpList: z.strictObject({ idps: z.array(idp) }), AuditEntry: auditEntry,
  AuditPage: z.strictObject({ entries: z.array(auditEntry), next: z.number().int().nullable(), retention: z.strictObject({ maxEntries: z.number().int() }) }),
  EntityKeys: keys, Preview: preview, Tombstones: z.strictObject({ tombstones: z.array(tombstone) }),
} as const;

export function adminOpenApi(): Record<string, unknown> {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (name: string) => ({ "application/json": { schema: ref(name) } });
  const err = (description: string) => ({ description, content: json("Error") });
  const errors = {
    400: err("Invalid request (reasons say why)"), 401: err("No valid admin token"), 404: err("No such IdP"),
    409: err("Conflict (config_managed, entity_id_in_use, entity_id_changed, concurrent_change, subject_namespace_collision, not_url_metadata, record_unreadable)"),
    412: err("If-Match is stale"), 413: err("Body too large"), 415: err("Unsupported media type, charset or content encoding"),
    428: err("If-Match required"), 503: err("Record store unavailable: nothing was changed"),
  };
  const id = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" } };
  const ifMatch = { name: "If-Match", in: "header", required: false, schema: { type: "string" }, description: 'The ETag ("<version>") of the record being changed; required to replace or delete.' };
  const force = { name: "force", in: "query", required: false, schema: { type: "string", enum: ["true", "false"] }, description: "A forced, audited change: keys sharing nothing with the entity's last keys." };
  const etag = { ETag: { schema: { type: "string" } } };
  return {
    openapi: "3.1.0",
    info: { title: "fedbridge admin API", version: "1", description: "Run-time management of SAML IdPs. Every change is audited (GET /admin/audit)." },
    components: {
      securitySchemes: { adminToken: { type: "http", scheme: "bearer", description: "An admin token (admin.tokens in the config)." } },
      schemas: {
        ...Object.fromEntries(Object.entries(ADMIN_SCHEMAS).map(([k, v]) => [k, schema(v)])),
        IdpInput: schema(adminIdpInput, "input"),
        PreviewInput: schema(previewInput, "input"),
      },
    },
    security: [{ adminToken: [] }],
    paths: {
      "/admin/idps": { get: { operationId: "listIdps", responses: { 200: { description: "Every IdP", content: json("IdpList") }, 401: errors[401] } } },
      "/admin/idps/{id}": {
        parameters: [id],
        get: { operationId: "getIdp", responses: { 200: { description: "The IdP", headers: etag, content: json("Idp") }, 401: errors[401], 404: errors[404] } },
        put: {
          operationId: "putIdp", parameters: [ifMatch],
          requestBody: { required: true, content: { "application/json": { schema: ref("IdpInput") } } },
          responses: { 200: { description: "Replaced", headers: etag, content: json("Idp") }, 201: { description: "Created", headers: etag, content: json("Idp") }, ...pick(errors, 400, 401, 409, 412, 413, 415, 428, 503), 502: err("Metadata fetch failed (reasons name the cause)") },
        },
        delete: { operationId: "deleteIdp", parameters: [ifMatch, force], responses: { 204: { description: "Deleted (a tombstone is kept)" }, ...pick(errors, 401, 404, 409, 412, 428, 503) } },
      },
      "/admin/idps/{id}/metadata": {
        parameters: [id],
        get: { operationId: "getMetadata", responses: { 200: { description: "The metadata in force (admin records only)", headers: etag, content: { "application/samlmetadata+xml": { schema: { type: "string" } } } }, ...pick(errors, 401, 404) } },
        put: {
          operationId: "rotateMetadata", parameters: [ifMatch, force],
          requestBody: { required: true, content: { "application/samlmetadata+xml": { schema: { type: "string" } }, "application/xml": { schema: { type: "string" } } } },
          responses: { 200: { description: "Rotated", headers: etag, content: json("Idp") }, ...pick(errors, 400, 401, 404, 409, 412, 413, 415, 428, 503) },
        },
      },
      "/admin/idps/{id}/refresh": { parameters: [id], post: { operationId: "refreshIdp", responses: { 200: { description: "Refreshed (the version moves only if the metadata changed)", content: json("Idp") }, 502: { description: "Refresh failed; the last good metadata stays", content: json("Idp") }, ...pick(errors, 401, 404, 409, 503) } } },
      "/admin/idps/{id}/keys": { parameters: [id], get: { operationId: "idpKeys", responses: { 200: { description: "The entity's trusted keys and key history", content: json("EntityKeys") }, ...pick(errors, 401, 404, 503) } } },
      "/admin/preview": { post: { operationId: "preview", requestBody: { required: true, content: { "application/json": { schema: ref("PreviewInput") } } }, responses: { 200: { description: "What saving would do; nothing is written", content: json("Preview") }, ...pick(errors, 400, 401, 415), 502: err("Metadata fetch failed") } } },
      "/admin/tombstones": { get: { operationId: "tombstones", responses: { 200: { description: "Deleted IdPs", content: json("Tombstones") }, 401: errors[401] } } },
      "/admin/audit": {
        get: {
          operationId: "audit",
          parameters: ["idp", "actor", "action", "since", "until"].map((name) => ({ name, in: "query", required: false, schema: { type: "string" } }))
            .concat([{ name: "before", in: "query", required: false, schema: { type: "string" } }, { name: "limit", in: "query", required: false, schema: { type: "string" } }]),
          responses: { 200: { description: "Audit entries, newest first", content: json("AuditPage") }, ...pick(errors, 400, 401, 503) },
        },
      },
      "/admin/schema/idp": { get: { operationId: "idpSchema", responses: { 200: { description: "JSON Schema of an IdP's settings (IdpInput)", content: { "application/json": { schema: { type: "object" } } } }, 401: errors[401] } } },
    },
  };
}

function pick<T>(o: Record<number, T>, ...keys: number[]): Record<number, T> {
  return Object.fromEntries(keys.map((k) => [k, o[k]!]));
}

export function idpInputJsonSchema(): Record<string, unknown> {
  return schema(adminIdpInput, "input");
}
