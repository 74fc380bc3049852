import { useEffect, useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { ErrorNote, Loading, Tag } from "../components/common.tsx";
import { formatTime, shortHash } from "../format.ts";
import { href, navigate, type Route } from "../router.ts";
import type { AuditRecord, AuditVerifyReport } from "../types.ts";

/**
 * The audit log, as `GET /v1/audit` returns it (redacted, the caller's tenant only), with the
 * server's verification of the whole hash chain and, on this page, each record's link to the
 * one before it.
 */

const KINDS = [
  "",
  "run.action",
  "security.deny",
  "policy.decision",
  "policy.loaded",
  "budget.exceeded",
  "audit.archived",
];

export function AuditPage({ route }: { route: Route }) {
  const kind = route.query.get("kind") ?? "";
  const runId = route.query.get("runId") ?? "";
  const traceId = route.query.get("traceId") ?? "";
  const since = route.query.get("since") ?? "";
  const [text, setText] = useState("");
  const [draft, setDraft] = useState({ kind, runId, traceId, since });
  const [records, setRecords] = useState<AuditRecord[] | undefined>();
  const [report, setReport] = useState<AuditVerifyReport | undefined>();
  const [error, setError] = useState<unknown>();
  const [verifyError, setVerifyError] = useState<unknown>();

  useEffect(() => setDraft({ kind, runId, traceId, since }), [kind, runId, traceId, since]);
  useEffect(() => {
    const controller = new AbortController();
    api<{ records: AuditRecord[] }>(`/v1/audit${query({ kind, runId, traceId, since, limit: 500 })}`, {
      signal: controller.signal,
    }).then(
      (value) => {
        setRecords(value.records);
        setError(undefined);
      },
      (e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      },
    );
    api<AuditVerifyReport>("/v1/audit/verify", { signal: controller.signal }).then(
      setReport,
      (e: unknown) => {
        if (!controller.signal.aborted) setVerifyError(e);
      },
    );
    return () => controller.abort();
  }, [kind, runId, traceId, since]);

  const needle = text.trim().toLowerCase();
  const shown = (records ?? []).filter(
    (r) =>
      needle === "" ||
      [r.subject, r.action, r.resource, r.reason, r.tenant, r.kind].some((f) =>
        (f ?? "").toLowerCase().includes(needle),
      ),
  );
  // Consecutive records must link: each one's chainPrev is the chain of the record before it.
  let linked = 0;
  let broken = 0;
  const all = records ?? [];
  for (let i = 1; i < all.length; i++) {
    const prev = all[i - 1]!;
    const cur = all[i]!;
    if (cur.seq !== prev.seq + 1) continue;
    if (cur.chainPrev === prev.chain) linked += 1;
    else broken += 1;
  }

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      {report ? (
        <p
          class={`notice ${report.ok ? "notice-ok" : "notice-error"}`}
          role="status"
          data-field="verify"
          data-value={String(report.ok)}
        >
          {report.ok
            ? `Chain verified: ${report.checked} records (seq ${report.firstSeq ?? "–"} to ${report.lastSeq ?? "–"}), ${report.anchors} archive anchors, no problems.`
            : `Chain verification failed: ${report.problems.length} problems, first at seq ${report.problems[0]?.seq}: ${report.problems[0]?.message}`}
        </p>
      ) : verifyError ? (
        <ErrorNote error={verifyError} />
      ) : (
        <Loading what="chain verification" />
      )}
      <form
        class="filters"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href(["audit"], draft));
        }}
      >
        <label>
          Kind
          <select
            value={draft.kind}
            onChange={(e) => setDraft({ ...draft, kind: (e.target as HTMLSelectElement).value })}
          >
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k === "" ? "any" : k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Run id
          <input
            value={draft.runId}
            onInput={(e) => setDraft({ ...draft, runId: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Trace id
          <input
            value={draft.traceId}
            onInput={(e) => setDraft({ ...draft, traceId: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Since (ISO time)
          <input
            value={draft.since}
            onInput={(e) => setDraft({ ...draft, since: (e.target as HTMLInputElement).value })}
            placeholder="2025-01-31T00:00:00Z"
          />
        </label>
        <button type="submit">Apply</button>
        <label class="grow">
          Find on this page
          <input
            type="search"
            value={text}
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
            placeholder="subject, action, resource…"
          />
        </label>
      </form>
      <ErrorNote error={error} />
      {records === undefined ? (
        error === undefined ? (
          <Loading what="the audit log" />
        ) : null
      ) : (
        <>
          <p class="muted" data-field="links" data-value={String(broken)}>
            {records.length} records · {linked} chain links checked on this page
            {broken > 0 ? `, ${broken} broken` : ", all intact"}
          </p>
          <div class="table-wrap">
            <table class="audit responsive">
              <caption class="sr-only">Audit records, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">Time</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Action</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Chain</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((r) => {
                  const outcome =
                    r.reason ??
                    (typeof r.data?.["outcome"] === "string" ? r.data["outcome"] : undefined) ??
                    "";
                  return (
                    <tr key={r.seq} data-seq={r.seq} data-kind={r.kind}>
                      <td data-label="Seq">{r.seq}</td>
                      <td data-label="Time">
                        <time dateTime={r.ts}>{formatTime(r.ts)}</time>
                      </td>
                      <td data-label="Kind">
                        <Tag
                          kind={
                            r.kind === "security.deny" ? "bad" : r.kind === "run.action" ? "info" : "muted"
                          }
                        >
                          {r.kind}
                        </Tag>
                      </td>
                      <td data-label="Subject">{r.subject ?? "—"}</td>
                      <td data-label="Action">{r.action ?? "—"}</td>
                      <td data-label="Resource" class="mono">
                        {r.resource ?? "—"}
                      </td>
                      <td data-label="Outcome">{outcome || "—"}</td>
                      <td data-label="Chain" class="mono" title={r.chain}>
                        {shortHash(r.chain)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
