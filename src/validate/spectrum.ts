/**
 * Singular values of small dense matrices: the dln-wide family's resolvability check and the
 * teacher tests. The matrices here are at most 20 x 20, so one-sided Jacobi (rotate column pairs
 * until they are orthogonal; the column norms are then the singular values) is exact enough and
 * keeps small singular values to full relative precision, which P^T P would square away.
 */

/** Singular values (descending) of the row-major [rows, cols] matrix `a` (not modified). */
export function singularValues(a: ArrayLike<number>, rows: number, cols: number): number[] {
  const U = Float64Array.from(a);
  if (U.length !== rows * cols) throw new Error(`singularValues: expected ${rows * cols} entries, got ${U.length}`);
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < cols; p++) {
      for (let q = p + 1; q < cols; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < rows; i++) {
          alpha += U[i * cols + p]! ** 2;
          beta += U[i * cols + q]! ** 2;
          gamma += U[i * cols + p]! * U[i * cols + q]!;
        }
        if (Math.abs(gamma) <= 1e-300 || Math.abs(gamma) < 1e-15 * Math.sqrt(alpha * beta)) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < rows; i++) {
          const up = U[i * cols + p]!;
          const uq = U[i * cols + q]!;
          U[i * cols + p] = c * up - s * uq;
          U[i * cols + q] = s * up + c * uq;
        }
      }
    }
    if (off < 1e-15) break;
  }
  const out: number[] = [];
  for (let p = 0; p < cols; p++) {
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += U[i * cols + p]! ** 2;
    out.push(Math.sqrt(norm));
  }
  return out.sort((x, y) => y - x);
}

/**
 * W_to ... W_from (1-based layers, from <= to) of a bias-free linear network with layer sizes
 * `widths` and parameters `w` (each layer row-major [out, in], layers in order), row-major
 * [widths[to], widths[from - 1]]. An empty range (from = to + 1) is the identity on
 * widths[to].
 */
export function linearNetworkProduct(widths: readonly number[], w: ArrayLike<number>, from: number, to: number): { matrix: Float64Array; rows: number; cols: number } {
  let expected = 0;
  const offsets: number[] = [];
  for (let l = 1; l < widths.length; l++) {
    offsets.push(expected);
    expected += widths[l]! * widths[l - 1]!;
  }
  if (expected !== w.length) throw new Error(`linearNetworkProduct: ${w.length} parameters for widths ${widths.join('-')} (expected ${expected})`);
  const cols = widths[from - 1]!;
  // P starts as the identity on layer from's input and is multiplied by each layer in turn.
  let P = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) P[i * cols + i] = 1;
  let rows = cols;
  for (let l = from; l <= to; l++) {
    const out = widths[l]!;
    const off = offsets[l - 1]!;
    const next = new Float64Array(out * cols);
    for (let i = 0; i < out; i++) {
      for (let k = 0; k < rows; k++) {
        const wik = w[off + i * rows + k]!;
        if (wik === 0) continue;
        for (let j = 0; j < cols; j++) next[i * cols + j]! += wik * P[k * cols + j]!;
      }
    }
    P = next;
    rows = out;
  }
  return { matrix: P, rows, cols };
}

/**
 * Singular values (descending) of W_L ... W_1 for a bias-free linear network with layer sizes
 * `widths` and parameters `w` (each layer row-major [out, in], layers in order).
 */
export function linearNetworkSingularValues(widths: readonly number[], w: ArrayLike<number>): number[] {
  const p = linearNetworkProduct(widths, w, 1, widths.length - 1);
  return singularValues(p.matrix, p.rows, p.cols);
}

/**
 * The flattest direction, over layers k, of the rank-r part of a layer's own weights: a change
 * dW_k moves the map by S_k dW_k P_k (S_k = W_L ... W_{k+1}, P_k = W_{k-1} ... W_1), and
 * along the r-th singular directions of S_k and P_k that change has norm
 * sigma_r(S_k) sigma_r(P_k) |dW_k|. Returns min over k of (sigma_r(S_k) sigma_r(P_k))^2, the
 * squared-norm gain of the layer whose rank-r part the data sees least (1 for rank 0).
 */
export function weakestLayerGain(widths: readonly number[], w: ArrayLike<number>, rank: number): number {
  if (rank === 0) return 1;
  const layers = widths.length - 1;
  const sigmaR = (from: number, to: number): number => {
    if (from > to) return 1;
    const p = linearNetworkProduct(widths, w, from, to);
    return singularValues(p.matrix, p.rows, p.cols)[rank - 1] ?? 0;
  };
  let weakest = Number.POSITIVE_INFINITY;
  for (let k = 1; k <= layers; k++) weakest = Math.min(weakest, (sigmaR(k + 1, layers) * sigmaR(1, k - 1)) ** 2);
  return weakest;
}
