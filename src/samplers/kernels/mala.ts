/**
 * The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996; devinterp ships one):
 * SGLD's proposal with full-data gradients, corrected by a Metropolis-Hastings step, so the
 * chain samples the posterior exactly (no step-size bias; the step only sets how fast it mixes).
 * With step eps and a diagonal preconditioner D (the inverse mass matrix M^{-1}):
 *
 *   w' = w - (eps/2) D grad U(w) + sqrt(eps) D^(1/2) xi,   xi ~ N(0, I)
 *   q(w' | w) = N(w'; w - (eps/2) D grad U(w), eps D)
 *   accept with probability min(1, exp(U(w) - U(w') + log q(w | w') - log q(w' | w)))
 *
 * and the `mala` sampler: this kernel with Stan's window adaptation (the same as HMC's: a step
 * size by dual averaging towards acceptance 0.574, the rate that is optimal for MALA in high
 * dimension (Roberts & Rosenthal 1998), and D = the posterior variances from the slow windows).
 * One gradient per step: the gradient at the current position is cached in the state.
 *
 * Caveat (measured, and known: Roberts & Tweedie 1996): MALA is not geometrically ergodic when
 * the potential grows faster than quadratically. On L = w^4 (n beta = 50, gamma = 0; 4 chains x
 * 3000 or 20000 draws, seeds 100-129) the error of n beta E[L] in units of its MCSE had mean -1.2
 * (-1.9) and sd 1.8 (HMC on the same case: 0.3 and 1.0): a typical run under-samples the tails
 * and the MCSE understates the error. Singular directions of an LLC posterior grow like that, so
 * prefer HMC there; on near-Gaussian posteriors MALA is exact (see mala.test.ts).
 */
import { z } from 'zod';
import { foldIn, normalInto, uniform01, type Key } from '../../rng/index.js';
import type { Kernel, Posterior, SamplerState } from '../types.js';
import { defineSampler } from '../sampler.js';
import { metricStats } from './hmc.js';
import { windowAdaptation, type MetricParams, type MetropolisFamily, type MetropolisInfo } from '../adaptation/window-adaptation.js';

/** -log of the acceptance ratio above which a proposal counts as divergent (as for HMC). */
const DIVERGENCE_THRESHOLD = 1000;
const NOISE_STREAM = 0;
const ACCEPT_STREAM = 1;

export interface MalaState extends SamplerState {
  position: Float64Array;
  /** U and grad U at the position (cached: a step costs one gradient). */
  potential: number;
  grad: Float64Array;
  /** Proposal buffers; swapped with position/grad on acceptance. */
  proposal: Float64Array;
  proposalGrad: Float64Array;
  noise: Float64Array;
  bits: Uint32Array;
}

export interface MalaInfo extends MetropolisInfo {
  acceptance: number;
  diverging: boolean;
  accepted: boolean;
  /** One full-data gradient per step. */
  fge: number;
}

export function initMalaState(posterior: Posterior, position: Float64Array): MalaState {
  const d = posterior.dim;
  if (position.length !== d) throw new Error(`MALA: position has length ${position.length}, posterior dim is ${d}`);
  const pos = Float64Array.from(position);
  const grad = new Float64Array(d);
  const potential = posterior.potentialAndGrad(pos, grad);
  if (!Number.isFinite(potential)) throw new Error('MALA: the potential is not finite at the initial position');
  return {
    position: pos,
    potential,
    grad,
    proposal: new Float64Array(d),
    proposalGrad: new Float64Array(d),
    noise: new Float64Array(d),
    bits: new Uint32Array(2),
  };
}

/**
 * Writes the proposal into state.proposal/proposalGrad and returns log of its acceptance ratio
 * (NaN when the proposal's potential is not finite) and U at the proposal.
 */
function propose(posterior: Posterior, state: MalaState, eps: number, invMass: Float64Array, k: Key): { logRatio: number; potential: number } {
  const w = state.position;
  const g = state.grad;
  const x = state.proposal;
  const gx = state.proposalGrad;
  const xi = state.noise;
  normalInto(k, xi, state.bits);
  const d = w.length;
  for (let i = 0; i < d; i++) x[i] = w[i]! - 0.5 * eps * invMass[i]! * g[i]! + Math.sqrt(eps * invMass[i]!) * xi[i]!;
  const u1 = posterior.potentialAndGrad(x, gx);
  if (!Number.isFinite(u1)) return { logRatio: Number.NaN, potential: u1 };
  // log q(w' | w) = -|xi|^2 / 2; log q(w | w') from the reverse drift at w' (constants cancel).
  let fwd = 0;
  let rev = 0;
  for (let i = 0; i < d; i++) {
    fwd += xi[i]! * xi[i]!;
    const r = w[i]! - x[i]! + 0.5 * eps * invMass[i]! * gx[i]!;
    rev += (r * r) / (eps * invMass[i]!);
  }
  return { logRatio: state.potential - u1 + 0.5 * (fwd - rev), potential: u1 };
}

