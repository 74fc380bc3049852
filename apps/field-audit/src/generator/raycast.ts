import { cameraAxes, type Intrinsics, type Mount } from "../camera.ts";
import { hash3 } from "../util/random.ts";
import type { Obstacle, Plant, Scene } from "./scene.ts";

/**
 * A small ray caster: one ray per pixel against the ground plane, canopy ellipsoids
 * (porous: leaf-sized cells let rays through, as real foliage does) and obstacle primitives.
 * Returns the true colour and z-depth; sensor effects (noise, dropouts, quantisation,
 * compression) are applied afterwards by sensors.ts, so the truth stays inspectable.
 */

export interface Pose {
  /** World position of the robot (ground point under the camera). */
  x: number;
  y: number;
  /** Heading (rad) from the world x axis, counter-clockwise. */
  yaw: number;
  /** Pitch and roll added by the terrain (rad, pitch positive nose-down). */
  pitch: number;
  roll: number;
  /** Ground height under the robot (m). */
  groundZ: number;
}

export interface RenderResult {
  /** RGBA, 8 bits per channel. */
  rgba: Uint8Array;
  /** True z-depth in metres; 0 where nothing is within range. */
  depth: Float32Array;
}

const LIGHT = normalize([0.35, 0.25, 0.9]);
const FOLIAGE_CELL = 14; // cells per metre
const POROSITY = 0.2;

interface Hit {
  t: number;
  color: [number, number, number];
  normal: [number, number, number];
  kind: 0 | 1 | 2; // ground, plant, obstacle
}

export function render(
  scene: Scene,
  pose: Pose,
  intr: Intrinsics,
  mount: Mount,
  maxRange: number,
): RenderResult {
  const { forward, right, down } = cameraAxes((mount.pitchDeg * Math.PI) / 180 + pose.pitch, pose.roll);
  const cy = Math.cos(pose.yaw);
  const sy = Math.sin(pose.yaw);
  const toWorld = (v: readonly number[]): [number, number, number] => [
    cy * v[0]! - sy * v[1]!,
    sy * v[0]! + cy * v[1]!,
    v[2]!,
  ];
  const f = toWorld(forward);
  const r = toWorld(right);
  const d = toWorld(down);
  const origin: [number, number, number] = [pose.x, pose.y, pose.groundZ + mount.heightM];
  const reach = maxRange + 1.5;
  const rows = rowIndex(
    scene.plants.filter((p) => p.x > pose.x - 1.5 && p.x < pose.x + reach),
    scene.rowHalfSpacing,
  );
  const obstacles = scene.obstacles.filter((o) => o.x > pose.x - 1.5 && o.x < pose.x + reach);

  const rgba = new Uint8Array(intr.width * intr.height * 4);
  const depth = new Float32Array(intr.width * intr.height);
  const dir: [number, number, number] = [0, 0, 0];
  const hit: Hit = { t: 0, color: [0, 0, 0], normal: [0, 0, 1], kind: 0 };
  for (let v = 0; v < intr.height; v++) {
    const yc = (v + 0.5 - intr.cy) / intr.fy;
    for (let u = 0; u < intr.width; u++) {
      const xc = (u + 0.5 - intr.cx) / intr.fx;
      dir[0] = f[0] + xc * r[0] + yc * d[0];
      dir[1] = f[1] + xc * r[1] + yc * d[1];
      dir[2] = f[2] + xc * r[2] + yc * d[2];
      const found = castRay(origin, dir, rows, obstacles, reach * 2, hit);
      const i = v * intr.width + u;
      depth[i] = found && hit.t <= maxRange ? hit.t : 0;
      const c = found ? shade(hit) : shadeSky(dir);
      rgba[i * 4] = c[0];
      rgba[i * 4 + 1] = c[1];
      rgba[i * 4 + 2] = c[2];
      rgba[i * 4 + 3] = 255;
    }
  }
  return { rgba, depth };
}

interface Row {
  y: number;
  /** Plants sorted by x. */
  plants: Plant[];
}

// Half-width of the band around a row that holds every canopy ellipsoid (radius + jitter).
const ROW_BAND = 0.55;
const MAX_RX = 0.4;

function rowIndex(plants: readonly Plant[], rowHalf: number): Row[] {
  return [rowHalf, -rowHalf].map((y) => ({
    y,
    plants: plants.filter((p) => Math.sign(p.y) === Math.sign(y)).sort((a, b) => a.x - b.x),
  }));
}

