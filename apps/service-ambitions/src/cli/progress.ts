import cliProgress from "cli-progress";

/**
 * The run's progress bar: stage steps done, services done, and cache hits, on stderr. Drawn
 * only on an interactive terminal and never with --json-logs, like ballast's own progress
 * (src/util/progress.ts, which is not a public export); anywhere else it does nothing.
 */

export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
}

export interface RunProgress {
  step(): void;
  service(): void;
  stop(): void;
  readonly drawing: boolean;
}

const SILENT: RunProgress = { step() {}, service() {}, stop() {}, drawing: false };

export function createRunProgress(options: {
  steps: number;
  services: number;
  label: string;
  jsonLogs?: boolean;
  stream?: ProgressStream;
}): RunProgress {
  const stream = options.stream ?? process.stderr;
  if (options.jsonLogs === true || stream.isTTY !== true) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format:
        "{label} [{bar}] {percentage}% | {value}/{total} steps | {services}/{servicesTotal} services | ETA {eta_formatted}",
      barsize: 28,
      hideCursor: false, // a kill must not leave the cursor hidden
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let services = 0;
  let stopped = false;
  bar.start(options.steps, 0, { label: options.label, services: 0, servicesTotal: options.services });
  return {
    step() {
      if (!stopped) bar.increment(1, { services });
    },
    service() {
      services += 1;
      if (!stopped) bar.update({ services });
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
