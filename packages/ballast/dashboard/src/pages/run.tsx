import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, stream } from "../api.ts";
import { ErrorNote, Field, Loading, Num, StatusBadge, Tag, TextBlock } from "../components/common.tsx";
import { Gauge } from "../components/gauge.tsx";
import { Waterfall } from "../components/waterfall.tsx";
import { formatCost, formatDuration, formatPercent, formatTime, formatTokens, shortHash } from "../format.ts";
import { href, navigate } from "../router.ts";
import type { ReplayReport, RunMetadata, RunRecord, RunView, TimelineSpan } from "../types.ts";

const LIVE = new Set(["running", "queued"]);
const DIMENSIONS = ["tokens", "costUsd", "toolCalls", "steps", "wallMs"] as const;

function Budget({ view }: { view: RunView }) {
  const { budget } = view;
  const limited = DIMENSIONS.filter(
    (d) => typeof budget.limits[d] === "number" && (budget.limits[d] ?? 0) > 0,
  );
  if (limited.length === 0) return <p class="muted">This run has no budget.</p>;
  const used: Record<string, number> = {
    tokens: budget.used.tokens,
    costUsd: budget.used.costUsd,
    toolCalls: budget.used.toolCalls,
    steps: budget.steps,
    wallMs: budget.wallMs,
  };
  return (
    <div class="gauges" data-mode={budget.mode}>
      <p class="muted">
        Mode: <strong>{budget.mode}</strong>
        {budget.mode === "soft" ? " (warns and carries on)" : " (stops the run)"}
      </p>
      {limited.map((d) => (
        <Gauge
          key={d}
          dimension={d}
          used={used[d] ?? 0}
          limit={budget.limits[d] as number}
          state={budget.exceeded === d ? "exceeded" : budget.warnings.includes(d) ? "warning" : "ok"}
        />
      ))}
    </div>
  );
}

