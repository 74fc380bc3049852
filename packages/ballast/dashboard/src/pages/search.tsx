import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { ErrorNote, Num, Tag } from "../components/common.tsx";
import { formatTokens } from "../format.ts";
import { href, navigate, type Route } from "../router.ts";
import type { SearchResponse, SelectResult } from "../types.ts";

/**
 * A playground for the context engine: run a query with a strategy, fusion and filters and
 * see the ranking with its component scores; give a token budget to see what a budgeted
 * selection keeps and what it leaves out, and why.
 */

interface Form {
  query: string;
  strategy: string;
  fusion: string;
  k: string;
  filters: string;
  budget: string;
  deliverables: string;
}

function score(value: number | undefined): string {
  return value === undefined ? "—" : value.toFixed(4);
}

const DEFAULTS: Form = {
  query: "",
  strategy: "AUTO",
  fusion: "convex",
  k: "10",
  filters: "",
  budget: "200",
  deliverables: "",
};

/** The form as the URL holds it, so a search can be linked to and comes back on reload. */
function formOf(route: Route): Form {
  const out = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof Form)[]) {
    const value = route.query.get(key);
    if (value !== null) out[key] = value;
  }
  return out;
}

async function runSearch(form: Form): Promise<[SearchResponse, SelectResult | undefined]> {
  let filters: unknown;
  if (form.filters.trim() !== "") {
    try {
      filters = JSON.parse(form.filters);
    } catch {
      throw new Error('Filters are not valid JSON, e.g. {"field":"lang","op":"eq","value":"en"}.');
    }
  }
  const budget = Number(form.budget);
  const deliverables = form.deliverables
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "");
  return Promise.all([
    api<SearchResponse>("/v1/search", {
      method: "POST",
      body: {
        query: form.query,
        k: Number(form.k) || 10,
        strategy: form.strategy,
        fusion: form.fusion,
        ...(filters === undefined ? {} : { filters }),
      },
    }),
    Number.isInteger(budget) && budget > 0
      ? api<SelectResult>("/v1/select", {
          method: "POST",
          body: {
            query: form.query,
            budgetTokens: budget,
            ...(deliverables.length > 0 ? { deliverables } : {}),
            ...(filters === undefined ? {} : { filters }),
          },
        })
      : Promise.resolve(undefined),
  ]);
}

