import type { JsonValue } from "../../canonical.ts";
import { EV, TERMINAL_EVENTS } from "../../flow/events.ts";
import { redact } from "../../guard/redact.ts";
import type { JournalEvent, RunRecord } from "../../journal/types.ts";

/**
 * A run's waterfall, folded from its journal: one span per step attempt and per model call,
 * placed in time from the run's start. Step attempts run from their `step.started` to the
 * event that ended them; a model call ends at its `model.called` and started `latencyMs`
 * earlier, of which `limiterWaitMs` was spent queued for rate or concurrency limits. Model
 * calls are tied to their step by their effect key (`<stepId>/model.called#n`, or
 * `<stepId>@<attempt>/...` for a retry). Parallel branches show as the branch path in the step
 * id (`map#0[2]/describe#0`) and as overlapping spans. Events a fork copied from its parent
 * keep no timing of their own (they were all appended at the fork), so they are marked
 * `copied` instead of drawn.
 */

export type SpanStatus = "running" | "completed" | "failed" | "retried" | "timed_out" | "stopped" | "copied";

export interface TimelineSpan {
  id: string;
  kind: "step" | "model";
  label: string;
  /** The event that holds the span's details (completion, failure or `model.called`). */
  seq: number;
  /** Milliseconds since the run started; `endMs` is absent while the span is running. */
  startMs: number;
  endMs?: number;
  /** The measured duration (the step's `durationMs`, the call's `latencyMs`), finer than event times. */
  durationMs?: number;
  status: SpanStatus;
  depth: number;
  stepId?: string;
  attempt?: number;
  /** The fan-out branch the step ran in (`map#0[2]`), if any. */
  branch?: string;
  /** Backoff before the next attempt, for a retried attempt. */
  delayMs?: number;
  /** The step ran again after a crash (same idempotency key). */
  reexecuted?: boolean;
  error?: { code: string; message: string };
  /** Model calls: the model that answered, the one asked (differs after a fallback), usage and cost. */
  model?: string;
  requested?: string;
  stage?: string;
  item?: string;
  cacheHit?: boolean;
  attempts?: number;
  limiterWaitMs?: number;
  tokens?: number;
  costUsd?: number | null;
}

export interface TimelineError {
  seq: number;
  at: string;
  type: string;
  stepId?: string;
  code: string;
  message: string;
}

export interface Timeline {
  runId: string;
  status: RunRecord["status"];
  startedAt: string;
  endedAt?: string;
  /** Wall time so far (to the last event for a running run). */
  durationMs: number;
  eventCount: number;
  parentRunId?: string;
  forkedAtSeq?: number;
  spans: TimelineSpan[];
  errors: TimelineError[];
  steps: { total: number; completed: number; failed: number; retries: number; timeouts: number };
  calls: {
    total: number;
    cacheHits: number;
    fallbacks: number;
    limiterWaitMs: number;
    tokens: number;
    costUsd: number;
  };
}

type Data = Record<string, JsonValue | undefined>;

function dataOf(event: JournalEvent): Data {
  const data = event.data;
  return data !== null && typeof data === "object" && !Array.isArray(data) ? (data as Data) : {};
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** `map#0[3]/fetch#2` → `fetch`. */
export function stepName(stepId: string): string {
  const last = stepId.slice(stepId.lastIndexOf("/") + 1);
  const hash = last.lastIndexOf("#");
  return hash === -1 ? last : last.slice(0, hash);
}

function branchOf(stepId: string): string | undefined {
  const slash = stepId.lastIndexOf("/");
  return slash === -1 ? undefined : stepId.slice(0, slash);
}

/** The error record of an event, redacted (messages may quote inputs). */
export function errorOf(value: unknown): { code: string; message: string } | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const record = value as Record<string, unknown>;
  const message = str(record["message"]);
  if (message === undefined) return undefined;
  return { code: str(record["code"]) ?? "error", message: redact(message) };
}

interface OpenAttempt {
  span: TimelineSpan;
  calls: TimelineSpan[];
}

