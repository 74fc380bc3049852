import type { JsonValue } from "../../canonical.ts";
import { EV } from "../../flow/events.ts";
import { decodeValue } from "../../flow/value-codec.ts";
import { redact, redactValue } from "../../guard/redact.ts";
import type { BlobStore, JournalEvent } from "../../journal/types.ts";
import { errorOf, stepName } from "./timeline.ts";

/**
 * One journal event as the dashboard's detail page shows it: a step's outcome (its result
 * read back from the blob store when it was large) or a model call's prompt, answer, usage,
 * cost, latency, the model that answered and the provider's request id. Everything that
 * came from a model or a step is redacted, and stays data: the page renders it as text.
 */

export interface ModelCallDetail {
  answered: string;
  requested: string;
  fallback: boolean;
  stage?: string;
  item?: string;
  kind?: string;
  usage?: JsonValue;
  costUsd: number | null;
  latencyMs?: number;
  limiterWaitMs?: number;
  requestId: string | null;
  requestHash?: string;
  cacheHit: boolean;
  attempts?: number;
  /** The redacted prompt transcript (recorded only with the layer's `logPrompts`). */
  input: string | null;
  /** The answer's text parts. */
  outputText: string;
  /** The answer as journaled (generate result or stream parts), redacted. */
  response?: JsonValue;
}

export interface EventDetail {
  runId: string;
  seq: number;
  type: string;
  at: string;
  hash: string;
  kind: "step" | "model" | "event";
  stepId?: string;
  name?: string;
  attempt?: number;
  /** When the step's attempt started (its `step.started`). */
  startedAt?: string;
  durationMs?: number;
  /** The step's result, redacted. */
  output?: JsonValue;
  error?: { code: string; message: string };
  call?: ModelCallDetail;
  /** The event's data, redacted (large results referenced, not inlined). */
  data: JsonValue;
}

function textOfParts(value: unknown): string {
  if (Array.isArray(value)) {
    return value
      .map((part) => {
        const p = part as Record<string, unknown> | null;
        if (p === null || typeof p !== "object") return "";
        if (p["type"] === "text" && typeof p["text"] === "string") return p["text"];
        if (p["type"] === "text-delta" && typeof p["delta"] === "string") return p["delta"];
        return "";
      })
      .join("");
  }
  if (value !== null && typeof value === "object") {
    return textOfParts((value as Record<string, unknown>)["content"]);
  }
  return "";
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export async function eventDetail(
  event: JournalEvent,
  events: readonly JournalEvent[],
  blobs: BlobStore,
): Promise<EventDetail> {
  const data = (event.data ?? {}) as Record<string, JsonValue>;
  const base = {
    runId: event.runId,
    seq: event.seq,
    type: event.type,
    at: event.at,
    hash: event.hash,
    data: redactValue(event.data),
  };
  if (event.type === "model.called") {
    const answered = `${String(data["provider"])}:${String(data["modelId"])}`;
    const requested = str(data["requested"]) ?? answered;
    const response = data["response"] ?? data["parts"];
    const call: ModelCallDetail = {
      answered,
      requested,
      fallback: requested !== answered,
      ...(str(data["stage"]) === undefined ? {} : { stage: str(data["stage"]) }),
      ...(str(data["item"]) === undefined ? {} : { item: str(data["item"]) }),
      ...(str(data["kind"]) === undefined ? {} : { kind: str(data["kind"]) }),
      ...(data["usage"] === undefined ? {} : { usage: data["usage"] }),
      costUsd: num(data["costUsd"]) ?? null,
      ...(num(data["latencyMs"]) === undefined ? {} : { latencyMs: num(data["latencyMs"]) }),
      ...(num(data["limiterWaitMs"]) === undefined ? {} : { limiterWaitMs: num(data["limiterWaitMs"]) }),
      requestId: str(data["requestId"]) ?? null,
      ...(str(data["requestHash"]) === undefined ? {} : { requestHash: str(data["requestHash"]) }),
      cacheHit: data["cacheHit"] === true,
      ...(num(data["attempts"]) === undefined ? {} : { attempts: num(data["attempts"]) }),
      input: typeof data["prompt"] === "string" ? redact(data["prompt"]) : null,
      outputText: redact(textOfParts(response)),
      ...(response === undefined ? {} : { response: redactValue(response) }),
    };
    const key = str(data["key"]) ?? "";
    const stepId = stepOfKey(key, events);
    return {
      ...base,
      kind: "model",
      ...(stepId === undefined ? {} : { stepId, name: stepName(stepId) }),
      call,
    };
  }
  const stepId = str(data["stepId"]);
  if (stepId === undefined) {
    const error = errorOf(data["error"]);
    return { ...base, kind: "event", ...(error === undefined ? {} : { error }) };
  }
  const attempt = num(data["attempt"]) ?? num(data["attempts"]);
  const started = [...events]
    .reverse()
    .find(
      (e) =>
        e.seq < event.seq &&
        e.type === EV.stepStarted &&
        (e.data as Record<string, unknown>)["stepId"] === stepId,
    );
  const output = event.type === EV.stepCompleted ? await decodeValue(event.data, "result", blobs) : undefined;
  const error = errorOf(data["error"]);
  return {
    ...base,
    kind: "step",
    stepId,
    name: stepName(stepId),
    ...(attempt === undefined ? {} : { attempt }),
    ...(started === undefined ? {} : { startedAt: started.at }),
    ...(num(data["durationMs"]) === undefined ? {} : { durationMs: num(data["durationMs"]) }),
    ...(output === undefined ? {} : { output: redactValue(output as JsonValue) }),
    ...(error === undefined ? {} : { error }),
  };
}

/** The step a model call's effect key belongs to (the longest step id it starts with). */
function stepOfKey(key: string, events: readonly JournalEvent[]): string | undefined {
  let best: string | undefined;
  for (const e of events) {
    if (e.type !== EV.stepStarted) continue;
    const id = (e.data as Record<string, unknown>)["stepId"];
    if (typeof id !== "string") continue;
    const matches = key.startsWith(`${id}/`) || new RegExp(`^${escapeRegExp(id)}@\\d+/`).test(key);
    if (matches && (best === undefined || id.length > best.length)) best = id;
  }
  return best;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
