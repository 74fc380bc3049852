import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { compareIds, type DagNode, executeDag, validateDag } from "./dag.ts";

function caught(fn: () => unknown): BallastError {
  try {
    fn();
  } catch (error) {
    if (BallastError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a throw");
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

/** A random DAG: deps only point to earlier nodes, then the list is shuffled. */
const dagArb = fc
  .integer({ min: 0, max: 25 })
  .chain((n) =>
    fc.record({
      ids: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { minLength: n, maxLength: n }),
      deps: fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: n, maxLength: n }),
      delays: fc.array(fc.nat(6), { minLength: n, maxLength: n }),
      order: fc.array(fc.nat(), { minLength: n, maxLength: n }),
    }),
  )
  .map(({ ids, deps, delays, order }) => {
    const nodes: DagNode[] = ids.map((id, i) => ({
      id,
      deps: i === 0 ? [] : deps[i]!.map((d) => ids[d % i]!),
    }));
    const delayOf = new Map(ids.map((id, i) => [id, delays[i]!]));
    const shuffled = nodes
      .map((node, i) => ({ node, key: order[i]! }))
      .sort((a, b) => a.key - b.key)
      .map((x) => x.node);
    return { nodes, shuffled, delayOf };
  });

/** Runs the DAG, recording releases and checking invariants at each release. */
async function traced(nodes: readonly DagNode[], delayOf: ReadonlyMap<string, number>, concurrency: number) {
  const released: string[] = [];
  const done = new Set<string>();
  let inFlight = 0;
  let maxInFlight = 0;
  const results = await executeDag<string>(
    nodes,
    async (id, depResults) => {
      const node = nodes.find((n) => n.id === id)!;
      for (const dep of node.deps) expect(done.has(dep), `${id} released before dep ${dep}`).toBe(true);
      expect(Object.keys(depResults).sort()).toEqual([...new Set(node.deps)].sort());
      for (const [dep, value] of Object.entries(depResults)) expect(value).toBe(`r:${dep}`);
      if (concurrency === 1) {
        // Smallest id first: no unreleased node whose deps are all done sorts before this one.
        // (Checked with one node in flight, where the test sees completions exactly when the
        // executor does; with more, a completion reaches the executor a few microtasks later.)
        const readyNow = nodes.filter(
          (n) => !released.includes(n.id) && n.id !== id && n.deps.every((d) => done.has(d)),
        );
        for (const other of readyNow) expect(compareIds(id, other.id)).toBeLessThan(0);
      }
      released.push(id);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await ticks(delayOf.get(id) ?? 0);
      inFlight--;
      done.add(id);
      return `r:${id}`;
    },
    { concurrency },
  );
  return { released, results, maxInFlight };
}

describe("validateDag", () => {
  it("accepts a DAG, including repeated deps and an empty graph", () => {
    expect(() =>
      validateDag([
        { id: "a", deps: [] },
        { id: "b", deps: ["a", "a"] },
        { id: "c", deps: ["a", "b"] },
      ]),
    ).not.toThrow();
    expect(() => validateDag([])).not.toThrow();
  });

  it("names the cycle's node ids in order", () => {
    const error = caught(() =>
      validateDag([
        { id: "start", deps: [] },
        { id: "a", deps: ["start", "b"] },
        { id: "b", deps: ["c"] },
        { id: "c", deps: ["a"] },
      ]),
    );
    expect(error.code).toBe("dag_invalid");
    expect(error.details).toEqual({ reason: "cycle", cycle: ["a", "b", "c", "a"] });
    expect(error.message).toContain("a -> b -> c -> a");
  });

  it("reports a node that depends on itself as a cycle", () => {
    const error = caught(() => validateDag([{ id: "self", deps: ["self"] }]));
    expect(error.details).toEqual({ reason: "cycle", cycle: ["self", "self"] });
  });

  it("finds a cycle at the end of a long chain without overflowing the stack", () => {
    const n = 50_000;
    const nodes = Array.from({ length: n }, (_, i) => ({
      id: `n${String(i).padStart(6, "0")}`,
      deps: [`n${String((i + 1) % n).padStart(6, "0")}`],
    }));
    const error = caught(() => validateDag(nodes));
    expect((error.details["cycle"] as string[]).length).toBe(n + 1);
  });

  it("names an unknown dep", () => {
    const error = caught(() => validateDag([{ id: "a", deps: ["ghost"] }]));
    expect(error.code).toBe("dag_invalid");
    expect(error.details).toEqual({ reason: "unknown_dep", id: "a", dep: "ghost" });
    expect(error.message).toContain('"ghost"');
  });

  it("names a duplicate id and rejects an empty id", () => {
    const duplicate = caught(() =>
      validateDag([
        { id: "a", deps: [] },
        { id: "a", deps: [] },
      ]),
    );
    expect(duplicate.details).toEqual({ reason: "duplicate_id", id: "a" });
    expect(caught(() => validateDag([{ id: "", deps: [] }])).details).toEqual({ reason: "empty_id" });
  });

  it("rejects any graph with a back edge, and accepts any graph with forward edges only", () => {
    fc.assert(
      fc.property(dagArb, fc.nat(), ({ nodes }, pick) => {
        expect(() => validateDag(nodes)).not.toThrow();
        const withDeps = nodes.filter((n) => n.deps.length > 0);
        if (withDeps.length === 0) return;
        // Point some dep back at the node itself through the chain: dep -> ... -> node.
        const node = withDeps[pick % withDeps.length]!;
        const dep = node.deps[0]!;
        const cyclic = nodes.map((n) => (n.id === dep ? { id: n.id, deps: [...n.deps, node.id] } : n));
        expect(caught(() => validateDag(cyclic)).details["reason"]).toBe("cycle");
      }),
    );
  });
});

