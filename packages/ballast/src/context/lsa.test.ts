import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { describe, expect, it } from "vitest";
import { analyze, queryTerms } from "./analyzer.ts";
import { embedWithStoredLsa, fitLsa } from "./lsa.ts";
import {
  decodePostings,
  decodeVector,
  encodePostings,
  encodeVector,
  portableBytes,
  portableRead,
} from "./postings.ts";
import { orthonormalize, randomizedSvd, type SparseMatrix } from "./randomized-svd.ts";
import { convexFusion, rrfFusion, topCandidates } from "./ranking.ts";

function sparse(dense: number[][]): SparseMatrix {
  const rowPtr = [0];
  const colIdx: number[] = [];
  const values: number[] = [];
  for (const row of dense) {
    row.forEach((v, j) => {
      if (v !== 0) {
        colIdx.push(j);
        values.push(v);
      }
    });
    rowPtr.push(colIdx.length);
  }
  return {
    rows: dense.length,
    cols: dense[0]!.length,
    rowPtr: Int32Array.from(rowPtr),
    colIdx: Int32Array.from(colIdx),
    values: Float64Array.from(values),
  };
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
}

describe("randomized SVD", () => {
  it("recovers the leading singular values and subspace of a sparse matrix", () => {
    const rand = seeded(7);
    // 60×40, about 30% filled, with a decaying spectrum from a low-rank part plus noise.
    const dense = Array.from({ length: 60 }, (_, i) =>
      Array.from({ length: 40 }, (_, j) => (rand() < 0.3 ? Math.sin(i + 1) * Math.cos(j) * 5 + rand() : 0)),
    );
    const exact = new SingularValueDecomposition(new Matrix(dense), { autoTranspose: true });
    const svd = randomizedSvd(sparse(dense), { rank: 5, oversampling: 10, powerIterations: 2, seed: 1 });
    expect(svd.k).toBe(5);
    // Randomized SVD is approximate: relative error well under 0.1% on this spectrum.
    for (let i = 0; i < 5; i++) expect(Math.abs(svd.sigma[i]! / exact.diagonal[i]! - 1)).toBeLessThan(1e-3);
    // Right singular vectors match up to sign.
    const v = exact.rightSingularVectors;
    for (let c = 0; c < 3; c++) {
      let dot = 0;
      for (let j = 0; j < 40; j++) dot += svd.v[j * svd.k + c]! * v.get(j, c);
      expect(Math.abs(dot)).toBeGreaterThan(0.99);
    }
    // Same seed, same answer.
    const again = randomizedSvd(sparse(dense), { rank: 5, oversampling: 10, powerIterations: 2, seed: 1 });
    expect(Array.from(again.sigma)).toEqual(Array.from(svd.sigma));
  });

  it("drops numerically zero directions of a rank-deficient matrix", () => {
    const dense = [
      [1, 2, 0, 0],
      [2, 4, 0, 0],
      [0, 0, 0, 3],
    ];
    const svd = randomizedSvd(sparse(dense), { rank: 3, oversampling: 2 });
    expect(svd.k).toBe(2);
    const q = orthonormalize(Float64Array.from([1, 1, 2, 2, 0, 0]), 3, 2);
    expect(Math.hypot(q[0]!, q[2]!, q[4]!)).toBeCloseTo(1, 12);
    expect([q[1], q[3], q[5]]).toEqual([0, 0, 0]);
  });
});

