// Ports of scipy's own peak-finding tests (scipy/signal/tests/test_peak_finding.py, scipy
// 1.10: TestLocalMaxima1d, TestPeakProminences, TestPeakWidths, test_unpack_condition_args,
// TestFindPeaks) plus golden fixtures generated with Debian's python3-scipy by
// scripts/gen-find-peaks-fixtures.py. argrelmax/argrelmin, ridge lines and find_peaks_cwt
// are not ported: the auditor does not use them. The dtype/None/2-D checks of the Cython
// signatures have no TypeScript counterpart (the types rule them out).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  type Condition,
  type FindPeaksOptions,
  findPeaks,
  localMaxima1d,
  peakProminences,
  peakWidths,
  unpackConditionArgs,
} from "../src/events/find-peaks.ts";
import { MAD_NORMAL_SCALE, madNormal, median, robustScale } from "../src/events/robust-scale.ts";

/** numpy.linspace, bit for bit: `i * step + start`, the last sample set to `stop`. */
function linspace(start: number, stop: number, num = 50): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  if (num > 1) out[num - 1] = stop;
  return out;
}

const range = (start: number, stop: number, step = 1) =>
  Array.from({ length: Math.max(0, Math.ceil((stop - start) / step)) }, (_, i) => start + i * step);

describe("localMaxima1d (TestLocalMaxima1d)", () => {
  it("empty and linear signals have no maxima", () => {
    for (const x of [[], linspace(0, 100)]) {
      expect(localMaxima1d(x)).toEqual({ midpoints: [], left_edges: [], right_edges: [] });
    }
  });

  it("simple signal: size-1 plateaus have identical edges and midpoints", () => {
    const x = linspace(-10, 10, 50);
    for (let i = 2; i < 50; i += 3) x[i]! += 1;
    const expected = range(2, 50, 3);
    const { midpoints, left_edges, right_edges } = localMaxima1d(x);
    expect(midpoints).toEqual(expected);
    expect(left_edges).toEqual(expected);
    expect(right_edges).toEqual(expected);
  });

  it("flat maxima: midpoints rounded down", () => {
    const x = [-1.3, 0, 1, 0, 2, 2, 0, 3, 3, 3, 2.99, 4, 4, 4, 4, -10, -5, -5, -5, -5, -5, -10];
    expect(localMaxima1d(x)).toEqual({
      midpoints: [2, 4, 8, 12, 18],
      left_edges: [2, 4, 7, 11, 16],
      right_edges: [2, 5, 9, 14, 20],
    });
  });

  it.each([[[1, 0, 2]], [[3, 3, 0, 4, 4]], [[5, 5, 5, 0, 6, 6, 6]]])(
    "signal edges are never maxima: %j",
    (x) => {
      expect(localMaxima1d(x).midpoints).toEqual([]);
    },
  );
});

