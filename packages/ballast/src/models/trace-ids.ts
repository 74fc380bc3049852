import { APICallError } from "@ai-sdk/provider";
import { BallastError } from "../errors.ts";
import { requestIdFromHeaders } from "./retry.ts";

/**
 * Provider request ids of failed calls, for triage (`--trace-ids` prints them for the items
 * that failed). The layer keeps the last failures; any error from the layer, or its journaled
 * record, carries the ids too.
 */

export interface FailureTrace {
  at: string;
  /** The requested model (`provider:modelId`). */
  model: string;
  stage?: string;
  item?: string;
  code: string;
  /** Redacted. */
  message: string;
  requestIds: string[];
}

/** Every provider request id an error (or an ErrorRecord, or their causes) carries, in order. */
export function requestIdsOf(error: unknown): string[] {
  const ids: string[] = [];
  const seen = new Set<unknown>();
  const add = (id: unknown) => {
    if (typeof id === "string" && id !== "" && !ids.includes(id)) ids.push(id);
  };
  const visit = (value: unknown, depth: number) => {
    if (value === null || typeof value !== "object" || seen.has(value) || depth > 8) return;
    seen.add(value);
    if (APICallError.isInstance(value)) add(requestIdFromHeaders(value.responseHeaders));
    const details = BallastError.isInstance(value)
      ? value.details
      : ((value as { details?: unknown }).details as Record<string, unknown> | undefined);
    if (details && typeof details === "object") {
      const list = (details as Record<string, unknown>)["requestIds"];
      if (Array.isArray(list)) for (const id of list) add(id);
      add((details as Record<string, unknown>)["requestId"]);
      visit((details as Record<string, unknown>)["cause"], depth + 1);
    }
    visit((value as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return ids;
}

/** One line per failed item: item, stage, model, code and request ids (tab-separated). */
export function formatTraceIds(failures: readonly FailureTrace[]): string {
  return failures
    .map((f) =>
      [
        f.item ?? "-",
        f.stage ?? "-",
        f.model,
        f.code,
        f.requestIds.length > 0 ? f.requestIds.join(",") : "-",
      ].join("\t"),
    )
    .join("\n");
}
