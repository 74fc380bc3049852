import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineWorkflow, sha256Hex } from "ballast";

/**
 * The workflow the chaos test kills: 200 steps in 25 rounds, each a sequential `fold` step
 * and a fan-out of 7 items at concurrency 4, where even items `charge` a payment target (a
 * side effect) and odd items `compute` something pure.
 */

export const CHAOS_RUN_ID = "chaos-run";
export const CHAOS_SEED = "chaos-seed";
export const CHAOS_INPUT = { rounds: 25, width: 7 };
export const CHAOS_STEPS = CHAOS_INPUT.rounds * (1 + CHAOS_INPUT.width);
export const CHAOS_CHARGES = CHAOS_INPUT.rounds * Math.ceil(CHAOS_INPUT.width / 2);

/**
 * A stand-in for a payment API: it records every request it gets (`attempts.log`) and
 * applies each idempotency key once (`effects.log`); a repeated key gets the first answer.
 * Lines are `key\tvalue`, written with one write() each, so a SIGKILL cannot tear them.
 */
export class PaymentTarget {
  readonly attemptsPath: string;
  readonly effectsPath: string;
  readonly #applied = new Map<string, string>();

  constructor(dir: string) {
    this.attemptsPath = join(dir, "attempts.log");
    this.effectsPath = join(dir, "effects.log");
    for (const [key, value] of readPairs(this.effectsPath)) this.#applied.set(key, receipt(value));
  }

  charge(key: string, value: string): string {
    appendFileSync(this.attemptsPath, `${key}\t${value}\n`);
    const seen = this.#applied.get(key);
    if (seen !== undefined) return seen;
    appendFileSync(this.effectsPath, `${key}\t${value}\n`);
    this.#applied.set(key, receipt(value));
    return receipt(value);
  }
}

export function receipt(value: string): string {
  return `paid:${value}`;
}

export function readPairs(path: string): [string, string][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t") as [string, string]);
}

export interface ChaosHooks {
  target: PaymentTarget | undefined;
  /** Called when a step's code starts running (not when it is served from the journal). */
  onExecute(stepId: string): void;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function chaosWorkflow(hooks: ChaosHooks) {
  return defineWorkflow({
    name: "chaos",
    version: "1",
    run: async (ctx, input: { rounds: number; width: number }) => {
      let acc = 1;
      const receipts: string[] = [];
      for (let round = 0; round < input.rounds; round++) {
        const before = acc;
        acc = await ctx.step("fold", (step) => {
          hooks.onExecute(step.stepId);
          return (before * 31 + round) % 1_000_003;
        });
        const folded = acc;
        const items = Array.from({ length: input.width }, (_, i) => i);
        const results = await ctx.map(
          items,
          (i) =>
            i % 2 === 0
              ? ctx.step(
                  "charge",
                  async (step) => {
                    hooks.onExecute(step.stepId);
                    if (hooks.target === undefined) throw new Error("no payment target in this process");
                    const paid = hooks.target.charge(step.idempotencyKey, `${round}:${i}:${folded}`);
                    await pause(1); // the window between the effect and its journaled completion
                    return paid;
                  },
                  { sideEffect: true },
                )
              : ctx.step("compute", async (step) => {
                  hooks.onExecute(step.stepId);
                  await pause(i % 3);
                  return sha256Hex(`${round}:${i}:${folded}`).slice(0, 12);
                }),
          { concurrency: 4 },
        );
        for (const result of results) if (result.startsWith("paid:")) receipts.push(result);
        acc = (acc + Number.parseInt(sha256Hex(results.join("|")).slice(0, 6), 16)) % 1_000_003;
      }
      return {
        acc,
        receipts: receipts.length,
        lastReceipt: receipts.at(-1),
        random: ctx.random(),
        id: ctx.uuid(),
      };
    },
  });
}
