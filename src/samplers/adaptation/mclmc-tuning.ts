/**
 * Automatic tuning of MCLMC's step size and momentum decoherence length L, after BlackJAX's
 * `mclmc_find_L_and_step_size` (Robnik et al. 2023, Sec. "Tuning"):
 *
 * Stage 1 (n1 steps): the step size is predicted from the energy error. For the McLachlan
 *   integrator Var[energy change] ∝ eps^6, so each step gives an estimate
 *   eps_opt = eps (xi)^(-1/6), xi = dE^2 / (d desired_energy_var); the estimates are averaged
 *   with exponential forgetting (decay (N - 1)/(N + 1), N = num_effective_samples) and weighted
 *   by w = exp(-0.5 (ln xi / (6 trust_in_estimate))^2), so steps far off target count less.
 *   A non-finite step is undone and caps the step size at 0.8 x its value.
 * Stage 2 (n2 steps): the same, while accumulating the step-size-weighted mean and variance of
 *   the position. Then L = sqrt(sum of variances); with diagonal preconditioning the standard
 *   deviations become the preconditioner, L = sqrt(d) (the same length in standardised units),
 *   and n2/3 more steps re-tune the step size for the new geometry.
 * Stage 3 (n3 steps, optional): L = 0.4 eps mean_i(n3 / ESS_i) from the autocorrelation of the
 *   draws (the ~distance travelled per effective sample).
 *
 * As in BlackJAX, stages 1 and 2 share one predictor (one scan) and the readjustment starts a
 * fresh one.
 *
 * Two deliberate additions:
 * - Before stage 1, the BlackJAX initial step (0.25 sqrt(d), L = sqrt(d), sized for unit-scale
 *   targets) is halved until a trial step (rolled back) has xi <= 1, and L is scaled by the same
 *   factor. LLC posteriors have widths ~ 1/sqrt(n beta), often 1e-2, where the BlackJAX start
 *   would throw the chain far from w* (or overflow the network) on its first step. This keeps
 *   BlackJAX's L / eps ratio, i.e. it is what BlackJAX does on the rescaled target.
 * - The step size may grow by at most 1.5x per update. BlackJAX's first update of a fresh
 *   predictor is the single-step estimate eps xi^(-1/6), which is unbounded: dE^2 is heavy-tailed,
 *   and a step with a near-zero energy error (xi ~ 1e-6, common on MLP posteriors) multiplies eps
 *   by 10. Measured on a 45-parameter tanh MLP (n beta = 21.7): the readjustment's second step ran
 *   at eps 10.9 instead of ~1.1, had dE^2/d = 1.9e3, threw U from 21 to 135, and made the
 *   reported mean dE^2/d of the stage 56 (target 5e-4). The cap changes only such transients, not
 *   the step size the predictor settles on. (A pseudo-observation "eps is on target" would also
 *   damp the jump, but the predictor averages xi / eps^6, so one observation at a too-small eps
 *   outweighs hundreds of correct ones: the readjustment, which must raise eps ~1/s-fold in the
 *   new units, then never reached its target.)
 */
import { foldIn, type Key } from '../../rng/index.js';
import { essOneChain } from '../../diagnostics/index.js';
import type { SamplerState, StepInfo } from '../types.js';
import type { Adaptation, AdaptationContext, Adapted } from './types.js';

/** What the tuning sets: MCLMC's momentum decoherence length, step size and preconditioner. */
export interface MclmcParams {
  L: number;
  stepSize: number;
  /** Diagonal preconditioner: approximate posterior standard deviations (ones = none). */
  sqrtDiagCov: Float64Array;
}

/** The parts of an MCLMC chain's state the tuning saves and restores around a trial step. */
export interface MclmcTunableState extends SamplerState {
  position: Float64Array;
  /** Unit velocity. */
  momentum: Float64Array;
  potential: number;
  grad: Float64Array;
}

/** A step's report as the tuning reads it. */
export interface MclmcStepInfo extends StepInfo {
  /** Kinetic energy change + potential change of the step. */
  energy_change: number;
  /** The step produced non-finite values and was rolled back. */
  diverging: boolean;
}

/** What the tuning needs of the MCLMC integrator. */
export interface MclmcDynamics<S extends MclmcTunableState> {
  /** The chain's state at a position, with a velocity drawn from `key`. */
  init(position: Float64Array, key: Key): S;
  /** Work of `init` in full-gradient equivalents. */
  readonly initFge: number;
  /** One step in place with the given parameters. */
  transition(state: S, params: MclmcParams, key: Key): MclmcStepInfo;
}

export interface MclmcTuningOptions {
  /** Steps of stage 1, 2 and 3 (0 skips a stage; stage 2 then leaves L as it was). */
  numSteps1: number;
  numSteps2: number;
  numSteps3: number;
  desiredEnergyVar: number;
  trustInEstimate?: number;
  numEffectiveSamples?: number;
  diagonalPreconditioning: boolean;
  /** Fixed values: skip tuning them (an explicit value also turns preconditioning off). */
  L?: number | null;
  stepSize?: number | null;
}

