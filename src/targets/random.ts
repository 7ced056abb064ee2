// Random draws the rng module does not provide: gamma (for Student-t) and orthonormal bases.
// Rejection sampling consumes a variable number of draws, so each element gets its own key
// (foldIn(key, i)) and its attempts are counters under that key: element i's value never
// depends on how many attempts element i-1 needed, and any element can be recomputed alone.
import { foldIn, normalInto, threefry2x32Into, type Key } from '../rng/index.js';

const TWO_POW_M32 = 2 ** -32;

/** Gamma(shape, 1) draws (Marsaglia & Tsang 2000; shape < 1 by the u^(1/shape) boost). */
export function gammaInto(k: Key, shape: number, out: Float64Array): Float64Array {
  if (!(shape > 0 && Number.isFinite(shape))) throw new Error(`gamma shape must be positive, got ${shape}`);
  const boost = shape < 1;
  const a = boost ? shape + 1 : shape;
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  const block = new Uint32Array(2);
  for (let i = 0; i < out.length; i++) {
    const ki = foldIn(k, i);
    let ctr = 0;
    const unif = (): number => {
      threefry2x32Into(ki[0], ki[1], 0, ctr++, block, 0);
      return (block[0]! + 0.5) * TWO_POW_M32;
    };
    let value = NaN;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      threefry2x32Into(ki[0], ki[1], 0, ctr++, block, 0);
      const u1 = (block[0]! + 0.5) * TWO_POW_M32;
      const u2 = block[1]! * TWO_POW_M32;
      const x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      const t = 1 + c * x;
      if (t <= 0) continue;
      const v = t * t * t;
      const u = unif();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
        value = d * v;
        break;
      }
    }
    if (!Number.isFinite(value)) throw new Error('gamma sampler did not accept within 10000 attempts');
    out[i] = boost ? value * Math.pow(unif(), 1 / shape) : value;
  }
  return out;
}

/**
 * Student-t scale factors sqrt(nu / chi2_nu) = 1 / sqrt(Gamma(nu/2) / (nu/2)): multiplying
 * a standard normal by one gives a t_nu draw.
 */
export function tScalesInto(k: Key, nu: number, out: Float64Array): Float64Array {
  gammaInto(k, nu / 2, out);
  for (let i = 0; i < out.length; i++) out[i] = 1 / Math.sqrt(out[i]! / (nu / 2));
  return out;
}

/**
 * A [rows, cols] matrix (cols <= rows) with orthonormal columns: Gram-Schmidt (applied
 * twice, for orthogonality to machine precision) on a Gaussian matrix. Row-major.
 */
export function orthonormalColumns(k: Key, rows: number, cols: number): Float64Array {
  if (cols > rows) throw new Error(`cannot have ${cols} orthonormal columns in dimension ${rows}`);
  const Q = normalInto(k, new Float64Array(rows * cols));
  for (let j = 0; j < cols; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += Q[i * cols + j]! * Q[i * cols + p]!;
        for (let i = 0; i < rows; i++) Q[i * cols + j] -= dot * Q[i * cols + p]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += Q[i * cols + j]! ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 1e-8)) throw new Error('orthonormalisation failed: degenerate random matrix');
    for (let i = 0; i < rows; i++) Q[i * cols + j] /= norm;
  }
  return Q;
}