describe("peakProminences (TestPeakProminences)", () => {
  it("empty peaks give empty results", () => {
    for (const x of [[1, 2, 3], []]) {
      const out = peakProminences(x, []);
      expect([out.prominences, out.left_bases, out.right_bases]).toEqual([[], [], []]);
    }
  });

  it("basic: rising baseline", () => {
    const x = [-1, 1.2, 1.2, 1, 3.2, 1.3, 2.88, 2.1];
    const peaks = [1, 2, 4, 6];
    const lbases = [0, 0, 0, 5];
    const rbases = [3, 3, 5, 7];
    const proms = peaks.map((p, i) => x[p]! - Math.max(x[lbases[i]!]!, x[rbases[i]!]!));
    expect(peakProminences(x, peaks)).toMatchObject({
      prominences: proms,
      left_bases: lbases,
      right_bases: rbases,
    });
  });

  it("edge cases: equal heights with shared or distinct bases", () => {
    expect(peakProminences([0, 2, 1, 2, 1, 2, 0], [1, 3, 5])).toMatchObject({
      prominences: [2, 2, 2],
      left_bases: [0, 0, 0],
      right_bases: [6, 6, 6],
    });
    expect(peakProminences([0, 1, 0, 1, 0, 1, 0], [1, 3, 5])).toMatchObject({
      prominences: [1, 1, 1],
      left_bases: [0, 2, 4],
      right_bases: [2, 4, 6],
    });
  });

  it("non-contiguous input (strided views in numpy)", () => {
    const x = [-9, 9, 9, 0, 3, 1];
    expect(peakProminences(x, [1, 2, 4])).toMatchObject({
      prominences: [9, 9, 2],
      left_bases: [0, 0, 3],
      right_bases: [3, 3, 5],
    });
  });

  it("wlen shrinks the window, rounded up to odd", () => {
    const x = [0, 1, 2, 3, 1, 0, -1];
    const triple = (out: ReturnType<typeof peakProminences>) => [
      out.prominences[0],
      out.left_bases[0],
      out.right_bases[0],
    ];
    expect(triple(peakProminences(x, [3]))).toEqual([3, 0, 6]);
    for (const [wlen, i] of [
      [8, 0],
      [7, 0],
      [6, 0],
      [5, 1],
      [3.2, 1],
      [3, 2],
      [1.1, 2],
    ] as const) {
      expect(triple(peakProminences(x, [3], wlen))).toEqual([3 - i, 0 + i, 6 - i]);
    }
  });

  it("exceptions: invalid indices, non-integer peaks, wlen <= 1", () => {
    expect(() => peakProminences([], [0])).toThrow(/not a valid index/);
    for (const p of [-100, -1, 3, 1000])
      expect(() => peakProminences([1, 0, 2], [p])).toThrow(/not a valid index/);
    expect(() => peakProminences([0, 1, 1, 0], [1.1, 2.3])).toThrow(/cannot safely cast/);
    expect(() => peakProminences(range(0, 10), [3, 5], 1)).toThrow(/wlen/);
  });

  it("warns when a prominence is 0", () => {
    for (const p of [0, 1, 2]) {
      expect(peakProminences([1, 0, 2], [p]).warnings).toEqual(["some peaks have a prominence of 0"]);
    }
    expect(peakProminences([0, 1, 1, 1, 0], [2], 2).warnings).toEqual(["some peaks have a prominence of 0"]);
  });
});

describe("peakWidths (TestPeakWidths)", () => {
  it("empty", () => {
    expect(peakWidths([], [])).toMatchObject({ widths: [], width_heights: [], left_ips: [], right_ips: [] });
    expect(peakWidths([1, 2, 3], []).widths).toEqual([]);
  });

  it("basic: widths at several relative heights", () => {
    const x = [1, 0, 1, 2, 1, 0, -1];
    for (const [rel, width, lip, rip] of [
      [0, 0, 3, 3],
      [0.25, 1, 2.5, 3.5],
      [0.5, 2, 2, 4],
      [0.75, 3, 1.5, 4.5],
      [1, 4, 1, 5],
      [2, 5, 1, 6],
      [3, 5, 1, 6],
    ] as const) {
      const out = peakWidths(x, [3], rel);
      expect(out.widths[0]).toBeCloseTo(width, 12);
      expect(out.width_heights[0]).toBeCloseTo(2 - rel * 2, 12);
      expect(out.left_ips[0]).toBeCloseTo(lip, 12);
      expect(out.right_ips[0]).toBeCloseTo(rip, 12);
    }
  });

  it("non-contiguous input", () => {
    const out = peakWidths([0, 100, 50], [1]);
    expect([out.widths, out.width_heights, out.left_ips, out.right_ips]).toEqual([
      [0.75],
      [75],
      [0.75],
      [1.5],
    ]);
  });

  it("exceptions", () => {
    expect(() => peakWidths(range(0, 10), [8, 11])).toThrow(/not a valid index/);
    expect(() => peakWidths([], [1, 2])).toThrow(/not a valid index/);
    expect(() => peakWidths(range(0, 10), [1.1, 2.3])).toThrow(/cannot safely cast/);
    expect(() => peakWidths([0, 1, 0, 1, 0], [1, 3], -1)).toThrow(/rel_height/);
  });

  it("warns when a width is 0", () => {
    expect(peakWidths([0, 1, 0], [1], 0).warnings).toContain("some peaks have a width of 0");
    const zero = { prominences: [0], left_bases: [2], right_bases: [2] };
    expect(peakWidths([0, 1, 1, 1, 0], [2], 0.5, zero).warnings).toEqual(["some peaks have a width of 0"]);
  });

  it("mismatching prominence data", () => {
    const cases: [number[], number[], number[]][] = [
      [[1], [-1], [2]],
      [[1], [0], [3]],
      [[1], [2], [0]],
      [
        [1, 1],
        [0, 0],
        [2, 2],
      ],
      [[1, 1], [0], [2]],
      [[1], [0, 0], [2]],
      [[1], [0], [2, 2]],
    ];
    cases.forEach(([prominences, left_bases, right_bases], i) => {
      const match = i < 3 ? /prominence data is invalid for peak/ : /must have the same shape/;
      expect(() => peakWidths([0, 1, 0], [1], 0.5, { prominences, left_bases, right_bases })).toThrow(match);
    });
  });

  it("intersection rules: x == height counts as an intersection", () => {
    const x = [0, 1, 2, 1, 3, 3, 3, 1, 2, 1, 0];
    const flat = peakWidths(x, [5], 0);
    expect([flat.widths[0], flat.width_heights[0], flat.left_ips[0], flat.right_ips[0]]).toEqual([
      0, 3, 5, 5,
    ]);
    const out = peakWidths(x, [5], 2 / 3);
    expect(out.widths[0]).toBeCloseTo(4, 12);
    expect(out.width_heights[0]).toBeCloseTo(1, 12);
    expect([out.left_ips[0], out.right_ips[0]]).toEqual([3, 7]);
  });
});