describe("executeDag", () => {
  it("runs a diamond and returns results keyed by id", async () => {
    const nodes = [
      { id: "d", deps: ["b", "c"] },
      { id: "b", deps: ["a"] },
      { id: "c", deps: ["a"] },
      { id: "a", deps: [] },
    ];
    const results = await executeDag<number>(
      nodes,
      async (id, deps) => (id === "a" ? 1 : Object.values(deps).reduce((s, v) => s + v, 0) + 1),
      { concurrency: 2 },
    );
    expect(results).toEqual({ d: 5, b: 2, c: 2, a: 1 });
    expect(Object.keys(results)).toEqual(["d", "b", "c", "a"]);
  });

  it("resolves to an empty record for no nodes", async () => {
    await expect(executeDag([], async () => 1, { concurrency: 1 })).resolves.toEqual({});
  });

  it("releases in the lexicographically smallest topological order with concurrency 1", async () => {
    const nodes = [
      { id: "z", deps: [] },
      { id: "b", deps: ["z"] },
      { id: "a", deps: ["z"] },
      { id: "c", deps: [] },
      { id: "y", deps: ["c"] },
    ];
    const { released } = await traced(nodes, new Map(), 1);
    expect(released).toEqual(["c", "y", "z", "a", "b"]);
  });

  it("releases the smallest ready id each time with concurrency 1 (property)", async () => {
    await fc.assert(
      fc.asyncProperty(dagArb, async ({ shuffled, delayOf }) => {
        const { released } = await traced(shuffled, delayOf, 1);
        expect(released.length).toBe(shuffled.length);
      }),
      { numRuns: 60 },
    );
  });

  it("respects deps and the concurrency limit on any DAG (property)", async () => {
    await fc.assert(
      fc.asyncProperty(dagArb, fc.integer({ min: 1, max: 5 }), async ({ shuffled, delayOf }, concurrency) => {
        const { released, results, maxInFlight } = await traced(shuffled, delayOf, concurrency);
        expect([...released].sort()).toEqual(shuffled.map((n) => n.id).sort());
        expect(maxInFlight).toBeLessThanOrEqual(concurrency);
        for (const node of shuffled) expect(results[node.id]).toBe(`r:${node.id}`);
      }),
      { numRuns: 60 },
    );
  });

  it("releases in the same order whatever order the nodes are given in (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        dagArb,
        fc.integer({ min: 1, max: 4 }),
        async ({ nodes, shuffled, delayOf }, concurrency) => {
          const first = await traced(nodes, delayOf, concurrency);
          const second = await traced(shuffled, delayOf, concurrency);
          const third = await traced(shuffled, delayOf, concurrency);
          expect(second.released).toEqual(first.released);
          expect(third.released).toEqual(first.released);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("stops releasing after a failure and rethrows once in-flight nodes settle", async () => {
    const nodes = [
      { id: "a", deps: [] },
      { id: "b", deps: [] },
      { id: "c", deps: [] },
      { id: "d", deps: ["a"] },
    ];
    const events: string[] = [];
    const boom = new Error("boom");
    const run = executeDag(
      nodes,
      async (id) => {
        events.push(`start ${id}`);
        if (id === "a") {
          await ticks(1);
          throw boom;
        }
        await ticks(5);
        events.push(`end ${id}`);
        return id;
      },
      { concurrency: 2 },
    );
    await expect(run).rejects.toBe(boom);
    expect(events).toEqual(["start a", "start b", "end b"]);
  });

  it("rethrows the first error when several nodes fail", async () => {
    const nodes = [
      { id: "a", deps: [] },
      { id: "b", deps: [] },
    ];
    const run = executeDag(
      nodes,
      async (id) => {
        await ticks(id === "a" ? 3 : 1);
        throw new Error(`fail ${id}`);
      },
      { concurrency: 2 },
    );
    await expect(run).rejects.toThrow("fail b");
  });

  it("treats a synchronous throw from runNode as the node failing", async () => {
    const run = executeDag(
      [{ id: "a", deps: [] }],
      () => {
        throw new Error("sync");
      },
      { concurrency: 1 },
    );
    await expect(run).rejects.toThrow("sync");
  });

  it("stops releasing when the signal aborts and rejects with its reason", async () => {
    const controller = new AbortController();
    const started: string[] = [];
    const nodes = ["a", "b", "c"].map((id) => ({ id, deps: [] }));
    const run = executeDag(
      nodes,
      async (id) => {
        started.push(id);
        if (id === "a") controller.abort(new Error("cancelled"));
        await ticks(2);
        return id;
      },
      { concurrency: 1, signal: controller.signal },
    );
    await expect(run).rejects.toThrow("cancelled");
    expect(started).toEqual(["a"]);
    const already = executeDag(nodes, async (id) => id, { concurrency: 1, signal: controller.signal });
    await expect(already).rejects.toThrow("cancelled");
  });

  it("accepts Infinity and rejects an unusable concurrency or an invalid DAG", async () => {
    const nodes = ["a", "b"].map((id) => ({ id, deps: [] }));
    await expect(
      executeDag(nodes, async (id) => id, { concurrency: Number.POSITIVE_INFINITY }),
    ).resolves.toEqual({
      a: "a",
      b: "b",
    });
    for (const concurrency of [0, 1.5, Number.NaN]) {
      await expect(executeDag(nodes, async (id) => id, { concurrency })).rejects.toMatchObject({
        code: "invalid_options",
      });
    }
    await expect(
      executeDag([{ id: "a", deps: ["a"] }], async (id) => id, { concurrency: 1 }),
    ).rejects.toMatchObject({ code: "dag_invalid" });
  });
});
