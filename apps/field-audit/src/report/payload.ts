import type { Caption } from "../captions/captions.ts";
import type { DetectedEvent, Detection } from "../events/detect.ts";
import type { FeatureColumn, FeatureTable } from "../features/extract.ts";
import type { Telemetry } from "../features/imu-telemetry.ts";
import type { Manifest } from "../ingest/manifest.ts";

/**
 * The report's data, as four payloads (events, GPS path, features, telemetry) plus the
 * images they reference by id. Each image appears once in `images`; events, the map
 * overlay and the first-frame panel all refer to it by id, so nothing is embedded twice.
 *
 * Payload controls: `downsample` keeps every n-th row of the per-frame series (the rows of
 * events and their bases are always kept, so markers land on real samples) and `columns`
 * chooses which feature columns travel.
 */

export interface PayloadOptions {
  /** Keep every n-th frame in the series (default 1: all). */
  downsample?: number;
  /** Feature columns to include (default: all). The anomaly score always travels. */
  columns?: readonly FeatureColumn[];
}

export interface ReportImage {
  id: string;
  bytes: Uint8Array;
  mediaType: "image/jpeg" | "image/png";
}

export interface EventPayload extends Omit<DetectedEvent, "row"> {
  image: string;
  caption: string;
  caption_ok: boolean;
  t_left_ip: number;
  t_right_ip: number;
  left_base_frame: number;
  right_base_frame: number;
}

export interface ReportPayloads {
  meta: {
    run_id: string;
    robot: string;
    started_at: string;
    frames: number;
    dataset_hash: string;
    first_frame: { frame_idx: number; image: string };
    model: string;
    generated_at: string;
    downsample: number;
    event_config: Record<string, number | undefined>;
    scaling: Detection["scaling"];
  };
  events: EventPayload[];
  gpsPath: { lat: number[]; lon: number[]; frame_idx: number[] };
  features: {
    frame_idx: number[];
    t: number[];
    columns: string[];
    values: Record<string, (number | null)[]>;
  };
  telemetry: { frame_idx: number[]; t: number[]; speed_mps: number[]; hdop: number[]; fix: number[] };
  images: ReportImage[];
}

export interface PayloadInput {
  manifest: Manifest;
  datasetHash: string;
  table: FeatureTable;
  telemetry: Telemetry;
  detection: Detection;
  captions: readonly Caption[];
  eventConfig: Record<string, number | undefined>;
  model: string;
  /** Loads a frame's camera image by row (bytes as stored, JPEG or PNG). */
  image: (row: number) => Promise<ReportImage["bytes"]>;
  generatedAt: string;
}

const round = (v: number, digits = 4) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);

function imageId(frameIdx: number): string {
  return `frame-${String(frameIdx).padStart(6, "0")}`;
}

function interpolateT(t: readonly number[], ip: number): number {
  const i = Math.max(0, Math.min(t.length - 1, Math.floor(ip)));
  const j = Math.min(t.length - 1, i + 1);
  return t[i]! + (ip - i) * (t[j]! - t[i]!);
}

export async function buildPayloads(
  input: PayloadInput,
  options: PayloadOptions = {},
): Promise<ReportPayloads> {
  const { manifest, table, telemetry, detection } = input;
  const stride = Math.max(1, Math.floor(options.downsample ?? 1));
  const columns = [
    ...(options.columns ?? [
      "min_clearance_m",
      "canopy_density_proxy",
      "valid_depth_ratio",
      "imu_roughness",
      "gyro_rms",
    ]),
  ];
  const n = table.frame_idx.length;
  const keep = new Set<number>();
  for (let i = 0; i < n; i += stride) keep.add(i);
  keep.add(n - 1);
  for (const e of detection.events) keep.add(e.row).add(e.left_base).add(e.right_base);
  const rows = [...keep].sort((a, b) => a - b);

  const images = new Map<string, ReportImage>();
  const addImage = async (row: number) => {
    const id = imageId(table.frame_idx[row]!);
    if (!images.has(id)) {
      const bytes = await input.image(row);
      const mediaType = bytes[0] === 0x89 ? "image/png" : "image/jpeg";
      images.set(id, { id, bytes, mediaType });
    }
    return id;
  };
  const firstImage = await addImage(0);
  const captionOf = new Map(input.captions.map((c) => [c.eventId, c]));
  const events: EventPayload[] = [];
  for (const e of detection.events) {
    const { row, ...rest } = e;
    const caption = captionOf.get(e.id);
    events.push({
      ...rest,
      image: await addImage(row),
      caption: caption?.text ?? "",
      caption_ok: caption?.ok ?? false,
      t_left_ip: interpolateT(table.t, e.left_ip),
      t_right_ip: interpolateT(table.t, e.right_ip),
      left_base_frame: table.frame_idx[e.left_base]!,
      right_base_frame: table.frame_idx[e.right_base]!,
    });
  }
  const values: Record<string, (number | null)[]> = {};
  for (const c of columns) values[c] = rows.map((r) => round(table[c][r]!));
  values["score"] = rows.map((r) => round(detection.score[r]!, 3));

  return {
    meta: {
      run_id: manifest.run_id,
      robot: manifest.robot,
      started_at: manifest.started_at,
      frames: n,
      dataset_hash: input.datasetHash,
      first_frame: { frame_idx: table.frame_idx[0]!, image: firstImage },
      model: input.model,
      generated_at: input.generatedAt,
      downsample: stride,
      event_config: input.eventConfig,
      scaling: detection.scaling,
    },
    events,
    gpsPath: {
      lat: rows.map((r) => Number(telemetry.lat[r]!.toFixed(8))),
      lon: rows.map((r) => Number(telemetry.lon[r]!.toFixed(8))),
      frame_idx: rows.map((r) => table.frame_idx[r]!),
    },
    features: {
      frame_idx: rows.map((r) => table.frame_idx[r]!),
      t: rows.map((r) => round(table.t[r]!, 3)!),
      columns: [...columns, "score"],
      values,
    },
    telemetry: {
      frame_idx: rows.map((r) => table.frame_idx[r]!),
      t: rows.map((r) => round(table.t[r]!, 3)!),
      speed_mps: rows.map((r) => round(telemetry.speed_mps[r]!, 3)!),
      hdop: rows.map((r) => round(telemetry.hdop[r]!, 2)!),
      fix: rows.map((r) => telemetry.fix[r]!),
    },
    images: [...images.values()],
  };
}
