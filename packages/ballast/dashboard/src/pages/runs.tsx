import { useEffect, useState } from "preact/hooks";
import { api, query, stream } from "../api.ts";
import { ErrorNote, Loading, Num, StatusBadge, Tag } from "../components/common.tsx";
import {
  DIMENSION_LABELS,
  formatCost,
  formatDuration,
  formatPercent,
  formatTime,
  formatTokens,
} from "../format.ts";
import { href, navigate, type Route } from "../router.ts";
import type { RunSummary, RunsPage } from "../types.ts";

const STATUSES = ["running", "queued", "completed", "failed", "cancelled", "budget_exceeded", "timed_out"];
const PAGE_SIZE = 25;

function BudgetCell({ run }: { run: RunSummary }) {
  const { use, dimension, exceeded, warnings } = run.budget;
  if (use === null) return <span class="muted">no budget</span>;
  const label = DIMENSION_LABELS[dimension ?? ""] ?? dimension;
  return (
    <span class="budget-cell">
      <meter
        min={0}
        max={1}
        low={0.75}
        high={0.9}
        optimum={0}
        value={Math.min(1, use)}
        aria-label={`Budget use (${label})`}
      />
      <Num field="budget" value={use} text={formatPercent(use)} />
      <span class="muted"> {label}</span>
      {exceeded ? (
        <Tag kind="bad">exceeded</Tag>
      ) : warnings.length > 0 ? (
        <Tag kind="warn">over (soft)</Tag>
      ) : null}
    </span>
  );
}

function RunRow({ run }: { run: RunSummary }) {
  return (
    <tr data-run-id={run.id}>
      <th scope="row" data-label="Run">
        <a href={href(["runs", run.id])} class="mono">
          {run.id}
        </a>
        {run.parentRunId ? (
          <Tag kind="info" title={`Forked from ${run.parentRunId} at event ${run.forkedAtSeq}`}>
            fork
          </Tag>
        ) : null}
      </th>
      <td data-label="Status">
        <StatusBadge status={run.status} />
      </td>
      <td data-label="Workflow">
        {run.workflow}
        <span class="muted">@{run.workflowVersion}</span>
      </td>
      <td data-label="Started">
        <time dateTime={run.createdAt}>{formatTime(run.createdAt)}</time>
      </td>
      <td data-label="Duration" class="num">
        <Num field="duration" value={run.durationMs} text={formatDuration(run.durationMs)} />
      </td>
      <td data-label="Tokens" class="num">
        <Num field="tokens" value={run.tokens} text={formatTokens(run.tokens)} />
      </td>
      <td data-label="Cost" class="num">
        <Num field="cost" value={run.costUsd} text={formatCost(run.costUsd)} />
      </td>
      <td data-label="Cache hits" class="num">
        <Num field="cache" value={run.cacheHitRate} text={formatPercent(run.cacheHitRate)} />
        {run.calls > 0 ? (
          <span class="muted">
            {" "}
            ({run.cacheHits}/{run.calls})
          </span>
        ) : null}
      </td>
      <td data-label="Budget">
        <BudgetCell run={run} />
      </td>
    </tr>
  );
}

