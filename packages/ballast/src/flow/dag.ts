import { BallastError } from "../errors.ts";

/**
 * A small DAG runner for workflows whose steps form a dependency graph. Written here, not
 * taken from a graph library, because its release order is part of the product: ballast's
 * step ids and journal must not depend on timing, so ready nodes are released smallest id
 * first, and that order is a pure function of the graph and of the order nodes complete in
 * (with concurrency 1, it is the lexicographically smallest topological order).
 */

export interface DagNode {
  /** Unique, non-empty id; also the key of the node's result. */
  id: string;
  /** Ids of the nodes whose results this node needs. */
  deps: readonly string[];
}

export interface ExecuteDagOptions {
  /** How many nodes may run at once: a whole number >= 1, or Infinity. */
  concurrency: number;
  /** Aborting stops releasing nodes; the run rejects with the abort reason once in-flight nodes settle. */
  signal?: AbortSignal;
}

/** Orders ids by UTF-16 code units: the same everywhere, unlike `localeCompare`. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dagInvalid(message: string, details: Record<string, unknown>): BallastError {
  return new BallastError({ code: "dag_invalid", message, details });
}

/**
 * Checks that `nodes` form a DAG: non-empty unique ids, every dep names a node, no cycle.
 * Throws a `dag_invalid` BallastError naming the duplicate id, the unknown dep, or the
 * cycle's node ids in order (`a -> b -> a`: a depends on b, which depends on a).
 */
export function validateDag(nodes: readonly DagNode[]): void {
  const byId = new Map<string, DagNode>();
  for (const node of nodes) {
    if (typeof node.id !== "string" || node.id === "") {
      throw dagInvalid("A DAG node has an empty or missing id; give every node a unique, non-empty id.", {
        reason: "empty_id",
      });
    }
    if (byId.has(node.id)) {
      throw dagInvalid(`Two DAG nodes have the id "${node.id}"; node ids must be unique, so rename one.`, {
        reason: "duplicate_id",
        id: node.id,
      });
    }
    byId.set(node.id, node);
  }
  for (const node of nodes) {
    for (const dep of node.deps) {
      if (!byId.has(dep)) {
        throw dagInvalid(
          `DAG node "${node.id}" depends on "${dep}", which is not a node; add it or fix the dep.`,
          { reason: "unknown_dep", id: node.id, dep },
        );
      }
    }
  }
  const cycle = findCycle(byId);
  if (cycle) {
    throw dagInvalid(
      `The DAG has a cycle: ${cycle.join(" -> ")} (each depends on the next); remove one of these deps.`,
      { reason: "cycle", cycle },
    );
  }
}

/** Depth-first search in id order, iterative so that deep chains cannot overflow the stack. */
function findCycle(byId: ReadonlyMap<string, DagNode>): string[] | undefined {
  const DONE = 2;
  const ON_PATH = 1;
  const state = new Map<string, number>();
  const sortedDeps = new Map<string, string[]>();
  for (const [id, node] of byId) sortedDeps.set(id, [...new Set(node.deps)].sort(compareIds));

  for (const root of [...byId.keys()].sort(compareIds)) {
    if (state.has(root)) continue;
    const path: string[] = [root];
    const next: number[] = [0];
    state.set(root, ON_PATH);
    while (path.length > 0) {
      const top = path.length - 1;
      const id = path[top]!;
      const deps = sortedDeps.get(id)!;
      const i = next[top]!;
      if (i === deps.length) {
        state.set(id, DONE);
        path.pop();
        next.pop();
        continue;
      }
      next[top] = i + 1;
      const dep = deps[i]!;
      const seen = state.get(dep);
      if (seen === ON_PATH) return [...path.slice(path.indexOf(dep)), dep];
      if (seen === undefined) {
        state.set(dep, ON_PATH);
        path.push(dep);
        next.push(0);
      }
    }
  }
  return undefined;
}

/**
 * Runs every node once its deps have completed, at most `concurrency` at a time, releasing
 * ready nodes smallest id first. `runNode` receives the results of the node's deps, keyed
 * by id. Resolves to every node's result keyed by id (in the order `nodes` were given).
 *
 * When a node fails (or `signal` aborts), no further node is released; the returned promise
 * rejects with the first error, unchanged, after the nodes already running have settled.
 *
 * @example
 * const results = await executeDag(
 *   [{ id: "fetch", deps: [] }, { id: "parse", deps: ["fetch"] }],
 *   (id, deps) => ctx.step(id, () => work(id, deps)),
 *   { concurrency: 4 },
 * );
 */
export function executeDag<T>(
  nodes: readonly DagNode[],
  runNode: (id: string, depResults: Readonly<Record<string, T>>) => Promise<T>,
  options: ExecuteDagOptions,
): Promise<Record<string, T>> {
  const { concurrency, signal } = options;
  if (!(concurrency >= 1 && (Number.isInteger(concurrency) || concurrency === Number.POSITIVE_INFINITY))) {
    return Promise.reject(
      new BallastError({
        code: "invalid_options",
        message: `executeDag concurrency must be a whole number >= 1 or Infinity, got ${concurrency}.`,
      }),
    );
  }
  try {
    validateDag(nodes);
  } catch (error) {
    return Promise.reject(error);
  }
  if (signal?.aborted) return Promise.reject(signal.reason);

  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  const depsOf = new Map<string, string[]>();
  for (const node of nodes) {
    const deps = [...new Set(node.deps)];
    depsOf.set(node.id, deps);
    waitingOn.set(node.id, deps.length);
    dependents.set(node.id, []);
  }
  for (const node of nodes) for (const dep of depsOf.get(node.id)!) dependents.get(dep)!.push(node.id);

  // Kept sorted by id; nodes become ready one at a time, so a binary insert keeps this cheap.
  const ready = nodes
    .filter((n) => waitingOn.get(n.id) === 0)
    .map((n) => n.id)
    .sort(compareIds);
  const results = new Map<string, T>();
  let inFlight = 0;
  let failed = false;
  let failure: unknown;

  return new Promise<Record<string, T>>((resolve, reject) => {
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      failure = error;
    };
    const onAbort = (): void => {
      fail(signal!.reason);
      pump();
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    function pump(): void {
      while (!failed && inFlight < concurrency && ready.length > 0) release(ready.shift()!);
      if (inFlight > 0) return;
      if (failed) {
        signal?.removeEventListener("abort", onAbort);
        reject(failure);
      } else if (results.size === nodes.length) {
        signal?.removeEventListener("abort", onAbort);
        resolve(Object.fromEntries(nodes.map((n) => [n.id, results.get(n.id) as T])));
      }
    }

    function release(id: string): void {
      inFlight++;
      const depResults = Object.fromEntries(depsOf.get(id)!.map((dep) => [dep, results.get(dep) as T]));
      let running: Promise<T>;
      try {
        running = Promise.resolve(runNode(id, depResults));
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        (value) => {
          inFlight--;
          results.set(id, value);
          for (const dependent of dependents.get(id)!) {
            const left = waitingOn.get(dependent)! - 1;
            waitingOn.set(dependent, left);
            if (left === 0) insertSorted(ready, dependent);
          }
          pump();
        },
        (error: unknown) => {
          inFlight--;
          fail(error);
          pump();
        },
      );
    }

    pump();
  });
}

function insertSorted(sorted: string[], id: string): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(sorted[mid]!, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  sorted.splice(lo, 0, id);
}
