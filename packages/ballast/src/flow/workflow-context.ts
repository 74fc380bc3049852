import { ValidationError } from "../errors.ts";
import { executeDag } from "./dag.ts";
import type { Execution } from "./execution.ts";
import { EngineScope } from "./run-scope.ts";
import { currentScope, runInScope } from "./scope.ts";
import { seededRandom, seededUuid } from "./seeded-random.ts";
import { runStep } from "./step-runner.ts";
import type { MapOptions, StepFn, StepOptions, Task, WorkflowContext, WorkflowDagNode } from "./types.ts";

/**
 * The `ctx` a workflow receives. Every call first finds the scope it was made from (the
 * workflow body, a branch of a fan-out, or a step) through the RunScope's AsyncLocalStorage,
 * so ids are numbered per scope and stay deterministic under concurrency.
 */
export function createWorkflowContext(exec: Execution): WorkflowContext {
  const scopeOf = (): EngineScope => {
    const scope = currentScope();
    return scope instanceof EngineScope && scope.host === exec ? scope : exec.root;
  };

  /** Runs `fn` as branch `path` of `scope`: its steps are numbered inside the branch. */
  const branch = <T>(scope: EngineScope, path: string, fn: () => Promise<T>): Promise<T> =>
    runInScope(scope.branch(path), async () => fn());

  /** Journaled values: served from the journal when recorded, else made and journaled. */
  const recorded = <T>(type: string, make: (key: string) => T): T => {
    const key = scopeOf().nextEffectKey(type);
    const event = exec.history.effects.get(key);
    if (event !== undefined) {
      exec.visit(event.seq);
      return (event.data as { value: T }).value;
    }
    if (exec.mode === "replay")
      exec.missing(key, `the replay called ${type}, which the journal has no value for`);
    const value = make(key);
    exec.appendLazy(type, { key, value: value as string | number });
    return value;
  };

  return {
    runId: exec.runId,
    workflow: exec.workflow.name,
    version: exec.workflow.version,
    mode: exec.mode,
    signal: exec.signal,

    step<T>(name: string, fn: StepFn<T>, options?: StepOptions): Promise<T> {
      return runStep(exec, scopeOf(), name, fn, options);
    },

    all<T>(tasks: readonly Task<T>[]): Promise<T[]> {
      const scope = scopeOf();
      const id = scope.nextBranchId("all");
      return settleInOrder(
        tasks.map((task, i) => (typeof task === "function" ? branch(scope, `${id}[${i}]`, task) : task)),
      );
    },

    async map<I, T>(
      items: readonly I[],
      fn: (item: I, index: number) => Promise<T>,
      options?: MapOptions,
    ): Promise<T[]> {
      const scope = scopeOf();
      const id = scope.nextBranchId("map");
      const limit = concurrencyOf(options?.concurrency, items.length, "ctx.map");
      const results = new Array<T>(items.length);
      const failures: { index: number; error: unknown }[] = [];
      let next = 0;
      // A fixed pool taking items in index order; each item is its own branch, so its step
      // ids do not depend on which worker ran it or when.
      const worker = async (): Promise<void> => {
        while (failures.length === 0 && next < items.length) {
          const index = next++;
          try {
            results[index] = await branch(scope, `${id}[${index}]`, () => fn(items[index] as I, index));
          } catch (error) {
            failures.push({ index, error });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
      if (failures.length > 0) throw failures.reduce((a, b) => (b.index < a.index ? b : a)).error;
      return results;
    },

    async dag<T>(
      nodes: readonly WorkflowDagNode<T>[],
      options?: { concurrency?: number },
    ): Promise<Record<string, T>> {
      const scope = scopeOf();
      const id = scope.nextBranchId("dag");
      const byId = new Map(nodes.map((node) => [node.id, node]));
      return executeDag<T>(
        nodes.map((node) => ({ id: node.id, deps: node.deps ?? [] })),
        (nodeId, deps) =>
          branch(scope, `${id}[${nodeId}]`, () => (byId.get(nodeId) as WorkflowDagNode<T>).run(deps)),
        { concurrency: concurrencyOf(options?.concurrency, nodes.length, "ctx.dag"), signal: exec.signal },
      );
    },

    now: () => recorded("ctx.now", () => Date.now()),
    random: () => recorded("ctx.random", (key) => seededRandom(exec.seed, key)),
    uuid: () => recorded("ctx.uuid", (key) => seededUuid(exec.seed, key)),
  };
}

function concurrencyOf(value: number | undefined, count: number, where: string): number {
  if (value === undefined) return Math.max(1, count);
  if (!(value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1))) {
    throw new ValidationError(
      "invalid_options",
      `${where}: concurrency must be a whole number >= 1, got ${value}.`,
    );
  }
  return value === Number.POSITIVE_INFINITY ? Math.max(1, count) : value;
}

/** Waits for every task, then returns results in order or throws the first failure by position. */
async function settleInOrder<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const results: T[] = [];
  for (const outcome of settled) {
    if (outcome.status === "rejected") throw outcome.reason;
    results.push(outcome.value);
  }
  return results;
}
