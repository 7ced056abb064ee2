// The dln-wide family decides each teacher's scale from its end-to-end singular values, so they
// must be right: checked against matrices whose spectrum is known by construction.
import { describe, expect, it } from 'vitest';
import { keyAt, normalInto } from '../rng/index.js';
import { linearNetworkProduct, linearNetworkSingularValues, singularValues, weakestLayerGain } from './spectrum.js';

/** A random orthogonal n x n matrix (Gram-Schmidt on Gaussian columns), row-major. */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const g = normalInto(keyAt(seed, 7), new Float64Array(n * n));
  const q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) q[i * n + j] = g[i * n + j]!;
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[i * n + j]! * q[i * n + k]!;
      for (let i = 0; i < n; i++) q[i * n + j]! -= dot * q[i * n + k]!;
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * n + j]! ** 2;
    for (let i = 0; i < n; i++) q[i * n + j]! /= Math.sqrt(norm);
  }
  return q;
}

describe('spectrum', () => {
  it('singularValues recovers |e| from Q diag(e) Q^T, including repeated, zero and negative values', () => {
    const n = 12;
    const e = [5, 3, 3, 1, 0.5, 1e-4, 0, 0, -0.25, -2, 7e-3, 2];
    const q = randomOrthogonal(n, 1);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j]! += q[i * n + k]! * e[k]! * q[j * n + k]!;
    const got = singularValues(a, n, n);
    const want = e.map(Math.abs).sort((x, y) => y - x);
    for (let i = 0; i < n; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-12 * 5);
  });

  it('linearNetworkSingularValues: the product of layers U_l diag(s_l) U_{l-1}^T has singular values prod s_l', () => {
    // Three square layers sharing bases: W_l = U_l diag(s_l) U_{l-1}^T.
    const n = 6;
    const U = [0, 1, 2, 3].map((l) => randomOrthogonal(n, 10 + l));
    const s = [
      [2, 1.5, 1, 0.5, 0.2, 0],
      [1, 1, 2, 3, 0.5, 4],
      [0.1, 2, 1, 1, 1, 1],
    ];
    const w: number[] = [];
    for (let l = 0; l < 3; l++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let v = 0;
          for (let k = 0; k < n; k++) v += U[l + 1]![i * n + k]! * s[l]![k]! * U[l]![j * n + k]!;
          w.push(v);
        }
      }
    }
    const got = linearNetworkSingularValues([n, n, n, n], w);
    const want = s[0]!.map((_, k) => s[0]![k]! * s[1]![k]! * s[2]![k]!).sort((x, y) => y - x);
    for (let i = 0; i < n; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-9);
  });

  it('a rectangular network of rank r has exactly r nonzero singular values', () => {
    // 5 -> 2 -> 7: rank at most 2.
    const w = Array.from(normalInto(keyAt(3, 1), new Float64Array(5 * 2 + 2 * 7)));
    const sv = linearNetworkSingularValues([5, 2, 7], w);
    expect(sv).toHaveLength(5);
    expect(sv[1]!).toBeGreaterThan(1e-3);
    for (const x of sv.slice(2)) expect(x).toBeLessThan(1e-6);
    expect(() => linearNetworkSingularValues([5, 2, 7], w.slice(1))).toThrow(/expected 24/);
  });

  it('linearNetworkProduct multiplies a range of layers; an empty range is the identity', () => {
    const widths = [3, 4, 2, 5];
    const w = Array.from(normalInto(keyAt(4, 1), new Float64Array(3 * 4 + 4 * 2 + 2 * 5)));
    const W2 = w.slice(12, 20); // [2, 4]
    const W3 = w.slice(20); // [5, 2]
    const p = linearNetworkProduct(widths, w, 2, 3);
    expect([p.rows, p.cols]).toEqual([5, 4]);
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 4; j++) {
        let v = 0;
        for (let k = 0; k < 2; k++) v += W3[i * 2 + k]! * W2[k * 4 + j]!;
        expect(p.matrix[i * 4 + j]!).toBeCloseTo(v, 12);
      }
    }
    const id = linearNetworkProduct(widths, w, 3, 2);
    expect([id.rows, id.cols]).toEqual([2, 2]);
    expect(Array.from(id.matrix)).toEqual([1, 0, 0, 1]);
  });

  it('weakestLayerGain is the smallest nonzero gain of dW_k -> S_k dW_k P_k over layers, found by brute force', () => {
    // Layers W_l = U_l diag(s_l) U_{l-1}^T of rank 2, so every prefix and suffix has rank 2.
    // The map dW_k -> S_k dW_k P_k on vec(dW_k) is the Kronecker product of S_k and P_k^T:
    // its smallest nonzero singular value, read off the full matrix, is the brute force.
    const n = 4;
    const rank = 2;
    const U = [0, 1, 2, 3].map((l) => randomOrthogonal(n, 20 + l));
    const s = [
      [1.2, 0.3, 0, 0],
      [0.9, 2, 0, 0],
      [0.5, 1.1, 0, 0],
    ];
    const w: number[] = [];
    for (let l = 0; l < 3; l++)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let v = 0;
          for (let k = 0; k < n; k++) v += U[l + 1]![i * n + k]! * s[l]![k]! * U[l]![j * n + k]!;
          w.push(v);
        }
    const widths = [n, n, n, n];
    let brute = Number.POSITIVE_INFINITY;
    for (let k = 1; k <= 3; k++) {
      const S = linearNetworkProduct(widths, w, k + 1, 3);
      const P = linearNetworkProduct(widths, w, 1, k - 1);
      const size = n * n;
      const kron = new Float64Array(size * size);
      // vec(S dW P) at (a, b) = sum_{c, e} S[a, c] dW[c, e] P[e, b].
      for (let a = 0; a < n; a++)
        for (let b = 0; b < n; b++)
          for (let c = 0; c < n; c++) for (let e = 0; e < n; e++) kron[(a * n + b) * size + c * n + e] = S.matrix[a * n + c]! * P.matrix[e * n + b]!;
      const nonzero = singularValues(kron, size, size).filter((x) => x > 1e-9);
      brute = Math.min(brute, nonzero.at(-1)! ** 2);
    }
    expect(weakestLayerGain(widths, w, rank)).toBeCloseTo(brute, 10);
    // By hand: min over k of (min_a prod_{j > k} s_j[a] * min_b prod_{j < k} s_j[b])^2; here
    // layer 2, between 0.3 (layer 1) and 0.5 (layer 3).
    const byHand = Math.min(Math.min(0.9 * 0.5, 2 * 1.1) ** 2, (Math.min(0.5, 1.1) * Math.min(1.2, 0.3)) ** 2, Math.min(0.9 * 1.2, 2 * 0.3) ** 2);
    expect(weakestLayerGain(widths, w, rank)).toBeCloseTo(byHand, 10);
    expect(weakestLayerGain(widths, w, 0)).toBe(1);
  });
});
