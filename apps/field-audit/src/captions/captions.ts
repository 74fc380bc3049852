import type { LanguageModelV4 } from "@ai-sdk/provider";
import { generateText } from "ai";
import { type Logger, toErrorRecord } from "ballast";
import { sanitizeModelText } from "ballast/guard";
import { createModelLayer, type ModelEvent, type ModelLayer } from "ballast/models";
import type { DetectedEvent } from "../events/detect.ts";

/**
 * Captions: one per event, from a vision model (the event's camera frame plus the numbers
 * that made it an event), through `ballast/models`, so every policy of the model layer
 * applies: cache, breaker, per-attempt and per-call timeouts (the SDK-side timeout is an
 * AbortSignal the provider call honours), and retries with jittered exponential backoff.
 * Every caption passes through `sanitizeModelText` before it is bound to the report; a
 * caption that cannot be had is reported as such, and the audit goes on.
 */

export interface CaptionPolicy {
  /** Retries after the first attempt (default 3). */
  retries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-attempt SDK-side timeout (default 30 s) and whole-call timeout (default 120 s). */
  attemptTimeoutMs?: number;
  callTimeoutMs?: number;
  /** Consecutive failures that open the breaker (default 5) and how long it stays open. */
  breakerFailures?: number;
  breakerCoolDownMs?: number;
  /** SQLite response cache file; none when omitted. */
  cachePath?: string;
  /** Captions requested at once (default 4). */
  workers?: number;
  /** Random source of the backoff jitter (tests). */
  random?: () => number;
  /** Longest caption kept, in code points (default 400). */
  maxLength?: number;
  onEvent?: (event: ModelEvent) => void;
  /** Where the model layer logs retries and failures (default: stderr at warn). */
  logger?: Logger;
  /** Share an existing layer instead of the options above. */
  layer?: ModelLayer;
}

export interface Caption {
  eventId: string;
  /** Sanitised text, safe to bind as text. */
  text: string;
  ok: boolean;
  /** Error code when no caption could be had. */
  error?: string;
}

export interface CaptionInput {
  event: DetectedEvent;
  image: { bytes: Uint8Array; mediaType: string };
}

const KIND_WORDS: Record<DetectedEvent["kind"], string> = {
  obstacle: "an obstacle in the robot's path",
  canopy_gap: "a gap in the crop canopy",
  rough_ground: "rough ground under the robot",
};

export function captionPrompt(event: DetectedEvent): string {
  const fmt = (v: number | null, unit: string) => (v === null ? "n/a" : `${v.toFixed(2)} ${unit}`);
  return [
    `Frame ${event.frame_idx} of a field robot run, t=${event.t.toFixed(1)} s.`,
    `The auditor flagged ${KIND_WORDS[event.kind]} (score ${event.score.toFixed(1)}, prominence ${event.prominence.toFixed(1)}).`,
    `Minimum clearance ${fmt(event.min_clearance_m, "m")}, canopy density ${fmt(event.canopy_density_proxy, "")}, IMU roughness ${fmt(event.imu_roughness, "m/s²")}.`,
    "In one or two plain sentences, describe what the camera shows and whether it supports the flag.",
  ].join("\n");
}

/**
 * The captioning model with the layer's policies, for a raw AI SDK model, and the layer it
 * runs in (shared when `policy.layer` is given; else a private one the caller closes, which
 * flushes the response cache).
 */
export function captionModel(
  model: LanguageModelV4,
  policy: CaptionPolicy = {},
): { model: LanguageModelV4; layer: ModelLayer; owned: boolean } {
  const wrap = {
    stage: "captions",
    retry: {
      maxRetries: policy.retries ?? 3,
      baseDelayMs: policy.baseDelayMs ?? 500,
      maxDelayMs: policy.maxDelayMs ?? 20_000,
      ...(policy.random ? { random: policy.random } : {}),
    },
    timeout: { attemptMs: policy.attemptTimeoutMs ?? 30_000, callMs: policy.callTimeoutMs ?? 120_000 },
  };
  if (policy.layer) return { model: policy.layer.wrap(model, wrap), layer: policy.layer, owned: false };
  const layer = createModelLayer({
    breaker: {
      consecutiveFailures: policy.breakerFailures ?? 5,
      coolDownMs: policy.breakerCoolDownMs ?? 30_000,
    },
    ...(policy.cachePath ? { cache: { path: policy.cachePath } } : {}),
    ...(policy.onEvent ? { onEvent: policy.onEvent } : {}),
    ...(policy.logger ? { logger: policy.logger } : {}),
  });
  return { model: layer.wrap(model, wrap), layer, owned: true };
}

export async function captionEvents(
  inputs: readonly CaptionInput[],
  model: LanguageModelV4,
  policy: CaptionPolicy = {},
): Promise<Caption[]> {
  const { model: wrapped, layer, owned } = captionModel(model, policy);
  const maxLength = policy.maxLength ?? 400;
  const out: Caption[] = new Array(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const k = next++;
      const { event, image } = inputs[k]!;
      try {
        const { text } = await generateText({
          model: wrapped,
          maxRetries: 0, // the model layer is the only retry loop
          maxOutputTokens: 160,
          providerOptions: { ballast: { item: event.id } },
          messages: [
            {
              role: "user",
              content: [
                { type: "text", text: captionPrompt(event) },
                { type: "file", data: image.bytes, mediaType: image.mediaType },
              ],
            },
          ],
        });
        const clean = sanitizeModelText(text, { maxLength });
        out[k] = {
          eventId: event.id,
          text: clean === "" ? "(the model returned no caption)" : clean,
          ok: clean !== "",
        };
      } catch (error) {
        const record = toErrorRecord(error);
        out[k] = {
          eventId: event.id,
          text: sanitizeModelText(`Caption unavailable (${record.code}).`, { maxLength }),
          ok: false,
          error: record.code,
        };
      }
    }
  };
  const workers = Math.max(1, Math.min(policy.workers ?? 4, inputs.length));
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    if (owned) layer.close();
  }
  return out;
}
