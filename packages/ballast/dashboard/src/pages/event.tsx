import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { ErrorNote, Field, Loading, Num, Tag, TextBlock } from "../components/common.tsx";
import { formatCost, formatDuration, formatTime, formatTokens } from "../format.ts";
import { href } from "../router.ts";
import type { EventDetail, ModelCallDetail } from "../types.ts";

function usageRows(usage: unknown): [string, number][] {
  if (usage === null || typeof usage !== "object") return [];
  const labels: Record<string, string> = {
    inputTokens: "Input",
    outputTokens: "Output",
    cacheReadTokens: "Cache read",
    cacheWriteTokens: "Cache write",
    reasoningTokens: "Reasoning",
  };
  const values = usage as Record<string, unknown>;
  return Object.entries(labels)
    .filter(([key]) => typeof values[key] === "number")
    .map(([key, label]) => [label, values[key] as number]);
}

function ModelCall({ call }: { call: ModelCallDetail }) {
  return (
    <>
      <dl class="fields">
        <Field label="Answered by">
          <code data-field="answered">{call.answered}</code>
          {call.fallback ? <Tag kind="warn">fallback</Tag> : null}
          {call.cacheHit ? <Tag kind="good">cache hit</Tag> : null}
        </Field>
        <Field label="Asked">
          <code>{call.requested}</code>
        </Field>
        {call.stage ? <Field label="Stage">{call.stage}</Field> : null}
        {call.item ? <Field label="Item">{call.item}</Field> : null}
        <Field label="Provider request id">
          <code data-field="request-id">{call.requestId ?? "none reported"}</code>
        </Field>
        <Field label="Latency">
          <Num field="latency" value={call.latencyMs ?? null} text={formatDuration(call.latencyMs)} />
          {call.limiterWaitMs !== undefined && call.limiterWaitMs >= 1 ? (
            <span class="muted"> (of which {formatDuration(call.limiterWaitMs)} waiting for limits)</span>
          ) : null}
        </Field>
        <Field label="Attempts">{call.attempts ?? 1}</Field>
        <Field label="Cost">
          <Num
            field="cost"
            value={call.costUsd}
            text={call.costUsd === null ? "no price" : formatCost(call.costUsd)}
          />
        </Field>
        {call.requestHash ? (
          <Field label="Request hash">
            <code>{call.requestHash}</code>
          </Field>
        ) : null}
      </dl>
      <table class="compact usage">
        <caption>Usage (tokens)</caption>
        <tbody>
          {usageRows(call.usage).map(([label, value]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td class="num">
                <Num
                  field={`usage-${label.toLowerCase().replace(/ /g, "-")}`}
                  value={value}
                  text={formatTokens(value)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="io">
        <div>
          <h2>Input (redacted)</h2>
          {call.input === null ? (
            <p class="muted">
              Prompts are not recorded; start the model layer with logPrompts to keep them (redacted).
            </p>
          ) : (
            <TextBlock value={call.input} label="Prompt" />
          )}
        </div>
        <div>
          <h2>Output (redacted)</h2>
          <TextBlock value={call.outputText} label="Model output" />
        </div>
      </div>
      {call.response !== undefined ? (
        <details>
          <summary>The response as journaled</summary>
          <TextBlock value={call.response} label="Journaled response" />
        </details>
      ) : null}
    </>
  );
}

export function EventPage({ runId, seq }: { runId: string; seq: string }) {
  const [detail, setDetail] = useState<EventDetail | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const controller = new AbortController();
    setDetail(undefined);
    api<EventDetail>(`/v1/runs/${encodeURIComponent(runId)}/events/${encodeURIComponent(seq)}`, {
      signal: controller.signal,
    }).then(setDetail, (e: unknown) => {
      if (!controller.signal.aborted) setError(e);
    });
    return () => controller.abort();
  }, [runId, seq]);

  const title =
    detail === undefined
      ? `Event ${seq}`
      : detail.kind === "model"
        ? `Model call ${detail.call?.answered ?? ""}`
        : detail.kind === "step"
          ? `Step ${detail.name ?? detail.stepId}`
          : detail.type;
  return (
    <section aria-labelledby="event-title">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href(["runs"])}>Runs</a> / <a href={href(["runs", runId])}>{runId}</a> /{" "}
        <span aria-current="page">event {seq}</span>
      </nav>
      <h1 id="event-title">{title}</h1>
      <ErrorNote error={error} />
      {detail === undefined ? (
        error === undefined ? (
          <Loading what="the event" />
        ) : null
      ) : (
        <>
          <dl class="fields">
            <Field label="Event">
              <code>
                #{detail.seq} {detail.type}
              </code>
            </Field>
            <Field label="At">
              <time dateTime={detail.at}>{formatTime(detail.at)}</time>
            </Field>
            {detail.stepId ? (
              <Field label="Step">
                <code>{detail.stepId}</code>
                {detail.attempt !== undefined ? <span class="muted"> · attempt {detail.attempt}</span> : null}
              </Field>
            ) : null}
            {detail.startedAt ? (
              <Field label="Started">
                <time dateTime={detail.startedAt}>{formatTime(detail.startedAt)}</time>
              </Field>
            ) : null}
            {detail.durationMs !== undefined ? (
              <Field label="Duration">
                <Num field="duration" value={detail.durationMs} text={formatDuration(detail.durationMs)} />
              </Field>
            ) : null}
            <Field label="Event hash">
              <code class="wrap">{detail.hash}</code>
            </Field>
          </dl>
          {detail.error ? (
            <div class="notice notice-error">
              <strong>{detail.error.code}</strong>
              <p class="error-message">{detail.error.message}</p>
            </div>
          ) : null}
          {detail.call ? <ModelCall call={detail.call} /> : null}
          {detail.kind === "step" ? (
            <>
              <h2>Output (redacted)</h2>
              {detail.output === undefined ? (
                <p class="muted">This event holds no result.</p>
              ) : (
                <TextBlock value={detail.output} label="Step output" />
              )}
              <p class="muted">
                Steps take no journaled input: a step's inputs are the run's input and earlier results.
              </p>
            </>
          ) : null}
          {detail.kind === "event" ? <TextBlock value={detail.data} label="Event data" /> : null}
        </>
      )}
    </section>
  );
}
