import { BallastError } from "../errors.ts";

/** Options every command accepts. */
export interface GlobalOptions {
  json?: boolean;
  home?: string;
}

/** Prints `value` as one JSON document with --json, else the human rendering. */
export function emit(options: GlobalOptions, value: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

/** A plain aligned table: readable in a terminal, stable for tests. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/**
 * Turns an error into the CLI's exit: a one-line message (a JSON envelope with --json) and
 * exit code 1 for user-facing ballast errors, 2 for anything unexpected.
 */
export function reportError(error: unknown, json: boolean): number {
  if (BallastError.isInstance(error)) {
    if (json) process.stderr.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
    else process.stderr.write(`ballast: ${error.message} [${error.code}]\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: "internal", message } })}\n`);
  else process.stderr.write(`ballast: unexpected error: ${message}\n`);
  return 2;
}
