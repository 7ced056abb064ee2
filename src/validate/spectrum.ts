/**
 * The singular values of a deep linear network's end-to-end map, for the dln-wide family's
 * resolvability check. The matrices here are at most 20 x 20, so a cyclic Jacobi sweep on
 * P^T P is exact enough (to ~1e-12 relative) and needs no library.
 */

/** Eigenvalues of the symmetric n x n matrix `a` (row-major; not modified), descending. */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): number[] {
  const m = Float64Array.from(a);
  if (m.length !== n * n) throw new Error(`symmetricEigenvalues: expected ${n * n} entries, got ${m.length}`);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! ** 2;
    let diag = 0;
    for (let p = 0; p < n; p++) diag += m[p * n + p]! ** 2;
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // Rotate rows and columns p, q of the symmetric matrix.
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!;
          const akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!;
          const aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => m[i * n + i]!).sort((x, y) => y - x);
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
  const gram = new Float64Array(h0 * h0);
  for (let i = 0; i < h0; i++) {
    for (let j = i; j < h0; j++) {
      let s = 0;
      for (let k = 0; k < rows; k++) s += P[k * h0 + i]! * P[k * h0 + j]!;
      gram[i * h0 + j] = s;
      gram[j * h0 + i] = s;
    }
  }
  return symmetricEigenvalues(gram, h0).map((e) => Math.sqrt(Math.max(0, e)));
}
