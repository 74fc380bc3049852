import { createRng, type Rng } from "../util/random.ts";

/**
 * The world the generator renders: a corridor between two crop rows along the world x
 * axis, with missing plants (canopy gaps), obstacles in the corridor and patches of rough
 * ground. Every placed anomaly is a ground-truth event with the frames in which a correct
 * detector should flag it (see docs/generator.md for the model and its calibration).
 */

export type EventKind = "obstacle" | "canopy_gap" | "rough_ground";

export interface Plant {
  x: number;
  y: number;
  /** Centre height and radii of the canopy ellipsoid. */
  z: number;
  rx: number;
  ry: number;
  rz: number;
  /** Base colour (RGB 0..255). */
  color: [number, number, number];
}

export interface Obstacle {
  shape: "rock" | "post" | "crate" | "person";
  x: number;
  y: number;
  /** Half extents (box) or radius/height (cylinder, ellipsoid). */
  sx: number;
  sy: number;
  sz: number;
  color: [number, number, number];
}

export interface RoughPatch {
  x0: number;
  x1: number;
  /** Amplitude of the ruts in metres. */
  amplitude: number;
  wavelength: number;
  phase: number;
}

export interface TruthEvent {
  id: string;
  kind: EventKind;
  /** World x extent of the anomaly. */
  x0: number;
  x1: number;
  detail: string;
}

export interface Scene {
  seed: number;
  rowHalfSpacing: number;
  length: number;
  plants: Plant[];
  obstacles: Obstacle[];
  rough: RoughPatch[];
  truth: TruthEvent[];
  /** Baseline ground unevenness (m), everywhere. */
  baseRoughness: number;
}

export interface SceneOptions {
  seed: number;
  /** Corridor length in metres. */
  length: number;
  /** Mean spacing between anomalies, metres (default 8). */
  eventSpacing?: number;
  rowHalfSpacing?: number;
  plantSpacing?: number;
}

const KINDS: EventKind[] = ["obstacle", "canopy_gap", "rough_ground"];

export function buildScene(options: SceneOptions): Scene {
  const rng = createRng(options.seed);
  const rowHalf = options.rowHalfSpacing ?? 1.25;
  const spacing = options.plantSpacing ?? 0.45;
  const length = options.length;
  const eventSpacing = options.eventSpacing ?? 8;

  // Anomalies: evenly spread with jitter, kinds shuffled, none in the first/last 5 m (the
  // detector cannot call a peak at a signal's edge, and neither could a person).
  const truth: TruthEvent[] = [];
  const obstacles: Obstacle[] = [];
  const rough: RoughPatch[] = [];
  const gaps: { side: 1 | -1; x0: number; x1: number }[] = [];
  const count = Math.max(0, Math.floor((length - 10) / eventSpacing));
  let kindOrder = shuffled(KINDS, rng);
  for (let i = 0; i < count; i++) {
    if (i % KINDS.length === 0 && i > 0) kindOrder = shuffled(KINDS, rng);
    const kind = kindOrder[i % KINDS.length]!;
    const centre = 5 + eventSpacing * (i + 0.5) + rng.uniform(-0.2, 0.2) * eventSpacing;
    const id = `gt-${String(i).padStart(3, "0")}`;
    if (kind === "obstacle") {
      const o = makeObstacle(centre, rng);
      obstacles.push(o);
      truth.push({ id, kind, x0: o.x - o.sx, x1: o.x + o.sx, detail: `${o.shape} at y=${o.y.toFixed(2)} m` });
    } else if (kind === "canopy_gap") {
      const gapLength = rng.uniform(2.4, 4);
      const side = rng.next() < 0.5 ? 1 : -1;
      gaps.push({ side, x0: centre - gapLength / 2, x1: centre + gapLength / 2 });
      truth.push({
        id,
        kind,
        x0: centre - gapLength / 2,
        x1: centre + gapLength / 2,
        detail: `${gapLength.toFixed(1)} m of missing plants, ${side > 0 ? "left" : "right"} row`,
      });
    } else {
      const patchLength = rng.uniform(1.5, 3);
      const patch: RoughPatch = {
        x0: centre - patchLength / 2,
        x1: centre + patchLength / 2,
        amplitude: rng.uniform(0.015, 0.03),
        wavelength: rng.uniform(0.45, 0.8),
        phase: rng.uniform(0, 2 * Math.PI),
      };
      rough.push(patch);
      truth.push({
        id,
        kind,
        x0: patch.x0,
        x1: patch.x1,
        detail: `ruts ${(patch.amplitude * 100).toFixed(1)} cm deep over ${patchLength.toFixed(1)} m`,
      });
    }
  }

  const plants: Plant[] = [];
  for (const side of [1, -1] as const) {
    for (let x = -2; x < length + 10; x += spacing * rng.uniform(0.85, 1.15)) {
      if (gaps.some((g) => g.side === side && x >= g.x0 && x <= g.x1)) continue;
      // Natural variation: the odd missing plant and uneven vigour, so gaps must be long to count.
      if (rng.next() < 0.04) continue;
      const vigour = rng.uniform(0.75, 1.15);
      plants.push({
        x: x + rng.normal(0, 0.04),
        y: side * (rowHalf + rng.normal(0, 0.05)),
        z: 0.75 * vigour,
        rx: 0.32 * vigour,
        ry: 0.3 * vigour,
        rz: 0.6 * vigour,
        color: [rng.int(40, 75), rng.int(105, 150), rng.int(25, 50)],
      });
    }
  }
  return {
    seed: options.seed,
    rowHalfSpacing: rowHalf,
    length,
    plants,
    obstacles,
    rough,
    truth,
    baseRoughness: 0.003,
  };
}

function makeObstacle(x: number, rng: Rng): Obstacle {
  const shape = (["rock", "post", "crate", "person"] as const)[rng.int(0, 4)]!;
  // In the robot's path: its safety stop will halt it in front of the obstacle.
  const y = rng.uniform(-0.25, 0.25);
  switch (shape) {
    case "rock":
      return { shape, x, y, sx: 0.3, sy: 0.25, sz: 0.28, color: [125, 122, 116] };
    case "post":
      return { shape, x, y, sx: 0.07, sy: 0.07, sz: 1.3, color: [92, 70, 48] };
    case "crate":
      return { shape, x, y, sx: 0.25, sy: 0.3, sz: 0.35, color: [205, 125, 45] };
    default:
      return { shape, x, y, sx: 0.22, sy: 0.22, sz: 1.7, color: [45, 62, 140] };
  }
}

function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Ground height (m) under world x: baseline unevenness plus rough patches (smoothly faded). */
export function groundHeight(scene: Scene, x: number): number {
  let h = scene.baseRoughness * (Math.sin(x * 2.1) * 0.6 + Math.sin(x * 5.3 + 1.3) * 0.4);
  for (const p of scene.rough) {
    if (x < p.x0 - 0.2 || x > p.x1 + 0.2) continue;
    const fade = Math.min(1, Math.max(0, Math.min(x - (p.x0 - 0.2), p.x1 + 0.2 - x) / 0.2));
    h +=
      fade *
      p.amplitude *
      (Math.sin((2 * Math.PI * x) / p.wavelength + p.phase) * 0.7 +
        Math.sin((2 * Math.PI * x) / (p.wavelength * 0.53) + 2 * p.phase) * 0.3);
  }
  return h;
}
