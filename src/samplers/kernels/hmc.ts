/**
 * Hamiltonian Monte Carlo with a diagonal mass matrix and a fixed number of leapfrog steps
 * (Neal 2011; BlackJAX `mcmc/hmc.py` is the style anchor), and the `hmc` sampler: this kernel
 * with Stan's window adaptation (../adaptation/window-adaptation.ts), run by every chain on its
 * own.
 *
 * Potential U(w) = -log p(w) (the posterior's `potentialAndGrad`), momentum p ~ N(0, M),
 * kinetic energy K(p) = 0.5 p^T M^{-1} p with M^{-1} = `inverseMassMatrix` (diagonal, so the
 * adapted M^{-1} is the estimated posterior variance). One transition: draw p, run
 * `numIntegrationSteps` leapfrog steps, accept with probability min(1, exp(H0 - H1)).
 *
 * The kernel reads its parameters from a mutable `HmcParams` object at every step, so window
 * adaptation can change the step size and mass matrix of *its own chain's* kernel between steps;
 * each chain owns one params object and keeps the adapted values for its sampling phase.
 */
import { z } from 'zod';
import { foldIn, normalInto, uniform01, type Key } from '../../rng/index.js';
import type { Kernel, Posterior, SamplerState, StepInfo } from '../types.js';
import { defineSampler } from '../sampler.js';
import { windowAdaptation, type MetropolisFamily } from '../adaptation/window-adaptation.js';

/** Energy error above which a trajectory counts as divergent (BlackJAX and Stan use 1000). */
export const DIVERGENCE_THRESHOLD = 1000;

export interface HmcParams {
  stepSize: number;
  /** Diagonal of M^{-1}, length dim. */
  inverseMassMatrix: Float64Array;
  numIntegrationSteps: number;
  /**
   * Each transition uses the step size stepSize (1 + j (2u - 1)), u ~ U(0, 1) (Neal 2011,
   * Sec. 5.4.5; Stan's stepsize_jitter). Why it matters here: after mass-matrix adaptation a
   * near-Gaussian posterior is isotropic, every direction has the same period, and a fixed
   * trajectory length eps L close to a multiple of that period (the defaults, L = 10 with an
   * adapted eps ~ 0.6, give ~2 pi) returns each trajectory near its start: chains then barely
   * move in radius and the LLC of a chain is off by ~10% with a batch-means MCSE that does not
   * show it. Jitter breaks the resonance and leaves the target invariant (the step size is
   * drawn independently of the state). 0 disables it.
   */
  stepSizeJitter?: number;
}

/**
 * Chain state. Besides the position it caches U and dU/dw at the position (so a transition
 * costs exactly `numIntegrationSteps` gradients) and owns the scratch buffers of a transition,
 * allocated once in `init`: steps never allocate arrays.
 */
export interface HmcState extends SamplerState {
  position: Float64Array;
  potential: number;
  grad: Float64Array;
  /** Proposal buffers; swapped with position/grad on acceptance. */
  proposal: Float64Array;
  proposalGrad: Float64Array;
  momentum: Float64Array;
  bits: Uint32Array;
}

export interface HmcInfo extends StepInfo {
  /** Metropolis acceptance probability min(1, exp(-energy error)), 0 for a divergent step. */
  acceptance: number;
  /** Hamiltonian H = U + K of the state the chain is in after the step (Stan's energy__). */
  energy: number;
  /** Energy error H(proposal) - H(start); large positive values mean the step is too big. */
  energy_error: number;
  diverging: boolean;
  accepted: boolean;
  num_integration_steps: number;
  /** Gradient evaluations of this step (each a full-data gradient: 1 FGE). */
  fge: number;
}

/** Stream ids folded into a step key, so momentum and the accept draw never share bits. */
const MOMENTUM_STREAM = 0;
const ACCEPT_STREAM = 1;
const JITTER_STREAM = 2;

export function initHmcState(posterior: Posterior, position: Float64Array): HmcState {
  const d = posterior.dim;
  if (position.length !== d) throw new Error(`HMC: position has length ${position.length}, posterior dim is ${d}`);
  const pos = Float64Array.from(position);
  const grad = new Float64Array(d);
  const potential = posterior.potentialAndGrad(pos, grad);
  if (!Number.isFinite(potential)) throw new Error('HMC: the potential is not finite at the initial position');
  return {
    position: pos,
    potential,
    grad,
    proposal: new Float64Array(d),
    proposalGrad: new Float64Array(d),
    momentum: new Float64Array(d),
    bits: new Uint32Array(2),
  };
}

/**
 * Draws p ~ N(0, M) into state.momentum (M = 1 / inverseMassMatrix) and returns K(p).
 */
