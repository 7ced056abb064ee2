/**
 * Automatic SGLD step size: the step is the error that dominates the LLC estimate, so the
 * default chooses it from the target.
 *
 * WHY THIS RULE. For a Gaussian posterior with curvatures k_j = gamma + n beta h_j, the
 * unadjusted Langevin chain at step eps has stationary variance 1 / (k_j (1 - eps k_j / 4))
 * per eigendirection, so each direction that carries LLC (n beta h_j >> gamma) inflates its
 * share 1/2 of lambda by eps k_j / 4, and the absolute bias of the LLC is
 *     bias(eps) ~= sum_j eps n beta h_j / 8 = eps n beta tr(H) / 8,   H = Hessian of L_n,
 * (with a preconditioner, eps h_j becomes the eigenvalues of diag(eps_i) H: tr(diag(eps_i) H)).
 * Flat directions contribute nothing, so unlike the global virial this does not need them to
 * have mixed. For singular (degree p > 2) directions the same argument gives a bias smaller
 * by 2/p, so the rule errs on the safe side; on the DLNs of the validation suite it predicts about
 * twice the bias that was measured.
 * We pick eps so that the predicted relative bias bias(eps) / lambda equals `target_bias`:
 *     eps = 8 target_bias lambda / (n beta E[tr(D H)])
 * where E[tr(D H)] (expected under the posterior, not only at w*) and lambda come from short
 * pilot runs:
 *   1. tr(H) at w* by Hutchinson probes (finite differences of minibatch gradients on common
 *      rows: unbiased, 2 b/n FGE per probe) gives a first step 1 / (n beta tr H + gamma)
 *      (every direction then has eps k_j / 4 <= 1/4), also capped as below.
 *   2. Rounds of `calibration_steps` SGLD steps at the current eps, continuing the same chain;
 *      on the second half of each round, full-data L_n at 5 points gives lambda-hat and
 *      Hutchinson probes give tr(D H). The new eps follows the rule, changed at most 4x up or
 *      16x down per round and never above the stability cap or the guard's ceiling (below);
 *      stop when it moves < 15%. A round that diverges restarts at eps/10.
 * When lambda-hat <= 0 (w* not a minimum) the rule falls back to eps = 4 target_bias /
 * (n beta tr(D H)), which bounds the inflation of every single direction.
 *
 * MINIBATCH NOISE. The drift uses a minibatch gradient, whose error (covariance C_b: the
 * per-row gradient covariance / b for b rows drawn with replacement) enters each step as
 * (eps_i / 2) n beta times that error: a variance eps_i^2 (n beta)^2 C_b / 4 on top of the
 * injected eps_i. Along a direction of curvature k_j ~ n beta h_j that inflates the variance by
 * eps (n beta)^2 c_j / (4 k_j), so the LLC gains about eps n beta^2 n tr(D C_b) / 8, and the
 * budget above becomes
 *     bias(eps) ~= eps n beta [tr(D H) + n beta tr(D C_b)] / 8.
 * tr(D C_b) is estimated where tr(D H) is, from the difference of the gradients of two
 * independent minibatches (half its squared norm is unbiased). On noise-free regression it
 * vanishes at w* and stays small; on a classifier every row's gradient is O(1) at w*, so
 * n beta tr(C_b) ~ (n beta / b) tr(H) dominates (4x at n = 1e4, b = 256), which is why a rule
 * without it let SGLD overshoot on classifiers.
 *
 * STABILITY CAP (independent of lambda-hat). The budget above controls the SUM of the
 * directions' inflations relative to lambda; it says nothing about the stiffest single
 * direction, and ULA on a quadratic is stable only for eps (n beta lambda_max(H) + gamma) < 4.
 * When one stiff direction dominates tr(H) and many softer ones carry lambda, the budget gives
 * eps (n beta lambda_max) ~ 8 target_bias lambda lambda_max / tr(H), beyond 4 once lambda > ~17.
 * So eps <= kappa / (n beta lambda_max + gamma), kappa = 0.5: the stiffest direction's variance
 * is inflated by 1 / (1 - kappa / 4) <= 14%, a factor 8 inside the stability limit (which also
 * absorbs power iteration's underestimate and the minibatch gradient's extra stiffness).
 * lambda_max comes from 20 power iterations on full-data Hessian-vector products at w*
 * (2 FGE each) and is re-checked at the end of every pilot round (4 iterations from the last
 * eigenvector plus a fresh random direction): away from w* the curvature changes (ReLU nets;
 * a w* that is not a minimum slides to where it is stiffer), and the cap keeps the largest seen.
 * With a preconditioner the operator is D H and gamma counts with max_i D_i.
 * Measured on the `base` preset target (d = 9921, n = 20000, n beta = 2019, 200 training
 * steps, |grad L_n(w*)| = 0.065): lambda_max = 143 at w*, 158 along the pilot, cap 1.6e-6;
 * the uncapped rule had reached 2.9e-4 (eps a ~ 80) and every chain diverged.
 *
 * FEEDBACK GUARD. The rule scales eps with the pilot's lambda-hat, but lambda-hat measured AT
 * eps includes that step's inflation: on the base target it grew 40 -> 98 -> 215 -> 391 ->
 * 1283 -> 2093 as eps grew 4x per round, a positive feedback loop. Growth of lambda-hat with
 * eps is either relaxation (short pilots from w* underestimate lambda, legitimately) or step
 * error, and the two are told apart by going back: when a step increase makes lambda-hat jump
 * more than 1.5x (the Gaussian bias changes it by a few %), one round is run at the previous
 * step from the new state. If lambda-hat stays up it was relaxation and the rule continues from
 * the value measured at the SMALLER step; if it falls back, the previous step becomes a ceiling
 * the calibration never exceeds. A round that diverges also sets a ceiling (a quarter of its
 * step). lambda-hat is bounded by d/2 (true of every learning coefficient). So the step can
 * only rise on evidence measured at a smaller step, and the caps only tighten.
 * RELAXATION. After the rounds, with `relaxations` > 0, the chain keeps moving for that many
 * relaxation times R = 2 / (gamma eps) while the cap and the rule are re-measured every
 * R / 16 steps; the step only falls (see step 4 in the code). This is the run's burn-in.
 * The pilot rounds double as burn-in: sampling starts from their final state. All of their
 * work (steps, L_n evaluations, probes) is counted in FGE.
 * One pilot's step is noisy (its lambda-hat and trace come from a few hundred steps of a chain
 * whose L_n is correlated over ~2 / (gamma eps) steps on singular targets; a 4x spread between
 * chains was measured on a DLN), so SGLD runs with the median over the chains (sgld.ts).
 */