/** One MALA transition in place (buffers swapped on acceptance). */
export function malaTransition(posterior: Posterior, state: MalaState, params: MetricParams, k: Key): MalaInfo {
  const { logRatio, potential } = propose(posterior, state, params.stepSize, params.inverseMassMatrix, foldIn(k, NOISE_STREAM));
  // NaN compares false with everything, so test finiteness explicitly: a NaN ratio diverges.
  const diverging = !Number.isFinite(logRatio) || -logRatio > DIVERGENCE_THRESHOLD;
  const acceptance = diverging ? 0 : Math.min(1, Math.exp(logRatio));
  const accepted = !diverging && uniform01(foldIn(k, ACCEPT_STREAM), state.bits) < acceptance;
  if (accepted) {
    const x = state.position;
    const g = state.grad;
    state.position = state.proposal;
    state.grad = state.proposalGrad;
    state.proposal = x;
    state.proposalGrad = g;
    state.potential = potential;
  }
  return { fge: 1, acceptance, diverging, accepted };
}

/** The MALA kernel of one chain; `params` is read at every step. */
export function malaKernel(posterior: Posterior, params: MetricParams): Kernel<MalaState, MalaInfo> {
  if (params.inverseMassMatrix.length !== posterior.dim) {
    throw new Error('MALA: inverse mass matrix length differs from the posterior dimension');
  }
  return {
    init: (position) => initMalaState(posterior, position),
    step: (state, k) => ({ state, info: malaTransition(posterior, state, params, k) }),
  };
}

/** MALA as window adaptation sees it. */
export function malaFamily(posterior: Posterior): MetropolisFamily<MalaState> {
  return {
    init: (position) => initMalaState(posterior, position),
    initFge: 1,
    transition: (state, params, k) => malaTransition(posterior, state, params, k),
    probe(state, stepSize, invMass, k) {
      // A proposal evaluated and discarded: the state keeps its position and cached gradient.
      const { logRatio } = propose(posterior, state, stepSize, invMass, foldIn(k, NOISE_STREAM));
      return Number.isFinite(logRatio) ? Math.min(1, Math.exp(logRatio)) : 0;
    },
  };
}

export const malaConfigSchema = z
  .object({
    draws: z.number().int().min(1).default(2000),
    warmup: z.number().int().min(0).default(500),
    /** Initial step size eps (window adaptation finds a reasonable one from it). */
    step_size: z.number().positive().default(1e-3),
    target_accept: z.number().gt(0).lt(1).default(0.574),
    adapt_step_size: z.boolean().default(true),
    adapt_mass_matrix: z.boolean().default(true),
  })
  .strict();
export type MalaConfig = z.infer<typeof malaConfigSchema>;

export const sampler = defineSampler<MalaConfig>({
  name: 'mala',
  summary: 'Metropolis-adjusted Langevin (full-batch) with per-chain window adaptation towards acceptance 0.574',
  schema: malaConfigSchema,
  // Below 0.4 most proposals are wasted: the step size is off.
  traits: { family: 'exact', bias: 'none', shares: [], thresholds: { minAcceptance: 0.4 } },
  schedule: (cfg) => ({ steps: cfg.draws, burnIn: 0, evalEvery: 1 }),
  prepare(ctx) {
    const { cfg, posterior } = ctx;
    const adapted = windowAdaptation(malaFamily(posterior), {
      numSteps: cfg.warmup,
      initialStepSize: cfg.step_size,
      targetAccept: cfg.target_accept,
      adaptStepSize: cfg.adapt_step_size,
      adaptMassMatrix: cfg.adapt_mass_matrix,
    })(ctx);
    const imm = metricStats(adapted.params.inverseMassMatrix);
    return {
      kernel: malaKernel(posterior, adapted.params),
      state: adapted.state,
      tuned: {
        step_size: adapted.params.stepSize,
        inverse_mass_matrix_mean: imm.mean,
        inverse_mass_matrix_min: imm.min,
        inverse_mass_matrix_max: imm.max,
        ...adapted.report,
      },
      fge: adapted.fge,
    };
  },
  columns: ['acceptance', 'diverging'],
});
