import { ValidationError } from "ballast";

/**
 * A TypeScript port of `scipy.signal.find_peaks`, `peak_prominences` and `peak_widths`
 * (scipy 1.10, `_peak_finding.py` and `_peak_finding_utils.pyx`, BSD-3-Clause). Written by
 * hand because the event detector must agree with scipy to the last bit: the same plateau
 * midpoints (rounded down), the same filter order (plateau size, height, threshold,
 * distance, prominence, width), inclusive bounds, `wlen` rounded up to an odd window, and
 * widths interpolated at `rel_height` exactly as the Cython code does. No JavaScript library
 * does that; golden fixtures generated with scipy keep it honest (test/fixtures/find-peaks).
 *
 * Conditions follow scipy: a number is a lower bound; a two-element array is `[min, max]`
 * with `null` for "open"; a `Float64Array` the length of `x` gives one bound per sample
 * (scipy's ndarray border), also usable inside the pair.
 */

export type Border = number | null | undefined | Float64Array;
export type Condition = Border | readonly [Border, Border];

export interface FindPeaksOptions {
  height?: Condition;
  threshold?: Condition;
  /** Minimal horizontal distance in samples (>= 1), rounded up. Higher peaks win. */
  distance?: number;
  prominence?: Condition;
  width?: Condition;
  /** Window length for prominences, in samples (> 1), rounded up to an odd integer. */
  wlen?: number;
  /** Relative height at which widths are measured (default 0.5). */
  relHeight?: number;
  plateauSize?: Condition;
}

/** scipy's property names, kept as they are so results compare one-to-one. */
export interface PeakProperties {
  plateau_sizes?: number[];
  left_edges?: number[];
  right_edges?: number[];
  peak_heights?: number[];
  left_thresholds?: number[];
  right_thresholds?: number[];
  prominences?: number[];
  left_bases?: number[];
  right_bases?: number[];
  widths?: number[];
  width_heights?: number[];
  left_ips?: number[];
  right_ips?: number[];
}

export interface FindPeaksResult {
  peaks: number[];
  properties: PeakProperties;
  /** scipy's `PeakPropertyWarning` messages ("some peaks have a prominence of 0", ...). */
  warnings: string[];
}

export interface Prominences {
  prominences: number[];
  left_bases: number[];
  right_bases: number[];
  warnings: string[];
}

export interface Widths {
  widths: number[];
  width_heights: number[];
  left_ips: number[];
  right_ips: number[];
  warnings: string[];
}

function invalid(message: string): ValidationError {
  return new ValidationError("find_peaks_invalid_argument", message);
}

function asSignal(x: ArrayLike<number>): Float64Array {
  if (typeof x !== "object" || x === null || typeof x.length !== "number") {
    throw invalid("find_peaks: `x` must be a 1-D array of numbers.");
  }
  return x instanceof Float64Array ? x : Float64Array.from(x as ArrayLike<number>);
}

function asPeaks(peaks: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < peaks.length; i++) {
    const p = peaks[i]!;
    if (!Number.isInteger(p))
      throw invalid(`cannot safely cast \`peaks\` to integers: ${p} is not an integer.`);
    out.push(p);
  }
  return out;
}

/** scipy's `_arg_wlen_as_expected`: -1 for none, else rounded up; must exceed 1. */
export function wlenAsExpected(wlen: number | undefined): number {
  if (wlen === undefined) return -1;
  if (!(wlen > 1)) throw invalid(`\`wlen\` must be larger than 1, was ${wlen}.`);
  return Math.ceil(wlen);
}

/**
 * Local maxima with their plateau edges: a maximum is one or more equal samples with a
 * smaller sample on both sides; the midpoint of an even plateau is rounded down. The first
 * and last samples are never maxima.
 */
