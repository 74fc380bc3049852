import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ValidationError } from "../errors.ts";
import type { Workflow } from "../flow/types.ts";
import { isWorkflow } from "../flow/workflow.ts";

/**
 * Commands that execute workflow code (resume, replay, fork) need the user's workflows.
 * They come from a module named by `--workflows <file>` or `$BALLAST_WORKFLOWS`: every
 * export made by `defineWorkflow` (or an array of them) is registered.
 */
export async function loadWorkflows(file: string | undefined): Promise<Workflow[]> {
  const chosen = file ?? process.env["BALLAST_WORKFLOWS"];
  if (chosen === undefined || chosen === "") {
    throw new ValidationError(
      "workflows_missing",
      "This command runs workflow code: name the module that defines your workflows with --workflows <file> or BALLAST_WORKFLOWS.",
    );
  }
  const path = resolve(chosen);
  if (!existsSync(path)) {
    throw new ValidationError(
      "workflows_missing",
      `The workflows module ${path} does not exist; check --workflows.`,
    );
  }
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const found = Object.values(module)
    .flatMap((value) => (Array.isArray(value) ? value : [value]))
    .filter(isWorkflow);
  if (found.length === 0) {
    throw new ValidationError(
      "workflows_missing",
      `${path} exports no workflow; export the values returned by defineWorkflow().`,
    );
  }
  return found as Workflow[];
}