export interface MclmcTuningResult<S extends MclmcTunableState> {
  state: S;
  params: MclmcParams;
  /** Gradient evaluations spent tuning (2 per step). */
  fge: number;
  /** Steps whose values were non-finite and were undone. */
  divergences: number;
  /** Mean of dE^2 / d over the last tuning stage that moved the step size (diagnostic). */
  energyVarPerDim: number;
}

/**
 * Largest factor by which one predictor update may raise the step size (BlackJAX: unlimited).
 * Only the first updates of a predictor ever want more; shrinking is never limited.
 */
const MAX_GROWTH = 1.5;

const STAGE1 = 0;
const STAGE2 = 1;
const READJUST = 2;
const STAGE3 = 3;
const SEARCH = 4;

/**
 * Exponentially forgetting step-size predictor of stages 1/2 and the readjustment (BlackJAX's
 * `predictor`), with the step size allowed to grow by at most MAX_GROWTH per step (see the
 * module comment).
 */
export class StepSizePredictor {
  private time = 0;
  private xAverage = 0;
  stepSizeMax = Number.POSITIVE_INFINITY;
  private readonly decay: number;

  constructor(
    private readonly dim: number,
    private readonly desiredEnergyVar: number,
    private readonly trust: number,
    numEffectiveSamples: number,
  ) {
    this.decay = (numEffectiveSamples - 1) / (numEffectiveSamples + 1);
  }

  /** Feeds one step's energy change (0 and success false for an undone step); returns eps. */
  update(stepSize: number, energyChange: number, success: boolean): number {
    if (!success) this.stepSizeMax = stepSize * 0.8;
    // 1e-8 keeps ln(xi) finite for a zero energy change (an undone step has weight ~0).
    const xi = (energyChange * energyChange) / (this.dim * this.desiredEnergyVar) + 1e-8;
    const lw = Math.log(xi) / (6 * this.trust);
    const w = Math.exp(-0.5 * lw * lw);
    this.xAverage = this.decay * this.xAverage + w * (xi / stepSize ** 6);
    this.time = this.decay * this.time + w;
    let eps = (this.xAverage / this.time) ** (-1 / 6);
    if (!Number.isFinite(eps) || eps <= 0) eps = stepSize;
    return Math.min(eps, this.stepSizeMax, MAX_GROWTH * stepSize);
  }
}

/** Step-size-weighted running mean/variance of the position (West's weighted Welford). */
class WeightedMoments {
  private total = 0;
  readonly mean: Float64Array;
  private readonly s: Float64Array;

  constructor(dim: number) {
    this.mean = new Float64Array(dim);
    this.s = new Float64Array(dim);
  }

  add(x: Float64Array, w: number): void {
    if (!(w > 0)) return;
    this.total += w;
    const r = w / this.total;
    for (let i = 0; i < x.length; i++) {
      const delta = x[i]! - this.mean[i]!;
      this.mean[i] = this.mean[i]! + r * delta;
      this.s[i] = this.s[i]! + w * delta * (x[i]! - this.mean[i]!);
    }
  }

  /** Population (weighted) variances, as BlackJAX's E[x^2] - E[x]^2. */
  variances(): Float64Array | null {
    if (!(this.total > 0)) return null;
    const v = new Float64Array(this.s.length);
    for (let i = 0; i < v.length; i++) v[i] = Math.max(0, this.s[i]! / this.total);
    return v;
  }
}

/**
 * Tunes (L, step size, preconditioner) for one chain, moving the chain: sampling continues
 * from the returned state. `key` is the chain's tuning key.
 */
