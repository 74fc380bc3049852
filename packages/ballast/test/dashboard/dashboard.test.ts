import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunMetadata } from "../../src/flow/metadata.ts";
import type { JournalEvent, RunRecord } from "../../src/journal/types.ts";
import { summarizeModelCalls } from "../../src/models/cost-summary.ts";
import type { BallastServer } from "../../src/server/server.ts";
import {
  axeViolations,
  buildDashboard,
  focused,
  getHash,
  launchBrowser,
  markPage,
  outputPath,
  type PageWatch,
  pageCspViolations,
  pageGlobals,
  resetWatch,
  setHash,
  startServer,
  TOKENS,
  watchPage,
} from "./harness.ts";
import { HOSTILE_TEXT, type Seeded, seedHistory, seedRuns } from "./seed.ts";

/**
 * The dashboard in Debian's Chromium against a real server on 127.0.0.1 over runs made by
 * the real engine: every page without console errors or CSP violations, its key numbers
 * equal to the API's, screenshots at 1280 and 390 px, axe-core's WCAG checks, keyboard use,
 * live updates over SSE, and the actions (cancel, resume, replay, fork) through RBAC and the
 * audit log.
 */

let dir: string;
let seeded: Seeded;
let server: BallastServer;
let url: string;
let browser: BrowserContext;
let page: Page;
let watch: PageWatch;
/** The journal seq of run-completed's summary model call (the one that fell back). */
let summaryCall: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-dashboard-"));
  const assets = join(dir, "app");
  await buildDashboard(assets);
  seeded = await seedRuns(dir);
  await seedHistory(seeded, (at) => {
    if (at === undefined) vi.useRealTimers();
    else {
      vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
      vi.setSystemTime(at);
    }
  });
  ({ server, url } = await startServer(seeded, assets));
  summaryCall = (await seeded.journal.readEvents("run-completed")).find(
    (e) => e.type === "model.called" && (e.data as { stage?: string }).stage === "summary",
  )!.seq;
  browser = await launchBrowser();
  page = browser.pages()[0] ?? (await browser.newPage());
  watch = await watchPage(page);
}, 60_000);

beforeEach(async () => {
  if (page !== undefined) await resetWatch(page, watch);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await seeded?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function apiGet<T>(path: string, token: string = TOKENS.operator): Promise<T> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, `${path}`).toBe(200);
  return (await response.json()) as T;
}

async function apiPost<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKENS.operator}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, `${path}`).toBe(200);
  return (await response.json()) as T;
}

/** A finished run's journal, read through the API's own SSE stream. */
async function apiEvents(runId: string): Promise<JournalEvent[]> {
  const response = await fetch(`${url}/v1/runs/${runId}/events`, {
    headers: { authorization: `Bearer ${TOKENS.operator}`, accept: "text/event-stream" },
  });
  const text = await response.text();
  return text
    .split("\n\n")
    .map((frame) => frame.split("\n").find((line) => line.startsWith("data: ")))
    .filter((line): line is string => line !== undefined)
    .map((line) => JSON.parse(line.slice(6)) as JournalEvent)
    .filter((event) => typeof event.seq === "number");
}

async function signIn(target: Page, token: string): Promise<void> {
  await target.goto(`${url}/#/runs`);
  await target.getByLabel("API token").fill(token);
  await target.getByRole("button", { name: "Sign in" }).click();
  await target.waitForSelector("table.runs");
}

async function show(hash: string, ready: string): Promise<void> {
  await setHash(page, hash);
  await page.waitForSelector(ready);
}

async function values(selector: string): Promise<Record<string, string>> {
  return page.$$eval(`${selector} [data-field]`, (nodes) =>
    Object.fromEntries(nodes.map((n) => [n.getAttribute("data-field"), n.getAttribute("data-value")])),
  );
}

async function expectClean(name: string): Promise<void> {
  expect(watch.errors, `console errors on ${name}`).toEqual([]);
  expect(watch.cspViolations, `CSP violations on ${name}`).toEqual([]);
  expect(await pageCspViolations(page), `CSP violations seen by ${name}`).toEqual([]);
}

async function axe(name: string): Promise<void> {
  expect(await axeViolations(page), `axe on ${name}`).toEqual([]);
}

/** Polls a count of elements until it is `n`. */
async function countIs(selector: string, n: number): Promise<void> {
  await expect.poll(() => page.locator(selector).count(), { timeout: 5000 }).toBe(n);
}

