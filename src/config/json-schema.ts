import { z } from "zod";
import { configSchema } from "./schema.js";

/** The config schema as JSON Schema (input side: defaults are optional), for editors and docs. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