import { z } from 'zod';
import { foldIn, foldInInto, normalInto, randintInto, threefry2x32Into, type Key } from '../../rng/index.js';
import type { Posterior } from '../../posterior/types.js';
import type { Kernel, SamplerState, StepInfo } from '../types.js';
import type { Adaptation, AdaptationContext, Adapted } from './types.js';

/** `step_size`: a number > 0, or "auto" to calibrate it from the target (below). */
export const stepSizeSchema = z.union([
  z.literal('auto'),
  z
    .number({ error: 'step_size must be a number > 0 or "auto"' })
    .refine((x) => Number.isFinite(x) && x > 0, { message: 'step_size must be > 0 (or "auto")' }),
]);

/** The calibration settings of every sampler whose step `calibrateStepSize` chooses. */
export const calibrationFields = {
  /** Tolerated relative bias of the LLC from the step size (auto only). */
  target_bias: z.number().gt(0).lt(0.5).default(0.03),
  calibration_steps: z.number().int().min(20).default(400),
  calibration_rounds: z.number().int().min(1).max(20).default(6),
  /** Hutchinson probes per calibration sample. */
  calibration_probes: z.number().int().min(1).default(2),
};

/**
 * A Langevin kernel whose step the calibration sets (SGLD's shape): a base step eps and the
 * per-coordinate steps eps_i = eps D_i it took last (D = 1 without a preconditioner).
 */
export interface CalibratedKernel<S extends SamplerState> extends Kernel<S, StepInfo> {
  stepSize: number;
  /** The per-coordinate steps eps_i of the last step. */
  readonly stepSizes: Float64Array;
  /** The rows of the last step's minibatch (undefined: full data). */
  readonly lastRows: Int32Array | undefined;
  /** Copies every value of a state into another (to undo a round that diverged). */
  copyState(from: S, to: S): void;
}

export interface CalibrateOptions {
  targetBias: number;
  roundSteps: number;
  rounds: number;
  probes: number;
  /**
   * Pilot steps to take at least, whatever the convergence: preconditioners whose v starts at
   * 1 need ~3 / (1 - beta2) steps before diag(eps_i) settles, and the rule must see the
   * settled D (measured: RMSProp-SGLD calibrated on an unsettled D gave +17% instead of +3%).
   */
  minSteps?: number;
  /**
   * Multiplies the predicted bias for kernels whose drift lags: Adam's drift is an EMA of past
   * gradients, and a lag of 1 / (1 - beta1) steps inflates the stationary variance by about
   * (1 + beta1) / (1 - beta1) times the ULA excess (derived for a 1-D Gaussian; a simulation
   * at beta1 = 0.9 gives 17x against the 19x of the formula).
   */
  biasFactor?: number;
  /** Rows per Hutchinson probe (default: the kernel's minibatch size, or all rows). */
  probeRows?: number;
  /** kappa of the stability cap eps (n beta lambda_max + gamma) <= kappa (default 0.5). */
  stabilityFactor?: number;
  /** Power iterations for lambda_max at w* (default 20). */
  powerIterations?: number;
  /**
   * After the rounds, keep moving the chain for this many relaxation times R = 2 / (gamma eps)
   * (at the step as it is then re-measured; 0: no relaxation phase). See RELAXATION above.
   */
  relaxations?: number;
  /** The relaxation phase never takes more steps than this (default: no limit). */
  maxRelaxationSteps?: number;
}

export interface CalibrationRound {
  round: number;
  step_size: number;
  lambda_hat: number | null;
  trace_DH: number | null;
  /** tr(D C_b), C_b the covariance of the kernel's minibatch gradient (0: full data). */
  trace_DC: number | null;
  predicted_bias: number | null;
  /** Top eigenvalue of (D) H at the round's end (the stability re-check). */
  lambda_max: number;
  diverged: boolean;
  /** What the feedback guard concluded from this round, if anything. */
  check?: string;
}

