import { EigenvalueDecomposition, Matrix } from "ml-matrix";

/**
 * Truncated SVD of a sparse matrix by randomized subspace iteration (Halko, Martinsson &
 * Tropp 2011, algorithms 4.3 + 5.1). Written here because no maintained npm package does a
 * sparse randomized SVD; the one dense step that needs care, the symmetric eigensolver of
 * the small l×l matrix, is ml-matrix's.
 *
 *   Ω ~ N(0,1)^(n×l), seeded         l = rank + oversampling
 *   Q = orth(A Ω)                      m×l, orthonormal columns (MGS, two passes)
 *   repeat q times: Q = orth(A (Aᵀ Q))  power iterations sharpen a slowly decaying spectrum
 *   Z = Aᵀ Q   (= Bᵀ for B = Qᵀ A)      n×l
 *   Zᵀ Z = W Λ Wᵀ                      l×l, so B = (Q W) Σ Vᵀ with Σ = √Λ, V = Z W Σ⁻¹
 *
 * Forming ZᵀZ squares the condition number, which only costs accuracy in singular values
 * below ~1e-8·σ₁; those are dropped. Between the two products of a power iteration Z's
 * columns are rescaled rather than orthonormalised: with q ≤ 2 the spectrum is raised at
 * most to the 5th power, well within double precision, and the orth after A restores an
 * orthonormal basis.
 */
export interface SparseMatrix {
  rows: number;
  cols: number;
  /** CSR: row i's entries are indices rowPtr[i] .. rowPtr[i+1]-1 of colIdx/values. */
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float64Array;
}

export interface SvdOptions {
  rank: number;
  oversampling?: number;
  powerIterations?: number;
  seed?: number;
}

export interface TruncatedSvd {
  /** Singular values, descending; length k ≤ rank (numerically zero ones are dropped). */
  sigma: Float64Array;
  /** Right singular vectors, row-major `cols × k`. */
  v: Float64Array;
  k: number;
}

/** mulberry32: tiny, seeded, good enough for Gaussian test matrices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussianMatrix(rows: number, cols: number, seed: number): Float64Array {
  const next = prng(seed);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** A (m×n sparse) × X (n×l row-major) → m×l row-major. */
function multiply(a: SparseMatrix, x: Float64Array, l: number): Float64Array {
  const y = new Float64Array(a.rows * l);
  for (let i = 0; i < a.rows; i++) {
    const yo = i * l;
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++) {
      const w = a.values[p]!;
      const xo = a.colIdx[p]! * l;
      for (let c = 0; c < l; c++) y[yo + c]! += w * x[xo + c]!;
    }
  }
  return y;
}

/** Aᵀ (n×m) × Y (m×l row-major) → n×l row-major. */
function multiplyTransposed(a: SparseMatrix, y: Float64Array, l: number): Float64Array {
  const z = new Float64Array(a.cols * l);
  for (let i = 0; i < a.rows; i++) {
    const yo = i * l;
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++) {
      const w = a.values[p]!;
      const zo = a.colIdx[p]! * l;
      for (let c = 0; c < l; c++) z[zo + c]! += w * y[yo + c]!;
    }
  }
  return z;
}

/** Orthonormalises the columns of a row-major rows×l matrix in place (MGS, two passes). */
export function orthonormalize(x: Float64Array, rows: number, l: number): Float64Array {
  const col = new Float64Array(rows * l);
  for (let i = 0; i < rows; i++) for (let c = 0; c < l; c++) col[c * rows + i] = x[i * l + c]!;
  for (let j = 0; j < l; j++) {
    const oj = j * rows;
    let before = 0;
    for (let k = 0; k < rows; k++) before += col[oj + k]! ** 2;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const oi = i * rows;
        let dot = 0;
        for (let k = 0; k < rows; k++) dot += col[oi + k]! * col[oj + k]!;
        for (let k = 0; k < rows; k++) col[oj + k]! -= dot * col[oi + k]!;
      }
    }
    let norm = 0;
    for (let k = 0; k < rows; k++) norm += col[oj + k]! ** 2;
    // A column that was (numerically) in the span of the previous ones carries no new
    // direction: zero it, and its eigenvalue below comes out zero and is dropped.
    const scale = norm > 1e-20 && norm > before * 1e-24 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < rows; k++) col[oj + k]! *= scale;
  }
  for (let i = 0; i < rows; i++) for (let c = 0; c < l; c++) x[i * l + c] = col[c * rows + i]!;
  return x;
}

function rescaleColumns(x: Float64Array, rows: number, l: number): void {
  const norms = new Float64Array(l);
  for (let i = 0; i < rows; i++) for (let c = 0; c < l; c++) norms[c]! += x[i * l + c]! ** 2;
  for (let c = 0; c < l; c++) norms[c] = norms[c]! > 0 ? 1 / Math.sqrt(norms[c]!) : 0;
  for (let i = 0; i < rows; i++) for (let c = 0; c < l; c++) x[i * l + c]! *= norms[c]!;
}

export function randomizedSvd(a: SparseMatrix, options: SvdOptions): TruncatedSvd {
  const rank = Math.max(1, Math.min(options.rank, a.rows, a.cols));
  const l = Math.min(rank + (options.oversampling ?? 16), a.rows, a.cols);
  const omega = gaussianMatrix(a.cols, l, options.seed ?? 42);
  let q = orthonormalize(multiply(a, omega, l), a.rows, l);
  for (let it = 0; it < (options.powerIterations ?? 1); it++) {
    const z = multiplyTransposed(a, q, l);
    rescaleColumns(z, a.cols, l);
    q = orthonormalize(multiply(a, z, l), a.rows, l);
  }
  const z = multiplyTransposed(a, q, l);
  const gram = new Matrix(l, l);
  for (let r = 0; r < l; r++) {
    for (let c = r; c < l; c++) {
      let sum = 0;
      for (let j = 0; j < a.cols; j++) sum += z[j * l + r]! * z[j * l + c]!;
      gram.set(r, c, sum);
      gram.set(c, r, sum);
    }
  }
  const evd = new EigenvalueDecomposition(gram, { assumeSymmetric: true });
  const lambda = evd.realEigenvalues;
  const w = evd.eigenvectorMatrix;
  const order = lambda.map((_, i) => i).sort((x, y) => lambda[y]! - lambda[x]! || x - y);
  const top = Math.sqrt(Math.max(lambda[order[0]!]!, 0));
  const kept = order.slice(0, rank).filter((i) => Math.sqrt(Math.max(lambda[i]!, 0)) > top * 1e-8);
  const k = kept.length;
  const sigma = Float64Array.from(kept, (i) => Math.sqrt(lambda[i]!));
  const wk = new Float64Array(l * k);
  for (let r = 0; r < l; r++) for (let c = 0; c < k; c++) wk[r * k + c] = w.get(r, kept[c]!) / sigma[c]!;
  const v = new Float64Array(a.cols * k);
  for (let j = 0; j < a.cols; j++) {
    const zo = j * l;
    const vo = j * k;
    for (let r = 0; r < l; r++) {
      const zr = z[zo + r]!;
      if (zr === 0) continue;
      const wo = r * k;
      for (let c = 0; c < k; c++) v[vo + c]! += zr * wk[wo + c]!;
    }
  }
  return { sigma, v, k };
}
