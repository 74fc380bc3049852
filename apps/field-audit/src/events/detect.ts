import type { FeatureTable } from "../features/extract.ts";
import type { Telemetry } from "../features/imu-telemetry.ts";
import { findPeaks } from "./find-peaks.ts";
import { type RobustScale, robustScale } from "./robust-scale.ts";

/**
 * Events: each feature is robust-scaled (median/MAD) and turned so that "worse" is
 * positive (near obstacle, thin canopy, rough ground). Clearance is scored as proximity
 * (1 / clearance, clearance floored at 5 cm): an obstacle matters more the closer it is,
 * and most frames sit at the range cap, where a z-score of the raw distance is blind. The anomaly score of a frame is the
 * largest of the three; peaks of the score that pass height, prominence, width and
 * min-distance (scipy's find_peaks semantics) become events, each carrying the peak
 * properties that explain why it was chosen.
 */

export type EventKind = "obstacle" | "canopy_gap" | "rough_ground";

export interface EventConfig {
  /** Minimum score (robust z) at the peak. */
  height: number;
  prominence: number;
  /** Minimum width in frames at `relHeight` of the prominence. */
  width: number;
  /** Minimum distance between events in frames. */
  distance: number;
  relHeight: number;
  /** Window for prominences, in frames; none = the whole run. */
  wlen?: number;
}

export const DEFAULT_EVENT_CONFIG: EventConfig = {
  height: 4,
  prominence: 3,
  width: 1,
  distance: 12,
  relHeight: 0.5,
};

type Column = "min_clearance_m" | "canopy_density_proxy" | "imu_roughness";
const CHANNELS: { kind: EventKind; column: Column; sign: 1 | -1; transform?: (v: number) => number }[] = [
  { kind: "obstacle", column: "min_clearance_m", sign: 1, transform: (c) => 1 / Math.max(c, 0.05) },
  { kind: "canopy_gap", column: "canopy_density_proxy", sign: -1 },
  { kind: "rough_ground", column: "imu_roughness", sign: 1 },
];

export interface DetectedEvent {
  id: string;
  /** Row of the feature table. */
  row: number;
  frame_idx: number;
  t: number;
  kind: EventKind;
  score: number;
  z: Record<EventKind, number | null>;
  prominence: number;
  left_base: number;
  right_base: number;
  width: number;
  width_height: number;
  left_ip: number;
  right_ip: number;
  min_clearance_m: number | null;
  canopy_density_proxy: number | null;
  imu_roughness: number | null;
  lat: number;
  lon: number;
}

export interface Detection {
  events: DetectedEvent[];
  score: number[];
  scaling: Record<EventKind, Pick<RobustScale, "center" | "scale" | "method">>;
  warnings: string[];
}

const finiteOrNull = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);

export function detectEvents(
  table: FeatureTable,
  tele: Telemetry,
  config: EventConfig = DEFAULT_EVENT_CONFIG,
): Detection {
  const n = table.frame_idx.length;
  const scaled = CHANNELS.map((c) => ({
    ...c,
    scale: robustScale(c.transform ? table[c.column].map(c.transform) : table[c.column]),
  }));
  const score = new Array<number>(n).fill(0);
  const kindAt = new Array<EventKind>(n).fill("obstacle");
  for (let i = 0; i < n; i++) {
    let best = Number.NEGATIVE_INFINITY;
    for (const c of scaled) {
      const z = c.sign * c.scale.z[i]!;
      if (Number.isFinite(z) && z > best) {
        best = z;
        kindAt[i] = c.kind;
      }
    }
    // A frame with no usable channel (all NaN) scores 0: missing data is not an anomaly.
    score[i] = Number.isFinite(best) ? best : 0;
  }
  const { peaks, properties, warnings } = findPeaks(score, {
    height: config.height,
    prominence: config.prominence,
    width: config.width,
    distance: config.distance,
    relHeight: config.relHeight,
    ...(config.wlen === undefined ? {} : { wlen: config.wlen }),
  });
  const events = peaks.map((row, k): DetectedEvent => {
    const z = Object.fromEntries(
      scaled.map((c) => [c.kind, finiteOrNull(c.sign * c.scale.z[row]!)]),
    ) as Record<EventKind, number | null>;
    return {
      id: `ev-${String(k + 1).padStart(3, "0")}`,
      row,
      frame_idx: table.frame_idx[row]!,
      t: table.t[row]!,
      kind: kindAt[row]!,
      score: score[row]!,
      z,
      prominence: properties.prominences![k]!,
      left_base: properties.left_bases![k]!,
      right_base: properties.right_bases![k]!,
      width: properties.widths![k]!,
      width_height: properties.width_heights![k]!,
      left_ip: properties.left_ips![k]!,
      right_ip: properties.right_ips![k]!,
      min_clearance_m: finiteOrNull(table.min_clearance_m[row]),
      canopy_density_proxy: finiteOrNull(table.canopy_density_proxy[row]),
      imu_roughness: finiteOrNull(table.imu_roughness[row]),
      lat: tele.lat[row]!,
      lon: tele.lon[row]!,
    };
  });
  const scaling = Object.fromEntries(
    scaled.map((c) => [c.kind, { center: c.scale.center, scale: c.scale.scale, method: c.scale.method }]),
  ) as Detection["scaling"];
  return { events, score, scaling, warnings };
}

/** Precision and recall against ground truth: a detection matches an unmatched truth event whose frames (± tolerance) contain it. */
export function scoreDetections(
  detected: readonly { frame_idx: number }[],
  truth: readonly { frame_start: number; frame_end: number }[],
  tolerance = 2,
): { precision: number; recall: number; truePositives: number } {
  const used = new Set<number>();
  let tp = 0;
  for (const d of detected) {
    const match = truth.findIndex(
      (g, i) =>
        !used.has(i) && d.frame_idx >= g.frame_start - tolerance && d.frame_idx <= g.frame_end + tolerance,
    );
    if (match >= 0) {
      used.add(match);
      tp++;
    }
  }
  return {
    precision: detected.length === 0 ? (truth.length === 0 ? 1 : 0) : tp / detected.length,
    recall: truth.length === 0 ? 1 : tp / truth.length,
    truePositives: tp,
  };
}