export function mclmcFindLAndStepSize<S extends MclmcTunableState>(
  dynamics: MclmcDynamics<S>,
  state: S,
  key: Key,
  opts: MclmcTuningOptions,
): MclmcTuningResult<S> {
  const d = state.position.length;
  const trust = opts.trustInEstimate ?? 1.5;
  const nEff = opts.numEffectiveSamples ?? 150;
  const fixedL = opts.L ?? null;
  const fixedEps = opts.stepSize ?? null;
  if (fixedL !== null && !(fixedL > 0)) throw new Error(`MCLMC: L must be > 0, got ${fixedL}`);
  if (fixedEps !== null && !(fixedEps > 0)) throw new Error(`MCLMC: step_size must be > 0, got ${fixedEps}`);
  if (!(opts.desiredEnergyVar > 0)) throw new Error(`MCLMC: desired_energy_var must be > 0, got ${opts.desiredEnergyVar}`);
  const precondition = opts.diagonalPreconditioning && fixedL === null && fixedEps === null;

  const params: MclmcParams = {
    L: Math.sqrt(d),
    stepSize: Math.sqrt(d) * 0.25,
    sqrtDiagCov: new Float64Array(d).fill(1),
  };
  let fge = 0;
  let divergences = 0;
  let energySq = 0;
  let energyCount = 0;

  if (fixedEps !== null) params.stepSize = fixedEps;
  if (fixedL !== null) params.L = fixedL;

  const step = (stream: number, i: number): { energyChange: number; success: boolean } => {
    const info = dynamics.transition(state, params, foldIn(foldIn(key, stream), i));
    fge += info.fge;
    if (info.diverging) divergences += 1;
    return { energyChange: info.energy_change, success: !info.diverging };
  };

  // Scale search (see the module comment): trial steps that are rolled back.
  if (fixedEps === null) {
    const kSearch = foldIn(key, SEARCH);
    const save = {
      x: Float64Array.from(state.position),
      u: Float64Array.from(state.momentum),
      g: Float64Array.from(state.grad),
      U: state.potential,
    };
    const initialEps = params.stepSize;
    for (let i = 0; i < 60; i++) {
      const info = dynamics.transition(state, params, foldIn(kSearch, i));
      fge += info.fge;
      state.position.set(save.x);
      state.momentum.set(save.u);
      state.grad.set(save.g);
      state.potential = save.U;
      const xi = (info.energy_change * info.energy_change) / (d * opts.desiredEnergyVar);
      if (!info.diverging && xi <= 1) break;
      params.stepSize *= 0.5;
    }
    if (fixedL === null) params.L *= params.stepSize / initialEps;
  }

  const tuneEps = fixedEps === null;
  const newPredictor = (): StepSizePredictor => new StepSizePredictor(d, opts.desiredEnergyVar, trust, nEff);
  const runAdaptive = (
    stream: number,
    n: number,
    predictor: StepSizePredictor,
    moments: WeightedMoments | null,
  ): void => {
    energySq = 0;
    energyCount = 0;
    for (let i = 0; i < n; i++) {
      const eps = params.stepSize;
      const { energyChange, success } = step(stream, i);
      energySq += energyChange * energyChange;
      energyCount += 1;
      if (tuneEps) params.stepSize = predictor.update(eps, energyChange, success);
      // BlackJAX weights the stage-2 moments by the step size the draw was made with.
      if (moments && success) moments.add(state.position, eps);
    }
  };

  // Stages 1 and 2 are one run of one predictor in BlackJAX (a single scan; only the moments
  // are masked), so stage 2 continues stage 1's step-size estimate rather than starting afresh.
  const predictor12 = newPredictor();
  runAdaptive(STAGE1, opts.numSteps1, predictor12, null);
  if (opts.numSteps2 > 0) {
    const moments = new WeightedMoments(d);
    runAdaptive(STAGE2, opts.numSteps2, predictor12, moments);
    const variances = moments.variances();
    if (variances && fixedL === null) {
      let sum = 0;
      for (let i = 0; i < d; i++) sum += variances[i]!;
      if (sum > 0) params.L = Math.sqrt(sum);
    }
    if (variances && precondition) {
      // A coordinate that never moved would get a zero scale and freeze; give it the
      // smallest positive scale seen instead.
      let minPositive = Number.POSITIVE_INFINITY;
      for (let i = 0; i < d; i++) if (variances[i]! > 0) minPositive = Math.min(minPositive, variances[i]!);
      if (Number.isFinite(minPositive)) {
        for (let i = 0; i < d; i++) params.sqrtDiagCov[i] = Math.sqrt(variances[i]! > 0 ? variances[i]! : minPositive);
        params.L = Math.sqrt(d);
        // A fresh predictor, as BlackJAX: the old estimates were made in the old geometry.
        runAdaptive(READJUST, Math.floor(opts.numSteps2 / 3), newPredictor(), null);
      }
    }
  }

  if (opts.numSteps3 > 0 && fixedL === null) {
    const n3 = opts.numSteps3;
    const draws = new Float64Array(n3 * d);
    for (let i = 0; i < n3; i++) {
      step(STAGE3, i);
      draws.set(state.position, i * d);
    }
    if (n3 >= 4) {
      let sumInv = 0;
      for (let j = 0; j < d; j++) sumInv += n3 / essOneChain(draws, n3, d, j);
      const L = 0.4 * params.stepSize * (sumInv / d);
      if (Number.isFinite(L) && L > 0) params.L = L;
    }
  }

  return {
    state,
    params,
    fge,
    divergences,
    energyVarPerDim: energyCount > 0 ? energySq / energyCount / d : Number.NaN,
  };
}

/**
 * The tuning as an adaptation: the chain's velocity from sub-key 0 of its tuning key, the tuning
 * steps from sub-key 1. The report holds the tuning's divergences and its energy variance.
 */
export function mclmcTuning<S extends MclmcTunableState>(dynamics: MclmcDynamics<S>, opts: MclmcTuningOptions): Adaptation<MclmcParams, S> {
  return (ctx: AdaptationContext): Adapted<MclmcParams, S> => {
    const state = dynamics.init(ctx.init, foldIn(ctx.key, 0));
    const tuned = mclmcFindLAndStepSize(dynamics, state, foldIn(ctx.key, 1), opts);
    return {
      params: tuned.params,
      state: tuned.state,
      fge: tuned.fge + dynamics.initFge,
      report: {
        tuning_divergences: tuned.divergences,
        tuning_energy_var_per_dim: Number.isFinite(tuned.energyVarPerDim) ? tuned.energyVarPerDim : null,
      },
    };
  };
}