function drawMomentum(state: HmcState, invMass: Float64Array, k: Key): number {
  const p = state.momentum;
  normalInto(k, p, state.bits);
  let kinetic = 0;
  for (let i = 0; i < p.length; i++) {
    // p_i = z_i sqrt(M_i) = z_i / sqrt(M^{-1}_i), so K = 0.5 sum z_i^2.
    const z = p[i]!;
    p[i] = z / Math.sqrt(invMass[i]!);
    kinetic += z * z;
  }
  return 0.5 * kinetic;
}

/**
 * Runs `steps` leapfrog steps from (position, grad) with momentum state.momentum, writing the
 * end point into state.proposal/proposalGrad. Returns U at the end point (non-finite if the
 * trajectory blew up; it then stops early, since continuing only wastes gradients).
 * Kick-drift-kick with the half kicks of consecutive steps fused.
 */
function leapfrog(
  posterior: Posterior,
  state: HmcState,
  stepSize: number,
  invMass: Float64Array,
  steps: number,
): { potential: number; gradients: number } {
  const d = state.position.length;
  const x = state.proposal;
  const g = state.proposalGrad;
  const p = state.momentum;
  x.set(state.position);
  g.set(state.grad);
  const half = 0.5 * stepSize;
  let potential = state.potential;
  for (let i = 0; i < d; i++) p[i] = p[i]! - half * g[i]!;
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < d; i++) x[i] = x[i]! + stepSize * invMass[i]! * p[i]!;
    potential = posterior.potentialAndGrad(x, g);
    if (!Number.isFinite(potential)) return { potential: Number.NaN, gradients: s + 1 };
    const kick = s === steps - 1 ? half : stepSize;
    for (let i = 0; i < d; i++) p[i] = p[i]! - kick * g[i]!;
  }
  return { potential, gradients: steps };
}

function kineticEnergy(p: Float64Array, invMass: Float64Array): number {
  let k = 0;
  for (let i = 0; i < p.length; i++) k += invMass[i]! * p[i]! * p[i]!;
  return 0.5 * k;
}

/**
 * One HMC transition in place: the state is updated (buffers swapped on acceptance) and
 * returned with its info.
 */
export function hmcTransition(
  posterior: Posterior,
  state: HmcState,
  params: HmcParams,
  k: Key,
): HmcInfo {
  const { inverseMassMatrix: invMass, numIntegrationSteps: steps } = params;
  const jitter = params.stepSizeJitter ?? 0;
  const stepSize = jitter > 0
    ? params.stepSize * (1 + jitter * (2 * uniform01(foldIn(k, JITTER_STREAM), state.bits) - 1))
    : params.stepSize;
  const k0 = drawMomentum(state, invMass, foldIn(k, MOMENTUM_STREAM));
  const h0 = state.potential + k0;
  const { potential: u1, gradients } = leapfrog(posterior, state, stepSize, invMass, steps);
  const h1 = u1 + kineticEnergy(state.momentum, invMass);
  const energyError = h1 - h0;
  // NaN compares false with everything, so test finiteness explicitly: a NaN energy diverges.
  const diverging = !Number.isFinite(energyError) || energyError > DIVERGENCE_THRESHOLD;
  const acceptance = diverging ? 0 : Math.min(1, Math.exp(-energyError));
  const u = uniform01(foldIn(k, ACCEPT_STREAM), state.bits);
  const accepted = !diverging && u < acceptance;
  if (accepted) {
    const x = state.position;
    const g = state.grad;
    state.position = state.proposal;
    state.grad = state.proposalGrad;
    state.proposal = x;
    state.proposalGrad = g;
    state.potential = u1;
  }
  return {
    fge: gradients,
    acceptance,
    energy: accepted ? h1 : h0,
    energy_error: Number.isFinite(energyError) ? energyError : Number.POSITIVE_INFINITY,
    diverging,
    accepted,
    num_integration_steps: steps,
  };
}

/** The HMC kernel of one chain; `params` is read at every step (see the module comment). */
export function hmcKernel(posterior: Posterior, params: HmcParams): Kernel<HmcState, HmcInfo> {
  if (params.inverseMassMatrix.length !== posterior.dim) {
    throw new Error('HMC: inverse mass matrix length differs from the posterior dimension');
  }
  return {
    init: (position) => initHmcState(posterior, position),
    step: (state, k) => ({ state, info: hmcTransition(posterior, state, params, k) }),
  };
}

/**
 * A single leapfrog step from the state with fresh momentum, for step-size initialisation:
 * returns the Metropolis acceptance probability of that one-step proposal (Stan's
 * `init_stepsize` criterion). Does not move the state.
 */