export function RunsPageView({ route }: { route: Route }) {
  const status = route.query.get("status") ?? "";
  const workflow = route.query.get("workflow") ?? "";
  const q = route.query.get("q") ?? "";
  const cursor = route.query.get("cursor") ?? "";
  const limit = route.query.get("limit") ?? "";
  const [page, setPage] = useState<RunsPage | undefined>();
  const [error, setError] = useState<unknown>();
  const [live, setLive] = useState<"connecting" | "live" | "off">("connecting");
  const [updated, setUpdated] = useState<string>("");
  const [reload, setReload] = useState(0);
  const [draft, setDraft] = useState({ status, workflow, q });

  useEffect(() => setDraft({ status, workflow, q }), [status, workflow, q]);

  useEffect(() => {
    const controller = new AbortController();
    api<RunsPage>(
      `/v1/views/runs${query({ status, workflow, q, cursor, limit: Number(limit) || PAGE_SIZE })}`,
      {
        signal: controller.signal,
      },
    ).then(
      (value) => {
        setPage(value);
        setError(undefined);
      },
      (e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      },
    );
    return () => controller.abort();
  }, [status, workflow, q, cursor, limit, reload]);

  // Live: the server says which runs changed; rows on this page are replaced in place and a
  // new run reloads the first page.
  useEffect(() => {
    const controller = new AbortController();
    setLive("connecting");
    stream(
      "/v1/views/runs/live",
      (event) => {
        setLive("live");
        if (event.event !== "runs.changed") return;
        const { runs, added } = event.data as { runs: RunSummary[]; added: number };
        setUpdated(new Date().toLocaleTimeString("en-GB"));
        if (added > 0 && cursor === "") {
          setReload((n) => n + 1);
          return;
        }
        setPage((old) => {
          if (old === undefined) return old;
          const byId = new Map(runs.map((r) => [r.id, r]));
          return { ...old, runs: old.runs.map((r) => byId.get(r.id) ?? r) };
        });
      },
      controller.signal,
    ).then(
      () => setLive("off"),
      () => setLive("off"),
    );
    return () => controller.abort();
  }, [cursor]);

  const submit = (event: Event) => {
    event.preventDefault();
    navigate(
      href(["runs"], { status: draft.status, workflow: draft.workflow.trim(), q: draft.q.trim(), limit }),
    );
  };

  return (
    <section aria-labelledby="runs-title">
      <div class="page-head">
        <h1 id="runs-title">Runs</h1>
        <p class="live" role="status" aria-live="polite">
          <span class={`dot dot-${live}`} aria-hidden="true" />
          {live === "live" ? "Live" : live === "connecting" ? "Connecting…" : "Not live"}
          {updated ? <span class="muted"> · updated {updated}</span> : null}
        </p>
      </div>
      <form class="filters" onSubmit={submit} aria-label="Filter runs">
        <label>
          Status
          <select
            value={draft.status}
            onChange={(e) => setDraft({ ...draft, status: (e.target as HTMLSelectElement).value })}
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          Workflow
          <input
            value={draft.workflow}
            onInput={(e) => setDraft({ ...draft, workflow: (e.target as HTMLInputElement).value })}
            placeholder="exact name"
          />
        </label>
        <label class="grow">
          Search
          <input
            type="search"
            value={draft.q}
            onInput={(e) => setDraft({ ...draft, q: (e.target as HTMLInputElement).value })}
            placeholder="run id, workflow, error…"
          />
        </label>
        <button type="submit">Apply</button>
        {status || workflow || q ? (
          <a class="button secondary" href={href(["runs"])}>
            Clear
          </a>
        ) : null}
      </form>
      <ErrorNote error={error} />
      {page === undefined ? (
        error === undefined ? (
          <Loading what="runs" />
        ) : null
      ) : page.runs.length === 0 ? (
        <p class="empty">No runs match.</p>
      ) : (
        <div class="table-wrap">
          <table class="runs responsive">
            <caption class="sr-only">Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Workflow</th>
                <th scope="col">Started</th>
                <th scope="col" class="num">
                  Duration
                </th>
                <th scope="col" class="num">
                  Tokens
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
                <th scope="col" class="num">
                  Cache hits
                </th>
                <th scope="col">Budget</th>
              </tr>
            </thead>
            <tbody>
              {page.runs.map((run) => (
                <RunRow key={run.id} run={run} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of runs">
        {cursor ? (
          <a class="button secondary" href={href(["runs"], { status, workflow, q, limit })}>
            Newest
          </a>
        ) : null}
        {page?.nextCursor ? (
          <a
            class="button secondary"
            href={href(["runs"], { status, workflow, q, limit, cursor: page.nextCursor })}
          >
            Older runs
          </a>
        ) : null}
      </nav>
    </section>
  );
}