describe("LSA", () => {
  const texts = [
    "the journal records events in a hash chain",
    "events are appended to the journal",
    "budgets limit tokens and cost",
    "token budgets stop a run politely",
    "the sandbox limits memory and cpu",
  ];

  it("embeds related texts closer than unrelated ones, and the stored model gives the same vectors", async () => {
    const fitted = fitLsa(texts, 5, { dimensions: 3 });
    expect(fitted.record.dimensions).toBeLessThanOrEqual(3);
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    const journal = fitted.embed("journal events");
    expect(cos(journal, fitted.embed(texts[1]!))).toBeGreaterThan(cos(journal, fitted.embed(texts[2]!)));
    const terms = fitted.record.terms;
    const d = fitted.record.dimensions;
    const stored = await embedWithStoredLsa(["journal events", "unknown words only"], d, async (wanted) => {
      const out = new Map<string, { idf: number; vector: Float32Array }>();
      for (const t of wanted) {
        const i = terms.indexOf(t);
        if (i >= 0)
          out.set(t, { idf: fitted.record.idf[i]!, vector: fitted.record.vectors.slice(i * d, (i + 1) * d) });
      }
      return out;
    });
    expect(Array.from(stored[0]!)).toEqual(Array.from(journal));
    expect(Array.from(stored[1]!).every((x) => x === 0)).toBe(true);
    expect(fitLsa([], 0).record.terms).toEqual([]);
  });
});

describe("analyzer, postings and ranking helpers", () => {
  it("analyzes like Lucene's English analyzer", () => {
    expect(analyze("The Journal's events, running RUNS — naïve café’s 2025")).toEqual([
      "journal",
      "event",
      "run",
      "run",
      "naïv",
      "café",
      "2025",
    ]);
    expect(queryTerms("runs running journal the")).toEqual(["journal", "run"]);
    expect(analyze("")).toEqual([]);
  });

  it("round-trips postings and vectors, aligned or not, on any host order", () => {
    const values = Uint32Array.from([1, 2, 3, 4_000_000_000, 5, 6]);
    expect(Array.from(decodePostings(encodePostings(values)))).toEqual(Array.from(values));
    const unaligned = new Uint8Array(values.byteLength + 1);
    unaligned.set(encodePostings(values), 1);
    expect(Array.from(decodePostings(unaligned.subarray(1)))).toEqual(Array.from(values));
    const vector = Float32Array.from([0.5, -1.25, 3]);
    expect(Array.from(decodeVector(encodeVector(vector)))).toEqual([0.5, -1.25, 3]);
    const bytes = portableBytes(vector);
    expect(Array.from(portableRead(bytes, new Float32Array(3)))).toEqual([0.5, -1.25, 3]);
    expect(Array.from(portableRead(portableBytes(values), new Uint32Array(6)))).toEqual(Array.from(values));
    const shifted = new Uint8Array(13);
    shifted.set(encodeVector(vector), 1);
    expect(Array.from(decodeVector(shifted.subarray(1)))).toEqual([0.5, -1.25, 3]);
  });

  it("keeps every row tied with the cut-off, and fuses deterministically", () => {
    const scores = new Map([
      [1, 5],
      [2, 3],
      [3, 3],
      [4, 1],
      [5, 9],
    ]);
    const top = topCandidates([1, 2, 3, 4, 5], (r) => scores.get(r)!, 3);
    expect(top.map((t) => t.row).sort()).toEqual([1, 2, 3, 5]);
    expect(topCandidates([1, 2], (r) => r, 5)).toHaveLength(2);
    const fused = convexFusion(
      [
        { row: 1, score: 2 },
        { row: 2, score: 1 },
      ],
      new Map([[2, 1]]),
      { sparse: 1, dense: 1 },
    );
    expect(fused).toEqual([
      { row: 1, score: 0.5 },
      { row: 2, score: 0.75 },
    ]);
    expect(convexFusion([{ row: 1, score: 0 }], new Map(), { sparse: 1, dense: 0 })).toEqual([
      { row: 1, score: 0 },
    ]);
    expect(rrfFusion([1, 2], [2, 3], { sparse: 1, dense: 0.5 }, 1)).toEqual([
      { row: 1, score: 1 / 2 },
      { row: 2, score: 1 / 3 + 0.5 / 2 },
      { row: 3, score: 0.5 / 3 },
    ]);
  });
});
