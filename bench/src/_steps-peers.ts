// The in-process peers a user would pick instead of ballast, each in its best shape for
// many steps: one step looping over a constant-size state, so per-step cost does not grow
// with the run (a Mastra `.then()` chain persists every earlier step's result on each step).
import { join } from "node:path";
import type { Contender } from "./_steps-contender.ts";

/**
 * LangGraph.js with its SQLite checkpointer and `durability: "sync"` (a checkpoint is
 * written before the next step starts). SqliteSaver.setup() sets `journal_mode=WAL` and
 * leaves `synchronous` alone; better-sqlite3 is compiled with
 * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so the connection runs synchronous=NORMAL.
 */
export async function openLangGraph(dir: string): Promise<Contender> {
  const { Annotation, END, START, StateGraph } = await import("@langchain/langgraph");
  const { SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite");
  const saver = SqliteSaver.fromConnString(join(dir, "langgraph.db"));
  let tick: () => void = () => {};
  const State = Annotation.Root({ i: Annotation<number>(), n: Annotation<number>() });
  const graph = new StateGraph(State)
    .addNode("inc", (state) => {
      tick();
      return { i: state.i + 1 };
    })
    .addEdge(START, "inc")
    .addConditionalEdges("inc", (state) => (state.i >= state.n ? END : "inc"))
    .compile({ checkpointer: saver });
  let thread = 0;
  return {
    name: "langgraph",
    async runWorkflow(steps, onTick) {
      tick = onTick;
      const out = await graph.invoke(
        { i: 0, n: steps },
        { configurable: { thread_id: `t${thread++}` }, recursionLimit: steps + 10, durability: "sync" },
      );
      return out.i;
    },
    async storage() {
      const mode = saver.db.pragma("journal_mode", { simple: true });
      const sync = saver.db.pragma("synchronous", { simple: true });
      return `${String(mode).toUpperCase()} sync=${syncName(sync)}`;
    },
    async close() {
      saver.db.close();
    },
  };
}

/**
 * Mastra workflows on LibSQL: a `dountil` loop over one step; Mastra persists the run
 * snapshot when each iteration starts and when the loop ends. LibSQLStore sets
 * `journal_mode=WAL` and `synchronous=NORMAL` on local files (applyLocalPragmas), and its
 * workflows domain sets `synchronous = NORMAL` again (setupPragmaSettings).
 */
export async function openMastra(dir: string): Promise<Contender> {
  const { Mastra } = await import("@mastra/core");
  const { createStep, createWorkflow } = await import("@mastra/core/workflows");
  const { LibSQLStore } = await import("@mastra/libsql");
  const { z } = await import("zod");
  let tick: () => void = () => {};
  const counter = z.object({ i: z.number(), n: z.number() });
  const inc = createStep({
    id: "inc",
    inputSchema: counter,
    outputSchema: counter,
    execute: async ({ inputData }) => {
      tick();
      return { i: inputData.i + 1, n: inputData.n };
    },
  });
  const loop = createWorkflow({ id: "loop", inputSchema: counter, outputSchema: counter })
    .dountil(inc, async ({ inputData }) => inputData.i >= inputData.n)
    .commit();
  const storage = new LibSQLStore({ id: "bench-steps", url: `file:${join(dir, "mastra.db")}` });
  const mastra = new Mastra({ workflows: { loop }, storage, logger: false });
  const workflow = mastra.getWorkflow("loop");
  // The store's own client (private in the types): pragmas are per connection, so read them back there.
  const client = (
    storage as unknown as { client: { execute(sql: string): Promise<{ rows: unknown[][] }>; close(): void } }
  ).client;
  return {
    name: "mastra",
    async runWorkflow(steps, onTick) {
      tick = onTick;
      const run = await workflow.createRun();
      const result = await run.start({ inputData: { i: 0, n: steps } });
      if (result.status !== "success") throw new Error(`mastra run ended ${result.status}`);
      return result.result.i;
    },
    async storage() {
      const mode = (await client.execute("PRAGMA journal_mode")).rows[0]?.[0];
      const sync = (await client.execute("PRAGMA synchronous")).rows[0]?.[0];
      return `${String(mode).toUpperCase()} sync=${syncName(sync)}`;
    },
    async close() {
      client.close();
    },
  };
}

/**
 * Mastra's other shape, for reference: a `.then()` chain of distinct steps, as short
 * workflows are usually written. Every step persists the run snapshot, which holds every
 * earlier step's result, so the cost per step grows with the run; 10,000 steps are not
 * run (tens of minutes), and 1,000 steps once.
 */
export async function openMastraChain(dir: string): Promise<Contender> {
  const { Mastra } = await import("@mastra/core");
  const { createStep, createWorkflow } = await import("@mastra/core/workflows");
  const { LibSQLStore } = await import("@mastra/libsql");
  const { z } = await import("zod");
  let tick: () => void = () => {};
  const counter = z.object({ i: z.number() });
  const lengths = [10, 1_000];
  const chains = Object.fromEntries(
    lengths.map((n) => {
      let chain = createWorkflow({ id: `chain-${n}`, inputSchema: counter, outputSchema: counter });
      for (let k = 0; k < n; k++) {
        chain = chain.then(
          createStep({
            id: `inc-${k}`,
            inputSchema: counter,
            outputSchema: counter,
            execute: async ({ inputData }) => {
              tick();
              return { i: inputData.i + 1 };
            },
          }),
        );
      }
      return [`chain-${n}`, chain.commit()];
    }),
  );
  const storage = new LibSQLStore({ id: "bench-steps-chain", url: `file:${join(dir, "mastra-chain.db")}` });
  const mastra = new Mastra({ workflows: chains, storage, logger: false });
  const client = (
    storage as unknown as { client: { execute(sql: string): Promise<{ rows: unknown[][] }>; close(): void } }
  ).client;
  return {
    name: "mastra-chain",
    skipped: "10,000 steps not run: the snapshot grows with every step (quadratic)",
    // One measured 1,000-step run, no warm-up at that size: it takes seconds.
    runsFor: (steps, planned, phase) =>
      steps <= 10 ? planned : steps <= 1_000 && phase === "measure" ? 1 : 0,
    async runWorkflow(steps, onTick) {
      tick = onTick;
      const run = await mastra.getWorkflow(`chain-${steps}`).createRun();
      const result = await run.start({ inputData: { i: 0 } });
      if (result.status !== "success") throw new Error(`mastra run ended ${result.status}`);
      return (result.result as { i: number }).i;
    },
    async storage() {
      const mode = (await client.execute("PRAGMA journal_mode")).rows[0]?.[0];
      const sync = (await client.execute("PRAGMA synchronous")).rows[0]?.[0];
      return `${String(mode).toUpperCase()} sync=${syncName(sync)}`;
    },
    async close() {
      client.close();
    },
  };
}

function syncName(level: unknown): string {
  return ["OFF", "NORMAL", "FULL", "EXTRA"][Number(level)] ?? String(level);
}