export function localMaxima1d(x: ArrayLike<number>): {
  midpoints: number[];
  left_edges: number[];
  right_edges: number[];
} {
  const midpoints: number[] = [];
  const left_edges: number[] = [];
  const right_edges: number[] = [];
  const iMax = x.length - 1;
  let i = 1;
  while (i < iMax) {
    if (x[i - 1]! < x[i]!) {
      let ahead = i + 1;
      while (ahead < iMax && x[ahead] === x[i]) ahead++;
      if (x[ahead]! < x[i]!) {
        left_edges.push(i);
        right_edges.push(ahead - 1);
        midpoints.push(Math.floor((i + ahead - 1) / 2));
        i = ahead;
      }
    }
    i++;
  }
  return { midpoints, left_edges, right_edges };
}

/** Keeps the highest peaks first, dropping neighbours closer than `ceil(distance)`. */
export function selectByPeakDistance(
  peaks: readonly number[],
  priority: readonly number[],
  distance: number,
): boolean[] {
  const n = peaks.length;
  const d = Math.ceil(distance);
  const keep = new Array<boolean>(n).fill(true);
  // numpy's argsort; a stable sort here (fixtures keep priority ties out, where numpy's
  // introsort order is unspecified).
  const order = [...Array(n).keys()].sort((a, b) => priority[a]! - priority[b]! || a - b);
  for (let i = n - 1; i >= 0; i--) {
    const j = order[i]!;
    if (!keep[j]) continue;
    for (let k = j - 1; k >= 0 && peaks[j]! - peaks[k]! < d; k--) keep[k] = false;
    for (let k = j + 1; k < n && peaks[k]! - peaks[j]! < d; k++) keep[k] = false;
  }
  return keep;
}

function prominencesOf(x: Float64Array, peaks: readonly number[], wlen: number): Prominences {
  const prominences: number[] = [];
  const left_bases: number[] = [];
  const right_bases: number[] = [];
  let zero = false;
  for (const peak of peaks) {
    let iMin = 0;
    let iMax = x.length - 1;
    if (!(iMin <= peak && peak <= iMax)) throw invalid(`peak ${peak} is not a valid index for \`x\`.`);
    if (wlen >= 2) {
      // An even wlen gives an odd window implicitly (wlen // 2 on both sides).
      iMin = Math.max(peak - Math.floor(wlen / 2), iMin);
      iMax = Math.min(peak + Math.floor(wlen / 2), iMax);
    }
    const top = x[peak]!;
    let i = peak;
    let leftBase = peak;
    let leftMin = top;
    while (iMin <= i && x[i]! <= top) {
      if (x[i]! < leftMin) {
        leftMin = x[i]!;
        leftBase = i;
      }
      i--;
    }
    i = peak;
    let rightBase = peak;
    let rightMin = top;
    while (i <= iMax && x[i]! <= top) {
      if (x[i]! < rightMin) {
        rightMin = x[i]!;
        rightBase = i;
      }
      i++;
    }
    const prominence = top - Math.max(leftMin, rightMin);
    if (prominence === 0) zero = true;
    prominences.push(prominence);
    left_bases.push(leftBase);
    right_bases.push(rightBase);
  }
  return {
    prominences,
    left_bases,
    right_bases,
    warnings: zero ? ["some peaks have a prominence of 0"] : [],
  };
}

