import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { canonicalJson, fingerprint, type JsonValue } from "../canonical.ts";
import { BallastError, toErrorRecord, ValidationError } from "../errors.ts";
import { RunNotFoundError } from "../journal/errors.ts";
import {
  type JournalEvent,
  type JournalStore,
  type RunOwner,
  type RunRecord,
  TERMINAL_STATUSES,
} from "../journal/types.ts";
import { validateBudget } from "./budget.ts";
import { RunCancelledError, RunNotResumableError, RunStateError } from "./errors.ts";
import { EV, type RunStartedData, TERMINAL_EVENTS } from "./events.ts";
import { Execution, type RunOutcome } from "./execution.ts";
import { createFlowTelemetry, defaultFlowLogger } from "./flow-telemetry.ts";
import type { Logger } from "./observe.ts";
import type { FlowObserver } from "./observer.ts";
import { checkReplayInput, checkReplayOutcome, type ReplayReport } from "./replay.ts";
import { createRunHandle, type RunHandle } from "./run-handle.ts";
import { RunHistory } from "./run-history.ts";
import { metadataFromJournal, type RunConfig, runMetadata } from "./run-summary.ts";
import type { ScopeMode } from "./scope.ts";
import { newSeed } from "./seeded-random.ts";
import { foldState, type RunState } from "./state-at.ts";
import type { BudgetLimits, Workflow } from "./types.ts";
import { isWorkflow, WorkflowRegistry } from "./workflow.ts";

/**
 * The engine: starts, resumes, cancels, replays and forks runs of registered workflows
 * against one journal. Everything a run does is in its journal; the engine's own state is
 * only the set of runs executing in this process.
 */

export interface BallastOptions {
  journal: JournalStore;
  workflows?: readonly Workflow<never, unknown>[];
  /** pino logger; default: stderr at `BALLAST_LOG_LEVEL` or `warn`. */
  logger?: Logger;
  /** Replaces the default logs/metrics/traces (mostly for tests). */
  observer?: FlowObserver;
}

export interface StartOptions {
  /** Default: a random UUID. */
  runId?: string;
  /** Seed of `ctx.random`/`ctx.uuid`; default: 128 random bits. */
  seed?: string;
  /** Overrides the workflow's budget for this run. */
  budget?: BudgetLimits;
  /** Overrides the workflow's run timeout for this run. */
  timeoutMs?: number;
  tenant?: string;
}

export interface ForkOptions {
  /** Last event of the parent to copy (inclusive). */
  atSeq: number;
  /** Run the fork with another registered version of the workflow (default: the parent's). */
  version?: string;
  runId?: string;
}

interface Active {
  exec: Execution;
  handle: RunHandle;
}

export class Ballast {
  readonly journal: JournalStore;
  readonly workflows = new WorkflowRegistry();
  readonly #observer: FlowObserver;
  readonly #active = new Map<string, Active>();
  /** Who this engine is when it claims a run: only one process executes a run at a time. */
  readonly #owner: RunOwner = { id: randomUUID(), pid: process.pid, host: hostname() };

  constructor(options: BallastOptions) {
    if (options?.journal === undefined) {
      throw new ValidationError(
        "invalid_options",
        "createBallast needs a journal: `createBallast({ journal: await openJournal() })`.",
      );
    }
    this.journal = options.journal;
    this.#observer = options.observer ?? createFlowTelemetry(options.logger ?? defaultFlowLogger());
    for (const workflow of options.workflows ?? []) this.register(workflow as Workflow);
  }

  register(workflow: Workflow<never, unknown>): this {
    if (!isWorkflow(workflow)) {
      throw new ValidationError("invalid_workflow", "register() takes a workflow made by defineWorkflow().");
    }
    this.workflows.register(workflow as Workflow);
    return this;
  }