describe("unpackConditionArgs (test_unpack_condition_args)", () => {
  const x = range(0, 10);
  const peaks = range(1, 10, 2);
  it("numbers and pairs", () => {
    expect(unpackConditionArgs([null, null], x, peaks)).toEqual([null, null]);
    expect(unpackConditionArgs(1, x, peaks)).toEqual([1, null]);
    expect(unpackConditionArgs([1, null], x, peaks)).toEqual([1, null]);
    expect(unpackConditionArgs([null, 2], x, peaks)).toEqual([null, 2]);
    expect(unpackConditionArgs([3, 4.5], x, peaks)).toEqual([3, 4.5]);
  });
  it("per-sample borders are reduced to the peaks and must match x", () => {
    const amin = Float64Array.from(x);
    const amax = Float64Array.from(x, (v) => v + 10);
    expect(unpackConditionArgs([amin, amax], x, peaks)).toEqual([peaks, peaks.map((p) => p + 10)]);
    expect(() => unpackConditionArgs(amin, range(0, 11), peaks)).toThrow(/array size of lower/);
    expect(() => unpackConditionArgs([null, amin], range(0, 11), peaks)).toThrow(/array size of upper/);
  });
});

describe("findPeaks (TestFindPeaks)", () => {
  const propertyKeys = [
    "peak_heights",
    "left_thresholds",
    "right_thresholds",
    "prominences",
    "left_bases",
    "right_bases",
    "widths",
    "width_heights",
    "left_ips",
    "right_ips",
  ];
  const open: Condition = [null, null];

  it("constant signal", () => {
    const { peaks, properties } = findPeaks(new Array(10).fill(1), {
      height: open,
      threshold: open,
      prominence: open,
      width: open,
    });
    expect(peaks).toEqual([]);
    for (const key of propertyKeys) expect(properties[key as keyof typeof properties]).toEqual([]);
  });

  it("plateau size", () => {
    const sizes = [1, 2, 3, 4, 8, 20, 111];
    const x: number[] = [0];
    for (const s of sizes) x.push(...new Array(s).fill(s), 0);
    const { peaks, properties } = findPeaks(x, { plateauSize: open });
    expect(peaks).toEqual([1, 3, 7, 11, 18, 33, 100]);
    expect(properties.plateau_sizes).toEqual(sizes);
    expect(properties.left_edges).toEqual(peaks.map((p, i) => p - Math.floor((sizes[i]! - 1) / 2)));
    expect(properties.right_edges).toEqual(peaks.map((p, i) => p + Math.floor(sizes[i]! / 2)));
    expect(findPeaks(x, { plateauSize: 4 }).peaks).toEqual([11, 18, 33, 100]);
    expect(findPeaks(x, { plateauSize: [null, 3.5] }).peaks).toEqual([1, 3, 7]);
    expect(findPeaks(x, { plateauSize: [5, 50] }).peaks).toEqual([18, 33]);
  });

  it("height condition", () => {
    const x = [0, 1 / 3, 0, 2.5, 0, 4, 0];
    const { peaks, properties } = findPeaks(x, { height: open });
    expect(peaks).toEqual([1, 3, 5]);
    expect(properties.peak_heights).toEqual([1 / 3, 2.5, 4]);
    expect(findPeaks(x, { height: 0.5 }).peaks).toEqual([3, 5]);
    expect(findPeaks(x, { height: [null, 3] }).peaks).toEqual([1, 3]);
    expect(findPeaks(x, { height: [2, 3] }).peaks).toEqual([3]);
  });

  it("threshold condition", () => {
    const x = [0, 2, 1, 4, -1];
    const { peaks, properties } = findPeaks(x, { threshold: open });
    expect(peaks).toEqual([1, 3]);
    expect(properties.left_thresholds).toEqual([2, 3]);
    expect(properties.right_thresholds).toEqual([1, 5]);
    expect(findPeaks(x, { threshold: 2 }).peaks).toEqual([3]);
    expect(findPeaks(x, { threshold: 3.5 }).peaks).toEqual([]);
    expect(findPeaks(x, { threshold: [null, 5] }).peaks).toEqual([1, 3]);
    expect(findPeaks(x, { threshold: [null, 4] }).peaks).toEqual([1]);
    expect(findPeaks(x, { threshold: [2, 4] }).peaks).toEqual([]);
  });

  it("distance condition", () => {
    const all = range(1, 21, 3);
    const x = new Array(21).fill(0);
    const heights = linspace(1, 2, all.length);
    all.forEach((p, i) => {
      x[p] += heights[i]!;
    });
    expect(findPeaks(x, { distance: 3 }).peaks).toEqual(all);
    const subset = findPeaks(x, { distance: 3.0001 }).peaks;
    expect(subset.every((p) => all.includes(p))).toBe(true);
    for (let i = 1; i < subset.length; i++) expect(subset[i]! - subset[i - 1]!).toBe(6);
    expect(findPeaks([-2, 1, -1, 0, -3], { distance: 10 }).peaks).toEqual([1]);
  });

  it("prominence condition", () => {
    const x = linspace(0, 10, 100);
    const truePeaks = range(1, 99, 2);
    const offset = linspace(1, 10, truePeaks.length);
    truePeaks.forEach((p, i) => {
      x[p]! += offset[i]!;
    });
    const proms = truePeaks.map((p) => x[p]! - x[p + 1]!);
    const keep = proms.map((p) => 3 <= p && p <= 9);
    const { peaks, properties } = findPeaks(x, { prominence: [3, 9] });
    expect(peaks).toEqual(truePeaks.filter((_, i) => keep[i]));
    expect(properties.prominences).toEqual(proms.filter((_, i) => keep[i]));
    expect(new Set(properties.left_bases)).toEqual(new Set([0]));
    expect(properties.right_bases).toEqual(peaks.map((p) => p + 1));
  });

  it("width condition", () => {
    const { peaks, properties } = findPeaks([1, 0, 1, 2, 1, 0, -1, 4, 0], {
      width: [null, 2],
      relHeight: 0.75,
    });
    expect(peaks).toEqual([7]);
    expect(properties.widths![0]).toBeCloseTo(1.35, 12);
    expect(properties.width_heights![0]).toBeCloseTo(1, 12);
    expect(properties.left_ips![0]).toBeCloseTo(6.4, 12);
    expect(properties.right_ips![0]).toBeCloseTo(7.75, 12);
  });

  it("properties: every requested property, one value per peak", () => {
    const { peaks, properties } = findPeaks([0, 1, 0, 2, 1.5, 0, 3, 0, 5, 9], {
      height: open,
      threshold: open,
      prominence: open,
      width: open,
    });
    expect(Object.keys(properties).sort()).toEqual([...propertyKeys].sort());
    for (const key of propertyKeys)
      expect(properties[key as keyof typeof properties]).toHaveLength(peaks.length);
  });

  it("raises on a distance below 1", () => {
    expect(() => findPeaks(range(0, 10), { distance: -1 })).toThrow(/distance/);
    expect(() => findPeaks(range(0, 10), { wlen: 1, prominence: 1 })).toThrow(/wlen/);
  });

  it("wlen smaller than the plateau (gh-9110)", () => {
    const { peaks, properties, warnings } = findPeaks([0, 1, 1, 1, 0], {
      prominence: open,
      width: open,
      wlen: 2,
    });
    expect(peaks).toEqual([2]);
    expect(properties.prominences).toEqual([0]);
    expect(properties.widths).toEqual([0]);
    expect(properties.width_heights).toEqual([1]);
    for (const key of ["left_bases", "right_bases", "left_ips", "right_ips"] as const)
      expect(properties[key]).toEqual([2]);
    expect(warnings).toEqual(["some peaks have a prominence of 0", "some peaks have a width of 0"]);
  });

  it.each([{}, { distance: 3 }, { prominence: open }, { width: [null, 2] as Condition }])(
    "read-only input gives the same peaks: %j",
    (options: FindPeaksOptions) => {
      const x = Object.freeze(linspace(0, 10, 15));
      expect(findPeaks(x, options).peaks).toEqual(findPeaks([...x]).peaks);
    },
  );
});

