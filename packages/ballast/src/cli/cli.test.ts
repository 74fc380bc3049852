import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { articles } from "../../examples/articles.ts";
import { digest } from "../../examples/digest-workflow.ts";
import { type CliResult, runCli } from "../../test/cli-harness.ts";
import { createBallast } from "../flow/engine.ts";
import { homeDatabasePath } from "../home.ts";
import { openJournal } from "../journal/index.ts";
import { reportError, table } from "./output.ts";
import { buildProgram } from "./program.ts";

const workflowsModule = new URL("../../examples/digest-workflow.ts", import.meta.url).pathname;
let home: string;

const cli = (...args: string[]): Promise<CliResult> => runCli(buildProgram(), home, args);

async function finishedRun(runId = "r1"): Promise<string> {
  const journal = await openJournal({ home });
  const ballast = createBallast({ journal, workflows: [digest] });
  await (await ballast.start(digest, articles.slice(0, 3), { runId, seed: "s" })).result();
  await journal.close();
  return runId;
}

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "ballast-cli-"));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

describe("ballast CLI", () => {
  it("lists and shows runs, as text and as JSON", async () => {
    expect((await cli("runs", "ls")).out).toContain("no runs yet");
    const runId = await finishedRun();
    const listed = JSON.parse((await cli("runs", "ls", "--json")).out) as { id: string; status: string }[];
    expect(listed.map((r) => [r.id, r.status])).toEqual([[runId, "completed"]]);
    expect((await cli("runs", "ls", "--status", "failed", "--json")).out.trim()).toBe("[]");
    const shown = await cli("runs", "show", runId, "--events");
    expect(shown.out).toContain("digest@1");
    expect(shown.out).toMatch(/step\.completed {2}map#0\[0\]\/fetch#0/);
    const asJson = JSON.parse((await cli("runs", "show", runId, "--json")).out) as {
      run: { eventCount: number };
    };
    expect(asJson.run.eventCount).toBeGreaterThan(5);
    const missing = await cli("runs", "show", "nope");
    expect(missing.exitCode).toBe(1);
    expect(missing.err).toContain("No run nope");
  });

  it("replays a finished run and forks it", async () => {
    const runId = await finishedRun();
    const replay = await cli("replay", runId, "--workflows", workflowsModule);
    expect(replay.out).toContain(`replay of ${runId}: identical (completed)`);
    const fork = JSON.parse(
      (await cli("fork", runId, "--at", "4", "--workflows", workflowsModule, "--json")).out,
    ) as {
      status: string;
    };
    expect(fork.status).toBe("completed");
    const bad = await cli("fork", runId, "--at", "x", "--workflows", workflowsModule);
    expect(bad.exitCode).not.toBe(0);
  });

  it("asks for the workflows module where code must run", async () => {
    const runId = await finishedRun();
    const result = await cli("replay", runId, "--json");
    expect(result.exitCode).toBe(1);
    expect(JSON.parse(result.err).error.code).toBe("workflows_missing");
    const wrong = await cli("replay", runId, "--workflows", join(home, "none.ts"));
    expect(wrong.err).toContain("does not exist");
  });

  it("resumes and cancels unfinished runs", async () => {
    const journal = await openJournal({ home });
    await journal.createRun({
      id: "q1",
      workflow: "digest",
      workflowVersion: "1",
      input: articles.slice(0, 2) as never,
    });
    await journal.createRun({ id: "q2", workflow: "digest", workflowVersion: "1", input: [] });
    await journal.close();
    const resumed = await cli("runs", "resume", "q1", "--workflows", workflowsModule);
    expect(resumed.out).toContain("run q1: completed");
    const cancelled = await cli("runs", "cancel", "q2", "--reason", "not needed");
    expect(cancelled.out).toContain("run q2: cancelled");
    expect((await cli("runs", "cancel", "q2")).exitCode).toBe(1);
  });

  it("verifies the journal and names a tampered event", async () => {
    const runId = await finishedRun();
    expect((await cli("journal", "verify")).out).toContain("ok: 1 run(s)");
    const db = new DatabaseSync(homeDatabasePath(home));
    db.prepare("UPDATE events SET data = ? WHERE run_id = ? AND seq = 3").run('{"forged":true}', runId);
    db.close();
    const result = await cli("journal", "verify", runId);
    expect(result.exitCode).toBe(1);
    expect(result.out).toContain(`run ${runId} event 3`);
  });

  it("doctor checks node, sqlite and the home", async () => {
    const report = JSON.parse((await cli("doctor", "--json")).out) as {
      ok: boolean;
      checks: { name: string }[];
    };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(["node", "sqlite", "journal"]);
  });

  it("renders aligned tables and reports unexpected errors with exit code 2", () => {
    expect(table(["a", "bb"], [["xxx", "y"]])).toBe("a    bb\nxxx  y");
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(reportError(new Error("boom"), false)).toBe(2);
    expect(reportError("boom", true)).toBe(2);
    stderr.mockRestore();
  });
});
