import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { intrinsicsFor, type Mount } from "../camera.ts";
import { encodeDepthPng, encodeJpeg } from "../images.ts";
import { MANIFEST_FORMAT, type Manifest } from "../ingest/manifest.ts";
import { commitDir, stagingDir } from "../util/atomic.ts";
import { createRng } from "../util/random.ts";
import { render } from "./raycast.ts";
import { buildScene, type EventKind, groundHeight, type Obstacle, type Scene } from "./scene.ts";
import {
  addImageNoise,
  depthToMillimetres,
  type GpsState,
  gpsSample,
  imuNoise,
  initialImuBias,
} from "./sensors.ts";

/**
 * Writes a synthetic run: camera JPEGs, 16-bit depth PNGs (mm, 0 = no return), GPS and IMU
 * CSVs, a manifest, and `ground_truth.json` (kept out of the manifest: the audit never
 * sees it). The robot drives the corridor at ~1 m/s with a little lateral wander; terrain
 * pitches and rolls the camera. The folder appears whole or not at all.
 */

export interface GenerateOptions {
  seed: number;
  frames: number;
  /** Frame rate (Hz), default 5. */
  fps?: number;
  rgb?: { width: number; height: number };
  depth?: { width: number; height: number };
  /** Mean metres between anomalies, default 8. */
  eventSpacing?: number;
  /** Default "robot-01". */
  robot?: string;
}

export interface TruthRecord {
  id: string;
  kind: EventKind;
  detail: string;
  /** Frames in which a correct detector should flag this event (inclusive). */
  frame_start: number;
  frame_end: number;
  x0_m: number;
  x1_m: number;
}

export interface GroundTruth {
  seed: number;
  frames: number;
  events: TruthRecord[];
}

const MOUNT: Mount = { heightM: 0.8, pitchDeg: 15 };
const HFOV_DEG = 80;
const MAX_RANGE_M = 8;
const IMU_HZ = 100;
const GRAVITY = 9.80665;
const ORIGIN = { lat: 44.8378, lon: -0.5792, alt: 35 }; // a vineyard near Bordeaux
const ROW_AZIMUTH_DEG = 32; // bearing of the rows from north, clockwise

interface Trajectory {
  x(t: number): number;
  y(t: number): number;
  /** Lateral offset after driving `d` metres. */
  lateral(d: number): number;
  /** When each obstacle was cleared away (s), by obstacle index. */
  clearedAt: number[];
  /** When the robot stopped for each obstacle (s). */
  stoppedAt: number[];
}

const SIM_DT = 0.005;
const STOP_MARGIN_M = 0.6;
const STOP_HOLD_S = 3;
const BRAKE = 0.8;
const ACCEL = 0.5;

/**
 * Speed ~1 m/s with a slow wave, lateral wander of a few centimetres (a function of the
 * distance driven, so a standing robot does not turn). The robot's safety stop halts it
 * 0.6 m before an obstacle in its path; after 3 s the obstacle has been cleared away (it
 * leaves the scene) and the robot drives on, as an operator-supervised robot does.
 */
function trajectory(seed: number, duration: number, obstacles: readonly Obstacle[] = []): Trajectory {
  const rng = createRng(seed ^ 0x5eed);
  const a1 = rng.uniform(0.04, 0.08);
  const p1 = rng.uniform(0, 6);
  const p2 = rng.uniform(0, 6);
  const order = obstacles
    .map((o, i) => ({ i, stop: o.x - o.sx - STOP_MARGIN_M }))
    .sort((a, b) => a.stop - b.stop);
  const clearedAt = obstacles.map(() => Number.POSITIVE_INFINITY);
  const stoppedAt = obstacles.map(() => Number.POSITIVE_INFINITY);
  const steps = Math.ceil((duration + 2) / SIM_DT) + 1;
  const xs = new Float64Array(steps);
  let x = 0;
  let v = 1;
  let next = 0;
  let holdUntil = -1;
  for (let k = 0; k < steps; k++) {
    const t = k * SIM_DT;
    xs[k] = x;
    const cruise = 1 + 0.08 * Math.sin(0.3 * t + p1);
    const target = order[next];
    if (holdUntil >= 0) {
      if (t >= holdUntil) {
        clearedAt[target!.i] = t;
        holdUntil = -1;
        next++;
      }
      v = 0;
    } else if (target !== undefined && x + (v * v) / (2 * BRAKE) >= target.stop) {
      const remaining = target.stop - x;
      v = remaining <= 0.002 ? 0 : Math.max(0, v - ((v * v) / (2 * remaining)) * SIM_DT);
      if (v === 0) {
        stoppedAt[target.i] = t;
        holdUntil = t + STOP_HOLD_S;
      }
    } else {
      v = Math.min(cruise, v + ACCEL * SIM_DT);
    }
    x += v * SIM_DT;
  }
  const at = (t: number) => {
    const f = Math.max(0, Math.min(steps - 1.000001, t / SIM_DT));
    const k = Math.floor(f);
    return xs[k]! + (f - k) * (xs[k + 1]! - xs[k]!);
  };
  const lateral = (d: number) => a1 * Math.sin(0.21 * d + p2) + 0.025 * Math.sin(0.57 * d + p1);
  return { x: at, y: (t) => lateral(at(t)), lateral, clearedAt, stoppedAt };
}

