/** Prints the config file's JSON Schema, generated from the zod schema the bridge validates with. */
import { configJsonSchema } from "../src/config/json-schema.js";

process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