function widthsOf(
  x: Float64Array,
  peaks: readonly number[],
  relHeight: number,
  prominences: readonly number[],
  leftBases: readonly number[],
  rightBases: readonly number[],
): Widths {
  if (!(relHeight >= 0)) throw invalid("`rel_height` must be greater or equal to 0.0.");
  if (
    !(
      peaks.length === prominences.length &&
      prominences.length === leftBases.length &&
      leftBases.length === rightBases.length
    )
  ) {
    throw invalid("arrays in `prominence_data` must have the same shape as `peaks`.");
  }
  const widths: number[] = [];
  const width_heights: number[] = [];
  const left_ips: number[] = [];
  const right_ips: number[] = [];
  let zero = false;
  for (let p = 0; p < peaks.length; p++) {
    const iMin = leftBases[p]!;
    const iMax = rightBases[p]!;
    const peak = peaks[p]!;
    if (!(0 <= iMin && iMin <= peak && peak <= iMax && iMax < x.length)) {
      throw invalid(`prominence data is invalid for peak ${peak}.`);
    }
    const height = x[peak]! - prominences[p]! * relHeight;
    width_heights.push(height);

    let i = peak;
    while (iMin < i && height < x[i]!) i--;
    let leftIp = i;
    // Interpolate when the true crossing lies between samples; x == height counts as a crossing.
    if (x[i]! < height && x[i + 1] !== x[i]) leftIp += (height - x[i]!) / (x[i + 1]! - x[i]!);

    i = peak;
    while (i < iMax && height < x[i]!) i++;
    let rightIp = i;
    if (x[i]! < height && x[i - 1] !== x[i]) rightIp -= (height - x[i]!) / (x[i - 1]! - x[i]!);

    const width = rightIp - leftIp;
    if (width === 0) zero = true;
    widths.push(width);
    left_ips.push(leftIp);
    right_ips.push(rightIp);
  }
  return {
    widths,
    width_heights,
    left_ips,
    right_ips,
    warnings: zero ? ["some peaks have a width of 0"] : [],
  };
}

/** `scipy.signal.peak_prominences(x, peaks, wlen)`. */
export function peakProminences(x: ArrayLike<number>, peaks: ArrayLike<number>, wlen?: number): Prominences {
  return prominencesOf(asSignal(x), asPeaks(peaks), wlenAsExpected(wlen));
}

/** `scipy.signal.peak_widths(x, peaks, rel_height, prominence_data, wlen)`. */
export function peakWidths(
  x: ArrayLike<number>,
  peaks: ArrayLike<number>,
  relHeight = 0.5,
  prominenceData?: {
    prominences: readonly number[];
    left_bases: readonly number[];
    right_bases: readonly number[];
  },
  wlen?: number,
): Widths {
  const signal = asSignal(x);
  const list = asPeaks(peaks);
  const data = prominenceData ?? prominencesOf(signal, list, wlenAsExpected(wlen));
  const widths = widthsOf(signal, list, relHeight, data.prominences, data.left_bases, data.right_bases);
  return prominenceData === undefined
    ? { ...widths, warnings: [...(data as Prominences).warnings, ...widths.warnings] }
    : widths;
}

type Bound = number | number[] | null;

/** scipy's `_unpack_condition_args`: `[min, max]`, per-sample borders reduced to `peaks`. */
export function unpackConditionArgs(
  interval: Condition,
  x: ArrayLike<number>,
  peaks: readonly number[],
): [Bound, Bound] {
  const [lo, hi] = Array.isArray(interval)
    ? (interval as readonly [Border, Border])
    : [interval as Border, null];
  const reduce = (border: Border, side: string): Bound => {
    if (border instanceof Float64Array) {
      if (border.length !== x.length) throw invalid(`array size of ${side} interval border must match x.`);
      return peaks.map((p) => border[p]!);
    }
    return border ?? null;
  };
  return [reduce(lo, "lower"), reduce(hi, "upper")];
}

/** scipy's `_select_by_property`: inclusive bounds on both sides. */
export function selectByProperty(values: readonly number[], min: Bound, max: Bound): boolean[] {
  return values.map((v, i) => {
    const lo = Array.isArray(min) ? min[i]! : min;
    const hi = Array.isArray(max) ? max[i]! : max;
    return (lo === null || lo <= v) && (hi === null || v <= hi);
  });
}

function selectByPeakThreshold(
  x: Float64Array,
  peaks: readonly number[],
  tmin: Bound,
  tmax: Bound,
): { keep: boolean[]; left: number[]; right: number[] } {
  const left = peaks.map((p) => x[p]! - x[p - 1]!);
  const right = peaks.map((p) => x[p]! - x[p + 1]!);
  const keep = peaks.map((_, i) => {
    const lo = Array.isArray(tmin) ? tmin[i]! : tmin;
    const hi = Array.isArray(tmax) ? tmax[i]! : tmax;
    const smaller = Math.min(left[i]!, right[i]!);
    const greater = Math.max(left[i]!, right[i]!);
    return (lo === null || lo <= smaller) && (hi === null || greater <= hi);
  });
  return { keep, left, right };
}

