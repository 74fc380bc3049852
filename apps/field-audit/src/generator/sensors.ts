import type { Rng } from "../util/random.ts";

/**
 * Sensor models applied to the ray caster's truth. The numbers are calibrated to the
 * order of magnitude of common field-robot hardware (see docs/generator.md):
 * - depth: stereo/structured-light error growing with the square of range, random and
 *   burst dropouts written as 0 ("no return"), millimetre quantisation;
 * - camera: Gaussian read noise, JPEG compression (done by the writer);
 * - GPS: RTK fixed/float phases, white jitter plus a random-walk bias, HDOP;
 * - IMU: white noise, constant bias plus bias random walk, motor vibration.
 */

export const DEPTH_NOISE = {
  /** σ(z) = a + b·z² metres. At 2 m: 2.1 cm (≈1%), inside the ≤2% at 2 m of D4xx-class cameras. */
  a: 0.001,
  b: 0.005,
  /** Independent pixel dropouts. */
  pixelDropout: 0.015,
  /** Seeds of dropout blobs (specular highlights, IR saturation), radius 1–3 px. */
  burstRate: 0.0015,
  /** Beyond this range returns fade out, reaching `farDropout` at max range. */
  fadeStartM: 6,
  farDropout: 0.35,
  /** Probability that a whole frame comes back empty (a USB hiccup). */
  frameDropout: 0.004,
};

export function depthToMillimetres(
  depth: Float32Array,
  width: number,
  height: number,
  maxRange: number,
  rng: Rng,
): Uint16Array {
  const out = new Uint16Array(depth.length);
  if (rng.next() < DEPTH_NOISE.frameDropout) return out;
  for (let i = 0; i < depth.length; i++) {
    const z = depth[i]!;
    if (z <= 0) continue;
    if (rng.next() < DEPTH_NOISE.pixelDropout) continue;
    if (z > DEPTH_NOISE.fadeStartM) {
      const p = ((z - DEPTH_NOISE.fadeStartM) / (maxRange - DEPTH_NOISE.fadeStartM)) * DEPTH_NOISE.farDropout;
      if (rng.next() < p) continue;
    }
    const noisy = z + rng.normal(0, DEPTH_NOISE.a + DEPTH_NOISE.b * z * z);
    out[i] = Math.max(1, Math.min(65535, Math.round(noisy * 1000)));
  }
  const bursts = Math.round(depth.length * DEPTH_NOISE.burstRate * rng.uniform(0.5, 1.5));
  for (let b = 0; b < bursts; b++) {
    const cx = rng.int(0, width);
    const cy = rng.int(0, height);
    const r = rng.int(1, 4);
    for (let y = Math.max(0, cy - r); y <= Math.min(height - 1, cy + r); y++) {
      for (let x = Math.max(0, cx - r); x <= Math.min(width - 1, cx + r); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) out[y * width + x] = 0;
      }
    }
  }
  return out;
}

/**
 * Camera read noise, σ = 2.5 DN per channel. Triangular (sum of two uniforms, same σ)
 * rather than Gaussian: indistinguishable after JPEG, and a third of the cost.
 */
export function addImageNoise(rgba: Uint8Array, rng: Rng): void {
  const k = 2.5 * Math.sqrt(6);
  for (let i = 0; i < rgba.length; i++) {
    if ((i & 3) === 3) continue;
    const v = rgba[i]! + (rng.next() + rng.next() - 1) * k;
    rgba[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
}

export const GPS_NOISE = {
  /** RTK fixed: 1.5 cm white jitter; float: 8 cm. */
  fixedSigma: 0.015,
  floatSigma: 0.08,
  /** Bias random walk, m/√s. */
  biasWalk: 0.002,
  /** Share of 10-second blocks spent in RTK float. */
  floatShare: 0.2,
  altSigma: 0.03,
};

export interface GpsState {
  biasE: number;
  biasN: number;
  float: boolean;
  block: number;
}

export function gpsSample(
  east: number,
  north: number,
  t: number,
  dt: number,
  state: GpsState,
  rng: Rng,
): { east: number; north: number; hdop: number; fix: number } {
  const block = Math.floor(t / 10);
  if (block !== state.block) {
    state.block = block;
    state.float = rng.next() < GPS_NOISE.floatShare;
  }
  const walk = GPS_NOISE.biasWalk * Math.sqrt(dt);
  state.biasE += rng.normal(0, walk);
  state.biasN += rng.normal(0, walk);
  const sigma = state.float ? GPS_NOISE.floatSigma : GPS_NOISE.fixedSigma;
  return {
    east: east + state.biasE + rng.normal(0, sigma),
    north: north + state.biasN + rng.normal(0, sigma),
    hdop: Math.max(0.5, (state.float ? 1.8 : 0.7) + rng.normal(0, 0.08)),
    fix: state.float ? 5 : 4,
  };
}

export const IMU_NOISE = {
  /** White noise: ≈ 400 µg/√Hz and 0.03 °/s/√Hz at 50 Hz bandwidth. */
  accelSigma: 0.03,
  gyroSigma: 0.004,
  /** Turn-on bias (σ) and bias random walk per √s. */
  accelBias: 0.08,
  gyroBias: 0.01,
  accelBiasWalk: 0.0008,
  gyroBiasWalk: 0.0001,
  /** Drive-train vibration: amplitude (m/s²) and frequency (Hz). */
  vibration: 0.05,
  vibrationHz: 12.5,
};

export interface ImuBias {
  accel: [number, number, number];
  gyro: [number, number, number];
}

export function initialImuBias(rng: Rng): ImuBias {
  return {
    accel: [0, 1, 2].map(() => rng.normal(0, IMU_NOISE.accelBias)) as [number, number, number],
    gyro: [0, 1, 2].map(() => rng.normal(0, IMU_NOISE.gyroBias)) as [number, number, number],
  };
}

export function imuNoise(
  trueAccel: readonly number[],
  trueGyro: readonly number[],
  t: number,
  dt: number,
  bias: ImuBias,
  rng: Rng,
): { accel: number[]; gyro: number[] } {
  for (let k = 0; k < 3; k++) {
    bias.accel[k]! += rng.normal(0, IMU_NOISE.accelBiasWalk * Math.sqrt(dt));
    bias.gyro[k]! += rng.normal(0, IMU_NOISE.gyroBiasWalk * Math.sqrt(dt));
  }
  const vib = IMU_NOISE.vibration * Math.sin(2 * Math.PI * IMU_NOISE.vibrationHz * t);
  return {
    accel: trueAccel.map(
      (a, k) => a + bias.accel[k]! + rng.normal(0, IMU_NOISE.accelSigma) + (k === 2 ? vib : 0),
    ),
    gyro: trueGyro.map((g, k) => g + bias.gyro[k]! + rng.normal(0, IMU_NOISE.gyroSigma)),
  };
}