/** The calibrated step (the kernel's base step eps). */
export interface StepSizeParams {
  stepSize: number;
}

/** What the calibration found and how (recorded per chain as `calibration`). */
export interface CalibrationReport {
  rule: string;
  target_bias: number;
  trace_H_at_wstar: number;
  lambda_max_at_wstar: number;
  /** The largest top eigenvalue of (D) H seen (w* and every round's end). */
  lambda_max: number;
  stability_factor: number;
  stability_cap: number;
  /** eps (n beta lambda_max + gamma) at the returned step: ULA is unstable beyond 4. */
  eps_a_max: number;
  step_ceiling: number | null;
  initial_step_size: number;
  predicted_bias: number | null;
  rounds: CalibrationRound[];
  /** Blocks of the relaxation phase (the step re-measured as the chain relaxes). */
  relaxation: RelaxationBlock[];
  /** Steps taken in the relaxation phase. */
  relaxation_steps: number;
}

/** One block of the relaxation phase. */
export interface RelaxationBlock {
  /** Steps of the relaxation phase done at the block's end. */
  steps: number;
  step_size: number;
  lambda_hat: number | null;
  trace_DH: number | null;
  trace_DC: number | null;
  lambda_max: number;
  diverged: boolean;
}

const LN_POINTS = 5;
/** kappa: the stiffest direction's variance is inflated by 1 / (1 - kappa / 4) <= 14%. */
const STABILITY_FACTOR = 0.5;
const POWER_ITERATIONS = 20;
/** Warm-started power iterations at the end of each pilot round. */
const RECHECK_ITERATIONS = 4;
/** A lambda-hat growth with the step beyond this is not the Gaussian bias (a few %): test it. */
const JUMP_RATIO = 1.5;
/** lambda-hat above this many times d/2 is divergence (see `runaway`). */
const RUNAWAY = 4;
/** A block whose squared moves exceed this many times the injected noise's diverged (`driftDominated`). */
const DRIFT_LIMIT = 16;
/** The relaxation phase re-measures the step about this many times. */
const RELAX_BLOCKS = 16;

/** Buffers of length dim (and a 2-word RNG block) the probes below reuse across calls. */
interface ProbeScratch {
  wp: Float64Array;
  gp: Float64Array;
  gm: Float64Array;
  block: Uint32Array;
}

function probeScratch(d: number): ProbeScratch {
  return { wp: new Float64Array(d), gp: new Float64Array(d), gm: new Float64Array(d), block: new Uint32Array(2) };
}

/** D = stepSizes / eps into `weights` (the kernel's per-coordinate steps relative to eps); returns max D_i. */
function relativeStepsInto(stepSizes: Float64Array, eps: number, weights: Float64Array): number {
  let wMax = 0;
  for (let i = 0; i < weights.length; i++) {
    weights[i] = stepSizes[i]! / eps;
    if (weights[i]! > wMax) wMax = weights[i]!;
  }
  return wMax;
}

/** Hutchinson estimate of tr(diag(weights) H) at w from `probes` Rademacher probes. */
export function hutchinsonTrace(
  posterior: Posterior,
  w: Float64Array,
  weights: Float64Array | null,
  rows: Int32Array | undefined,
  probes: number,
  key: Key,
  scratch: ProbeScratch,
): number {
  const d = posterior.dim;
  const { wp, gp, gm, block } = scratch;
  let rms = 0;
  for (let i = 0; i < d; i++) rms += w[i]! * w[i]!;
  // Central differences: exact for quadratics, O(h^2) otherwise; h relative to the scale of w.
  const h = 1e-5 * Math.max(1, Math.sqrt(rms / d));
  let total = 0;
  for (let p = 0; p < probes; p++) {
    const sign = (i: number): number => {
      threefry2x32Into(key[0], key[1], p, i >>> 5, block, 0);
      return ((block[0]! ^ block[1]!) >>> (i & 31)) & 1 ? 1 : -1;
    };
    for (let i = 0; i < d; i++) wp[i] = w[i]! + h * sign(i);
    posterior.lossAndGrad(wp, gp, rows);
    for (let i = 0; i < d; i++) wp[i] = w[i]! - h * sign(i);
    posterior.lossAndGrad(wp, gm, rows);
    let s = 0;
    for (let i = 0; i < d; i++) s += (weights ? weights[i]! : 1) * sign(i) * (gp[i]! - gm[i]!);
    total += s / (2 * h);
  }
  return total / probes;
}

/**
 * Power iteration for the largest-magnitude eigenvalue of H = Hessian of L_n (on `rows`, or all
 * rows) at w, or of D H with D = diag(weights). Hessian-vector products are central differences of gradients on common rows
 * (exact for quadratics): 2 gradients per iteration. `v` is the start vector on entry (any
 * non-zero vector; a previous call's eigenvector warm-starts) and the estimated top
 * eigenvector on return. Each |H v| with |v| = 1 is a lower bound on |lambda|_max (up to the
 * finite-difference error), so the maximum over the iterations is returned: it can only
 * underestimate, which is one reason the cap that uses it stays far below the stability limit.
 */
