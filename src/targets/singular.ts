/**
 * Analytic singular targets whose learning coefficient is known, as losses over data rows (so
 * that minibatch gradients are noisy, as on a network). Both are realisable at w* = 0 with
 * noise-free labels y = 0, x ~ N(0, 1) per row and coordinate:
 *
 * - normal crossing: f(x, w) = x prod_i w_i^{k_i}; a row's loss is 1/2 (x_r prod_i w_i^{k_i})^2,
 *   so L_n(w) = s/2 prod_i w_i^{2 k_i} (s = mean x_r^2) and lambda = 1 / (2 max_i k_i), with
 *   multiplicity the number of i attaining the max.
 * - separable monomials: a row's loss is 1/2 sum_i x_{ri}^2 w_i^{p_i} (p_i even), so
 *   L_n(w) = 1/2 sum_i s_i w_i^{p_i} (s_i = mean_r x_{ri}^2) and lambda = sum_i 1/p_i.
 * A positive scale s does not change lambda.
 */
import { keyAt, normalInto, Stream } from '../rng/index.js';
import type { LossFunction } from '../engine/types.js';

/** Mean of sq over `rows` (all rows when undefined). */
function meanOver(sq: Float64Array, rows: Int32Array | undefined, stride = 1, offset = 0): number {
  if (!rows) {
    let s = 0;
    const n = sq.length / stride;
    for (let r = 0; r < n; r++) s += sq[r * stride + offset]!;
    return s / n;
  }
  let s = 0;
  for (let j = 0; j < rows.length; j++) s += sq[rows[j]! * stride + offset]!;
  return s / rows.length;
}

export class NormalCrossingLoss implements LossFunction {
  readonly dim: number;
  readonly n: number;
  private readonly x2: Float64Array;
  constructor(readonly exponents: readonly number[], x: Float64Array) {
    if (exponents.length === 0 || exponents.some((k) => !Number.isInteger(k) || k < 1)) {
      throw new RangeError(`normal crossing exponents must be positive integers, got [${exponents.join(', ')}]`);
    }
    this.dim = exponents.length;
    this.n = x.length;
    this.x2 = x.map((v) => v * v);
  }
  loss(theta: Float64Array, rows?: Int32Array): number {
    let p = 1;
    for (let i = 0; i < this.dim; i++) p *= theta[i]! ** this.exponents[i]!;
    return 0.5 * meanOver(this.x2, rows) * p * p;
  }
  lossAndGrad(theta: Float64Array, grad: Float64Array, rows?: Int32Array): number {
    const s = meanOver(this.x2, rows);
    let p = 1;
    for (let i = 0; i < this.dim; i++) p *= theta[i]! ** this.exponents[i]!;
    for (let j = 0; j < this.dim; j++) {
      // dP/dw_j = k_j w_j^(k_j - 1) prod_{i != j} w_i^k_i (no division: w_j may be 0).
      let dp = this.exponents[j]! * theta[j]! ** (this.exponents[j]! - 1);
      for (let i = 0; i < this.dim; i++) if (i !== j) dp *= theta[i]! ** this.exponents[i]!;
      grad[j] = s * p * dp;
    }
    return 0.5 * s * p * p;
  }
}

export class MonomialLoss implements LossFunction {
  readonly dim: number;
  readonly n: number;
  private readonly x2: Float64Array;
  /** x is [n, dim] row-major. */
  constructor(readonly powers: readonly number[], x: Float64Array) {
    if (powers.length === 0 || powers.some((p) => !Number.isInteger(p) || p < 2 || p % 2 !== 0)) {
      throw new RangeError(`monomial powers must be even integers >= 2, got [${powers.join(', ')}]`);
    }
    this.dim = powers.length;
    if (x.length % this.dim !== 0) throw new RangeError(`monomial data has ${x.length} values, not a multiple of dim ${this.dim}`);
    this.n = x.length / this.dim;
    this.x2 = x.map((v) => v * v);
  }
  loss(theta: Float64Array, rows?: Int32Array): number {
    let s = 0;
    for (let i = 0; i < this.dim; i++) s += meanOver(this.x2, rows, this.dim, i) * theta[i]! ** this.powers[i]!;
    return 0.5 * s;
  }
  lossAndGrad(theta: Float64Array, grad: Float64Array, rows?: Int32Array): number {
    let s = 0;
    for (let i = 0; i < this.dim; i++) {
      const si = meanOver(this.x2, rows, this.dim, i);
      const p = this.powers[i]!;
      s += si * theta[i]! ** p;
      grad[i] = 0.5 * si * p * theta[i]! ** (p - 1);
    }
    return 0.5 * s;
  }
}

/** The data of an analytic target: x ~ N(0, 1), `perRow` values per row, from (seed, data). */
export function analyticData(n: number, perRow: number, seed: number): Float64Array {
  return normalInto(keyAt(seed, Stream.data), new Float64Array(n * perRow));
}

/** Per-coordinate mean squares s_i of the data (what scales each monomial / the crossing). */
export function meanSquares(x: Float64Array, perRow: number): Float64Array {
  const s = new Float64Array(perRow);
  const n = x.length / perRow;
  for (let r = 0; r < n; r++) for (let i = 0; i < perRow; i++) s[i]! += x[r * perRow + i]! ** 2;
  return s.map((v) => v / n);
}