export function oneStepAcceptance(
  posterior: Posterior,
  state: HmcState,
  stepSize: number,
  invMass: Float64Array,
  k: Key,
): number {
  const k0 = drawMomentum(state, invMass, k);
  const { potential: u1 } = leapfrog(posterior, state, stepSize, invMass, 1);
  const dh = u1 + kineticEnergy(state.momentum, invMass) - (state.potential + k0);
  return Number.isFinite(dh) ? Math.min(1, Math.exp(-dh)) : 0;
}

/** HMC as window adaptation sees it: a fixed trajectory length, a step size and a metric to tune. */
export function hmcFamily(
  posterior: Posterior,
  fixed: { numIntegrationSteps: number; stepSizeJitter: number },
): MetropolisFamily<HmcState> {
  // One params object for the family, refreshed from the adaptation's values at each call.
  const params: HmcParams = { stepSize: 0, inverseMassMatrix: new Float64Array(0), ...fixed };
  return {
    init: (position) => initHmcState(posterior, position),
    initFge: 1,
    transition(state, p, k) {
      params.stepSize = p.stepSize;
      params.inverseMassMatrix = p.inverseMassMatrix;
      return hmcTransition(posterior, state, params, k);
    },
    probe: (state, stepSize, invMass, k) => oneStepAcceptance(posterior, state, stepSize, invMass, k),
  };
}

// ---------------------------------------------------------------------------------------------
// The sampler
//
// Config (the Python system's keys): draws 1000, warmup 200, num_integration_steps 10,
// step_size 0.1 (the initial step size), target_accept 0.8, adapt_step_size true,
// adapt_mass_matrix true, and step_size_jitter 0.2 (not in the Python system: see
// HmcParams.stepSizeJitter for the resonance it prevents). With adapt_step_size false the step
// size stays step_size. Warmup transitions are tuning (their work is counted as tuning FGE),
// draws are recorded.

const JITTER_DEFAULT = 0.2;

export const hmcConfigSchema = z
  .object({
    draws: z.number().int().min(1).default(1000),
    warmup: z.number().int().min(0).default(200),
    num_integration_steps: z.number().int().min(1).default(10),
    step_size: z.number().positive().default(0.1),
    target_accept: z.number().gt(0).lt(1).default(0.8),
    adapt_step_size: z.boolean().default(true),
    adapt_mass_matrix: z.boolean().default(true),
    /** Uniform step-size jitter fraction per transition; see HmcParams.stepSizeJitter. */
    step_size_jitter: z.number().min(0).lt(1).default(JITTER_DEFAULT),
  })
  .strict();
export type HmcConfig = z.infer<typeof hmcConfigSchema>;

/** Mean, min and max of the adapted M^{-1} (what the manifest records of it). */
export function metricStats(x: Float64Array): { mean: number; min: number; max: number } {
  let s = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean: s / x.length, min, max };
}

export const sampler = defineSampler<HmcConfig>({
  name: 'hmc',
  summary: 'HMC (leapfrog, diagonal mass matrix) with per-chain Stan window adaptation',
  schema: hmcConfigSchema,
  traits: {
    family: 'exact',
    bias: 'none',
    shares: [],
    // Dual averaging targets 0.8 (0.65 in some setups): below 0.6 the step size is off.
    thresholds: { minAcceptance: 0.6 },
  },
  schedule: (cfg) => ({ steps: cfg.draws, burnIn: 0, evalEvery: 1 }),
  prepare(ctx) {
    const { cfg, posterior } = ctx;
    const fixed = { numIntegrationSteps: cfg.num_integration_steps, stepSizeJitter: cfg.step_size_jitter };
    const adapted = windowAdaptation(hmcFamily(posterior, fixed), {
      numSteps: cfg.warmup,
      initialStepSize: cfg.step_size,
      targetAccept: cfg.target_accept,
      adaptStepSize: cfg.adapt_step_size,
      adaptMassMatrix: cfg.adapt_mass_matrix,
    })(ctx);
    const imm = metricStats(adapted.params.inverseMassMatrix);
    return {
      kernel: hmcKernel(posterior, { ...adapted.params, ...fixed }),
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
  columns: ['acceptance', 'energy', 'diverging', 'num_integration_steps'],
  // Each iteration, warmup or draw: its leapfrog gradients and one L_n. A budget keeps at least
  // 100 warmup iterations: on the 9921-parameter base target, 50 left the step size unsettled
  // (14% divergent draws, R-hat 1.17) where 100 at the same total work gave 1.8% and 1.13.
  lengths: {
    keys: [{ key: 'warmup', min: 100 }, { key: 'draws', min: 100 }],
    plannedFge: (cfg) => (cfg.warmup + cfg.draws) * (cfg.num_integration_steps + 1),
  },
});
