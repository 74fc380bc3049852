import { sha256Hex } from "../canonical.ts";
import { termFrequencies } from "./analyzer.ts";
import { randomizedSvd, type SparseMatrix } from "./randomized-svd.ts";
import type { LsaModelRecord, LsaTermVector } from "./store.ts";

/**
 * Latent semantic analysis: the default offline embedder. No pretrained model can be
 * downloaded here, so the engine fits one on its own corpus: a TF-IDF matrix (sublinear tf,
 * ln(N/df) idf, rows L2-normalised, terms in at least `minDf` documents) reduced by a
 * truncated SVD, A ≈ U Σ Vᵀ. A text's embedding is its TF-IDF row projected on V and
 * L2-normalised; documents and queries go through the same function, so documents added
 * after the fit are folded in without refitting.
 *
 * On SciFact (5,183 abstracts) 256 dimensions and one power iteration give dense-only
 * nDCG@10 0.52 on the dev claims (BM25: 0.70) and, fused with BM25, a small gain.
 */
export interface LsaFitOptions {
  /** Latent dimensions (default 256). */
  dimensions?: number;
  /** Terms must occur in at least this many documents (default 2). */
  minDf?: number;
  powerIterations?: number;
  oversampling?: number;
  seed?: number;
}

export interface FittedLsa {
  record: LsaModelRecord;
  embed(text: string): Float32Array;
}

function weights(tf: Map<string, number>, idfOf: (term: string) => number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  let norm = 0;
  for (const term of [...tf.keys()].sort()) {
    const idf = idfOf(term);
    if (idf === undefined) continue;
    const w = (1 + Math.log(tf.get(term)!)) * idf;
    out.set(term, w);
    norm += w * w;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (const [term, w] of out) out.set(term, w / norm);
  return out;
}

/** Projects a weighted bag of terms on the term vectors and L2-normalises the result. */
function project(
  weighted: Map<string, number>,
  dimensions: number,
  vectorOf: (term: string) => Float32Array | undefined,
): Float32Array {
  const acc = new Float64Array(dimensions);
  for (const [term, w] of weighted) {
    const v = vectorOf(term);
    if (v === undefined) continue;
    for (let c = 0; c < dimensions; c++) acc[c]! += w * v[c]!;
  }
  let norm = 0;
  for (let c = 0; c < dimensions; c++) norm += acc[c]! ** 2;
  norm = Math.sqrt(norm);
  const out = new Float32Array(dimensions);
  if (norm > 0) for (let c = 0; c < dimensions; c++) out[c] = acc[c]! / norm;
  return out;
}

/** Fits an LSA model on `texts` (the live documents at `version`). */
export function fitLsa(texts: readonly string[], version: number, options: LsaFitOptions = {}): FittedLsa {
  const requested = options.dimensions ?? 256;
  const minDf = options.minDf ?? 2;
  const bags = texts.map((text) => termFrequencies(text).tf);
  const df = new Map<string, number>();
  for (const bag of bags) for (const term of bag.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  const terms = [...df.keys()].filter((t) => df.get(t)! >= minDf).sort();
  const index = new Map(terms.map((t, i) => [t, i]));
  const idf = Float64Array.from(terms, (t) => Math.log(bags.length / df.get(t)!));
  const idfOf = (term: string) => {
    const i = index.get(term);
    return i === undefined ? undefined : idf[i];
  };
  const rowPtr = new Int32Array(bags.length + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  bags.forEach((bag, i) => {
    for (const [term, w] of weights(bag, idfOf)) {
      cols.push(index.get(term)!);
      vals.push(w);
    }
    rowPtr[i + 1] = cols.length;
  });
  const matrix: SparseMatrix = {
    rows: bags.length,
    cols: terms.length,
    rowPtr,
    colIdx: Int32Array.from(cols),
    values: Float64Array.from(vals),
  };
  const params = {
    dimensions: requested,
    minDf,
    powerIterations: options.powerIterations ?? 1,
    oversampling: options.oversampling ?? 16,
    seed: options.seed ?? 42,
  };
  const svd =
    terms.length === 0 || bags.length === 0
      ? { k: 0, v: new Float64Array(0), sigma: new Float64Array(0) }
      : randomizedSvd(matrix, {
          rank: requested,
          oversampling: params.oversampling,
          powerIterations: params.powerIterations,
          seed: params.seed,
        });
  const dimensions = Math.max(svd.k, 1);
  const vectors = new Float32Array(terms.length * dimensions);
  for (let j = 0; j < terms.length; j++) {
    for (let c = 0; c < svd.k; c++) vectors[j * dimensions + c] = svd.v[j * svd.k + c]!;
  }
  const paramsJson = JSON.stringify({
    ...params,
    sigma: Array.from(svd.sigma.slice(0, 8), (s) => +s.toFixed(6)),
  });
  const modelId = sha256Hex(`${paramsJson}|${version}|${texts.length}|${terms.length}`).slice(0, 16);
  const record: LsaModelRecord = {
    modelId,
    dimensions,
    params: paramsJson,
    documents: texts.length,
    fittedVersion: version,
    fittedAt: new Date().toISOString(),
    terms,
    idf,
    vectors,
  };
  const vectorOf = (term: string) => {
    const i = index.get(term);
    return i === undefined ? undefined : vectors.subarray(i * dimensions, (i + 1) * dimensions);
  };
  return { record, embed: (text) => project(weights(termFrequencies(text).tf, idfOf), dimensions, vectorOf) };
}

/** Embeds with a stored model, reading only the term vectors a text needs. */
export async function embedWithStoredLsa(
  texts: readonly string[],
  dimensions: number,
  lookup: (terms: string[]) => Promise<Map<string, LsaTermVector>>,
): Promise<Float32Array[]> {
  const bags = texts.map((text) => termFrequencies(text).tf);
  const all = new Set<string>();
  for (const bag of bags) for (const term of bag.keys()) all.add(term);
  const known = await lookup([...all].sort());
  return bags.map((bag) =>
    project(
      weights(bag, (t) => known.get(t)?.idf),
      dimensions,
      (t) => known.get(t)?.vector,
    ),
  );
}
