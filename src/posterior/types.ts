/**
 * What a sampling kernel sees of a posterior: the localized tempered posterior around w*,
 *   log p(w) = -(gamma/2) |w - w*|^2 - n beta L_n(w),   U(w) = -log p(w) the potential,
 * as functions of the SAMPLED coordinates w (length `dim`). Kernels and adaptation use only
 * these members, so a posterior over a sub-vector of a network's parameters (the others held
 * at w*) is another implementation of this interface, with no change to any kernel.
 */
export interface Posterior {
  /** Number of sampled coordinates. */
  readonly dim: number;
  /** Rows of data (the n of n beta). */
  readonly n: number;
  readonly beta: number;
  readonly gamma: number;
  /** n * beta. */
  readonly nBeta: number;
  /** The centre w* (length dim). */
  readonly wStar: Float64Array;
  /** L_n(w*), the loss at the centre. */
  readonly L0: number;
  /** L_n(w) and dL_n/dw into grad; with rows, the minibatch estimate of both. Returns L. */
  lossAndGrad(w: Float64Array, grad: Float64Array, rows?: Int32Array): number;
  /** U(w) and dU/dw into grad; with rows, the minibatch estimate of both. Returns U. */
  potentialAndGrad(w: Float64Array, grad: Float64Array, rows?: Int32Array): number;
  /** Full-data L_n(w). */
  lossAt(w: Float64Array): number;
  /** The LLC draw of a full-data loss value: n beta (L_n(w) - L0). */
  llcOf(Ln: number): number;
}
