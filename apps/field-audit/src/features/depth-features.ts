import { readFileSync } from "node:fs";
import { type Intrinsics, type Mount, pixelRays } from "../camera.ts";
import { decodeDepthPng, ImageProblem } from "../images.ts";

/**
 * Per-frame depth features, computed on the point cloud that the depth image and the
 * camera calibration give (zeros, "no return", are left out everywhere):
 * - `min_clearance_m`: the nearest forward distance of any point in the robot's path
 *   (|y| <= pathHalfWidth) that stands above the ground (height in [minH, maxH]); the
 *   clearance cap when nothing is in the path; NaN when the frame has no valid return;
 * - `canopy_density_proxy`: for each side, the share of its band's pixels (outer
 *   columns, upper rows) whose point lies in the canopy volume beside the corridor; the
 *   thinner side is reported, since gaps are one-sided and the mean would halve their
 *   signal. A missing plant leaves sky or far ground there, so the share drops;
 * - `valid_depth_ratio`: the share of non-zero pixels (sensor health).
 *
 * Worker-safe: imports no ballast module (see depth-worker.ts).
 */

export interface DepthFeatureParams {
  /** Bumped when the algorithm changes, so cached rows of the old one are not reused. */
  version: 2;
  intrinsics: Intrinsics;
  mount: Mount;
  maxRangeM: number;
  pathHalfWidthM: number;
  obstacleMinHeightM: number;
  obstacleMaxHeightM: number;
  canopy: {
    minHeightM: number;
    maxHeightM: number;
    minLateralM: number;
    maxLateralM: number;
    maxForwardM: number;
    /** Share of the columns on each side, and of the rows from the top, that form the side bands. */
    sideColumns: number;
    topRows: number;
  };
}

export interface DepthFeatures {
  min_clearance_m: number;
  canopy_density_proxy: number;
  valid_depth_ratio: number;
}

export function defaultDepthParams(
  intrinsics: Intrinsics,
  mount: Mount,
  maxRangeM: number,
): DepthFeatureParams {
  return {
    version: 2,
    intrinsics,
    mount,
    maxRangeM,
    pathHalfWidthM: 0.35,
    obstacleMinHeightM: 0.15,
    obstacleMaxHeightM: 2.2,
    canopy: {
      minHeightM: 0.2,
      maxHeightM: 2.0,
      minLateralM: 0.7,
      maxLateralM: 2.0,
      maxForwardM: 4.5,
      sideColumns: 0.35,
      topRows: 0.75,
    },
  };
}

const raysByParams = new Map<string, Float64Array>();

function raysFor(params: DepthFeatureParams): Float64Array {
  const key = JSON.stringify([params.intrinsics, params.mount]);
  let rays = raysByParams.get(key);
  if (rays === undefined) {
    rays = pixelRays(params.intrinsics, params.mount);
    raysByParams.set(key, rays);
  }
  return rays;
}

export function depthFeatures(mm: Uint16Array, params: DepthFeatureParams): DepthFeatures {
  const { width, height } = params.intrinsics;
  const rays = raysFor(params);
  const camZ = params.mount.heightM;
  const c = params.canopy;
  const sideCols = Math.round(width * c.sideColumns);
  const topRows = Math.round(height * c.topRows);
  let valid = 0;
  let clearance = Infinity;
  let sidePixels = 0;
  let canopyLeft = 0;
  let canopyRight = 0;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const i = v * width + u;
      const inSide = v < topRows && (u < sideCols || u >= width - sideCols);
      if (inSide) sidePixels++;
      const raw = mm[i]!;
      if (raw === 0) continue;
      valid++;
      const z = raw / 1000;
      const px = z * rays[i * 3]!;
      const py = z * rays[i * 3 + 1]!;
      const pz = camZ + z * rays[i * 3 + 2]!;
      if (
        px > 0 &&
        Math.abs(py) <= params.pathHalfWidthM &&
        pz >= params.obstacleMinHeightM &&
        pz <= params.obstacleMaxHeightM &&
        px < clearance
      ) {
        clearance = px;
      }
      if (inSide) {
        const lateral = Math.abs(py);
        if (
          px <= c.maxForwardM &&
          pz >= c.minHeightM &&
          pz <= c.maxHeightM &&
          lateral >= c.minLateralM &&
          lateral <= c.maxLateralM
        ) {
          if (py > 0) canopyLeft++;
          else canopyRight++;
        }
      }
    }
  }
  if (valid === 0)
    return { min_clearance_m: Number.NaN, canopy_density_proxy: Number.NaN, valid_depth_ratio: 0 };
  return {
    min_clearance_m: Math.min(clearance, params.maxRangeM),
    canopy_density_proxy: sidePixels === 0 ? 0 : (2 * Math.min(canopyLeft, canopyRight)) / sidePixels,
    valid_depth_ratio: valid / (width * height),
  };
}

/** Reads, decodes and measures one depth file (the unit of work of the pool). */
export function depthFeaturesOfFile(path: string, params: DepthFeatureParams): DepthFeatures {
  const { width, height, mm } = decodeDepthPng(readFileSync(path), path);
  if (width !== params.intrinsics.width || height !== params.intrinsics.height) {
    throw new ImageProblem(
      "image_size",
      path,
      `the depth image is ${width}x${height}, expected ${params.intrinsics.width}x${params.intrinsics.height}`,
    );
  }
  return depthFeatures(mm, params);
}
