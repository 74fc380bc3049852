import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BallastServer } from "../server.ts";
import { type Fixture, fixture, serverFor, TOKENS } from "../test-harness.ts";

let fx: Fixture;
let server: BallastServer;
let url: string;

beforeEach(async () => {
  fx = await fixture();
  server = await serverFor(fx, { auth: true, pollMs: 20, sseHeartbeatMs: 30 });
  url = (await server.listen()).url;
});

afterEach(async () => {
  await server.close();
  await fx.close();
});

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: boolean;
}

/** Reads an SSE response to its end and splits it into frames. */
async function frames(res: Response): Promise<Frame[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const frame: Frame = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) frame.comment = true;
        const colon = line.indexOf(": ");
        if (colon > 0) (frame as Record<string, string>)[line.slice(0, colon)] = line.slice(colon + 2);
      }
      return frame;
    });
}

const auth = { authorization: `Bearer ${TOKENS.alice}` };

async function start(workflow: string, input: unknown): Promise<string> {
  const res = await fetch(`${url}/v1/runs`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ workflow, input }),
  });
  return ((await res.json()) as { id: string }).id;
}

describe("GET /v1/runs/:id/events", () => {
  it("streams a live run's journal until it ends", async () => {
    const id = await start("slow", 250);
    const res = await fetch(`${url}/v1/runs/${id}/events`, {
      headers: { ...auth, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("traceparent")).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    expect(res.headers.get("x-trace-id")).toMatch(/^[0-9a-f]{32}$/);
    const all = await frames(res);
    const events = all.filter((f) => f.data !== undefined && f.event !== "end");
    const journal = await fx.journal.readEvents(id);
    expect(events.map((f) => Number(f.id))).toEqual(journal.map((e) => e.seq));
    expect(events.map((f) => f.event)).toEqual(journal.map((e) => e.type));
    expect(JSON.parse(events[0]!.data!)).toMatchObject({ runId: id, seq: 0, type: "run.started" });
    expect(events.at(-1)!.event).toBe("run.completed");
    expect(all.at(-1)).toMatchObject({ event: "end" });
    expect(all.some((f) => f.comment)).toBe(true);
  });

  it("resumes after Last-Event-ID, and ends at once for a finished run", async () => {
    const id = await start("greet", "sse");
    for (let i = 0; i < 100 && (await fx.journal.getRun(id))?.status !== "completed"; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const count = (await fx.journal.readEvents(id)).length;
    const res = await fetch(`${url}/v1/runs/${id}/events`, { headers: { ...auth, "last-event-id": "1" } });
    const seqs = (await frames(res))
      .filter((f) => f.id !== undefined && f.id !== "")
      .map((f) => Number(f.id));
    expect(seqs[0]).toBe(2);
    expect(seqs.at(-1)).toBe(count - 1);
    const past = await fetch(`${url}/v1/runs/${id}/events?fromSeq=${count + 5}`, { headers: auth });
    expect((await frames(past)).map((f) => f.event)).toEqual(["end"]);
  });

  it("answers errors before streaming with the envelope", async () => {
    const missing = await fetch(`${url}/v1/runs/nope/events`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } });
    const anonymous = await fetch(`${url}/v1/runs/nope/events`);
    expect(anonymous.status).toBe(401);
  });

  it("stops reading the journal when the client goes away", async () => {
    const id = await start("slow", 2000);
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/runs/${id}/events`, { headers: auth, signal: controller.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("run.started");
    controller.abort();
    await reader.closed.catch(() => undefined);
    await server.dispatcher.deps.engine.cancel(id);
  });
});