export function buildTimeline(run: RunRecord, events: readonly JournalEvent[]): Timeline {
  const first = events[0];
  const t0 = Date.parse(first?.at ?? run.createdAt);
  const ms = (event: JournalEvent) => Math.max(0, Date.parse(event.at) - t0);
  const copiedThrough = run.forkedAtSeq ?? -1;
  const attempts: OpenAttempt[] = [];
  const open = new Map<string, OpenAttempt>();
  const byKey = new Map<string, OpenAttempt>();
  const loose: TimelineSpan[] = [];
  const errors: TimelineError[] = [];
  const reexecuted = new Set<string>();
  const steps = { total: 0, completed: 0, failed: 0, retries: 0, timeouts: 0 };
  const calls = { total: 0, cacheHits: 0, fallbacks: 0, limiterWaitMs: 0, tokens: 0, costUsd: 0 };
  const seenSteps = new Set<string>();
  let terminal: JournalEvent | undefined;

  const close = (
    stepId: string,
    event: JournalEvent,
    status: SpanStatus,
    extra: Partial<TimelineSpan> = {},
  ) => {
    const attempt = open.get(stepId);
    if (attempt === undefined) return;
    open.delete(stepId);
    Object.assign(attempt.span, { seq: event.seq, status, ...extra });
    if (event.seq <= copiedThrough) attempt.span.status = "copied";
    else attempt.span.endMs = ms(event);
  };

  for (const event of events) {
    const data = dataOf(event);
    const stepId = str(data["stepId"]);
    switch (event.type) {
      case EV.stepReexecuted:
        if (stepId !== undefined) reexecuted.add(stepId);
        break;
      case EV.stepStarted: {
        if (stepId === undefined) break;
        const attempt = num(data["attempt"]) ?? 1;
        if (!seenSteps.has(stepId)) {
          seenSteps.add(stepId);
          steps.total += 1;
        }
        const branch = branchOf(stepId);
        const span: TimelineSpan = {
          id: `step:${stepId}@${attempt}:${event.seq}`,
          kind: "step",
          label: stepName(stepId),
          seq: event.seq,
          startMs: ms(event),
          status: event.seq <= copiedThrough ? "copied" : "running",
          depth: branch === undefined ? 0 : branch.split("/").length,
          stepId,
          attempt,
          ...(branch === undefined ? {} : { branch }),
          ...(reexecuted.delete(stepId) ? { reexecuted: true } : {}),
        };
        const entry = { span, calls: [] };
        attempts.push(entry);
        open.set(stepId, entry);
        byKey.set(attempt === 1 ? `${stepId}/` : `${stepId}@${attempt}/`, entry);
        break;
      }
      case EV.stepCompleted:
        if (stepId === undefined) break;
        steps.completed += 1;
        close(
          stepId,
          event,
          "completed",
          num(data["durationMs"]) === undefined ? {} : { durationMs: num(data["durationMs"]) },
        );
        break;
      case EV.stepAttemptFailed: {
        if (stepId === undefined) break;
        const error = errorOf(data["error"]);
        const timedOut = error?.code === "step_timeout";
        steps.retries += 1;
        if (timedOut) steps.timeouts += 1;
        close(stepId, event, timedOut ? "timed_out" : "retried", {
          ...(error === undefined ? {} : { error }),
          ...(num(data["delayMs"]) === undefined ? {} : { delayMs: num(data["delayMs"]) }),
        });
        if (error) errors.push({ seq: event.seq, at: event.at, type: event.type, stepId, ...error });
        break;
      }
      case EV.stepFailed: {
        if (stepId === undefined) break;
        steps.failed += 1;
        const error = errorOf(data["error"]);
        if (error?.code === "step_timeout") steps.timeouts += 1;
        close(stepId, event, error?.code === "step_timeout" ? "timed_out" : "failed", error ? { error } : {});
        if (error) errors.push({ seq: event.seq, at: event.at, type: event.type, stepId, ...error });
        break;
      }
      case "model.called":
        addCall(event, data);
        break;
      default:
        if (TERMINAL_EVENTS.has(event.type)) {
          terminal = event;
          const error = errorOf(data["error"]);
          const reason = str(data["reason"]);
          if (error) errors.push({ seq: event.seq, at: event.at, type: event.type, ...error });
          else if (reason !== undefined) {
            errors.push({
              seq: event.seq,
              at: event.at,
              type: event.type,
              code: "cancelled",
              message: redact(reason),
            });
          }
        }
    }
  }

  function addCall(event: JournalEvent, data: Data): void {
    const key = str(data["key"]) ?? "";
    const end = ms(event);
    const latency = num(data["latencyMs"]) ?? 0;
    const provider = str(data["provider"]) ?? "?";
    const modelId = str(data["modelId"]) ?? "?";
    const model = `${provider}:${modelId}`;
    const requested = str(data["requested"]) ?? model;
    const usage = (data["usage"] ?? {}) as Data;
    const tokens = (num(usage["inputTokens"]) ?? 0) + (num(usage["outputTokens"]) ?? 0);
    const cacheHit = data["cacheHit"] === true;
    const costUsd = data["costUsd"] === null ? null : (num(data["costUsd"]) ?? null);
    const wait = num(data["limiterWaitMs"]);
    const stage = str(data["stage"]);
    const item = str(data["item"]);
    const owner = ownerOf(key);
    const copied = event.seq <= copiedThrough;
    const span: TimelineSpan = {
      id: `call:${event.seq}`,
      kind: "model",
      label: modelId,
      seq: event.seq,
      startMs: copied ? end : Math.max(0, end - latency),
      status: copied ? "copied" : "completed",
      depth: (owner?.span.depth ?? -1) + 1,
      model,
      requested,
      cacheHit,
      attempts: num(data["attempts"]) ?? 1,
      tokens,
      costUsd,
      durationMs: latency,
      ...(copied ? {} : { endMs: end }),
      ...(owner?.span.stepId === undefined ? {} : { stepId: owner.span.stepId }),
      ...(wait === undefined ? {} : { limiterWaitMs: wait }),
      ...(stage === undefined ? {} : { stage }),
      ...(item === undefined ? {} : { item }),
    };
    calls.total += 1;
    if (cacheHit) calls.cacheHits += 1;
    if (requested !== model) calls.fallbacks += 1;
    calls.limiterWaitMs += wait ?? 0;
    calls.tokens += tokens;
    calls.costUsd += costUsd ?? 0;
    if (owner) owner.calls.push(span);
    else loose.push(span);
  }

  /** The step attempt whose effect prefix the key starts with (the longest match). */
  function ownerOf(key: string): OpenAttempt | undefined {
    let cut = key.lastIndexOf("/");
    while (cut > 0) {
      const found = byKey.get(key.slice(0, cut + 1));
      if (found) return found;
      cut = key.lastIndexOf("/", cut - 1);
    }
    return undefined;
  }

  const last = events[events.length - 1];
  const endMs = last === undefined ? 0 : ms(last);
  for (const attempt of open.values()) {
    // Unfinished at the end of the journal: still running, or cut short by the run's end.
    if (terminal !== undefined && attempt.span.status !== "copied") {
      attempt.span.status = "stopped";
      attempt.span.endMs = ms(terminal);
    }
  }

  const spans: TimelineSpan[] = [];
  const order = (a: TimelineSpan, b: TimelineSpan) => a.startMs - b.startMs || a.seq - b.seq;
  const roots: { span: TimelineSpan; calls: TimelineSpan[] }[] = [
    ...attempts,
    ...loose.map((span) => ({ span, calls: [] })),
  ];
  roots.sort((a, b) => order(a.span, b.span));
  for (const root of roots) {
    spans.push(root.span);
    spans.push(...root.calls.sort(order));
  }

  return {
    runId: run.id,
    status: run.status,
    startedAt: first?.at ?? run.createdAt,
    ...(terminal === undefined ? {} : { endedAt: terminal.at }),
    durationMs: endMs,
    eventCount: events.length,
    ...(run.parentRunId === undefined ? {} : { parentRunId: run.parentRunId }),
    ...(run.forkedAtSeq === undefined ? {} : { forkedAtSeq: run.forkedAtSeq }),
    spans,
    errors,
    steps,
    calls,
  };
}
