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
 * Singular values (descending) of W_L ... W_1 for a bias-free linear network with layer sizes
 * `widths` and parameters `w` (each layer row-major [out, in], layers in order).
 */
export function linearNetworkSingularValues(widths: readonly number[], w: ArrayLike<number>): number[] {
  const h0 = widths[0]!;
  // P starts as the identity on the input and is multiplied by each layer in turn.
  let P = new Float64Array(h0 * h0);
  for (let i = 0; i < h0; i++) P[i * h0 + i] = 1;
  let rows = h0;
  let off = 0;
  for (let l = 1; l < widths.length; l++) {
    const out = widths[l]!;
    const next = new Float64Array(out * h0);
    for (let i = 0; i < out; i++) {
      for (let k = 0; k < rows; k++) {
        const wik = w[off + i * rows + k]!;
        if (wik === 0) continue;
        for (let j = 0; j < h0; j++) next[i * h0 + j]! += wik * P[k * h0 + j]!;
      }
    }
    off += out * rows;
    P = next;
    rows = out;
  }
  if (off !== w.length) throw new Error(`linearNetworkSingularValues: ${w.length} parameters for widths ${widths.join('-')} (expected ${off})`);
  return singularValues(P, rows, h0);
}
