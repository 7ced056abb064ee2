/**
 * Sampler contract, after BlackJAX: each algorithm is a small module with a State, an Info
 * and pure-ish `init`/`step` functions (a step may reuse the state's buffers for speed, but
 * never touches files, clocks or the store). Adaptation and tuning live apart from kernels.
 */
import type { Key } from '../../rng/index.js';
import type { LossFunction } from '../../engine/types.js';

/**
 * The localized tempered posterior around w*:
 *   log p(w) = -(gamma/2) |w - w*|^2 - n beta L_n(w)
 * U(w) = -log p(w) is the potential. `rows` gives a minibatch estimate of L_n.
 */
export interface Posterior {
  readonly dim: number;
  readonly n: number;
  readonly beta: number;
  readonly gamma: number;
  /** n * beta. */
  readonly nBeta: number;
  readonly wStar: Float64Array;
  /** L_n(w*), the loss at the centre. */
  readonly L0: number;
  readonly loss: LossFunction;
  /** U(w) and dU/dw into grad; with rows, the minibatch estimate of both. Returns U. */
  potentialAndGrad(w: Float64Array, grad: Float64Array, rows?: Int32Array): number;
  /** Full-data L_n(w). */
  lossAt(w: Float64Array): number;
  /** The LLC draw of a full-data loss value: n beta (L_n(w) - L0). */
  llcOf(Ln: number): number;
}

/** What every kernel reports per step; samplers add their own fields (acceptance, energy...). */
export interface StepInfo {
  /** Work of this step in full-gradient equivalents: a b-row minibatch gradient = b/n. */
  fge: number;
  /** True when the step diverged (non-finite energy/position, or an energy error above threshold). */
  diverging?: boolean;
  acceptance?: number;
  energy?: number;
  [extra: string]: number | boolean | undefined;
}

export interface SamplerState {
  position: Float64Array;
}

export interface Kernel<S extends SamplerState = SamplerState, I extends StepInfo = StepInfo> {
  init(position: Float64Array, key: Key): S;
  step(state: S, key: Key): { state: S; info: I };
}