export function topHessianEigenvalue(
  posterior: Posterior,
  w: Float64Array,
  rows: Int32Array | undefined,
  iters: number,
  v: Float64Array,
  scratch: { wp: Float64Array; gp: Float64Array; gm: Float64Array },
  weights: Float64Array | null = null,
): number {
  const d = posterior.dim;
  const { wp, gp, gm } = scratch;
  let rms = 0;
  for (let i = 0; i < d; i++) rms += w[i]! * w[i]!;
  // The same perturbation length as a Hutchinson probe's (h per coordinate, |probe| = h sqrt d).
  const h = 1e-5 * Math.max(1, Math.sqrt(rms / d)) * Math.sqrt(d);
  let norm = 0;
  for (let i = 0; i < d; i++) norm += v[i]! * v[i]!;
  norm = Math.sqrt(norm);
  if (!(norm > 0) || !Number.isFinite(norm)) {
    v.fill(1);
    norm = Math.sqrt(d);
  }
  for (let i = 0; i < d; i++) v[i] = v[i]! / norm;
  let best = 0;
  for (let k = 0; k < iters; k++) {
    // With weights D the operator is D^(1/2) H D^(1/2) (the spectrum of D H): perturb along
    // D^(1/2) v and scale the gradient difference by D^(1/2).
    for (let i = 0; i < d; i++) wp[i] = w[i]! + h * v[i]! * (weights ? Math.sqrt(weights[i]!) : 1);
    posterior.lossAndGrad(wp, gp, rows);
    for (let i = 0; i < d; i++) wp[i] = w[i]! - h * v[i]! * (weights ? Math.sqrt(weights[i]!) : 1);
    posterior.lossAndGrad(wp, gm, rows);
    let s = 0;
    for (let i = 0; i < d; i++) {
      const hv = ((gp[i]! - gm[i]!) / (2 * h)) * (weights ? Math.sqrt(weights[i]!) : 1);
      gp[i] = hv;
      s += hv * hv;
    }
    const hvNorm = Math.sqrt(s);
    if (!Number.isFinite(hvNorm)) return Number.POSITIVE_INFINITY;
    if (hvNorm > best) best = hvNorm;
    if (!(hvNorm > 0)) break; // H v = 0: v lies in the null space; nothing to iterate on
    for (let i = 0; i < d; i++) v[i] = gp[i]! / hvNorm;
  }
  return best;
}

/**
 * The top eigenvalue of D H at w (D = diag(weights)) by RECHECK_ITERATIONS power iterations,
 * started from the last eigenvector `eig` plus a fresh random direction of equal length (from
 * `key`): the old vector alone can sit in an invariant subspace that misses a direction that
 * stiffened (exactly so when the curvature at w* is zero along it). `eig` is left at the new
 * estimate. 2 RECHECK_ITERATIONS FGE.
 */
function recheckTopEigenvalue(
  posterior: Posterior,
  w: Float64Array,
  weights: Float64Array | null,
  eig: Float64Array,
  key: Key,
  scratch: ProbeScratch,
): number {
  const d = posterior.dim;
  normalInto(key, scratch.gm, scratch.block);
  let vn = 0;
  let zn = 0;
  for (let i = 0; i < d; i++) {
    vn += eig[i]! * eig[i]!;
    zn += scratch.gm[i]! * scratch.gm[i]!;
  }
  vn = Math.sqrt(vn) || 1;
  zn = Math.sqrt(zn) || 1;
  for (let i = 0; i < d; i++) eig[i] = eig[i]! / vn + scratch.gm[i]! / zn;
  return topHessianEigenvalue(posterior, w, undefined, RECHECK_ITERATIONS, eig, scratch, weights);
}

/**
 * STEP GUARD (the recorded steps of a calibrated run). The relaxation phase re-measures the
 * step while the chain moves out along the valley, but a run is often far shorter than the
 * localiser's relaxation time R = 2 / (gamma eps) (R is 2e6 steps at eps = 1e-6, and max_steps
 * caps the run at 400k), so the chain is still moving out while it is recorded, and the
 * curvature keeps growing there. Measured on a 20-16-3-19-6-11 DLN at the origin (n = 18421):
 * lambda_max of H rose 25 -> 211 over the relaxation phase and kept rising during recording,
 * where the per-chain lambda-hat then climbed from 9-10 to 12-16 (exact: 9; HMC 9.12) at the
 * run's step, while a step 0.6x as large gave +3.5%.
 * The guard keeps the calibration's stability promise eps (n beta lambda_max(D H) + gamma
 * max D_i) <= kappa where the chain is: every `every` steps it re-measures lambda_max at the
 * chain's position (RECHECK_ITERATIONS warm-started power iterations, 2 FGE each) and lowers the
 * step to the cap when it is above it. The step only falls. The same check catches a frozen
 * preconditioner that meets a region its metric was not adapted to (a chain that adapted D in
 * one arm of a normal crossing and then enters the other, where its large D_i lies along the
 * stiff direction).
 */
export interface StepGuard {
  /** Steps between checks. */
  readonly every: number;
  /** Checks done and the times the step fell. */
  checks: number;
  falls: number;
  /** The largest lambda_max(D H) seen at a check. */
  lambdaMax: number;
  /**
   * Re-measures the cap at `w` for the kernel's per-coordinate steps `stepSizes` (= eps D) and
   * returns the step to use from now on (<= eps); `key` seeds the fresh power-iteration
   * direction. Its work, in FGE, is `fgePerCheck`.
   */
  check(w: Float64Array, eps: number, stepSizes: Float64Array, key: Key): number;
  readonly fgePerCheck: number;
}