function filterAll(peaks: number[], properties: PeakProperties, keep: readonly boolean[]): number[] {
  for (const key of Object.keys(properties) as (keyof PeakProperties)[]) {
    properties[key] = properties[key]!.filter((_, i) => keep[i]);
  }
  return peaks.filter((_, i) => keep[i]);
}

/**
 * `scipy.signal.find_peaks(x, height, threshold, distance, prominence, width, wlen,
 * rel_height, plateau_size)`: the same peaks and properties, filtered in scipy's order.
 *
 * @example
 * const { peaks, properties } = findPeaks(score, { height: 3, prominence: 2, distance: 5, width: 1 });
 */
export function findPeaks(xIn: ArrayLike<number>, options: FindPeaksOptions = {}): FindPeaksResult {
  const x = asSignal(xIn);
  const { height, threshold, distance, prominence, width, wlen, relHeight = 0.5, plateauSize } = options;
  if (distance !== undefined && !(distance >= 1)) throw invalid("`distance` must be greater or equal to 1.");
  const maxima = localMaxima1d(x);
  let peaks = maxima.midpoints;
  const properties: PeakProperties = {};
  const warnings: string[] = [];

  if (plateauSize !== undefined) {
    const sizes = maxima.right_edges.map((r, i) => r - maxima.left_edges[i]! + 1);
    const [pmin, pmax] = unpackConditionArgs(plateauSize, x, peaks);
    const keep = selectByProperty(sizes, pmin, pmax);
    properties.plateau_sizes = sizes;
    properties.left_edges = maxima.left_edges;
    properties.right_edges = maxima.right_edges;
    peaks = filterAll(peaks, properties, keep);
  }
  if (height !== undefined) {
    const heights = peaks.map((p) => x[p]!);
    const [hmin, hmax] = unpackConditionArgs(height, x, peaks);
    const keep = selectByProperty(heights, hmin, hmax);
    properties.peak_heights = heights;
    peaks = filterAll(peaks, properties, keep);
  }
  if (threshold !== undefined) {
    const [tmin, tmax] = unpackConditionArgs(threshold, x, peaks);
    const { keep, left, right } = selectByPeakThreshold(x, peaks, tmin, tmax);
    properties.left_thresholds = left;
    properties.right_thresholds = right;
    peaks = filterAll(peaks, properties, keep);
  }
  if (distance !== undefined) {
    const keep = selectByPeakDistance(
      peaks,
      peaks.map((p) => x[p]!),
      distance,
    );
    peaks = filterAll(peaks, properties, keep);
  }
  if (prominence !== undefined || width !== undefined) {
    const prom = prominencesOf(x, peaks, wlenAsExpected(wlen));
    properties.prominences = prom.prominences;
    properties.left_bases = prom.left_bases;
    properties.right_bases = prom.right_bases;
    warnings.push(...prom.warnings);
  }
  if (prominence !== undefined) {
    const [pmin, pmax] = unpackConditionArgs(prominence, x, peaks);
    peaks = filterAll(peaks, properties, selectByProperty(properties.prominences!, pmin, pmax));
  }
  if (width !== undefined) {
    const w = widthsOf(
      x,
      peaks,
      relHeight,
      properties.prominences!,
      properties.left_bases!,
      properties.right_bases!,
    );
    properties.widths = w.widths;
    properties.width_heights = w.width_heights;
    properties.left_ips = w.left_ips;
    properties.right_ips = w.right_ips;
    warnings.push(...w.warnings);
    const [wmin, wmax] = unpackConditionArgs(width, x, peaks);
    peaks = filterAll(peaks, properties, selectByProperty(properties.widths, wmin, wmax));
  }
  return { peaks, properties, warnings };
}
