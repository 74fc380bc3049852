/**
 * Robust scaling: `(x - median) / (MAD * k)` with scipy's normal scale factor
 * `k = 1 / Φ⁻¹(3/4)` (`scipy.stats.median_abs_deviation(x, scale="normal")`), so the scale
 * estimates a standard deviation for Gaussian data and ignores the outliers we look for.
 *
 * When MAD is 0 (more than half of the samples are equal, e.g. a flat canopy signal), the
 * scale falls back to the mean absolute deviation around the median times √(π/2), the
 * Gaussian-consistent factor for that estimator; it still sees the minority that moved.
 * When that is 0 too, the signal is constant: every finite z is 0 and no event can come from
 * it. NaN samples (no valid depth in a frame) are left out of the statistics and stay NaN.
 */

/** `1 / scipy.special.ndtri(0.75)`, as scipy computes it for `scale="normal"`. */
export const MAD_NORMAL_SCALE = 1.482602218505602;
/** √(π/2): mean absolute deviation → standard deviation for Gaussian data. */
export const MEAN_AD_NORMAL_SCALE = Math.sqrt(Math.PI / 2);

export type ScaleMethod = "mad" | "mean-abs-deviation" | "constant" | "empty";

export interface RobustScale {
  z: number[];
  center: number;
  scale: number;
  method: ScaleMethod;
}

/** numpy's median: the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `scipy.stats.median_abs_deviation(x, scale="normal", nan_policy="omit")`. */
export function madNormal(values: readonly number[]): number {
  const center = median(values);
  return median(values.map((v) => Math.abs(v - center))) * MAD_NORMAL_SCALE;
}

export function robustScale(values: readonly number[]): RobustScale {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0)
    return { z: values.map(() => Number.NaN), center: Number.NaN, scale: Number.NaN, method: "empty" };
  const center = median(finite);
  const deviations = finite.map((v) => Math.abs(v - center));
  let scale = median(deviations) * MAD_NORMAL_SCALE;
  let method: ScaleMethod = "mad";
  if (scale === 0) {
    scale = (deviations.reduce((a, b) => a + b, 0) / deviations.length) * MEAN_AD_NORMAL_SCALE;
    method = "mean-abs-deviation";
  }
  if (scale === 0) {
    return { z: values.map((v) => (Number.isNaN(v) ? Number.NaN : 0)), center, scale: 0, method: "constant" };
  }
  return { z: values.map((v) => (v - center) / scale), center, scale, method };
}
