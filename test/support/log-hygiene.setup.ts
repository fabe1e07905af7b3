// vitest setupFiles: after each test file, no log line of a harness-built bridge needed redaction.
import { afterAll, expect } from "vitest";
import { dirtyLogLines } from "./log-hygiene.js";

afterAll(() => {
  expect(dirtyLogLines, "log lines with a credential-shaped field (event: fields)").toEqual([]);
});
