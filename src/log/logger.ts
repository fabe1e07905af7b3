/**
 * Structured logging: one JSON object per line. Callers pass only identifiers and reason codes;
 * there is deliberately no way to log a request body, a token or an assertion through this type.
 */
export type LogValue = string | number | boolean | null | undefined | readonly string[];
export type LogEvent = { event: string } & Record<string, LogValue>;
export type Logger = (entry: LogEvent) => void;

export function jsonLogger(write: (line: string) => void, now: () => number): Logger {
  return (entry) => write(`${JSON.stringify({ ts: new Date(now()).toISOString(), ...entry })}\n`);
}

export const silentLogger: Logger = () => undefined;
