import { formatCost, formatDuration, formatTokens } from "../format.ts";
import { href } from "../router.ts";
import type { Timeline, TimelineSpan } from "../types.ts";
import { Tag } from "./common.tsx";

/**
 * The run's waterfall: one row per step attempt and per model call, in start order, each bar
 * placed on the run's time axis. A model call's bar starts with the time it waited for a
 * rate or concurrency limit; a retried attempt is followed by its backoff. Every row is a
 * link to its details, so the whole chart works from the keyboard.
 */

const STATUS_TEXT: Record<string, string> = {
  running: "running",
  completed: "completed",
  failed: "failed",
  retried: "failed, retried",
  timed_out: "timed out",
  stopped: "stopped by the run's end",
  copied: "copied from the parent run",
};

function pct(value: number, total: number): string {
  return `${Math.max(0, Math.min(100, (value / total) * 100)).toFixed(3)}%`;
}

function Badges({ span }: { span: TimelineSpan }) {
  const out = [];
  if (span.kind === "step" && (span.attempt ?? 1) > 1)
    out.push(<Tag kind="info">attempt {span.attempt}</Tag>);
  if (span.status === "retried") out.push(<Tag kind="warn">retried</Tag>);
  if (span.status === "timed_out") out.push(<Tag kind="bad">timeout</Tag>);
  if (span.status === "failed") out.push(<Tag kind="bad">failed</Tag>);
  if (span.status === "copied") out.push(<Tag kind="muted">copied</Tag>);
  if (span.reexecuted) out.push(<Tag kind="warn">re-executed</Tag>);
  if (span.branch) out.push(<Tag kind="muted">{span.branch}</Tag>);
  if (span.cacheHit) out.push(<Tag kind="good">cache hit</Tag>);
  if (span.kind === "model" && span.requested !== undefined && span.requested !== span.model) {
    out.push(
      <Tag kind="warn" title={`asked ${span.requested}, answered by ${span.model}`}>
        fallback
      </Tag>,
    );
  }
  if (span.kind === "model" && (span.attempts ?? 1) > 1)
    out.push(<Tag kind="info">{span.attempts} attempts</Tag>);
  if ((span.limiterWaitMs ?? 0) >= 1) {
    out.push(<Tag kind="info">waited {formatDuration(span.limiterWaitMs)} for limits</Tag>);
  }
  return <>{out}</>;
}

function meta(span: TimelineSpan): string {
  const parts: string[] = [];
  const ms = span.durationMs ?? (span.endMs === undefined ? undefined : span.endMs - span.startMs);
  if (ms !== undefined) parts.push(formatDuration(ms));
  else if (span.status === "running") parts.push("running");
  if (span.kind === "model" && !span.cacheHit && span.tokens) parts.push(`${formatTokens(span.tokens)} tok`);
  if (span.kind === "model" && span.costUsd) parts.push(formatCost(span.costUsd));
  return parts.join(" · ");
}

function describe(span: TimelineSpan): string {
  return `${span.kind === "model" ? "model call" : "step"}, ${STATUS_TEXT[span.status] ?? span.status}`;
}

function Bar({ span, total }: { span: TimelineSpan; total: number }) {
  if (span.status === "copied") return <span class="bar-copied">copied</span>;
  const end = span.endMs ?? total;
  const wait = Math.min(span.limiterWaitMs ?? 0, end - span.startMs);
  const segments = [];
  if (wait >= 1) {
    segments.push(
      <span
        key="wait"
        class="bar bar-wait"
        style={{ left: pct(span.startMs, total), width: pct(wait, total) }}
      />,
    );
  }
  segments.push(
    <span
      key="main"
      class={`bar bar-${span.kind} bar-${span.status}${span.cacheHit ? " bar-cache" : ""}`}
      style={{
        left: pct(span.startMs + wait, total),
        width: pct(Math.max(end - span.startMs - wait, 0), total),
      }}
    />,
  );
  if (span.delayMs !== undefined && span.endMs !== undefined) {
    segments.push(
      <span
        key="backoff"
        class="bar bar-backoff"
        style={{ left: pct(span.endMs, total), width: pct(span.delayMs, total) }}
      />,
    );
  }
  return <>{segments}</>;
}

export function Waterfall({ runId, timeline }: { runId: string; timeline: Timeline }) {
  const total = Math.max(
    1,
    timeline.durationMs,
    ...timeline.spans.map((s) => (s.endMs ?? 0) + (s.delayMs ?? 0)),
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  if (timeline.spans.length === 0) return <p class="empty">No steps yet.</p>;
  return (
    <div class="waterfall">
      <div class="wf-axis" aria-hidden="true">
        <span class="wf-label" />
        <span class="wf-track">
          {ticks.map((t) => (
            <span key={t} class="wf-tick" style={{ left: `${t * 100}%` }}>
              {formatDuration(t * total)}
            </span>
          ))}
        </span>
      </div>
      <ol class="wf-rows" aria-label="Steps and model calls in start order">
        {timeline.spans.map((span) => (
          <li
            key={span.id}
            class={`wf-row wf-${span.kind}`}
            data-span-kind={span.kind}
            data-status={span.status}
          >
            <a href={href(["runs", runId, "events", span.seq])} class="wf-link">
              <span class="wf-label" style={{ paddingLeft: `${span.depth * 14 + 4}px` }}>
                <span class="sr-only">{describe(span)}: </span>
                <span class={span.kind === "model" ? "wf-name mono" : "wf-name"}>
                  {span.kind === "model" ? `↳ ${span.label}` : span.label}
                </span>
                <Badges span={span} />
                <span class="wf-meta muted">{meta(span)}</span>
              </span>
              <span class="wf-track" aria-hidden="true">
                <Bar span={span} total={total} />
              </span>
            </a>
          </li>
        ))}
      </ol>
      <p class="legend muted" aria-hidden="true">
        <span class="key key-step" /> step <span class="key key-model" /> model call{" "}
        <span class="key key-wait" /> waiting for limits <span class="key key-backoff" /> retry backoff{" "}
        <span class="key key-failed" /> failed or timed out <span class="key key-cache" /> cache hit
      </p>
    </div>
  );
}
