// What the steps bench needs from each engine it measures.

export interface Contender {
  readonly name: string;
  /**
   * Runs one workflow of `steps` sequential steps. Each step does trivial work (returns
   * i + 1) and calls `tick()` first; the workflow must return `steps`.
   */
  runWorkflow(steps: number, tick: () => void): Promise<number>;
  /** Journal mode and synchronous level, read back from the engine's own connection. */
  storage(): Promise<string>;
  close(): Promise<void>;
  /** How many of the `planned` runs of `steps` steps to do (0: skip the size, saying why in `skipped`). */
  runsFor?(steps: number, planned: number, phase: "warmup" | "measure"): number;
  readonly skipped?: string;
}

export interface SizeResult {
  steps: number;
  runs: number;
  /** Per-step overhead samples summarised, in ms. */
  samples: number;
  p50: number;
  p99: number;
  /** p99 of the first and of the last 1,000 steps, pooled over the runs (10,000-step runs). */
  p99Head?: number;
  p99Tail?: number;
  /** Wall time of whole runs (start and finish included) divided by steps, in ms. */
  wallPerStep: number;
}

export interface GroupCommitResult {
  items: number;
  concurrency: number;
  runs: number;
  stepsPerSecond: number;
  /** Events made durable per fsynced commit during the parallel runs. */
  eventsPerCommit?: number;
}

export interface ContenderResult {
  name: string;
  storage: string;
  sizes: SizeResult[];
  /** Why sizes are missing from `sizes`, if any are. */
  skipped?: string;
  groupCommit?: GroupCommitResult;
  seconds: number;
}
