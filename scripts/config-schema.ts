/**
 * Prints the config file's JSON Schema, generated from the zod schema the bridge validates with.
 *   npm run config-schema                 JSON Schema
 *   npm run config-schema -- --markdown   the README's config reference table
 */
import { configJsonSchema } from "../src/config/json-schema.js";
import { configReferenceMarkdown } from "../src/config/reference.js";

process.stdout.write(
  process.argv.includes("--markdown") ? `${configReferenceMarkdown()}\n` : `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
);
