import { configJsonSchema } from "./json-schema.js";

/**
 * The config reference (docs/configuration.md, written by `npm run docs`), generated from the JSON
 * Schema export of the zod schema, so the documentation cannot drift from what start-up validates
 * (test/config compares the two).
 *
 * A union of objects ("one of") is rendered as what it is: the field's type lists its alternatives,
 * each named by its discriminator (`kind: "file"`) or, without one, by its required members
 * (`{ nameId }`); a member appears once, and says in which alternatives it is required or allowed.
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

const alternativesOf = (s: Schema): Schema[] | undefined => s.anyOf ?? s.oneOf;
const isObject = (s: Schema): boolean => s.type === "object" && s.properties !== undefined;

/** The member whose `const` tells every alternative of an object union apart (a discriminator), if any. */
function discriminatorOf(alts: Schema[]): string | undefined {
  const first = alts[0]?.properties ?? {};
  return Object.keys(first).find((k) => {
    const values = alts.map((a) => a.properties?.[k]?.const);
    const requiredInAll = alts.every((a) => a.required?.includes(k) ?? false);
    return requiredInAll && values.every((v) => v !== undefined) && new Set(values.map((v) => JSON.stringify(v))).size === alts.length;
  });
}

/** How one alternative of an object union is named in the reference. */
function labelOf(alt: Schema, discriminator: string | undefined): string {
  if (discriminator !== undefined) return `\`${discriminator}: ${JSON.stringify(alt.properties?.[discriminator]?.const)}\``;
  const names = alt.required?.length ? alt.required : Object.keys(alt.properties ?? {});
  return `\`{ ${names.join(", ")} }\``;
}

function typeOf(s: Schema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(" / ");
  const alts = alternativesOf(s);
  if (alts) {
    if (alts.length > 1 && alts.every(isObject)) {
      const d = discriminatorOf(alts);
      return `one of: ${alts.map((a) => labelOf(a, d)).join(", ")}`;
    }
    return alts.map(typeOf).join(" or ");
  }
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") return `map of ${typeOf(s.additionalProperties)}`;
  return Array.isArray(s.type) ? s.type.join(" \\| ") : s.type ?? "any";
}

const cell = (v: string): string => v.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function configReferenceMarkdown(): string {
  const rows: string[] = ["| field | type | required / default | description |", "|---|---|---|---|"];
  const row = (path: string, type: string, req: string, description: string | undefined): void => {
    rows.push(`| \`${path}\` | ${cell(type)} | ${cell(req)} | ${cell(description ?? "")} |`);
  };
  const requirement = (s: Schema, required: boolean): string =>
    s.default !== undefined ? `default \`${JSON.stringify(s.default)}\`` : required ? "**required**" : "optional";

  const walk = (s: Schema, path: string, required: boolean): void => {
    if (path) row(path, typeOf(s), requirement(s, required), s.description);
    walkChildren(s, path);
  };
  const walkChildren = (s: Schema, path: string): void => {
    const alts = alternativesOf(s);
    if (alts && alts.length > 1 && alts.every(isObject)) walkUnion(alts, path);
    else for (const alt of alts ?? []) walkChildren(alt, path);
    if (s.properties) {
      for (const [k, child] of Object.entries(s.properties)) walk(child, path ? `${path}.${k}` : k, s.required?.includes(k) ?? false);
    }
    if (s.type === "array" && s.items && (s.items.properties || alternativesOf(s.items))) walkChildren(s.items, `${path}[]`);
    if (s.additionalProperties && typeof s.additionalProperties === "object") walkChildren(s.additionalProperties, `${path}.<name>`);
  };

  /** One row per member name across the alternatives, saying where it is required or allowed. */
  const walkUnion = (alts: Schema[], path: string): void => {
    const d = discriminatorOf(alts);
    const labels = alts.map((a) => labelOf(a, d));
    if (d !== undefined) {
      row(`${path}.${d}`, alts.map((a) => `\`${JSON.stringify(a.properties![d]!.const)}\``).join(" / "), "**required**",
        `Chooses the alternative: ${labels.join(", ")}; the members below say which they belong to.`);
    }
    const names = [...new Set(alts.flatMap((a) => Object.keys(a.properties ?? {})))].filter((k) => k !== d);
    for (const k of names) {
      const holders = alts.map((a, i) => ({ a, i })).filter(({ a }) => a.properties?.[k] !== undefined);
      const child = holders[0]!.a.properties![k]!;
      const where = holders.map(({ a, i }) => `${requirement(a.properties![k]!, a.required?.includes(k) ?? false)} with ${labels[i]}`);
      const only = holders.length < alts.length ? "; not allowed otherwise" : "";
      row(`${path}.${k}`, typeOf(child), `${where.join("; ")}${only}`, child.description);
      walkChildren(child, `${path}.${k}`);
    }
  };

  walk(configJsonSchema() as Schema, "", true);
  return rows.join("\n");
}