describe("serving", () => {
  it("serves the app at / with a strict CSP, and the data only with a token", async () => {
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await response.text();
    // Only same-origin files, no inline script or style.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|style=|https?:\/\//);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const file = await fetch(`${url}${asset}`);
    expect(file.headers.get("cache-control")).toContain("immutable");
    expect(await file.text()).not.toMatch(/\beval\(|new Function\(/);
    expect((await fetch(`${url}/v1/views/runs`)).status).toBe(401);
    expect((await fetch(`${url}/v1/no-such-route`)).status).toBe(404);
  });
});

describe("pages", () => {
  it("asks for a token, then lists the runs with the API's numbers", async () => {
    await page.goto(`${url}/`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await signIn(page, TOKENS.operator);
    const list = await apiGet<{ runs: RunRecord[] }>("/v1/runs?limit=100");
    const rows = await page.$$eval("table.runs tbody tr", (trs) =>
      trs.map((tr) => tr.getAttribute("data-run-id")),
    );
    expect(rows).toEqual(list.runs.slice(0, 25).map((r) => r.id));
    for (const id of ["run-completed", "run-retried", "run-failed", "run-budget", "run-forked", "run-soft"]) {
      const run = list.runs.find((r) => r.id === id)!;
      const metadata = run.metadata as unknown as RunMetadata;
      const shown = await values(`tr[data-run-id="${id}"]`);
      const status = await page.textContent(`tr[data-run-id="${id}"] .badge`);
      expect(status?.replace(/ /g, "_")).toBe(run.status);
      expect(Number(shown["tokens"])).toBe(metadata.tokens?.total ?? 0);
      expect(Number(shown["cost"])).toBe(metadata.costUsd ?? 0);
      expect(Number(shown["duration"])).toBe(Date.parse(metadata.endedAt) - Date.parse(metadata.startedAt));
      const calls = (await apiEvents(id)).filter((e) => e.type === "model.called");
      const hits = calls.filter((e) => (e.data as { cacheHit?: boolean }).cacheHit === true).length;
      expect(shown["cache"]).toBe(calls.length === 0 ? "" : String(hits / calls.length));
      const budget = await apiGet<{ limits: Record<string, number>; used: Record<string, number> }>(
        `/v1/runs/${id}/budget`,
      );
      const ratios = ["tokens", "costUsd", "toolCalls"]
        .filter((d) => (budget.limits[d] ?? 0) > 0)
        .map((d) => (budget.used[d] ?? 0) / (budget.limits[d] ?? 1));
      expect(shown["budget"]).toBe(ratios.length === 0 ? undefined : String(Math.max(...ratios)));
    }
    expect(await page.textContent('tr[data-run-id="run-completed"] td[data-label="Cost"]')).toContain(
      "$0.000",
    );
    await expectClean("runs");
  });

  it("filters, searches and pages the runs", async () => {
    await page.getByLabel("Search").fill("customers.csv");
    await page.getByRole("button", { name: "Apply" }).click();
    await countIs("table.runs tbody tr", 1);
    expect(await page.getAttribute("table.runs tbody tr", "data-run-id")).toBe("run-failed");
    await show("#/runs?status=budget_exceeded", 'tr[data-run-id="run-budget"]');
    expect(await page.$$eval("table.runs tbody tr", (t) => t.length)).toBe(1);
    await show("#/runs?limit=5", "table.runs");
    await countIs("table.runs tbody tr", 5);
    const first = await page.$$eval("table.runs tbody tr", (t) =>
      t.map((r) => r.getAttribute("data-run-id")),
    );
    await page.getByRole("link", { name: "Older runs" }).click();
    await expect
      .poll(() => page.locator("table.runs tbody tr").first().getAttribute("data-run-id"), { timeout: 5000 })
      .not.toBe(first[0]);
    const second = await page.$$eval("table.runs tbody tr", (t) =>
      t.map((r) => r.getAttribute("data-run-id")),
    );
    const list = await apiGet<{ runs: RunRecord[] }>("/v1/runs?limit=10");
    expect([...first, ...second]).toEqual(list.runs.map((r) => r.id));
    await expectClean("runs (filtered)");
  });

  it("updates the runs list and a run live over SSE", async () => {
    await show("#/runs", "table.runs");
    await page.getByText("Live", { exact: true }).waitFor();
    await markPage(page, "live");
    const handle = await seeded.engine.start(seeded.gated.workflow, null, { runId: "run-live" });
    await page.waitForSelector('tr[data-run-id="run-live"] .status-running');
    await show("#/runs/run-live", "ol.wf-rows");
    await page.waitForSelector('li[data-status="running"]');
    seeded.gated.release();
    await handle.wait();
    await page.waitForSelector("#run-title .status-completed");
    expect(await page.$$eval("li.wf-step", (l) => l.length)).toBe(3);
    await show("#/runs", 'tr[data-run-id="run-live"] .status-completed');
    expect((await pageGlobals(page)).mark).toBe("live");
    await expectClean("live updates");
  });

  it("shows a run's waterfall, budget, errors and metadata as the API has them", async () => {
    await show("#/runs/run-completed", "ol.wf-rows");
    const run = await apiGet<RunRecord>("/v1/runs/run-completed");
    const metadata = run.metadata as unknown as RunMetadata;
    const events = await apiEvents("run-completed");
    const cards = await values("dl.cards");
    expect(Number(cards["tokens"])).toBe(metadata.tokens?.total);
    expect(Number(cards["cost"])).toBe(metadata.costUsd);
    expect(Number(cards["steps"])).toBe(metadata.counts.steps);
    expect(Number(cards["calls"])).toBe(events.filter((e) => e.type === "model.called").length);
    const waited = events
      .filter((e) => e.type === "model.called")
      .reduce((sum, e) => sum + ((e.data as { limiterWaitMs?: number }).limiterWaitMs ?? 0), 0);
    expect(Number(cards["wait"])).toBeCloseTo(waited, 9);
    expect(waited).toBeGreaterThan(1);
    // Parallel branches, a cache hit, a fallback and time waiting for the concurrency limit.
    const labels = await page.$$eval("li.wf-row", (rows) => rows.map((r) => r.textContent ?? ""));
    expect(labels.filter((l) => /map#0\[\d\]/.test(l))).toHaveLength(4);
    expect(labels.some((l) => l.includes("cache hit"))).toBe(true);
    expect(labels.some((l) => l.includes("fallback"))).toBe(true);
    expect(labels.some((l) => /waited .* for limits/.test(l))).toBe(true);
    expect(await page.textContent("dl.fields")).toContain(metadata.datasetHash.slice(0, 16));
    expect(await page.textContent("dl.fields")).toContain(metadata.configFingerprint.slice(0, 16));
    await expectClean("run");

    await show("#/runs/run-retried", 'li[data-status="timed_out"]');
    expect(await page.$$eval('li[data-status="retried"]', (l) => l.length)).toBe(1);
    expect(await page.textContent("ul.errors")).toContain("overran its timeout of 25 ms");

    await show("#/runs/run-budget", ".gauge");
    const budget = await apiGet<{ limits: { tokens: number }; used: { tokens: number }; exceeded?: string }>(
      "/v1/runs/run-budget/budget",
    );
    const gauge = await values('.gauge[data-dimension="tokens"]');
    expect(Number(gauge["used"])).toBe(budget.used.tokens);
    expect(Number(gauge["limit"])).toBe(budget.limits.tokens);
    expect(budget.exceeded).toBe("tokens");
    expect(await page.textContent(".gauge")).toContain("exceeded");

    await show("#/runs/run-failed", "ul.errors");
    expect(await page.textContent("ul.errors")).toContain('Row 17 of customers.csv has no "id" column');

    await show("#/runs/run-forked", "ol.wf-rows");
    expect(await page.textContent(".subtitle")).toContain("forked from run-completed");
    expect(await page.$$eval('li[data-status="copied"]', (l) => l.length)).toBeGreaterThan(0);
    await expectClean("runs (details)");
  });

  it("shows a model call and a step with their numbers, and model text as text", async () => {
    const events = await apiEvents("run-completed");
    const call = events.find(
      (e) => e.type === "model.called" && (e.data as { stage?: string }).stage === "summary",
    )!;
    const data = call.data as {
      requestId: string;
      provider: string;
      modelId: string;
      requested: string;
      usage: { inputTokens: number; outputTokens: number };
      costUsd: number;
      latencyMs: number;
    };
    await show(`#/runs/run-completed/events/${call.seq}`, "[data-field=answered]");
    const shown = await values("main");
    expect(await page.textContent("[data-field=answered]")).toBe(`${data.provider}:${data.modelId}`);
    expect(await page.textContent("[data-field=request-id]")).toBe(data.requestId);
    expect(await page.textContent("main")).toContain(data.requested);
    expect(Number(shown["usage-input"])).toBe(data.usage.inputTokens);
    expect(Number(shown["usage-output"])).toBe(data.usage.outputTokens);
    expect(Number(shown["cost"])).toBe(data.costUsd);
    expect(Number(shown["latency"])).toBe(data.latencyMs);
    expect(await page.textContent("[aria-label=Prompt]")).toContain("Summarise:");

    const done = events.find(
      (e) => e.type === "step.completed" && (e.data as { stepId: string }).stepId === "summary#0",
    )!;
    await show(`#/runs/run-completed/events/${done.seq}`, "[aria-label='Step output'] pre");
    const output = (await page.textContent("[aria-label='Step output'] pre")) ?? "";
    expect(output).toContain("<img src=x onerror=");
    expect(output).toContain(HOSTILE_TEXT.slice(HOSTILE_TEXT.indexOf("<script>")));
    expect(await page.$$eval("main img, main script", (n) => n.length)).toBe(0);
    expect((await pageGlobals(page)).pwned).toBeUndefined();
    await expectClean("event detail");
  });

  it("shows spend over time by workflow, stage and model, equal to the journal's", async () => {
    const runs = await seeded.journal.listRuns({});
    const perWorkflow = new Map<string, number>();
    let total = 0;
    let calls = 0;
    for (const run of runs) {
      const events = (await seeded.journal.readEvents(run.id)).filter((e) => e.seq > (run.forkedAtSeq ?? -1));
      const summary = summarizeModelCalls(events);
      total += summary.costUsd;
      calls += summary.calls;
      perWorkflow.set(run.workflow, (perWorkflow.get(run.workflow) ?? 0) + summary.costUsd);
    }
    await show("#/costs?range=30d", "[data-breakdown=model] .chart canvas");
    const cards = await values("dl.cards");
    expect(Number(cards["total-cost"])).toBeCloseTo(total, 12);
    expect(Number(cards["total-calls"])).toBe(calls);
    for (const [workflow, cost] of perWorkflow) {
      if (cost === 0) continue;
      const row = await values(`[data-breakdown=workflow] tr[data-key="${workflow}"]`);
      expect(Number(row["cost"])).toBeCloseTo(cost, 12);
    }
    expect(await page.$$eval("[data-breakdown=model] tbody tr", (r) => r.length)).toBeGreaterThanOrEqual(2);
    await expectClean("costs");
  });

  it("runs searches and budgeted selections in the playground", async () => {
    await show("#/search", "form.search-form");
    await page.getByLabel("Query").fill("journal budget replay");
    await page.getByLabel("Token budget for selection").fill("30");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForSelector("table.results");
    const search = await apiPost<{ results: { id: string; score: number }[] }>("/v1/search", {
      query: "journal budget replay",
      k: 10,
      strategy: "AUTO",
      fusion: "convex",
    });
    const rows = await page.$$eval("table.results tbody tr", (trs) =>
      trs.map((tr) => [
        tr.getAttribute("data-doc-id"),
        tr.querySelector("[data-field=score]")?.getAttribute("data-value"),
      ]),
    );
    expect(rows).toEqual(search.results.map((r) => [r.id, String(r.score)]));
    const select = await apiPost<{ kept: { id: string }[]; omitted: { id: string }[]; usedTokens: number }>(
      "/v1/select",
      { query: "journal budget replay", budgetTokens: 30 },
    );
    const kept = await page.$$eval("[data-list=kept] li", (l) =>
      l.map((li) => li.getAttribute("data-doc-id")),
    );
    const omitted = await page.$$eval("[data-list=omitted] li", (l) =>
      l.map((li) => li.getAttribute("data-doc-id")),
    );
    expect(kept).toEqual(select.kept.map((k) => k.id));
    expect(omitted).toEqual(select.omitted.map((o) => o.id));
    expect(omitted.length).toBeGreaterThan(0);
    expect(Number((await values("main"))["used-tokens"])).toBe(select.usedTokens);
    await expectClean("search");
  });
});

describe("actions", () => {
  it("refuses a reader's replay (403, audited) and lets an operator replay, fork, resume and cancel", async () => {
    // A second tab has its own session: sign in there as the reader.
    const reader = await browser.newPage();
    const readerWatch = await watchPage(reader);
    await signIn(reader, TOKENS.viewer);
    await setHash(reader, "#/runs/run-completed");
    await reader.getByRole("button", { name: "Replay" }).click();
    await reader.getByRole("button", { name: "Confirm" }).click();
    await reader.getByRole("alert").filter({ hasText: "forbidden" }).waitFor();
    expect(readerWatch.errors).toEqual([]);
    await reader.close();
    const denied = await apiGet<{ records: { subject?: string; action?: string }[] }>(
      "/v1/audit?kind=security.deny",
    );
    expect(denied.records.some((r) => r.subject === "victor" && r.action === "runs.replay")).toBe(true);

    await show("#/runs/run-completed", "ol.wf-rows");
    await page.getByRole("button", { name: "Replay" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.getByText("Replay matched the journal").waitFor();

    await page.getByLabel("Fork from step").selectOption({ label: "summary#0" });
    await page.getByRole("button", { name: "Fork", exact: true }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => getHash(page), { timeout: 5000 }).toMatch(/^#\/runs\/(?!run-completed)[\w-]+$/);
    await page.waitForSelector("#run-title .status-completed");
    const forkId = decodeURIComponent((await getHash(page)).split("/")[2] ?? "");
    const fork = await apiGet<RunRecord>(`/v1/runs/${forkId}`);
    expect(fork.parentRunId).toBe("run-completed");
    expect(await page.textContent(".subtitle")).toContain("forked from run-completed");

    await seeded.journal.createRun({
      id: "run-queued",
      workflow: "nightly-index",
      workflowVersion: "2",
      input: {},
      status: "queued",
    });
    await show("#/runs/run-queued", "#run-title .status-queued");
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForSelector("#run-title .status-completed");

    const handle = await seeded.engine.start(seeded.gated.workflow, null, { runId: "run-to-cancel" });
    await show("#/runs/run-to-cancel", 'li[data-status="running"]');
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForSelector("#run-title .status-cancelled");
    expect((await handle.wait()).status).toBe("cancelled");

    const actions = await apiGet<{
      records: { subject?: string; action?: string; data?: Record<string, unknown> }[];
    }>("/v1/audit?kind=run.action");
    const done = actions.records
      .filter((r) => r.subject === "olga" && r.data?.["outcome"] === "ok")
      .map((r) => r.action);
    expect(done).toEqual(expect.arrayContaining(["runs.replay", "runs.fork", "runs.resume"]));
    const decisions = await apiGet<{ records: { action?: string; resource?: string }[] }>(
      "/v1/audit?kind=policy.decision",
    );
    expect(
      decisions.records.some(
        (r) => r.action === "runs.cancel" && r.resource === "default:runs/run-to-cancel",
      ),
    ).toBe(true);
    await expectClean("actions");
  });

  it("shows the chain-verified audit log, filterable", async () => {
    await show("#/audit", "table.audit");
    await page.waitForSelector("[data-field=verify]");
    expect(await page.getAttribute("[data-field=verify]", "data-value")).toBe("true");
    // The API call below is itself audited (and so are the page's own): compare up to the page's last record.
    const seqs = await page.$$eval("table.audit tbody tr", (r) =>
      r.map((tr) => Number(tr.getAttribute("data-seq"))),
    );
    const all = await apiGet<{ records: { seq: number }[] }>("/v1/audit?limit=500");
    expect(seqs).toEqual(all.records.map((r) => r.seq).filter((seq) => seq <= Math.max(...seqs)));
    expect(seqs.length).toBeGreaterThan(10);
    expect(await page.getAttribute("[data-field=links]", "data-value")).toBe("0");
    await page.getByLabel("Kind").selectOption("run.action");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect
      .poll(() => page.locator("table.audit tbody tr:not([data-kind='run.action'])").count(), {
        timeout: 5000,
      })
      .toBe(0);
    const filtered = await apiGet<{ records: unknown[] }>("/v1/audit?kind=run.action&limit=500");
    expect(await page.$$eval("table.audit tbody tr", (r) => r.length)).toBe(filtered.records.length);
    await expectClean("audit");
  });
});

describe("every page", () => {
  const PAGES: [name: string, hash: () => string, ready: string][] = [
    ["runs", () => "#/runs", "table.runs"],
    ["run", () => "#/runs/run-completed", "ol.wf-rows"],
    ["run-retried", () => "#/runs/run-retried", "ol.wf-rows"],
    ["run-budget", () => "#/runs/run-budget", ".gauge"],
    ["run-failed", () => "#/runs/run-failed", "ul.errors"],
    ["run-forked", () => "#/runs/run-forked", "ol.wf-rows"],
    ["call", () => `#/runs/run-completed/events/${summaryCall}`, "[data-field=answered]"],
    ["costs", () => "#/costs?range=7d", "[data-breakdown=model] canvas"],
    ["search", () => "#/search?query=journal%20budget%20replay&budget=30", "[data-list=omitted] li"],
    ["audit", () => "#/audit", "table.audit"],
  ];

  it("is clean, accessible and fits at 1280 and 390 px", async () => {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      for (const [name, hash, ready] of PAGES) {
        await show(hash(), ready);
        await page.screenshot({ path: outputPath(`${name}-${width}.png`), fullPage: true });
        await axe(`${name} at ${width}px`);
        const { overflowX } = await pageGlobals(page);
        expect(overflowX, `${name} is wider than ${width}px`).toBeLessThanOrEqual(0);
        await expectClean(`${name} at ${width}px`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("would see a CSP violation or a low-contrast text (the checks are live)", async () => {
    await show("#/search", "form.search-form");
    // An image from elsewhere and an HTML string into innerHTML: both refused by the policy.
    const outcome = await page.evaluate(() => {
      const d = (
        globalThis as unknown as {
          document: {
            createElement(t: string): Record<string, unknown> & { style: Record<string, string> };
            body: { append(n: unknown): void };
          };
        }
      ).document;
      const img = d.createElement("img");
      img["src"] = "https://example.invalid/pixel.png";
      d.body.append(img);
      const div = d.createElement("div");
      try {
        div["innerHTML"] = "<b>markup</b>";
        return "assigned";
      } catch {
        return "refused";
      }
    });
    expect(outcome).toBe("refused");
    await expect
      .poll(() => pageCspViolations(page), { timeout: 5000 })
      .toContain("img-src https://example.invalid/pixel.png");
    expect(watch.cspViolations.length).toBeGreaterThan(0);
    // And axe reports a contrast failure when there is one.
    await page.evaluate(() => {
      const d = (
        globalThis as unknown as {
          document: { querySelector(s: string): { style: Record<string, string> } | null };
        }
      ).document;
      const title = d.querySelector("#search-title");
      if (title) title.style["color"] = "#b8c0c8";
    });
    expect((await axeViolations(page)).some((v) => v.startsWith("color-contrast"))).toBe(true);
    await page.reload();
    await page.waitForSelector("form.search-form");
    await resetWatch(page, watch);
  });

  it("works from the keyboard", async () => {
    await show("#/runs", "table.runs");
    await page.reload();
    await page.waitForSelector("table.runs");
    await page.keyboard.press("Tab");
    expect((await focused(page)).text).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect((await focused(page)).id).toBe("main");
    await page.keyboard.press("Tab");
    expect((await focused(page)).inMain).toBe(true);
    await page.locator('tr[data-run-id="run-completed"] a').focus();
    await page.keyboard.press("Enter");
    await page.waitForSelector("ol.wf-rows");
    expect((await focused(page)).id).toBe("main");
    // Every waterfall row is a link: tab to the first one and open it.
    let found = false;
    for (let i = 0; i < 15 && !found; i++) {
      await page.keyboard.press("Tab");
      found = (await focused(page)).waterfall;
    }
    expect(found).toBe(true);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#event-title");
    await page.locator("header nav").getByRole("link", { name: "Costs" }).focus();
    await page.keyboard.press("Enter");
    await page.waitForSelector("#costs-title");
    await expectClean("keyboard");
  });

  it("saves the README's screenshots (copied into docs/ by hand)", async () => {
    const shots: [string, () => string, string, number][] = [
      ["dashboard-runs.png", () => "#/runs", "table.runs", 1280],
      ["dashboard-run.png", () => "#/runs/run-completed", "ol.wf-rows", 1280],
      [
        "dashboard-call.png",
        () => `#/runs/run-completed/events/${summaryCall}`,
        "[data-field=answered]",
        1280,
      ],
      ["dashboard-costs.png", () => "#/costs?range=7d", "[data-breakdown=model] canvas", 1280],
      ["dashboard-mobile.png", () => "#/runs/run-budget", ".gauge", 390],
    ];
    for (const [file, hash, ready, width] of shots) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 1000 });
      await show(hash(), ready);
      await page.screenshot({ path: outputPath(`readme/${file}`) });
      expect(statSync(outputPath(`readme/${file}`)).size).toBeGreaterThan(10_000);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