/** The work of one step-guard check in FGE (its full-data Hessian-vector products). */
export function stepGuardFge(): number {
  return 2 * RECHECK_ITERATIONS;
}

export function stepGuard(posterior: Posterior, every: number, kappa = STABILITY_FACTOR): StepGuard {
  const d = posterior.dim;
  const { nBeta, gamma } = posterior;
  const eig = new Float64Array(d);
  const weights = new Float64Array(d);
  const scratch = probeScratch(d);
  const guard: StepGuard = {
    every: Math.max(1, Math.floor(every)),
    checks: 0,
    falls: 0,
    lambdaMax: 0,
    fgePerCheck: stepGuardFge(),
    check(w, eps, stepSizes, key) {
      const wMax = relativeStepsInto(stepSizes, eps, weights);
      const lam = recheckTopEigenvalue(posterior, w, weights, eig, key, scratch);
      guard.checks++;
      // A non-finite curvature is a chain that already diverged: the runner stops it.
      if (!Number.isFinite(lam)) return eps;
      if (lam > guard.lambdaMax) guard.lambdaMax = lam;
      const cap = stabilityCap(kappa, nBeta, gamma, lam, wMax);
      if (!(eps > cap)) return eps;
      guard.falls++;
      return cap;
    },
  };
  return guard;
}

/** SGLD's step calibration as an adaptation of `kernel` (the kernel keeps the calibrated step). */
export function stepCalibration<S extends SamplerState>(
  kernel: CalibratedKernel<S>,
  opts: CalibrateOptions,
): Adaptation<StepSizeParams, S, CalibrationReport> {
  return (ctx) => calibrateStepSize(ctx, kernel, opts);
}

/**
 * tr(diag(weights) C_b) at w, C_b the covariance of the gradient of the mean loss over a
 * minibatch of `rows.length` rows drawn with replacement (the kernel's draw): half the squared
 * (weighted) difference of the gradients of two independent minibatches, an unbiased estimate.
 * 2 b / n FGE. `rows` is overwritten.
 */
export function minibatchNoiseTrace(
  posterior: Posterior,
  w: Float64Array,
  weights: Float64Array | null,
  rows: Int32Array,
  key: Key,
  scratch: { gp: Float64Array; gm: Float64Array; block: Uint32Array },
): number {
  const d = posterior.dim;
  const { gp, gm, block } = scratch;
  randintInto(foldIn(key, 0), rows, posterior.n, block);
  posterior.lossAndGrad(w, gp, rows);
  randintInto(foldIn(key, 1), rows, posterior.n, block);
  posterior.lossAndGrad(w, gm, rows);
  let s = 0;
  for (let i = 0; i < d; i++) s += (weights ? weights[i]! : 1) * (gp[i]! - gm[i]!) ** 2;
  return s / 2;
}

/**
 * Calibrates the step of `kernel` for one chain, moving the chain from ctx.init (see the module
 * comment); the kernel is left at the calibrated step and sampling continues from the state.
 */
