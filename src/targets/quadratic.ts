// The quadratic target: L(w) = 0.5 |w - w*|^2, independent of data. Under the localized
// tempered posterior it is a Gaussian with precision gamma + n beta, so its LLC is known
// exactly (d/2 as n beta >> gamma): the reference samplers are tested against.
import { keyAt, normalInto, Stream } from '../rng/index.js';
import type { LossFunction } from '../engine/types.js';

export class QuadraticLoss implements LossFunction {
  readonly dim: number;
  constructor(
    readonly wStar: Float64Array,
    /** Rows of the (absent) data set: only used as n in n*beta. */
    readonly n: number,
  ) {
    this.dim = wStar.length;
  }

  loss(theta: Float64Array, _rows?: Int32Array): number {
    if (theta.length !== this.dim) throw new Error(`theta has length ${theta.length}, expected ${this.dim}`);
    let s = 0;
    for (let i = 0; i < this.dim; i++) {
      const d = theta[i]! - this.wStar[i]!;
      s += d * d;
    }
    return 0.5 * s;
  }

  lossAndGrad(theta: Float64Array, grad: Float64Array, _rows?: Int32Array): number {
    if (theta.length !== this.dim || grad.length !== this.dim) {
      throw new Error(`theta/grad have lengths ${theta.length}/${grad.length}, expected ${this.dim}`);
    }
    let s = 0;
    for (let i = 0; i < this.dim; i++) {
      const d = theta[i]! - this.wStar[i]!;
      grad[i] = d;
      s += d * d;
    }
    return 0.5 * s;
  }
}

/** w* ~ N(0, I_d) from the target's seed. */
export function quadraticWStar(dim: number, seed: number): Float64Array {
  return normalInto(keyAt(seed, Stream.init), new Float64Array(dim));
}
