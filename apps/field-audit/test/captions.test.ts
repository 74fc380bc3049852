import { createGoogleGenerativeAI } from "@ai-sdk/google";
import type { ModelEvent } from "ballast/models";
import { type FakeServer, startFakeGemini } from "ballast/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captionEvents, captionPrompt } from "../src/captions/captions.ts";
import type { DetectedEvent } from "../src/events/detect.ts";
import { createAppLogger } from "../src/logging.ts";
import { tempDir } from "./helpers/run-fixture.ts";

const logger = createAppLogger("silent");

// The caption stage against the fake Gemini server, through @ai-sdk/google: the model
// layer's retry with jittered backoff, SDK-side timeout, breaker and cache, and the
// sanitiser on what comes back.

function event(id: string, frame: number): DetectedEvent {
  return {
    id,
    row: frame,
    frame_idx: frame,
    t: frame / 5,
    kind: "obstacle",
    score: 9.5,
    z: { obstacle: 9.5, canopy_gap: 0.2, rough_ground: -0.1 },
    prominence: 9.1,
    left_base: frame - 10,
    right_base: frame + 3,
    width: 6.5,
    width_height: 4.9,
    left_ip: frame - 4.2,
    right_ip: frame + 2.3,
    min_clearance_m: 0.61,
    canopy_density_proxy: 0.48,
    imu_roughness: 0.05,
    lat: 44.8,
    lon: -0.57,
  };
}

const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
const input = (id: string, frame: number) => ({
  event: event(id, frame),
  image: { bytes: jpeg, mediaType: "image/jpeg" },
});

let server: FakeServer;
let google: ReturnType<typeof createGoogleGenerativeAI>;

beforeEach(async () => {
  server = await startFakeGemini({ seed: 8 });
  google = createGoogleGenerativeAI({ baseURL: server.baseURL, apiKey: "test-key" });
});
afterEach(() => server.close());

describe("captions through ballast/models against fake Gemini", () => {
  it("retries 429 and 5xx with jittered exponential backoff, then captions", async () => {
    server.script([{ status: 429 }, { status: 503 }, { status: 500 }]);
    const events: ModelEvent[] = [];
    const draws = [0.5, 0.25, 1];
    const [caption] = await captionEvents([input("ev-001", 40)], google("gemini-2.5-flash"), {
      logger,
      retries: 3,
      baseDelayMs: 40,
      random: () => draws.shift() ?? 0,
      onEvent: (e) => events.push(e),
    });
    expect(caption).toMatchObject({ eventId: "ev-001", ok: true });
    expect(caption!.text.length).toBeGreaterThan(0);
    const retries = events.filter((e) => e.type === "retry");
    // Full jitter: delay = random * base * 2^attempt.
    expect(retries.map((e) => (e as { delayMs: number }).delayMs)).toEqual([20, 20, 160]);
    expect(server.requests).toHaveLength(4);
    const body = server.requests[3]!.body as { contents: { parts: Record<string, unknown>[] }[] };
    expect(body.contents[0]!.parts.some((p) => "inlineData" in p)).toBe(true);
    expect(JSON.stringify(body)).toContain("an obstacle in the robot's path");
  });

  it("an SDK-side timeout aborts a hung call, is retried, and ends in a reported failure", async () => {
    server.script([{ hang: true, times: 3 }]);
    const events: ModelEvent[] = [];
    const [caption] = await captionEvents([input("ev-002", 41)], google("gemini-2.5-flash"), {
      logger,
      retries: 2,
      baseDelayMs: 1,
      attemptTimeoutMs: 150,
      onEvent: (e) => events.push(e),
    });
    expect(caption).toMatchObject({ ok: false, error: "model_call_failed" });
    expect(caption!.text).toBe("Caption unavailable (model_call_failed).");
    expect(events.filter((e) => e.type === "retry").map((e) => (e as { code: string }).code)).toEqual([
      "model_timeout",
      "model_timeout",
    ]);
    expect(server.requests).toHaveLength(3);
  });

  it("the breaker opens after consecutive failures and stops calling the provider", async () => {
    server.script([{ status: 500, times: 100 }]);
    const captions = await captionEvents(
      [input("ev-1", 1), input("ev-2", 2), input("ev-3", 3), input("ev-4", 4)],
      google("gemini-2.5-flash"),
      { logger, retries: 0, breakerFailures: 2, breakerCoolDownMs: 60_000, workers: 1 },
    );
    expect(captions.map((c) => c.ok)).toEqual([false, false, false, false]);
    expect(server.requests).toHaveLength(2);
    expect(captions[3]!.error).toMatch(/circuit_open|model_call_failed/);
  });

  it("a cache hit bypasses the provider", async () => {
    const cachePath = `${tempDir()}/captions.db`;
    const first = await captionEvents([input("ev-1", 10)], google("gemini-2.5-flash"), { cachePath });
    expect(server.requests).toHaveLength(1);
    const second = await captionEvents([input("ev-1", 10)], google("gemini-2.5-flash"), { cachePath });
    expect(server.requests).toHaveLength(1);
    expect(second).toEqual(first);
  });

  it("sanitises what the model says before it reaches the report", async () => {
    server.script([
      { reply: "  Rock ahead\u001b[31m!\u0007</script><script>alert(1)</script>\r\n\r\n\r\n\u202eevil  " },
    ]);
    const [caption] = await captionEvents([input("ev-1", 10)], google("gemini-2.5-flash"), { maxLength: 60 });
    expect(caption!.text).toBe("Rock ahead!</script><script>alert(1)</script>\n\nevil");
    expect(captionPrompt(event("ev-9", 5))).toContain("Minimum clearance 0.61 m");
  });
});
