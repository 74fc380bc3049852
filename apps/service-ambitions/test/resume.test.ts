import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type JournalEvent, openJournal } from "ballast";
import { type FakeServer, startFakeOpenAI } from "ballast/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../src/cli/exit-codes.ts";
import { offlineAnswer } from "../src/offline/responder.ts";
import { cli, readJsonl, type Workspace, workspace } from "./helpers.ts";

/**
 * A run killed with SIGKILL part-way and resumed: no model call that the journal recorded is
 * made again; only the calls in flight at the kill (sent, answer never journaled) are.
 * The fake OpenAI-compatible server in this process sees every call of both processes.
 */

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const RUN = "killed-1";
const env = { OPENAI_COMPATIBLE_API_KEY: "sk-test-not-real" };

let ws: Workspace;
let server: FakeServer;
let killedAt: { requests: number; journaled: number };

async function modelCalls(home: string): Promise<JournalEvent[]> {
  const journal = await openJournal({ home });
  try {
    return (await journal.readEvents(RUN)).filter((e) => e.type === "model.called");
  } finally {
    await journal.close();
  }
}

beforeAll(async () => {
  ws = workspace({ services: 3, plateaus: 3 });
  server = await startFakeOpenAI({ latencyMs: 25, respond: (_request, intent) => offlineAnswer(intent, 7) });
  const child = spawn(
    process.execPath,
    [
      "--conditions=ballast-source",
      MAIN,
      "run",
      ...ws.args,
      "--run-id",
      RUN,
      "--model",
      "openai-compatible:gpt-4o-mini",
      "--base-url",
      server.baseURL,
      "--cache",
      "off",
    ],
    { env: { ...process.env, ...env }, stdio: "ignore" },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  // Kill it once a good part of its 57 calls has been made.
  while (server.requests.length < 20) await new Promise((r) => setTimeout(r, 5));
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  await new Promise((r) => setTimeout(r, 100));
  killedAt = { requests: server.requests.length, journaled: (await modelCalls(ws.home)).length };
}, 30_000);

afterAll(async () => {
  await server?.close();
  ws?.remove();
});

describe("resume after SIGKILL", () => {
  it("refuses when the input changed, naming the file", async () => {
    const original = readFileSync(ws.services, "utf8");
    writeFileSync(ws.services, original.replace("Issues, renews", "Issues and renews"));
    const refused = await cli(["resume", RUN, "--home", ws.home], { env });
    writeFileSync(ws.services, original);
    expect(refused.code).toBe(EXIT.resumeRefused);
    const error = JSON.parse(refused.err) as { code: string; message: string };
    expect(error.code).toBe("resume_refused");
    expect(error.message).toContain("The input changed since run killed-1 started");
    expect(error.message).toContain(ws.services);
  });

  it("refuses when the settings changed, naming them", async () => {
    const refused = await cli(["resume", RUN, "--home", ws.home, "--seed", "8", "--max-reasks", "1"], {
      env,
    });
    expect(refused.code).toBe(EXIT.resumeRefused);
    expect(refused.err).toContain("maxReasks (2 → 1); seed (7 → 8)");
    const moved = await cli(["resume", RUN, "--home", ws.home, "--output", join(ws.dir, "elsewhere.jsonl")], {
      env,
    });
    expect(moved.code).toBe(EXIT.resumeRefused);
    expect(moved.err).toContain("a resume cannot move it");
  });

  it("continues without paying for any journaled call twice", async () => {
    expect(killedAt.journaled).toBeGreaterThan(0);
    const inFlightAtKill = killedAt.requests - killedAt.journaled;
    expect(inFlightAtKill).toBeGreaterThanOrEqual(0);

    const resumed = await cli(["resume", RUN, "--home", ws.home], { env });
    expect(resumed.err).toBe("");
    expect(resumed.code).toBe(EXIT.ok);
    expect(resumed.out).toMatch(/run killed-1 completed/);

    const events = await modelCalls(ws.home);
    expect(events).toHaveLength(57);
    const hashes = events.map((e) => (e.data as { requestHash: string }).requestHash);
    expect(new Set(hashes).size).toBe(events.length);
    // Every provider request beyond one per journaled call is one that was in flight at the kill.
    expect(server.requests.length - events.length).toBe(inFlightAtKill);
    const bodies = server.requests.map((r) => r.rawBody);
    expect(new Set(bodies).size).toBe(events.length);
    const beforeKill = new Set(bodies.slice(0, killedAt.requests));
    const resent = bodies.slice(killedAt.requests).filter((b) => beforeKill.has(b));
    expect(resent).toHaveLength(inFlightAtKill);

    const [header, ...records] = readJsonl(ws.output);
    expect(header).toMatchObject({ type: "header", models: { features: "openai-compatible:gpt-4o-mini" } });
    expect(records).toHaveLength(3);

    const again = await cli(["resume", RUN, "--home", ws.home], { env });
    expect(again.code).toBe(EXIT.resumeRefused);
    expect(again.err).toContain("has already ended (completed)");
    const missing = await cli(["resume", "no-such-run", "--home", ws.home], { env });
    expect(missing.code).toBe(EXIT.usage);
  });
});