/** Index range of the plants of `row` a ray can touch before `tMax`: those near where it crosses the row band. */
function candidateRange(
  row: Row,
  o: readonly number[],
  d: readonly number[],
  tMax: number,
  out: number[],
): void {
  out[0] = 0;
  out[1] = 0;
  let t0 = 0;
  let t1 = tMax;
  if (Math.abs(d[1]!) < 1e-12) {
    if (Math.abs(o[1]! - row.y) > ROW_BAND) return;
  } else {
    let a = (row.y - ROW_BAND - o[1]!) / d[1]!;
    let b = (row.y + ROW_BAND - o[1]!) / d[1]!;
    if (a > b) [a, b] = [b, a];
    t0 = Math.max(t0, a);
    t1 = Math.min(t1, b);
    if (t0 > t1) return;
  }
  const xa = o[0]! + t0 * d[0]!;
  const xb = o[0]! + t1 * d[0]!;
  const lo = Math.min(xa, xb) - MAX_RX;
  const hi = Math.max(xa, xb) + MAX_RX;
  const list = row.plants;
  let left = 0;
  let right = list.length;
  while (left < right) {
    const mid = (left + right) >> 1;
    if (list[mid]!.x < lo) left = mid + 1;
    else right = mid;
  }
  let end = left;
  while (end < list.length && list[end]!.x <= hi) end++;
  out[0] = left;
  out[1] = end;
}

const range: number[] = [0, 0];

// One mutable hit per render: a fresh object per ray made the garbage collector the hot spot.
function castRay(
  o: readonly number[],
  dir: readonly number[],
  rows: readonly Row[],
  obstacles: readonly Obstacle[],
  far: number,
  best: Hit,
): boolean {
  let found = false;
  best.t = Infinity;
  if (dir[2]! < 0) {
    const t = -o[2]! / dir[2]!;
    if (t > 0 && t < far) {
      const px = o[0]! + t * dir[0]!;
      const py = o[1]! + t * dir[1]!;
      const grain = hash3(Math.floor(px * 9), Math.floor(py * 9), 7) * 30 - 15;
      const furrow = Math.abs(py) < 0.5 ? 0 : 12; // darker, moister soil under the rows
      best.t = t;
      best.color[0] = 112 + grain - furrow;
      best.color[1] = 88 + grain * 0.8 - furrow;
      best.color[2] = 62 + grain * 0.6 - furrow * 0.5;
      best.normal[0] = 0;
      best.normal[1] = 0;
      best.normal[2] = 1;
      best.kind = 0;
      found = true;
    }
  }
  for (const row of rows) {
    candidateRange(row, o, dir, found ? best.t : far, range);
    for (let i = range[0]!; i < range[1]!; i++) {
      const p = row.plants[i]!;
      const t = ellipsoid(o, dir, p.x, p.y, p.z, p.rx, p.ry, p.rz);
      if (t === undefined || t >= best.t) continue;
      const hx = o[0]! + t * dir[0]!;
      const hy = o[1]! + t * dir[1]!;
      const hz = o[2]! + t * dir[2]!;
      if (
        hash3(Math.floor(hx * FOLIAGE_CELL), Math.floor(hy * FOLIAGE_CELL), Math.floor(hz * FOLIAGE_CELL)) <
        POROSITY
      )
        continue;
      const nx = (hx - p.x) / (p.rx * p.rx);
      const ny = (hy - p.y) / (p.ry * p.ry);
      const nz = (hz - p.z) / (p.rz * p.rz);
      const norm = Math.hypot(nx, ny, nz) || 1;
      const leaf = hash3(Math.floor(hx * 40), Math.floor(hy * 40), Math.floor(hz * 40)) * 40 - 20;
      best.t = t;
      best.color[0] = p.color[0] + leaf * 0.5;
      best.color[1] = p.color[1] + leaf;
      best.color[2] = p.color[2] + leaf * 0.3;
      best.normal[0] = nx / norm;
      best.normal[1] = ny / norm;
      best.normal[2] = nz / norm;
      best.kind = 1;
      found = true;
    }
  }
  for (const ob of obstacles) {
    const hit = obstacleHit(o, dir, ob);
    if (hit === undefined || hit.t >= best.t) continue;
    best.t = hit.t;
    best.color[0] = ob.color[0];
    best.color[1] = ob.color[1];
    best.color[2] = ob.color[2];
    best.normal[0] = hit.normal[0];
    best.normal[1] = hit.normal[1];
    best.normal[2] = hit.normal[2];
    best.kind = 2;
    found = true;
  }
  return found;
}