  /** Runs ids executing in this process. */
  activeRuns(): string[] {
    return [...this.#active.keys()];
  }

  async getRun(runId: string): Promise<RunRecord> {
    const run = await this.journal.getRun(runId);
    if (run === undefined) throw new RunNotFoundError(runId);
    return run;
  }

  /** Starts a run; resolves once `run.started` is durable. */
  async start<I, O>(workflow: Workflow<I, O>, input: I, options: StartOptions = {}): Promise<RunHandle<O>> {
    this.register(workflow as unknown as Workflow<never, unknown>);
    const budget = options.budget ?? workflow.budget;
    validateBudget(budget, `Workflow "${workflow.name}"`);
    const timeoutMs = options.timeoutMs ?? workflow.timeoutMs;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new ValidationError(
        "invalid_options",
        `start(): timeoutMs must be a positive number of ms, got ${timeoutMs}.`,
      );
    }
    // The live run sees its input exactly as resume and replay will read it back from the
    // journal (canonical JSON: sorted keys, no undefined members), so all three take one path.
    let journaled: JsonValue;
    try {
      journaled = JSON.parse(canonicalJson(input)) as JsonValue;
    } catch (error) {
      throw new ValidationError(
        "invalid_input",
        `The input of workflow "${workflow.name}" cannot be journaled (${(error as Error).message}). Pass plain JSON values.`,
      );
    }
    const runId = options.runId ?? randomUUID();
    const flow = workflow as unknown as Workflow;
    await this.journal.createRun({
      id: runId,
      workflow: workflow.name,
      workflowVersion: workflow.version,
      input: journaled,
      status: "running",
      ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    });
    await this.journal.claimRun(runId, this.#owner, CLAIM_STALE_MS);
    const started = await this.#appendStarted(
      runId,
      flow,
      journaled,
      options.seed ?? newSeed(),
      budget,
      timeoutMs,
    );
    return this.#launch(runId, flow, journaled, new RunHistory([started]), 1) as RunHandle<O>;
  }

  /**
   * Resumes a run that is not finished (after a crash, or one left `queued`): the workflow
   * runs again from the top; completed steps return their journaled results.
   */
  async resume<O = unknown>(runId: string): Promise<RunHandle<O>> {
    const active = this.#active.get(runId);
    if (active) return active.handle as RunHandle<O>;
    const run = await this.getRun(runId);
    if (TERMINAL_STATUSES.has(run.status))
      throw new RunNotResumableError(runId, run.status, "it has already ended");
    const workflow = this.workflows.require(run.workflow, run.workflowVersion, runId);
    // Refuses (run_busy) while the process that was executing it is still alive.
    await this.journal.claimRun(runId, this.#owner, CLAIM_STALE_MS);
    let history = new RunHistory(await this.journal.readEvents(runId));
    if (history.terminal) throw new RunNotResumableError(runId, run.status, "its journal records its end");
    if (history.started === undefined) {
      // Created, but the process died before run.started was durable: start it now.
      const started = await this.#appendStarted(
        runId,
        workflow,
        run.input,
        newSeed(),
        workflow.budget,
        workflow.timeoutMs,
      );
      history = new RunHistory([started]);
    } else {
      await this.journal.append(runId, { type: EV.runResumed, data: { execution: history.executions + 1 } });
    }
    return this.#launch(runId, workflow, run.input, history, history.executions + 1) as RunHandle<O>;
  }

