/**
 * Every log line of every bridge the test harness builds is checked (issue 12, Logs): the line must
 * not need the logger's redaction pass (src/log/redact.ts), i.e. carry no field named like a
 * credential and no value shaped like a token, an assertion, a PEM block or a long base64 run.
 * Collected here and asserted after each test file (log-hygiene.setup.ts), so a leak anywhere in the
 * suite fails it. What is recorded names only the event and the fields, never their values.
 */
import { redactEvent } from "../../src/log/redact.js";
import type { LogEvent } from "../../src/log/logger.js";

export const dirtyLogLines: string[] = [];

export function checkLogLine(entry: LogEvent): void {
  const checked = redactEvent(entry);
  if (checked !== entry) dirtyLogLines.push(`${entry.event}: ${String(checked.redacted)}`);
}
