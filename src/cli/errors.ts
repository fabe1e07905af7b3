/**
 * How a command fails: a message for people, a stable code for scripts (`--json`: {"error", ...}),
 * and the exit status. 1: the thing checked is bad (config, token, refused exchange); 2: usage;
 * 3: the bridge could not be reached.
 */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Prints a command's result: JSON on one line with --json, else the human rendering. */
export function emit(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : human());
}