function ellipsoid(
  o: readonly number[],
  d: readonly number[],
  cx: number,
  cy: number,
  cz: number,
  rx: number,
  ry: number,
  rz: number,
): number | undefined {
  const ox = (o[0]! - cx) / rx;
  const oy = (o[1]! - cy) / ry;
  const oz = (o[2]! - cz) / rz;
  const dx = d[0]! / rx;
  const dy = d[1]! / ry;
  const dz = d[2]! / rz;
  const a = dx * dx + dy * dy + dz * dz;
  const b = 2 * (ox * dx + oy * dy + oz * dz);
  const c = ox * ox + oy * oy + oz * oz - 1;
  const disc = b * b - 4 * a * c;
  if (disc < 0) return undefined;
  const s = Math.sqrt(disc);
  const t0 = (-b - s) / (2 * a);
  if (t0 > 1e-6) return t0;
  const t1 = (-b + s) / (2 * a);
  return t1 > 1e-6 ? t1 : undefined;
}

function obstacleHit(
  o: readonly number[],
  d: readonly number[],
  ob: Obstacle,
): { t: number; normal: [number, number, number] } | undefined {
  if (ob.shape === "rock") {
    const t = ellipsoid(o, d, ob.x, ob.y, ob.sz * 0.6, ob.sx, ob.sy, ob.sz);
    if (t === undefined) return undefined;
    const h = [o[0]! + t * d[0]!, o[1]! + t * d[1]!, o[2]! + t * d[2]!];
    return {
      t,
      normal: normalize([
        (h[0]! - ob.x) / ob.sx ** 2,
        (h[1]! - ob.y) / ob.sy ** 2,
        (h[2]! - ob.sz * 0.6) / ob.sz ** 2,
      ]),
    };
  }
  if (ob.shape === "crate")
    return box(o, d, [ob.x - ob.sx, ob.y - ob.sy, 0], [ob.x + ob.sx, ob.y + ob.sy, ob.sz * 2]);
  // post and person: vertical cylinders standing on the ground.
  const ox = o[0]! - ob.x;
  const oy = o[1]! - ob.y;
  const a = d[0]! * d[0]! + d[1]! * d[1]!;
  const b = 2 * (ox * d[0]! + oy * d[1]!);
  const c = ox * ox + oy * oy - ob.sx * ob.sx;
  const disc = b * b - 4 * a * c;
  if (a === 0 || disc < 0) return undefined;
  const t = (-b - Math.sqrt(disc)) / (2 * a);
  if (t <= 1e-6) return undefined;
  const z = o[2]! + t * d[2]!;
  if (z < 0 || z > ob.sz) return undefined;
  return { t, normal: normalize([ox + t * d[0]!, oy + t * d[1]!, 0]) };
}

function box(
  o: readonly number[],
  d: readonly number[],
  lo: readonly number[],
  hi: readonly number[],
): { t: number; normal: [number, number, number] } | undefined {
  let tNear = -Infinity;
  let tFar = Infinity;
  let axis = 0;
  for (let k = 0; k < 3; k++) {
    if (d[k] === 0) {
      if (o[k]! < lo[k]! || o[k]! > hi[k]!) return undefined;
      continue;
    }
    let t1 = (lo[k]! - o[k]!) / d[k]!;
    let t2 = (hi[k]! - o[k]!) / d[k]!;
    if (t1 > t2) [t1, t2] = [t2, t1];
    if (t1 > tNear) {
      tNear = t1;
      axis = k;
    }
    tFar = Math.min(tFar, t2);
    if (tNear > tFar) return undefined;
  }
  if (tNear <= 1e-6) return undefined;
  const normal: [number, number, number] = [0, 0, 0];
  normal[axis] = d[axis]! > 0 ? -1 : 1;
  return { t: tNear, normal };
}

function shade(hit: Hit): [number, number, number] {
  const lambert = Math.max(0, hit.normal[0] * LIGHT[0] + hit.normal[1] * LIGHT[1] + hit.normal[2] * LIGHT[2]);
  const k = hit.kind === 0 ? 0.75 + 0.25 * lambert : 0.45 + 0.6 * lambert;
  // Distance haze, so far things look far.
  const haze = Math.min(0.45, hit.t / 25);
  const out: [number, number, number] = [0, 0, 0];
  const hazeColor = [190, 205, 220];
  for (let c = 0; c < 3; c++) out[c] = clamp8(hit.color[c]! * k * (1 - haze) + hazeColor[c]! * haze);
  return out;
}

function shadeSky(dir: readonly number[]): [number, number, number] {
  const up = Math.max(0, Math.min(1, (dir[2]! / Math.hypot(dir[0]!, dir[1]!, dir[2]!)) * 2 + 0.2));
  return [clamp8(200 - 90 * up), clamp8(215 - 60 * up), clamp8(235 - 10 * up)];
}

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function normalize(v: readonly number[]): [number, number, number] {
  const n = Math.hypot(v[0]!, v[1]!, v[2]!) || 1;
  return [v[0]! / n, v[1]! / n, v[2]! / n];
}