export function calibrateStepSize<S extends SamplerState>(
  ctx: AdaptationContext,
  kernel: CalibratedKernel<S>,
  opts: CalibrateOptions,
): Adapted<StepSizeParams, S, CalibrationReport> {
  const { posterior } = ctx;
  const o = { ...opts, init: ctx.init, key: ctx.key };
  const d = posterior.dim;
  const n = posterior.n;
  const { nBeta, gamma } = posterior;
  const batch = Math.min(n, o.probeRows ?? kernel.lastRows?.length ?? n);
  const rows = batch >= n ? undefined : new Int32Array(batch);
  const probeFge = (2 * (rows ? batch : n)) / n;
  // The kernel's own minibatch (its gradient noise is what the noise term of the rule measures).
  const kernelBatch = kernel.lastRows?.length ?? n;
  const noiseRows = kernelBatch >= n ? undefined : new Int32Array(kernelBatch);
  const scratch = probeScratch(d);
  const weights = new Float64Array(d);
  const stepKeyBase = foldIn(o.key, 1);
  const probeKeyBase = foldIn(o.key, 2);
  const kappa = o.stabilityFactor ?? STABILITY_FACTOR;
  const powerIters = o.powerIterations ?? POWER_ITERATIONS;
  const biasFactor = o.biasFactor ?? 1;
  let fge = 0;

  // 1. Curvature at w*: the top eigenvalue (stability) and the trace (a first step at which
  //    no direction's inflation exceeds 1/4). Full-data Hessian-vector products: the cap must
  //    not ride on minibatch noise.
  const eig = normalInto(foldIn(o.key, 3), new Float64Array(d));
  const lamMax0 = topHessianEigenvalue(posterior, posterior.wStar, undefined, powerIters, eig, scratch);
  fge += 2 * powerIters;
  let lamMax = lamMax0;
  let cap = stabilityCap(kappa, nBeta, gamma, lamMax, 1);
  const k0 = foldIn(probeKeyBase, 0);
  if (rows) randintInto(foldIn(k0, 1), rows, n, scratch.block);
  const tr0 = hutchinsonTrace(posterior, posterior.wStar, null, rows, Math.max(4, 2 * o.probes), foldIn(k0, 2), scratch);
  fge += Math.max(4, 2 * o.probes) * probeFge;
  let eps = 1 / (nBeta * Math.max(tr0, 0) + gamma);
  if (!(tr0 > 0)) eps = 1 / (nBeta + gamma);
  eps = Math.min(eps, cap);
  const initialEps = eps;

  let state = kernel.init(o.init, o.key);
  const backup = kernel.init(o.init, o.key);
  const history: CalibrationRound[] = [];
  const minSteps = o.minSteps ?? 0;
  const extraRounds = Math.ceil(minSteps / o.roundSteps);
  // Room for settling, divergence restarts and step tests (none of which use up a round).
  const maxRounds = o.rounds + extraRounds + 6;
  let stepsTaken = 0;
  const half = Math.floor(o.roundSteps / 2);
  const lnEvery = Math.max(1, Math.floor((o.roundSteps - half) / LN_POINTS));
  const stepKey: [number, number] = [0, 0];
  let predicted: number | null = null;
  let converged = 0;
  // The feedback guard (see the top comment): the largest step shown not to inflate
  // lambda-hat, the last accepted round, and a pending test of a suspicious step increase.
  let ceiling = Number.POSITIVE_INFINITY;
  let prev: { eps: number; lam: number } | null = null;
  let suspect: { eps: number; lam: number } | null = null;

  /** The kernel's per-coordinate steps relative to eps (D), into `weights`; returns max D_i. */
  const loadWeights = (): number => relativeStepsInto(kernel.stepSizes, eps, weights);
  /** lambda-hat, tr(D H) and tr(D C_b) at the chain's position (adds to the sums). */
  const sums = { lam: 0, tr: 0, noise: 0, cnt: 0 };
  const measure = (pk: Key): boolean => {
    const Ln = posterior.lossAt(state.position);
    fge += 1;
    if (!Number.isFinite(Ln)) return false;
    if (rows) randintInto(foldIn(pk, 1), rows, n, scratch.block);
    loadWeights();
    sums.tr += hutchinsonTrace(posterior, state.position, weights, rows, o.probes, foldIn(pk, 2), scratch);
    fge += o.probes * probeFge;
    if (noiseRows) {
      sums.noise += minibatchNoiseTrace(posterior, state.position, weights, noiseRows, foldIn(pk, 3), scratch);
      fge += (2 * kernelBatch) / n;
    }
    sums.lam += posterior.llcOf(Ln);
    sums.cnt++;
    return true;
  };
  /**
   * A block whose lambda-hat exceeds RUNAWAY d/2 left the posterior's bulk: every learning
   * coefficient is <= d/2, and a stable step inflates it by a few %. This is divergence that
   * stays finite: a preconditioned kernel (RMSProp, Adam) normalises the huge gradient out
   * there, so its position never overflows, and without this check the calibration would keep
   * shrinking the step from a chain stranded far from w*. Measured on the normal crossing
   * (1, 2) (w* = 0, where the Hessian vanishes, so the first step is 1 / gamma): RMSProp-SGLD's
   * first round gave lambda-hat 3e12, and every later round stayed there.
   */
  const runaway = (): boolean => (sums.cnt > 0 && sums.lam / sums.cnt > (RUNAWAY * d) / 2) || driftDominated();
  /**
   * The other face of a divergence a preconditioner hides: the moves are the drift's, not the
   * noise's. A Langevin step moves the chain by |dw|^2 = sum_i eps_i |xi_i|^2 from its noise
   * plus the drift's (eps_i / 2)^2 |grad U|^2; on a Gaussian direction at stationarity the
   * second is eps a / (4 - eps a) times the first, so all moves over the noise's are
   * 1 / (1 - eps a / 4): at most 2 up to eps a = 2, and DRIFT_LIMIT only at eps a = 3.75 (ULA
   * diverges at 4).
   * Measured on the normal crossing (1, 1): Adam-SGLD's first round (eps = 1 / gamma, the
   * Hessian vanishing at w*) flung one chain to w1 = -10.6, its v grew to 5e8, its steps
   * eps / sqrt(v) then looked stable there and its lambda-hat stayed below RUNAWAY d / 2; the
   * chain never came back within the run and ended at 0.60 against 0.38.
   */
  const motion = { moved: 0, noise: 0 };
  const driftDominated = (): boolean => motion.noise > 0 && motion.moved > DRIFT_LIMIT * motion.noise;
  const before = new Float64Array(d);
  /** One kernel step that also adds to `motion`. */
  const trackedStep = (key: Key): StepInfo => {
    before.set(state.position);
    const out = kernel.step(state, key);
    state = out.state;
    let moved = 0;
    let noise = 0;
    for (let i = 0; i < d; i++) {
      moved += (state.position[i]! - before[i]!) ** 2;
      noise += kernel.stepSizes[i]!;
    }
    motion.moved += moved;
    motion.noise += noise;
    return out.info;
  };
  /** The stability re-check at the chain's position (see 2. below); returns the eigenvalue. */
  const recheck = (salt: number): number => {
    const wMax = loadWeights();
    const lamHere = recheckTopEigenvalue(posterior, state.position, weights, eig, foldIn(foldIn(o.key, 4), salt), scratch);
    fge += 2 * RECHECK_ITERATIONS;
    if (lamHere > lamMax) lamMax = lamHere;
    cap = Math.min(cap, stabilityCap(kappa, nBeta, gamma, lamHere, wMax));
    return lamHere;
  };
  /** The step the rule wants from a measurement (lam, tr(D H), tr(D C_b)) taken at eps. */
  const ruleStep = (lam: number, tr: number, noise: number): { wanted: number; predicted: number | null } => {
    // Gradient noise adds eps^2 (n beta)^2 C_b / 4 to the injected eps per step: the same
    // inflation as a curvature n beta tr(D C_b) (see MINIBATCH NOISE above).
    const load = tr + nBeta * Math.max(noise, 0);
    const pred = lam > 0 && load > 0 ? (biasFactor * eps * nBeta * load) / (8 * lam) : null;
    if (pred !== null) return { wanted: (eps * o.targetBias) / pred, predicted: pred };
    // lambda-hat <= 0 (w* is not a minimum, or too few draws): fall back to bounding every
    // direction's own inflation, eps k_j / 4 <= target_bias with k_j <= n beta tr(D H).
    if (load > 0) return { wanted: (4 * o.targetBias) / (biasFactor * nBeta * load), predicted: null };
    return { wanted: eps, predicted: null }; // no information: keep eps (within the bounds)
  };

  for (let r = 0; r < maxRounds && (converged < o.rounds || stepsTaken < minSteps); r++) {
    converged++;
    kernel.copyState(state, backup);
    kernel.stepSize = eps;
    const roundKey = foldIn(stepKeyBase, r);
    sums.lam = sums.tr = sums.noise = sums.cnt = 0;
    motion.moved = motion.noise = 0;
    let diverged = false;
    for (let t = 0; t < o.roundSteps; t++) {
      fge += trackedStep(foldInInto(roundKey, t, stepKey, scratch.block)).fge;
      stepsTaken++;
      if (t < half || (t - half + 1) % lnEvery !== 0) continue;
      if (!measure(foldIn(foldIn(probeKeyBase, r + 1), t))) {
        diverged = true;
        break;
      }
    }
    let finite = !diverged && !runaway();
    for (let i = 0; i < d && finite; i++) finite = Number.isFinite(state.position[i]!);
    if (!finite) {
      history.push({ round: r, step_size: eps, lambda_hat: null, trace_DH: null, trace_DC: null, predicted_bias: null, lambda_max: lamMax, diverged: true });
      kernel.copyState(backup, state);
      // Never return to a step that diverged.
      ceiling = Math.min(ceiling, eps / 4);
      eps /= 10;
      converged--; // a restart does not use up a round
      continue;
    }
    // 2. Re-check the stability bound where the pilot went: away from w* the curvature of a
    //    ReLU net (or of a w* that is not a minimum) differs, and the cap keeps the largest
    //    seen. Warm-started from the last eigenvector, so a few iterations suffice.
    const lamHere = recheck(r);

    const { cnt } = sums;
    const lamRaw = cnt > 0 ? sums.lam / cnt : Number.NaN;
    // lambda <= d/2 for every learning coefficient: a larger lambda-hat is step (or drift) error.
    const lam = Math.min(lamRaw, d / 2);
    const tr = cnt > 0 ? sums.tr / cnt : Number.NaN;
    const noise = cnt > 0 ? sums.noise / cnt : Number.NaN;
    const rule = ruleStep(lam, tr, noise);
    predicted = rule.predicted;
    const round: CalibrationRound = {
      round: r,
      step_size: eps,
      lambda_hat: Number.isFinite(lamRaw) ? lamRaw : null,
      trace_DH: Number.isFinite(tr) ? tr : null,
      trace_DC: Number.isFinite(noise) ? noise : null,
      predicted_bias: predicted,
      lambda_max: lamHere,
      diverged: false,
    };
    history.push(round);

    // 3. The feedback guard. A step increase after which lambda-hat jumps by more than
    //    JUMP_RATIO is suspect: either the pilot was still relaxing (legitimate), or the larger
    //    step inflates lambda-hat (then the rule, which scales eps with lambda-hat, would feed
    //    on its own error). Test it: one round back at the previous step, from the new state.
    //    If lambda-hat stays up, it was relaxation; if it falls back, lambda-hat depends on the
    //    step, and the previous step becomes a ceiling.
    if (suspect !== null) {
      if (lam > 0 && lam * JUMP_RATIO < suspect.lam) {
        ceiling = Math.min(ceiling, eps);
        round.check = `lambda-hat fell from ${suspect.lam.toPrecision(3)} back to ${lam.toPrecision(3)} at the smaller step: step ${suspect.eps.toExponential(2)} inflates it; ceiling ${eps.toExponential(2)}`;
      } else {
        round.check = 'lambda-hat did not fall at the smaller step: the jump was relaxation';
      }
      suspect = null;
    } else if (prev !== null && eps > prev.eps * 1.15 && prev.lam > 0 && lam > JUMP_RATIO * prev.lam) {
      suspect = { eps, lam };
      round.check = `lambda-hat jumped ${(lam / prev.lam).toFixed(2)}x with the step: re-testing at ${prev.eps.toExponential(2)}`;
      eps = prev.eps;
      converged--; // a test does not use up a round
      continue;
    }
    if (Number.isFinite(lam)) prev = { eps, lam };

    const next = Math.min(4 * eps, Math.max(eps / 16, rule.wanted), ceiling, cap);
    const moved = Math.abs(next / eps - 1);
    eps = next;
    if (moved < 0.15 && r >= 1 && stepsTaken >= minSteps) break;
  }
  eps = Math.min(eps, cap, ceiling);

  // 4. RELAXATION. Started at w*, a chain on a singular target drifts out along the valley of
  //    the localiser over ~R = 2 / (gamma eps) steps, and there the curvature is larger than at
  //    w* (on a 5-8-9-6-12 DLN: lambda_max 8.6 at w*, 47-184 along the relaxed chain), so a step
  //    calibrated near w* is too large for the chain it will sample. The chain keeps moving in
  //    blocks; after each, the stability cap and the bias rule are re-measured where it is, and
  //    the step only falls (no feedback from a noisy block can raise it). The phase lasts
  //    `relaxations` R at the step as it then is, so it lengthens when the step falls.
  const relaxation: RelaxationBlock[] = [];
  let relaxSteps = 0;
  const relaxR = o.relaxations ?? 0;
  const relaxMax = o.maxRelaxationSteps ?? Number.POSITIVE_INFINITY;
  for (let b = 0; relaxR > 0 && relaxSteps < Math.min(relaxMax, (relaxR * 2) / (gamma * eps)); b++) {
    const target = Math.min(relaxMax, (relaxR * 2) / (gamma * eps));
    const blockSteps = Math.max(o.roundSteps, Math.ceil(target / RELAX_BLOCKS));
    const measureEvery = Math.max(1, Math.floor(blockSteps / LN_POINTS));
    kernel.copyState(state, backup);
    kernel.stepSize = eps;
    const blockKey = foldIn(foldIn(stepKeyBase, 1_000_000), b);
    sums.lam = sums.tr = sums.noise = sums.cnt = 0;
    motion.moved = motion.noise = 0;
    let diverged = false;
    for (let t = 0; t < blockSteps; t++) {
      fge += trackedStep(foldInInto(blockKey, t, stepKey, scratch.block)).fge;
      if ((t + 1) % measureEvery !== 0) continue;
      if (!measure(foldIn(foldIn(probeKeyBase, 1_000_000 + b), t))) {
        diverged = true;
        break;
      }
    }
    let finite = !diverged && !runaway();
    for (let i = 0; i < d && finite; i++) finite = Number.isFinite(state.position[i]!);
    if (!finite) {
      relaxation.push({ steps: relaxSteps, step_size: eps, lambda_hat: null, trace_DH: null, trace_DC: null, lambda_max: lamMax, diverged: true });
      kernel.copyState(backup, state);
      ceiling = Math.min(ceiling, eps / 4);
      eps /= 10;
      continue;
    }
    relaxSteps += blockSteps;
    const lamHere = recheck(1_000_000 + b);
    const { cnt } = sums;
    const lamRaw = cnt > 0 ? sums.lam / cnt : Number.NaN;
    const lam = Math.min(lamRaw, d / 2);
    const tr = cnt > 0 ? sums.tr / cnt : Number.NaN;
    const noise = cnt > 0 ? sums.noise / cnt : Number.NaN;
    const rule = ruleStep(lam, tr, noise);
    relaxation.push({
      steps: relaxSteps,
      step_size: eps,
      lambda_hat: Number.isFinite(lamRaw) ? lamRaw : null,
      trace_DH: Number.isFinite(tr) ? tr : null,
      trace_DC: Number.isFinite(noise) ? noise : null,
      lambda_max: lamHere,
      diverged: false,
    });
    if (rule.predicted !== null) predicted = rule.predicted;
    eps = Math.min(eps, Math.max(eps / 4, rule.wanted), cap, ceiling);
  }
  kernel.stepSize = eps;
  const last = history[history.length - 1];
  const lastStep = relaxation.length > 0 ? relaxation[relaxation.length - 1]!.step_size : last?.step_size;
  return {
    params: { stepSize: eps },
    state,
    fge,
    report: {
      rule:
        'eps = min(8 target_bias lambda / (n beta [tr(D H) + n beta tr(D C_b)]), kappa / (n beta lambda_max + gamma)), re-measured while the chain relaxes (Gaussian ULA bias budget with minibatch noise, ULA stability cap; see calibrate.ts)',
      target_bias: o.targetBias,
      trace_H_at_wstar: tr0,
      lambda_max_at_wstar: lamMax0,
      lambda_max: lamMax,
      stability_factor: kappa,
      stability_cap: cap,
      eps_a_max: eps * (nBeta * lamMax + gamma),
      step_ceiling: Number.isFinite(ceiling) ? ceiling : null,
      initial_step_size: initialEps,
      predicted_bias: predicted !== null && lastStep !== undefined && lastStep > 0 ? (predicted * eps) / lastStep : null,
      rounds: history,
      relaxation,
      relaxation_steps: relaxSteps,
    },
  };
}

/** The largest eps with eps (n beta lambda_max + gamma w_max) <= kappa (w_max: the largest D_i). */
function stabilityCap(kappa: number, nBeta: number, gamma: number, lamMax: number, wMax: number): number {
  const a = nBeta * (Number.isFinite(lamMax) ? lamMax : Number.MAX_VALUE) + gamma * Math.max(wMax, 0);
  return a > 0 ? kappa / a : Number.POSITIVE_INFINITY;
}
