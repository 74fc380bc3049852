import cliProgress from "cli-progress";

/**
 * Progress for long CLI commands (journal verify, replay, batch runs). A bar is drawn only on
 * an interactive terminal and never in `--json` mode, so piped and machine-read output stays
 * clean; everywhere else the reporter does nothing.
 */

/** The part of a writable stream the reporter uses; `process.stderr` fits. */
export interface ProgressStream {
  write(chunk: string, callback?: (error?: Error | null) => void): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Units of work in all. */
  total: number;
  /** Shown before the bar, e.g. `verifying run-42`. */
  label: string;
  /** Default: `process.stderr`, so stdout stays free for results. */
  stream?: ProgressStream;
  /** Machine-readable output requested: never draw. */
  json?: boolean;
}

export interface Progress {
  /** Adds `delta` (default 1) units done. */
  tick(delta?: number): void;
  /** Sets the units done. */
  update(value: number): void;
  /** Draws the final state and releases the terminal. Safe to call twice. */
  stop(): void;
  /** Whether a bar is being drawn. */
  readonly drawing: boolean;
}

/**
 * @example
 * const progress = createProgress({ total: events.length, label: "verifying", json: opts.json });
 * for (const event of events) { check(event); progress.tick(); }
 * progress.stop();
 */
export function createProgress(options: ProgressOptions): Progress {
  const { total, label, stream = process.stderr, json = false } = options;
  if (json || stream.isTTY !== true) return silent;

  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: "{label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}",
      barsize: 30,
      hideCursor: false, // a crash must not leave the user's cursor hidden
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let value = 0;
  let stopped = false;
  bar.start(Math.max(0, total), 0, { label });
  return {
    tick(delta = 1) {
      value += delta;
      if (!stopped) bar.update(value);
    },
    update(next) {
      value = next;
      if (!stopped) bar.update(value);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
    get drawing() {
      return !stopped;
    },
  };
}

const silent: Progress = {
  tick() {},
  update() {},
  stop() {},
  drawing: false,
};
