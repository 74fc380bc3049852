import type { RunData } from "../ingest/ingest.ts";

/**
 * IMU roughness and GPS telemetry per frame.
 *
 * Roughness is the standard deviation of vertical acceleration over the frame's window
 * (`ROUGHNESS_WINDOW_S` centred on the frame time, at least one frame interval; long enough
 * to hold a few periods of rut-induced vibration, so a rough patch is one hump, not a comb
 * of peaks): subtracting the window mean removes
 * gravity and the accelerometer's slowly drifting bias, leaving the vibration the terrain
 * puts into the robot. `gyro_rms` is the RMS of mean-removed roll and pitch rates over the
 * same window. Frames whose window holds fewer than 3 samples get NaN.
 *
 * Telemetry interpolates GPS linearly to the frame time and derives speed and heading
 * from the fixes one second either side.
 */

export interface ImuFeatures {
  imu_roughness: number[];
  gyro_rms: number[];
}

export interface Telemetry {
  lat: number[];
  lon: number[];
  alt: number[];
  hdop: number[];
  fix: number[];
  speed_mps: number[];
  heading_deg: number[];
}

function lowerBound(a: Float64Array, value: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function frameInterval(times: readonly number[]): number {
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  gaps.sort((a, b) => a - b);
  return gaps[gaps.length >> 1] ?? 0.2;
}

export const ROUGHNESS_WINDOW_S = 1.0;

export function imuFeatures(run: RunData): ImuFeatures {
  const times = run.manifest.frames.map((f) => f.t);
  const half = Math.max(frameInterval(times), ROUGHNESS_WINDOW_S) / 2;
  const { t, az, gx, gy } = run.imu;
  const roughness: number[] = [];
  const gyro: number[] = [];
  for (const ft of times) {
    const from = lowerBound(t, ft - half);
    const to = lowerBound(t, ft + half);
    const n = to - from;
    if (n < 3) {
      roughness.push(Number.NaN);
      gyro.push(Number.NaN);
      continue;
    }
    roughness.push(Math.sqrt(variance(az, from, to)));
    gyro.push(Math.sqrt(variance(gx, from, to) + variance(gy, from, to)));
  }
  return { imu_roughness: roughness, gyro_rms: gyro };
}

function variance(a: Float64Array, from: number, to: number): number {
  let mean = 0;
  for (let i = from; i < to; i++) mean += a[i]!;
  mean /= to - from;
  let sum = 0;
  for (let i = from; i < to; i++) sum += (a[i]! - mean) ** 2;
  return sum / (to - from);
}

const EARTH_M = 6378137;

function interpolate(t: Float64Array, values: Float64Array, at: number): number {
  const i = lowerBound(t, at);
  if (i <= 0) return values[0]!;
  if (i >= t.length) return values[t.length - 1]!;
  const w = (at - t[i - 1]!) / (t[i]! - t[i - 1]!);
  return values[i - 1]! + w * (values[i]! - values[i - 1]!);
}

export function telemetry(run: RunData): Telemetry {
  const { t, lat, lon, alt, hdop, fix } = run.gps;
  const out: Telemetry = { lat: [], lon: [], alt: [], hdop: [], fix: [], speed_mps: [], heading_deg: [] };
  for (const frame of run.manifest.frames) {
    const ft = frame.t;
    out.lat.push(interpolate(t, lat, ft));
    out.lon.push(interpolate(t, lon, ft));
    out.alt.push(interpolate(t, alt, ft));
    const nearest = Math.min(t.length - 1, lowerBound(t, ft));
    out.hdop.push(hdop[nearest]!);
    out.fix.push(fix[nearest]!);
    const t0 = Math.max(t[0]!, ft - 1);
    const t1 = Math.min(t[t.length - 1]!, ft + 1);
    const la0 = interpolate(t, lat, t0);
    const lo0 = interpolate(t, lon, t0);
    const la1 = interpolate(t, lat, t1);
    const lo1 = interpolate(t, lon, t1);
    const north = ((la1 - la0) * Math.PI * EARTH_M) / 180;
    const east = ((lo1 - lo0) * Math.PI * EARTH_M * Math.cos((la0 * Math.PI) / 180)) / 180;
    out.speed_mps.push(t1 > t0 ? Math.hypot(north, east) / (t1 - t0) : 0);
    out.heading_deg.push(((Math.atan2(east, north) * 180) / Math.PI + 360) % 360);
  }
  return out;
}