// ------------------------------------------------------------ golden fixtures from scipy

interface FixtureCase {
  name: string;
  x: number[];
  kwargs: Record<string, unknown>;
  peaks: number[];
  properties: Record<string, number[]>;
  warnings: string[];
}

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/find-peaks/${name}.json`, import.meta.url), "utf8")) as {
    meta: { scipy: string };
    cases: FixtureCase[];
  };

function decodeBorder(value: unknown): number | null | Float64Array {
  if (value === null) return null;
  if (typeof value === "number") return value;
  return Float64Array.from((value as { array: number[] }).array);
}

function decodeCondition(value: unknown): Condition {
  return Array.isArray(value) ? [decodeBorder(value[0]), decodeBorder(value[1])] : decodeBorder(value);
}

function optionsOf(kwargs: Record<string, unknown>): FindPeaksOptions {
  const options: FindPeaksOptions = {};
  for (const [key, value] of Object.entries(kwargs)) {
    if (key === "distance") options.distance = value as number;
    else if (key === "wlen") options.wlen = value as number;
    else if (key === "rel_height") options.relHeight = value as number;
    else if (key === "plateau_size") options.plateauSize = decodeCondition(value);
    else (options as Record<string, Condition>)[key] = decodeCondition(value);
  }
  return options;
}

describe.each(["random", "plateaus", "borders"])("golden fixtures from scipy: %s", (name) => {
  const { meta, cases } = fixture(name);
  it(`matches scipy ${meta.scipy} bit for bit on ${cases.length} cases`, () => {
    let peaksSeen = 0;
    for (const c of cases) {
      const result = findPeaks(c.x, optionsOf(c.kwargs));
      expect({ name: c.name, peaks: result.peaks }).toEqual({ name: c.name, peaks: c.peaks });
      expect(result.properties).toEqual(c.properties);
      expect([...new Set(result.warnings)].sort()).toEqual(c.warnings);
      peaksSeen += c.peaks.length;
    }
    expect(peaksSeen).toBeGreaterThan(50);
  });
});

describe("robust scaling", () => {
  it("median and MAD match numpy and scipy.stats.median_abs_deviation(scale='normal')", () => {
    for (const c of fixture("robust").cases as unknown as {
      x: number[];
      median: number;
      mad_normal: number;
    }[]) {
      expect(median(c.x) + 0).toBe(c.median + 0); // numpy may return +0 where the sum is -0
      expect(madNormal(c.x)).toBeCloseTo(c.mad_normal, 12);
    }
    expect(MAD_NORMAL_SCALE).toBe(1 / 0.6744897501960817);
  });

  it("scales by MAD, ignores NaN, and keeps NaN in place", () => {
    const { z, center, scale, method } = robustScale([1, 2, 3, 4, 100, Number.NaN]);
    expect(method).toBe("mad");
    expect(center).toBe(3);
    expect(scale).toBeCloseTo(MAD_NORMAL_SCALE, 12);
    expect(z[4]).toBeCloseTo(97 / MAD_NORMAL_SCALE, 9);
    expect(z[5]).toBeNaN();
  });

  it("MAD = 0 falls back to the mean absolute deviation; a constant signal scales to 0", () => {
    const mostlyFlat = robustScale([5, 5, 5, 5, 5, 9]);
    expect(mostlyFlat.method).toBe("mean-abs-deviation");
    expect(mostlyFlat.scale).toBeCloseTo((4 / 6) * Math.sqrt(Math.PI / 2), 12);
    expect(mostlyFlat.z[5]).toBeCloseTo(4 / mostlyFlat.scale, 12);
    const flat = robustScale([2, 2, 2, Number.NaN]);
    expect(flat.method).toBe("constant");
    expect(flat.z.slice(0, 3)).toEqual([0, 0, 0]);
    expect(robustScale([Number.NaN]).method).toBe("empty");
  });
});
