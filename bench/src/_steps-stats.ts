// Sample recording and summaries for the steps bench.

/** Timestamps of step bodies, preallocated so recording does not allocate mid-run. */
export class TickRecorder {
  #marks = new Float64Array(16_384);
  #count = 0;

  /** Called first thing in every step body. */
  readonly tick = (): void => {
    if (this.#count === this.#marks.length) {
      const grown = new Float64Array(this.#marks.length * 2);
      grown.set(this.#marks);
      this.#marks = grown;
    }
    this.#marks[this.#count++] = performance.now();
  };

  reset(): void {
    this.#count = 0;
  }

  get count(): number {
    return this.#count;
  }

  /** Time from each step body to the next, in ms: the whole cost of one step. */
  deltas(): number[] {
    const out: number[] = [];
    for (let k = 1; k < this.#count; k++) out.push((this.#marks[k] ?? 0) - (this.#marks[k - 1] ?? 0));
    return out;
  }
}

/** Nearest-rank percentile of unsorted samples (`p` in [0, 1]). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/** Milliseconds with three decimals, or "—" when there is nothing. */
export function ms(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? "—" : value.toFixed(3);
}

export function thousands(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  "),
    )
    .join("\n");
}