  /** Resumes every unfinished run whose workflow is registered (e.g. at process start). */
  async recover(): Promise<RunHandle[]> {
    const handles: RunHandle[] = [];
    for (const status of ["running", "queued"] as const) {
      for (const run of await this.journal.listRuns({ status })) {
        if (this.workflows.get(run.workflow, run.workflowVersion) === undefined || this.#active.has(run.id))
          continue;
        handles.push(await this.resume(run.id));
      }
    }
    return handles;
  }

  /**
   * Cancels a run. A run executing here stops at once (running steps see their signal abort);
   * an unfinished run that is not executing anywhere is marked cancelled in its journal.
   */
  async cancel(runId: string, reason?: string): Promise<RunRecord> {
    const active = this.#active.get(runId);
    if (active) {
      active.exec.stop(
        new RunCancelledError(runId, reason),
        "cancelled",
        EV.runCancelled,
        reason ? { reason } : null,
      );
      await active.handle.wait();
      return this.getRun(runId);
    }
    const run = await this.getRun(runId);
    if (TERMINAL_STATUSES.has(run.status)) {
      throw new RunStateError(
        "run_finished",
        runId,
        `it already ended (${run.status}); there is nothing to cancel.`,
      );
    }
    const record = toErrorRecord(new RunCancelledError(runId, reason));
    const metadata = metadataFromJournal(run, new RunHistory(await this.journal.readEvents(runId)));
    await this.journal.append(
      runId,
      {
        type: EV.runCancelled,
        data: { ...(reason ? { reason } : {}), error: record as unknown as JsonValue },
      },
      { runPatch: { status: "cancelled", error: record, metadata } },
    );
    return this.getRun(runId);
  }

  /**
   * Re-executes a finished run against its journal, offline: side-effect steps and every
   * effect are served from the journal, other steps run again and must return what the
   * journal holds. Writes nothing. Throws a DivergenceError naming the first differing event.
   */
  async replay(runId: string): Promise<ReplayReport> {
    const run = await this.getRun(runId);
    if (!TERMINAL_STATUSES.has(run.status)) {
      throw new RunStateError(
        "run_not_finished",
        runId,
        `it has not ended (${run.status}); replay needs a finished run. Resume it, or cancel it, first.`,
      );
    }
    const workflow = this.workflows.require(run.workflow, run.workflowVersion, runId);
    const history = new RunHistory(await this.journal.readEvents(runId));
    checkReplayInput(run, history);
    const exec = this.#execution(runId, workflow, run.input, history, "replay", history.executions);
    const outcome = await exec.run();
    return checkReplayOutcome(exec, outcome);
  }

  /**
   * A new run that copies the parent's journal up to `atSeq` (a new hash chain) and
   * continues live from there: journaled steps are served, the rest runs.
   */
  async fork<O = unknown>(runId: string, options: ForkOptions): Promise<RunHandle<O>> {
    const parent = await this.getRun(runId);
    const { atSeq } = options;
    if (!(Number.isInteger(atSeq) && atSeq >= 0 && atSeq < parent.eventCount)) {
      throw new ValidationError(
        "invalid_fork_point",
        `Cannot fork run ${runId} at event ${atSeq}: its events are numbered 0 to ${parent.eventCount - 1}.`,
      );
    }
    const events = await this.journal.readEvents(runId, { toSeq: atSeq });
    const last = events[events.length - 1] as JournalEvent;
    if (TERMINAL_EVENTS.has(last.type)) {
      throw new ValidationError(
        "invalid_fork_point",
        `Cannot fork run ${runId} at event ${atSeq}: that event (${last.type}) ends the run. Fork at ${atSeq - 1} or earlier.`,
      );
    }
    const workflow = this.workflows.require(
      parent.workflow,
      options.version ?? parent.workflowVersion,
      runId,
    );
    const forkId = options.runId ?? randomUUID();
    await this.journal.createRun({
      id: forkId,
      workflow: workflow.name,
      workflowVersion: workflow.version,
      input: parent.input,
      status: "running",
      parentRunId: runId,
      forkedAtSeq: atSeq,
      ...(parent.tenant === undefined ? {} : { tenant: parent.tenant }),
    });
    await this.journal.claimRun(forkId, this.#owner, CLAIM_STALE_MS);
    const copied: JournalEvent[] = [];
    for (const event of events) {
      copied.push(await this.journal.append(forkId, { type: event.type, data: event.data }, { lazy: true }));
    }
    await this.journal.append(forkId, {
      type: EV.runForked,
      data: { parentRunId: runId, atSeq, workflowVersion: workflow.version },
    });
    const history = new RunHistory(copied);
    return this.#launch(forkId, workflow, parent.input, history, history.executions + 1) as RunHandle<O>;
  }

  /** Time travel: the run's state as of event `seq` (or as of a time). */
  async stateAt(runId: string, at: number | Date): Promise<RunState> {
    await this.getRun(runId);
    let events: JournalEvent[];
    if (at instanceof Date) {
      const limit = at.getTime();
      events = (await this.journal.readEvents(runId)).filter((e) => Date.parse(e.at) <= limit);
    } else {
      if (!(Number.isInteger(at) && at >= 0)) {
        throw new ValidationError(
          "invalid_seq",
          `stateAt(${runId}, ${at}): the event number must be a whole number >= 0.`,
        );
      }
      events = await this.journal.readEvents(runId, { toSeq: at });
    }
    return foldState(runId, events, this.journal.blobs);
  }

  async #appendStarted(
    runId: string,
    workflow: Workflow,
    input: unknown,
    seed: string,
    budget: BudgetLimits | undefined,
    timeoutMs: number | undefined,
  ): Promise<JournalEvent> {
    const data: RunStartedData = {
      workflow: workflow.name,
      version: workflow.version,
      seed,
      inputHash: fingerprint(input),
      ...(budget === undefined ? {} : { budget: budget as JsonValue }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    };
    return this.journal.append(runId, { type: EV.runStarted, data: data as unknown as JsonValue });
  }

  #execution(
    runId: string,
    workflow: Workflow,
    input: unknown,
    history: RunHistory,
    mode: ScopeMode,
    execution: number,
  ): Execution {
    const started = history.started ?? EMPTY_STARTED;
    const config: RunConfig = {
      ...(started.budget === undefined ? {} : { budget: started.budget }),
      ...(started.timeoutMs === undefined ? {} : { timeoutMs: started.timeoutMs }),
      ...(workflow.retry === undefined ? {} : { retry: retryConfig(workflow) }),
      ...(workflow.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: workflow.stepTimeoutMs }),
    };
    return new Execution({
      store: this.journal,
      runId,
      workflow,
      input,
      mode,
      history,
      seed: started.seed,
      startedAt: history.startedAt ?? Date.now(),
      budget: started.budget as BudgetLimits | undefined,
      timeoutMs: started.timeoutMs,
      observation: this.#observer.runStarted({
        runId,
        workflow: workflow.name,
        version: workflow.version,
        mode,
        execution,
      }),
      metadata: (exec) => runMetadata(exec, config),
    });
  }

  #launch(
    runId: string,
    workflow: Workflow,
    input: unknown,
    history: RunHistory,
    execution: number,
  ): RunHandle {
    const exec = this.#execution(runId, workflow, input, history, "live", execution);
    const outcome: Promise<RunOutcome> = exec.run().then(
      (end) => end,
      // The journal itself failed (closed, disk full): the run could not record its end.
      (error: unknown) => ({ status: "failed" as const, error }),
    );
    const handle = createRunHandle(runId, outcome, async (reason?: string) => {
      await this.cancel(runId, reason).catch((error: unknown) => {
        if (!BallastError.hasCode(error, "run_finished")) throw error;
      });
    });
    this.#active.set(runId, { exec, handle });
    const renew = setInterval(() => {
      this.journal.renewRun(runId, this.#owner.id).catch(() => {}); // a busy database is asked again next time
    }, CLAIM_RENEW_MS);
    renew.unref();
    void outcome.finally(async () => {
      clearInterval(renew);
      this.#active.delete(runId);
      await this.journal.releaseRun(runId, this.#owner.id).catch(() => {}); // a closed journal has nothing to release
    });
    return handle;
  }
}

/** A claim from another host is taken over once it has not been renewed for this long. */
const CLAIM_STALE_MS = 10_000;
const CLAIM_RENEW_MS = 2_000;

const EMPTY_STARTED: RunStartedData = { workflow: "", version: "", seed: "", inputHash: "" };

function retryConfig(workflow: Workflow): JsonValue {
  const { isRetryable, ...rest } = workflow.retry ?? {};
  return { ...rest, ...(isRetryable ? { isRetryable: "custom" } : {}) } as JsonValue;
}

/** Creates the engine over a journal. */
export function createBallast(options: BallastOptions): Ballast {
  return new Ballast(options);
}
