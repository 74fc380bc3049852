import { BallastError, ValidationError } from "../errors.ts";
import { WorkflowNotFoundError } from "./errors.ts";
import type { Workflow, WorkflowDefinition } from "./types.ts";

/**
 * Declares a workflow: an async function `(ctx, input) => output` with a name and version.
 *
 * @example
 * const greet = defineWorkflow({
 *   name: "greet",
 *   version: "1",
 *   run: async (ctx, input: { who: string }) => ctx.step("hello", () => `hello ${input.who}`),
 * });
 */
export function defineWorkflow<I, O>(definition: WorkflowDefinition<I, O>): Workflow<I, O> {
  const { name, version, run } = definition;
  if (typeof name !== "string" || !/^[A-Za-z0-9][\w.:-]*$/.test(name)) {
    throw new ValidationError(
      "invalid_workflow",
      `Workflow name ${JSON.stringify(name)} is not valid. Use letters, digits and . _ : - (starting with a letter or digit).`,
    );
  }
  if (typeof version !== "string" || version.length === 0) {
    throw new ValidationError("invalid_workflow", `Workflow "${name}" needs a non-empty string \`version\`.`);
  }
  if (typeof run !== "function") {
    throw new ValidationError("invalid_workflow", `Workflow "${name}" needs a \`run(ctx, input)\` function.`);
  }
  for (const field of ["timeoutMs", "stepTimeoutMs"] as const) {
    const value = definition[field];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new ValidationError(
        "invalid_workflow",
        `Workflow "${name}": \`${field}\` must be a positive number of ms.`,
      );
    }
  }
  return Object.freeze({ ...definition, kind: "ballast.workflow" as const });
}

export function isWorkflow(value: unknown): value is Workflow {
  return (
    typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "ballast.workflow"
  );
}

/** Workflows by name and version; one per engine, so tests and tenants do not share state. */
export class WorkflowRegistry {
  readonly #byKey = new Map<string, Workflow>();

  register(workflow: Workflow): void {
    const key = `${workflow.name}@${workflow.version}`;
    const existing = this.#byKey.get(key);
    if (existing !== undefined && existing !== workflow) {
      throw new BallastError({
        code: "workflow_conflict",
        message: `Another workflow is already registered as "${workflow.name}" version ${workflow.version}. Bump the version when the code changes.`,
        details: { name: workflow.name, version: workflow.version },
      });
    }
    this.#byKey.set(key, workflow);
  }

  get(name: string, version: string): Workflow | undefined {
    return this.#byKey.get(`${name}@${version}`);
  }

  /** Finds a workflow or throws `workflow_not_found`. */
  require(name: string, version: string, runId?: string): Workflow {
    const workflow = this.get(name, version);
    if (workflow === undefined) throw new WorkflowNotFoundError(name, version, runId);
    return workflow;
  }

  list(): Workflow[] {
    return [...this.#byKey.values()];
  }
}