function Metadata({ run }: { run: RunRecord }) {
  const m = run.metadata as unknown as RunMetadata | undefined;
  if (m === undefined || m === null) {
    return <p class="muted">Run metadata is written when the run ends.</p>;
  }
  return (
    <>
      <dl class="fields">
        <Field label="Dataset hash">
          <code title={m.datasetHash}>{shortHash(m.datasetHash, 16)}</code>
        </Field>
        <Field label="Config fingerprint">
          <code title={m.configFingerprint}>{shortHash(m.configFingerprint, 16)}</code>
        </Field>
        <Field label="Code version">
          {m.codeVersion.gitSha ? (
            <code title={m.codeVersion.gitSha}>{shortHash(m.codeVersion.gitSha, 10)}</code>
          ) : (
            "no git"
          )}
          {" · ballast "}
          {m.codeVersion.packageVersion}
          {" · workflow "}
          {m.codeVersion.workflowVersion}
        </Field>
        <Field label="Seed">
          <code>{String(m.seed)}</code>
        </Field>
        <Field label="Models">
          {m.models.length === 0 ? "none" : m.models.map((x) => `${x.provider}:${x.modelId}`).join(", ")}
        </Field>
        <Field label="Latency (all steps)">
          p50 {formatDuration(m.latency.total.p50)} · p95 {formatDuration(m.latency.total.p95)} ·{" "}
          {m.latency.total.count} steps
        </Field>
      </dl>
      {Object.keys(m.latency.perStep).length > 0 ? (
        <table class="compact">
          <caption>Latency per step</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col" class="num">
                Count
              </th>
              <th scope="col" class="num">
                p50
              </th>
              <th scope="col" class="num">
                p95
              </th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(m.latency.perStep).map(([name, l]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td class="num">{l.count}</td>
                <td class="num">{formatDuration(l.p50)}</td>
                <td class="num">{formatDuration(l.p95)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

type Pending =
  | { kind: "cancel" }
  | { kind: "replay" }
  | { kind: "resume" }
  | { kind: "fork"; atSeq: number; label: string };

function forkPoints(spans: readonly TimelineSpan[]): { atSeq: number; label: string }[] {
  // Forking "from a step" copies the journal up to just before that step started, so the
  // fork runs the step (and everything after it) again.
  const seen = new Set<string>();
  const out: { atSeq: number; label: string }[] = [];
  for (const span of spans) {
    if (span.kind !== "step" || span.stepId === undefined || seen.has(span.stepId)) continue;
    seen.add(span.stepId);
    out.push({ atSeq: startedSeqOf(span), label: span.stepId });
  }
  return out.filter((p) => p.atSeq >= 0);
}

/** The span id carries its `step.started` seq (`step:<id>@<attempt>:<seq>`); fork just before it. */
function startedSeqOf(span: TimelineSpan): number {
  const seq = Number(span.id.slice(span.id.lastIndexOf(":") + 1));
  return Number.isInteger(seq) ? seq - 1 : -1;
}

function Actions({ view, onDone }: { view: RunView; onDone: (message: string) => void }) {
  const { run, timeline } = view;
  const [pending, setPending] = useState<Pending | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const points = forkPoints(timeline.spans);
  const [forkAt, setForkAt] = useState<number | undefined>(points[0]?.atSeq);
  const live = LIVE.has(run.status);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (pending) confirmRef.current?.focus();
  }, [pending]);

  const go = async () => {
    if (pending === undefined) return;
    setBusy(true);
    setError(undefined);
    try {
      const base = `/v1/runs/${encodeURIComponent(run.id)}`;
      if (pending.kind === "cancel") {
        await api<RunRecord>(`${base}/cancel`, {
          method: "POST",
          body: { reason: "cancelled from the dashboard" },
        });
        onDone("Run cancelled.");
      } else if (pending.kind === "resume") {
        await api<RunRecord>(`${base}/resume`, { method: "POST", body: {} });
        onDone("Run resumed.");
      } else if (pending.kind === "replay") {
        const report = await api<ReplayReport>(`${base}/replay`, { method: "POST", body: {} });
        onDone(
          `Replay matched the journal: ${report.eventsMatched} events, ${report.stepsReexecuted} steps re-executed, ${report.stepsServed} served.`,
        );
      } else {
        const forked = await api<RunRecord>(`${base}/fork`, {
          method: "POST",
          body: { atSeq: pending.atSeq },
        });
        navigate(href(["runs", forked.id]));
      }
      setPending(undefined);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const question =
    pending === undefined
      ? ""
      : pending.kind === "cancel"
        ? "Cancel this run? Running steps are aborted; the journal keeps everything."
        : pending.kind === "resume"
          ? "Resume this run? Completed steps are served from the journal; the rest run again."
          : pending.kind === "replay"
            ? "Replay this run offline against its journal? It writes nothing and proves the outputs identical."
            : `Fork a new run from step ${pending.label}? It copies the journal up to event ${pending.atSeq} and runs on live.`;

  return (
    <div class="actions">
      {live ? (
        <button type="button" class="danger" onClick={() => setPending({ kind: "cancel" })} disabled={busy}>
          Cancel run
        </button>
      ) : null}
      {live ? (
        <button type="button" onClick={() => setPending({ kind: "resume" })} disabled={busy}>
          Resume
        </button>
      ) : (
        <button type="button" onClick={() => setPending({ kind: "replay" })} disabled={busy}>
          Replay
        </button>
      )}
      {points.length > 0 ? (
        <span class="fork-group">
          <label>
            Fork from step
            <select
              value={String(forkAt ?? "")}
              onChange={(e) => setForkAt(Number((e.target as HTMLSelectElement).value))}
            >
              {points.map((p) => (
                <option key={p.atSeq} value={String(p.atSeq)}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            disabled={busy || forkAt === undefined}
            onClick={() => {
              const point = points.find((p) => p.atSeq === forkAt);
              if (point) setPending({ kind: "fork", ...point });
            }}
          >
            Fork
          </button>
        </span>
      ) : null}
      {pending ? (
        <fieldset class="confirm">
          <legend>{question}</legend>
          <button
            type="button"
            ref={confirmRef}
            class={pending.kind === "cancel" ? "danger" : ""}
            onClick={go}
            disabled={busy}
          >
            {busy ? "Working…" : "Confirm"}
          </button>
          <button type="button" class="secondary" onClick={() => setPending(undefined)} disabled={busy}>
            Back
          </button>
        </fieldset>
      ) : null}
      <ErrorNote error={error} />
    </div>
  );
}

export function RunPage({ runId }: { runId: string }) {
  const [view, setView] = useState<RunView | undefined>();
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState("");
  const [tick, setTick] = useState(0);
  const status = view?.run.status;
  const eventCount = view?.run.eventCount;

  useEffect(() => {
    const controller = new AbortController();
    api<RunView>(`/v1/runs/${encodeURIComponent(runId)}/timeline`, { signal: controller.signal }).then(
      (value) => {
        setView(value);
        setError(undefined);
      },
      (e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      },
    );
    return () => controller.abort();
  }, [runId, tick]);

  // While the run is going, its journal streams in over SSE; each burst of events refreshes the view.
  const live = status !== undefined && LIVE.has(status);
  useEffect(() => {
    if (!live || eventCount === undefined) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const base = `/v1/runs/${encodeURIComponent(runId)}/events`;
    stream(
      `${base}?fromSeq=${eventCount}`,
      () => {
        clearTimeout(timer);
        timer = setTimeout(() => setTick((n) => n + 1), 150);
      },
      controller.signal,
      (lastId) => `${base}?fromSeq=${Number(lastId) + 1}`,
    ).then(
      () => setTick((n) => n + 1),
      () => undefined,
    );
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
    // Reconnect only when the run's liveness changes, not on every refresh.
  }, [runId, live]);

  if (view === undefined) {
    return (
      <section>
        <h1>Run {runId}</h1>
        {error instanceof ApiError && error.status === 404 ? (
          <p>No such run.</p>
        ) : (
          <ErrorNote error={error} />
        )}
        {error === undefined ? <Loading what="the run" /> : null}
      </section>
    );
  }
  const { run, summary, timeline } = view;
  return (
    <section aria-labelledby="run-title">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href(["runs"])}>Runs</a> / <span aria-current="page">{run.id}</span>
      </nav>
      <div class="page-head">
        <h1 id="run-title">
          <span class="mono">{run.id}</span> <StatusBadge status={run.status} />
        </h1>
        {live ? (
          <p class="live" role="status">
            <span class="dot dot-live" aria-hidden="true" /> Live
          </p>
        ) : null}
      </div>
      <p class="subtitle">
        {run.workflow}
        <span class="muted">@{run.workflowVersion}</span> · started{" "}
        <time dateTime={run.createdAt}>{formatTime(run.createdAt)}</time>
        {run.tenant ? ` · tenant ${run.tenant}` : ""}
        {run.parentRunId ? (
          <>
            {" · forked from "}
            <a href={href(["runs", run.parentRunId])} class="mono">
              {run.parentRunId}
            </a>{" "}
            at event {run.forkedAtSeq}
          </>
        ) : null}
      </p>
      <Actions
        view={view}
        onDone={(message) => {
          setNotice(message);
          setTick((n) => n + 1);
        }}
      />
      {notice ? (
        <p class="notice notice-ok" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorNote error={error} />

      <dl class="cards" aria-label="Run totals">
        <div class="card">
          <dt>Duration</dt>
          <dd>
            <Num field="duration" value={summary.durationMs} text={formatDuration(summary.durationMs)} />
          </dd>
        </div>
        <div class="card">
          <dt>Steps</dt>
          <dd>
            <Num field="steps" value={timeline.steps.total} text={String(timeline.steps.total)} />
            {timeline.steps.retries > 0 ? (
              <span class="muted"> · {timeline.steps.retries} retried</span>
            ) : null}
            {timeline.steps.timeouts > 0 ? (
              <span class="muted"> · {timeline.steps.timeouts} timed out</span>
            ) : null}
          </dd>
        </div>
        <div class="card">
          <dt>Model calls</dt>
          <dd>
            <Num field="calls" value={timeline.calls.total} text={String(timeline.calls.total)} />
            {timeline.calls.fallbacks > 0 ? (
              <span class="muted"> · {timeline.calls.fallbacks} fell back</span>
            ) : null}
          </dd>
        </div>
        <div class="card">
          <dt>Tokens</dt>
          <dd>
            <Num field="tokens" value={summary.tokens} text={formatTokens(summary.tokens)} />
          </dd>
        </div>
        <div class="card">
          <dt>Cost</dt>
          <dd>
            <Num field="cost" value={summary.costUsd} text={formatCost(summary.costUsd)} />
          </dd>
        </div>
        <div class="card">
          <dt>Cache hits</dt>
          <dd>
            <Num field="cache" value={summary.cacheHitRate} text={formatPercent(summary.cacheHitRate)} />
            <span class="muted">
              {" "}
              ({summary.cacheHits}/{summary.calls})
            </span>
          </dd>
        </div>
        <div class="card">
          <dt>Waiting for limits</dt>
          <dd>
            <Num
              field="wait"
              value={timeline.calls.limiterWaitMs}
              text={formatDuration(timeline.calls.limiterWaitMs)}
            />
          </dd>
        </div>
      </dl>

      <h2>Timeline</h2>
      <Waterfall runId={run.id} timeline={timeline} />

      <h2>Budget</h2>
      <Budget view={view} />

      <h2>Errors</h2>
      {timeline.errors.length === 0 ? (
        <p class="muted">No errors.</p>
      ) : (
        <ul class="errors">
          {timeline.errors.map((e) => (
            <li key={e.seq} data-code={e.code}>
              <Tag kind={e.type === "step.attempt_failed" ? "warn" : "bad"}>{e.type}</Tag>{" "}
              <a href={href(["runs", run.id, "events", e.seq])}>
                {e.stepId ? <span class="mono">{e.stepId}: </span> : null}
                <code>{e.code}</code>
              </a>
              <p class="error-message">{e.message}</p>
            </li>
          ))}
        </ul>
      )}

      <h2>Run metadata</h2>
      <Metadata run={run} />

      <h2>Input and output</h2>
      <div class="io">
        <div>
          <h3>Input</h3>
          <TextBlock value={run.input} label="Run input" />
        </div>
        <div>
          <h3>Output</h3>
          <TextBlock value={run.output ?? (run.error ? run.error : "(none yet)")} label="Run output" />
        </div>
      </div>
    </section>
  );
}
