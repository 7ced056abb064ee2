/**
 * The adaptation contract: an adaptation tunes one chain's kernel before it samples (SGLD's
 * step calibration, Stan's window adaptation for Metropolis-adjusted kernels, MCLMC's L and
 * step-size tuning). Every adaptation takes the same context and returns the same shape: the
 * kernel parameters it found, the state sampling continues from, the work it cost and a JSON
 * report recorded with the chain's tuned values. Adaptations are as pure as kernels: no store,
 * no clock, no threads; a kernel file wires its kernel to one of them.
 */
import type { Key } from '../../rng/index.js';
import type { JsonObject } from '../../contracts/index.js';
import type { Posterior } from '../../posterior/types.js';
import type { SamplerState } from '../types.js';

export interface AdaptationContext {
  readonly posterior: Posterior;
  /** The chain's initial position (the adaptation may keep and move it). */
  readonly init: Float64Array;
  /** The chain's tuning key; its randomness is derived from it alone. */
  readonly key: Key;
}

export interface Adapted<P, S extends SamplerState, R = JsonObject> {
  /** The tuned kernel parameters. */
  readonly params: P;
  /** The chain's state after adaptation: sampling continues from here. */
  readonly state: S;
  /** Work of the adaptation in full-gradient equivalents. */
  readonly fge: number;
  /** What the adaptation found and how, recorded with the chain's tuned values (as JSON). */
  readonly report: R;
}

/** An adaptation of kernel parameters P with chain states S, configured for one sampler. */
export type Adaptation<P, S extends SamplerState, R = JsonObject> = (ctx: AdaptationContext) => Adapted<P, S, R>;
