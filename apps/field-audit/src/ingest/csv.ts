import { InputError } from "../errors.ts";

/**
 * Strict numeric CSV for sensor logs: a fixed header, one number per cell, strictly
 * increasing time. The logs are written by our own recorders (no quoting, no text cells),
 * so a 30-line reader that names the file, line and column of every problem beats a
 * general CSV library that would accept what we must reject.
 */

export type Columns<K extends string> = Record<K, Float64Array>;

export function parseNumericCsv<K extends string>(
  text: string,
  file: string,
  header: readonly K[],
  check: (row: Record<K, number>, line: number) => string | undefined = () => undefined,
): Columns<K> {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  if (lines[0]?.trim() !== header.join(",")) {
    throw new InputError(
      "csv_header",
      file,
      `the header must be "${header.join(",")}", found "${lines[0] ?? ""}"`,
    );
  }
  const rows = lines.length - 1;
  if (rows < 2) throw new InputError("csv_too_short", file, `it needs at least 2 samples, found ${rows}`);
  const out = Object.fromEntries(header.map((h) => [h, new Float64Array(rows)])) as Columns<K>;
  const row = {} as Record<K, number>;
  for (let r = 0; r < rows; r++) {
    const lineNo = r + 2;
    const cells = lines[r + 1]!.split(",");
    if (cells.length !== header.length) {
      throw new InputError(
        "csv_row",
        file,
        `line ${lineNo} has ${cells.length} cells, expected ${header.length}`,
      );
    }
    for (let c = 0; c < header.length; c++) {
      const cell = cells[c]!.trim();
      const value = cell === "" ? Number.NaN : Number(cell);
      if (!Number.isFinite(value)) {
        throw new InputError(
          "csv_value",
          file,
          `line ${lineNo}, column "${header[c]}" is not a number: "${cell}"`,
        );
      }
      out[header[c]!][r] = value;
      row[header[c]!] = value;
    }
    if (r > 0 && !(out[header[0]!][r]! > out[header[0]!][r - 1]!)) {
      throw new InputError("csv_time_order", file, `line ${lineNo}: time must increase strictly`);
    }
    const problem = check(row, lineNo);
    if (problem !== undefined) throw new InputError("csv_value", file, problem);
  }
  return out;
}
