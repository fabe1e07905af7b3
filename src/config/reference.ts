import { configJsonSchema } from "./json-schema.js";

/**
 * The README's config reference, generated from the JSON Schema export of the zod schema, so the
 * documentation cannot drift from what start-up validates (a test compares the two).
 */
type Schema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
  propertyNames?: Schema;
};

function typeOf(s: Schema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(" / ");
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(" or ");
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") return "map";
  return Array.isArray(s.type) ? s.type.join(" \\| ") : s.type ?? "any";
}

const cell = (v: string): string => v.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function configReferenceMarkdown(): string {
  const rows: string[] = ["| field | type | required / default | description |", "|---|---|---|---|"];
  const walk = (s: Schema, path: string, required: boolean): void => {
    if (path) {
      const def = s.default !== undefined ? `default \`${JSON.stringify(s.default)}\`` : required ? "**required**" : "optional";
      rows.push(`| \`${path}\` | ${cell(typeOf(s))} | ${cell(def)} | ${cell(s.description ?? "")} |`);
    }
    for (const alt of s.anyOf ?? s.oneOf ?? []) walkChildren(alt, path);
    walkChildren(s, path);
  };
  const walkChildren = (s: Schema, path: string): void => {
    if (s.properties) {
      for (const [k, child] of Object.entries(s.properties)) walk(child, path ? `${path}.${k}` : k, s.required?.includes(k) ?? false);
    }
    if (s.type === "array" && s.items && (s.items.properties || s.items.anyOf)) walkChildren(s.items, `${path}[]`);
    if (s.additionalProperties && typeof s.additionalProperties === "object") walkChildren(s.additionalProperties, `${path}.<name>`);
  };
  walk(configJsonSchema() as Schema, "", true);
  return rows.join("\n");
}