export function SearchPage({ route }: { route: Route }) {
  const asked = formOf(route);
  const key = route.query.toString();
  const [form, setForm] = useState<Form>(asked);
  const [result, setResult] = useState<SearchResponse | undefined>();
  const [selection, setSelection] = useState<SelectResult | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const set = (field: keyof Form) => (e: Event) =>
    setForm({
      ...form,
      [field]: (e.target as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement).value,
    });

  // The URL is the search: run it whenever it changes.
  useEffect(() => {
    setForm(asked);
    if (asked.query === "") return;
    let current = true;
    setBusy(true);
    setError(undefined);
    runSearch(asked).then(
      ([found, selected]) => {
        if (!current) return;
        setResult(found);
        setSelection(selected);
        setBusy(false);
      },
      (e: unknown) => {
        if (!current) return;
        setError(e);
        setBusy(false);
      },
    );
    return () => {
      current = false;
    };
  }, [key]);

  const submit = (event: Event) => {
    event.preventDefault();
    const changed = Object.fromEntries(
      (Object.keys(DEFAULTS) as (keyof Form)[]).map((k) => [
        k,
        form[k] === DEFAULTS[k] && k !== "query" ? undefined : form[k],
      ]),
    );
    navigate(href(["search"], changed));
  };

  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">Search playground</h1>
      <form class="search-form" onSubmit={submit}>
        <label class="wide">
          Query
          <input type="search" value={form.query} onInput={set("query")} required />
        </label>
        <label>
          Strategy
          <select value={form.strategy} onChange={set("strategy")}>
            <option value="AUTO">AUTO (hybrid when vectors exist)</option>
            <option value="SPARSE">SPARSE (BM25)</option>
            <option value="DENSE">DENSE (vectors)</option>
          </select>
        </label>
        <label>
          Fusion
          <select value={form.fusion} onChange={set("fusion")}>
            <option value="convex">convex</option>
            <option value="rrf">rrf</option>
          </select>
        </label>
        <label>
          Results (k)
          <input type="number" min={1} max={100} value={form.k} onInput={set("k")} />
        </label>
        <label class="wide">
          Filters (JSON, optional)
          <textarea
            rows={2}
            value={form.filters}
            onInput={set("filters")}
            placeholder='{"field":"lang","op":"eq","value":"en"}'
          />
        </label>
        <label>
          Token budget for selection
          <input type="number" min={1} value={form.budget} onInput={set("budget")} />
        </label>
        <label>
          Deliverables (ids, comma-separated)
          <input value={form.deliverables} onInput={set("deliverables")} />
        </label>
        <div class="wide">
          <button type="submit" disabled={busy}>
            {busy ? "Searching…" : "Search"}
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {result ? (
        <section aria-labelledby="results-title" class="panel">
          <h2 id="results-title">Ranking</h2>
          <p class="muted" data-field="strategy">
            Strategy {result.strategy}
            {result.fusion ? ` · fusion ${result.fusion}` : ""} · index version {result.version}
            {result.filters ? ` · filters ${result.filters}` : ""}
          </p>
          {result.fallback ? (
            <p class="notice notice-warn">
              Fell back from {result.fallback.requested} to {result.fallback.used}: {result.fallback.message}
            </p>
          ) : null}
          {result.results.length === 0 ? (
            <p class="empty">No documents match.</p>
          ) : (
            <div class="table-wrap">
              <table class="results responsive">
                <caption class="sr-only">Search results, best first</caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Document</th>
                    <th scope="col" class="num">
                      Score
                    </th>
                    <th scope="col" class="num">
                      Sparse
                    </th>
                    <th scope="col" class="num">
                      Dense
                    </th>
                    <th scope="col">Text</th>
                  </tr>
                </thead>
                <tbody>
                  {result.results.map((hit, i) => (
                    <tr key={hit.id} data-doc-id={hit.id}>
                      <td data-label="#">{i + 1}</td>
                      <th scope="row" data-label="Document" class="mono">
                        {hit.id}
                        {hit.scope !== "global" ? <Tag kind="muted">{hit.scope}</Tag> : null}
                      </th>
                      <td data-label="Score" class="num">
                        <Num field="score" value={hit.score} text={score(hit.score)} />
                      </td>
                      <td data-label="Sparse" class="num">
                        {score(hit.sparse)}
                      </td>
                      <td data-label="Dense" class="num">
                        {score(hit.dense)}
                      </td>
                      <td data-label="Text" class="snippet">
                        {hit.text.length > 160 ? `${hit.text.slice(0, 160)}…` : hit.text}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ) : null}
      {selection ? (
        <section aria-labelledby="selection-title" class="panel">
          <h2 id="selection-title">Budgeted selection</h2>
          <p>
            <Num field="used-tokens" value={selection.usedTokens} text={formatTokens(selection.usedTokens)} />{" "}
            of {formatTokens(selection.budgetTokens)} tokens used · {selection.mode}
            {selection.fallbackReason ? ` (${selection.fallbackReason})` : ""} · {selection.substitutions}{" "}
            substitutions
          </p>
          <div class="io">
            <div>
              <h3>Kept ({selection.kept.length})</h3>
              <ul class="plain" data-list="kept">
                {selection.kept.map((k) => (
                  <li key={k.id} data-doc-id={k.id}>
                    <span class="mono">{k.id}</span> · {formatTokens(k.tokens)} tokens · {k.reason} · score{" "}
                    {score(k.score)}
                    {k.substituted ? <Tag kind="info">summary</Tag> : null}
                  </li>
                ))}
              </ul>
            </div>
            <div>
              <h3>Omitted ({selection.omitted.length})</h3>
              <ul class="plain" data-list="omitted">
                {selection.omitted.map((o) => (
                  <li key={o.id} data-doc-id={o.id}>
                    <span class="mono">{o.id}</span> · {formatTokens(o.tokens)} tokens ·{" "}
                    {o.reason.replace(/_/g, " ")} · {formatTokens(o.remaining)} left
                  </li>
                ))}
              </ul>
            </div>
          </div>
        </section>
      ) : null}
    </section>
  );
}
