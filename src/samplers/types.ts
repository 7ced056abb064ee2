/**
 * The kernel contract, after BlackJAX: each algorithm is a small module with a State, an Info
 * and pure-ish `init`/`step` functions over a Posterior (a step may reuse the state's buffers
 * for speed, but never touches files, clocks, threads or the store), written in ./kernels.
 * Adaptation lives apart (./adaptation), and the runner (./runner) drives the steps and records
 * the traces.
 */
import type { Key } from '../rng/index.js';

export type { Posterior } from '../posterior/types.js';

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
