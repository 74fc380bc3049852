/**
 * The pinhole camera shared by the generator (casting rays) and the feature extractor
 * (back-projecting depth): one definition, so both sides agree on what a pixel means.
 *
 * Robot frame: x forward, y left, z up, origin on the ground below the camera. The camera
 * sits `heightM` above the ground, pitched down by `pitchDeg`. Depth is z-depth along the
 * optical axis (what depth cameras report), so a pixel's 3-D point is
 * `origin + depth * ray(u, v)` with the ray's forward component normalised to 1.
 */

export interface Intrinsics {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

export interface Mount {
  heightM: number;
  pitchDeg: number;
}

export type Vec3 = [number, number, number];

/** Intrinsics for a horizontal field of view, square pixels, principal point at the centre. */
export function intrinsicsFor(width: number, height: number, hfovDeg: number): Intrinsics {
  const fx = width / 2 / Math.tan((hfovDeg * Math.PI) / 360);
  return { width, height, fx, fy: fx, cx: width / 2, cy: height / 2 };
}

/** The camera's forward, right and down axes in the robot frame, for a pitch and roll. */
export function cameraAxes(pitchRad: number, rollRad = 0): { forward: Vec3; right: Vec3; down: Vec3 } {
  const cp = Math.cos(pitchRad);
  const sp = Math.sin(pitchRad);
  const cr = Math.cos(rollRad);
  const sr = Math.sin(rollRad);
  const forward: Vec3 = [cp, 0, -sp];
  // Roll turns right and down about the forward axis.
  const right0: Vec3 = [0, -1, 0];
  const down0: Vec3 = [-sp, 0, -cp];
  const right: Vec3 = [
    cr * right0[0] + sr * down0[0],
    cr * right0[1] + sr * down0[1],
    cr * right0[2] + sr * down0[2],
  ];
  const down: Vec3 = [
    -sr * right0[0] + cr * down0[0],
    -sr * right0[1] + cr * down0[1],
    -sr * right0[2] + cr * down0[2],
  ];
  return { forward, right, down };
}

/**
 * Per-pixel rays in the robot frame (x, y, z interleaved), forward component 1 along the
 * optical axis: `point = [0, 0, heightM] + depth * ray`.
 */
export function pixelRays(intr: Intrinsics, mount: Mount, rollRad = 0): Float64Array {
  const { forward, right, down } = cameraAxes((mount.pitchDeg * Math.PI) / 180, rollRad);
  const rays = new Float64Array(intr.width * intr.height * 3);
  let k = 0;
  for (let v = 0; v < intr.height; v++) {
    const yc = (v + 0.5 - intr.cy) / intr.fy;
    for (let u = 0; u < intr.width; u++) {
      const xc = (u + 0.5 - intr.cx) / intr.fx;
      rays[k++] = forward[0] + xc * right[0] + yc * down[0];
      rays[k++] = forward[1] + xc * right[1] + yc * down[1];
      rays[k++] = forward[2] + xc * right[2] + yc * down[2];
    }
  }
  return rays;
}