function poseAt(scene: Scene, path: Trajectory, t: number) {
  const x = path.x(t);
  const y = path.y(t);
  // Heading from the path's shape (dy/dx), not its timing: a standing robot keeps its yaw.
  const slope = (path.lateral(x + 0.01) - path.lateral(x - 0.01)) / 0.02;
  const yaw = Math.atan(slope);
  // Wheelbase 1.0 m, track 0.6 m; the right track runs over terrain shifted by 0.37 m.
  const pitch = Math.atan((groundHeight(scene, x + 0.5) - groundHeight(scene, x - 0.5)) / 1.0);
  const roll = Math.atan((groundHeight(scene, x + 0.37) - groundHeight(scene, x)) / 0.6);
  return {
    x,
    y,
    yaw,
    pitch,
    roll,
    groundZ: (groundHeight(scene, x + 0.5) + groundHeight(scene, x - 0.5)) / 2,
  };
}

export async function generateRun(outDir: string, options: GenerateOptions): Promise<GroundTruth> {
  const fps = options.fps ?? 5;
  const rgbSize = options.rgb ?? { width: 320, height: 240 };
  const depthSize = options.depth ?? { width: 160, height: 120 };
  const duration = options.frames / fps;
  const length = trajectory(options.seed, duration).x(duration);
  const scene = buildScene({ seed: options.seed, length, eventSpacing: options.eventSpacing });
  const path = trajectory(options.seed, duration, scene.obstacles);
  const rgbIntr = intrinsicsFor(rgbSize.width, rgbSize.height, HFOV_DEG);
  const depthIntr = intrinsicsFor(depthSize.width, depthSize.height, HFOV_DEG);
  const sensorRng = createRng(options.seed ^ 0x0dd5);

  const staging = await stagingDir(outDir);
  await mkdir(join(staging, "frames", "rgb"), { recursive: true });
  await mkdir(join(staging, "frames", "depth"), { recursive: true });

  const frames: Manifest["frames"] = [];
  const robotX: number[] = [];
  for (let i = 0; i < options.frames; i++) {
    const t = i / fps;
    const pose = poseAt(scene, path, t);
    robotX.push(pose.x);
    const now = { ...scene, obstacles: scene.obstacles.filter((_, k) => t < path.clearedAt[k]!) };
    const color = render(now, pose, rgbIntr, MOUNT, MAX_RANGE_M);
    addImageNoise(color.rgba, sensorRng);
    const depth = render(now, pose, depthIntr, MOUNT, MAX_RANGE_M);
    const mm = depthToMillimetres(depth.depth, depthIntr.width, depthIntr.height, MAX_RANGE_M, sensorRng);
    const name = String(i).padStart(6, "0");
    const rgb = `frames/rgb/${name}.jpg`;
    const dep = `frames/depth/${name}.png`;
    await writeFile(join(staging, rgb), encodeJpeg(color.rgba, rgbIntr.width, rgbIntr.height, 85));
    await writeFile(join(staging, dep), encodeDepthPng(mm, depthIntr.width, depthIntr.height));
    frames.push({ idx: i, t: Number(t.toFixed(6)), rgb, depth: dep });
  }

  await writeFile(join(staging, "gps.csv"), gpsCsv(scene, path, duration, options.seed));
  await writeFile(join(staging, "imu.csv"), imuCsv(scene, path, duration, options.seed));

  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    run_id: `sim-${options.seed}-${options.frames}`,
    robot: options.robot ?? "robot-01",
    started_at: new Date(Date.UTC(2026, 1, 21, 9, 0, 0)).toISOString(),
    camera: { ...rgbIntr, mount: { height_m: MOUNT.heightM, pitch_deg: MOUNT.pitchDeg } },
    depth: { ...depthIntr, units: "mm", max_range_m: MAX_RANGE_M },
    gps: "gps.csv",
    imu: "imu.csv",
    frames,
  };
  await writeFile(join(staging, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const truth: GroundTruth = {
    seed: options.seed,
    frames: options.frames,
    events: truthFrames(scene, robotX, fps, path.clearedAt),
  };
  await writeFile(join(staging, "ground_truth.json"), `${JSON.stringify(truth, null, 2)}\n`);
  await commitDir(staging, outDir);
  return truth;
}

/**
 * When each anomaly is observable: an obstacle from 4 m ahead of the robot until it has
 * been cleared away (the robot stands in front of it meanwhile); a canopy gap while it lies
 * 0.5–3 m ahead in the side bands; rough ground while the robot is on it.
 */
function truthFrames(
  scene: Scene,
  robotX: readonly number[],
  fps: number,
  clearedAt: readonly number[],
): TruthRecord[] {
  const frames = (keep: (x: number, t: number) => boolean) => {
    const inside = robotX.flatMap((x, i) => (keep(x, i / fps) ? [i] : []));
    return inside.length === 0 ? undefined : { frame_start: inside[0]!, frame_end: inside.at(-1)! };
  };
  const out: TruthRecord[] = [];
  let obstacle = 0;
  for (const e of scene.truth) {
    let range: { frame_start: number; frame_end: number } | undefined;
    if (e.kind === "obstacle") {
      const cleared = clearedAt[obstacle++]!;
      range = frames((x, t) => x >= e.x0 - 4 && t <= cleared);
    } else if (e.kind === "canopy_gap") {
      range = frames((x) => x >= e.x0 - 3 && x <= e.x1 - 0.5);
    } else {
      range = frames((x) => x >= e.x0 && x <= e.x1);
    }
    if (range === undefined) continue;
    out.push({
      id: e.id,
      kind: e.kind,
      detail: e.detail,
      ...range,
      x0_m: round(e.x0, 3),
      x1_m: round(e.x1, 3),
    });
  }
  return out;
}

function round(v: number, digits: number): number {
  return Number(v.toFixed(digits));
}

function toEnu(x: number, y: number): { east: number; north: number } {
  const a = (ROW_AZIMUTH_DEG * Math.PI) / 180;
  return { east: x * Math.sin(a) - y * Math.cos(a), north: x * Math.cos(a) + y * Math.sin(a) };
}

function gpsCsv(scene: Scene, path: Trajectory, duration: number, seed: number): string {
  const rng = createRng(seed ^ 0x69f5);
  const state: GpsState = { biasE: 0, biasN: 0, float: false, block: -1 };
  const lines = ["t,lat,lon,alt,hdop,fix"];
  const hz = 5;
  const lat0 = (ORIGIN.lat * Math.PI) / 180;
  const earth = 6378137;
  // The receiver's clock is not the camera's: fixes are offset by 13 ms.
  for (let i = 0; i * (1 / hz) + 0.013 <= duration; i++) {
    const t = i / hz + 0.013;
    const { east, north } = toEnu(path.x(t), path.y(t));
    const s = gpsSample(east, north, t, 1 / hz, state, rng);
    const lat = ORIGIN.lat + ((s.north / earth) * 180) / Math.PI;
    const lon = ORIGIN.lon + ((s.east / (earth * Math.cos(lat0))) * 180) / Math.PI;
    const alt = ORIGIN.alt + groundHeight(scene, path.x(t)) + rng.normal(0, 0.03);
    lines.push(
      `${t.toFixed(3)},${lat.toFixed(9)},${lon.toFixed(9)},${alt.toFixed(3)},${s.hdop.toFixed(2)},${s.fix}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function imuCsv(scene: Scene, path: Trajectory, duration: number, seed: number): string {
  const rng = createRng(seed ^ 0x1111);
  const bias = initialImuBias(rng);
  const lines = ["t,ax,ay,az,gx,gy,gz"];
  const dt = 1 / IMU_HZ;
  const h = (t: number) => poseAt(scene, path, t);
  for (let i = 0; i * dt <= duration + 1e-9; i++) {
    const t = i * dt;
    const [p0, p1, p2] = [h(t - dt), h(t), h(t + dt)];
    const az = (p2.groundZ - 2 * p1.groundZ + p0.groundZ) / (dt * dt);
    const vx0 = (p1.x - p0.x) / dt;
    const vx1 = (p2.x - p1.x) / dt;
    const trueAccel = [
      (vx1 - vx0) / dt + GRAVITY * Math.sin(p1.pitch),
      GRAVITY * Math.sin(p1.roll),
      GRAVITY * Math.cos(p1.pitch) * Math.cos(p1.roll) + az,
    ];
    const trueGyro = [
      (p2.roll - p0.roll) / (2 * dt),
      (p2.pitch - p0.pitch) / (2 * dt),
      (p2.yaw - p0.yaw) / (2 * dt),
    ];
    const s = imuNoise(trueAccel, trueGyro, t, dt, bias, rng);
    lines.push(
      [t.toFixed(3), ...s.accel.map((v) => v.toFixed(5)), ...s.gyro.map((v) => v.toFixed(6))].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}
