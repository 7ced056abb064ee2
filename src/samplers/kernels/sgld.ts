/**
 * SGLD (Welling & Teh; the LLC form of Lau et al.) with optional RMSProp or Adam
 * preconditioning (Hitchcock & Hoogland 2025, App. D.3):
 *
 *   g     = grad of the minibatch loss L_b(w) (b rows drawn with replacement; full data when
 *           batch_size >= n, which is exact and cheaper than drawing >= n rows)
 *   drift = gamma (w - w*) + n beta g             (Adam: g replaced by the bias-corrected m)
 *   w    <- w - (eps_i / 2) drift + sqrt(eps_i) xi,   xi ~ N(0, I)
 *
 * Preconditioners keep moments of the LOSS gradient g only (never the localizer term):
 *   v <- b2 v + (1 - b2) g^2, v_0 = 1, vhat = v / (1 - b2^t), eps_i = eps / (sqrt(vhat_i) + a)
 *   Adam also m <- b1 m + (1 - b1) g, m_0 = 0, mhat = m / (1 - b1^t).
 * With `precond_adapt: burn_in` (default) the moments stop at the end of the burn-in: the
 * recorded steps use the frozen eps_i and, for Adam, the gradient g itself as drift, i.e.
 * Langevin with a constant diagonal metric. An always-adapting metric lacks the divergence term
 * a position-dependent metric needs, and Adam's EMA drift lags the position; both sample
 * another law (measured on the singular suite: +60% to +107% for Adam, +89% for RMSProp).
 *
 * Step size: `step_size: auto` (default) calibrates it per chain from the target (see
 * calibrate.ts: a bias budget from a Hessian-trace estimate, capped by a ULA stability bound
 * from the top Hessian eigenvalue), and the run then uses ONE step, the median of the chains'
 * calibrated steps, never above the tightest chain's stability cap (SamplerDef.share): a single
 * pilot's step is noisy
 * (4x spread between chains measured on a DLN), and chains at different steps sample different
 * distributions, so their spread and R-hat would mix step error with Monte Carlo error. While
 * the run samples, the step guard (calibrate.ts STEP GUARD, `step_guard_checks`) lowers a chain's
 * step where the chain has moved on into regions stiffer than its stability cap allows. A
 * number overrides the calibration (and has no guard).
 *
 * Run length: `steps: auto` (default) sizes the run in relaxation times of the localiser,
 * R = 2 / (gamma eps) steps (the AR(1) time constant 1 / (1 - rho) of a direction that only
 * the prior gamma/2 |w - w*|^2 holds, rho = 1 - eps gamma / 2). A singular model has such flat
 * directions (e.g. a DLN's later layers when the first is zero at w*), and lambda-hat depends on
 * where the chain is along them: started at w*, it drifts while the chain moves out into the
 * singular valley. Measured on `dln 6-4-3-5 r0` (validate) at eps = 5e-5 (R = 40k steps):
 * 5k-step block means 7.2, 6.4, 5.7, then fluctuating around 5.6 (Aoyagi 5.5); the old fixed
 * 10k steps with half burnt kept steps 5k-10k, inside that transient (+10.5%). A fixed step
 * count cannot be right for every target because R scales with 1 / eps. Auto: burn-in
 * `burn_in_relaxations` R, then `kept_relaxations` R recorded, capped at `max_steps`.
 * With `step_size: auto` the burn-in is the calibration's relaxation phase (calibrate.ts): the
 * chain relaxes at its own step while the step is re-measured (the curvature along the relaxed
 * valley is larger than at w*: a step calibrated at w* gave +38% on a 5-8-9-6-12 DLN), so after
 * the chains' steps are pooled only a short settling (`SETTLE_RELAXATIONS` R) is discarded.
 * `eval_every: auto` records ~500 rows per chain (L_n is correlated over ~R steps, so more
 * frequent evaluation costs full-data passes and buys little).
 *
 * Optional diagnostic `mala_every: k`: every k steps, the Metropolis acceptance probability
 * that the SGLD proposal would have under MALA, computed on the step's own minibatch (as
 * devinterp's MalaAcceptanceRate does). Costs one extra minibatch gradient per diagnosed step.
 */
import { z } from 'zod';
import { toJsonObject } from '../../contracts/index.js';
import { foldIn, type Key } from '../../rng/index.js';
import type { Posterior, SamplerState, StepInfo } from '../types.js';
import { defineSampler, flopsPerFge, type PrepareContext, type Prepared, type Schedule, type SharedTuning, type TunedValues } from '../sampler.js';
import { calibrationFields, stepCalibration, stepGuard, stepGuardFge, stepSizeSchema, type CalibratedKernel, type StepGuard } from '../adaptation/calibrate.js';
import { stepDraws } from './minibatch.js';
import { biasCorrection, updateMoments } from '../../optim/adam.js';

export const PRECONDITIONERS = ['none', 'rmsprop', 'adam'] as const;
export type Precond = (typeof PRECONDITIONERS)[number];

export const sgldSchema = z
  .object({
    /** Kernel steps after calibration, or auto: a number of localiser relaxation times (above). */
    steps: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
    /** Burn-in steps (Python ignored this key). null: burn_in_relaxations R (auto), else half of the steps. */
    warmup: z.number().int().min(0).nullable().default(null),
    /** auto: about `ROWS_PER_CHAIN` recorded rows per chain. */
    eval_every: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
    /** steps: auto: burn-in and recorded length in relaxation times R = 2 / (gamma eps). */
    burn_in_relaxations: z.number().gt(0).default(0.25),
    kept_relaxations: z.number().gt(0).default(1),
    /**
     * A run whose kept steps are cheap records more: up to `cheap_kept_relaxations` R while the
     * kept steps of a chain cost at most `cheap_run_gflop` (a fraction of a second of one core).
     * Monte Carlo error then falls where it costs nothing (a 45-parameter network's chain keeps
     * ~1000 steps per R); a target where one R already costs more is run as kept_relaxations says.
     */
    cheap_kept_relaxations: z.number().gt(0).default(16),
    cheap_run_gflop: z.number().min(0).default(4),
    /** steps: auto never exceeds this (then burn-in and kept shrink in proportion). */
    max_steps: z.number().int().min(2).default(400_000),
    batch_size: z.number().int().min(1).default(256),
    step_size: stepSizeSchema.default('auto'),
    precond: z.enum(PRECONDITIONERS).default('none'),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    /** The a in eps_i = eps / (sqrt(vhat_i) + a); bounds the preconditioned step by eps / a. */
    precond_eps: z.number().positive().default(1e-4),
    /**
     * burn_in: the preconditioner adapts through the burn-in and is then frozen for the recorded
     * steps (Adam's drift becomes the plain gradient), so the recorded chain is Langevin with a
     * constant metric, whose stationary law is the posterior up to O(eps); always: it adapts at
     * every step (the RMSProp/Adam SGLD of the literature, which drops the metric's divergence
     * term and so samples another law wherever the metric varies, as along a singular valley).
     */
    precond_adapt: z.enum(['burn_in', 'always']).default('burn_in'),
    ...calibrationFields,
    /**
     * With step_size: auto, times the run re-checks the step's stability cap where the chain is
     * (the step guard, calibrate.ts; 8 FGE each); the step only falls. 0: off.
     */
    step_guard_checks: z.number().int().min(0).default(64),
    /** Every k steps record the MALA acceptance of the step (0: off). */
    mala_every: z.number().int().min(0).default(0),
  })
  .strict();
export type SgldConfig = z.infer<typeof sgldSchema>;

export interface SgldState extends SamplerState {
  position: Float64Array;
  /** Preconditioner second moment (length dim; unused for none). */
  v: Float64Array;
  /** Adam first moment. */
  m: Float64Array;
  /** Steps taken (for bias correction). */
  t: number;
}

export interface SgldInfo extends StepInfo {
  fge: number;
  step_size: number;
  mala_acceptance?: number;
}

export interface SgldKernelOptions {
  stepSize: number;
  batchSize: number;
  precond: Precond;
  beta1: number;
  beta2: number;
  precondEps: number;
  /** 0: off. */
  malaEvery: number;
}

export interface SgldKernel extends CalibratedKernel<SgldState> {
  step(state: SgldState, key: Key): { state: SgldState; info: SgldInfo };
  /** The preconditioner stops adapting after this many steps of a chain (Infinity: never). */
  freezeAfter: number;
  /** Re-checks the calibrated step's stability cap while the run samples (calibrate.ts). */
  guard: StepGuard | null;
}

/** Salt of the key the step guard draws its fresh power-iteration direction from. */
const GUARD_KEY = 0x67617264;

/**
 * The SGLD kernel. Buffers are allocated once here; `step` allocates nothing. The returned
 * {state, info} object is reused: read it before the next step.
 */
export function sgldKernel(posterior: Posterior, o: SgldKernelOptions): SgldKernel {
  const d = posterior.dim;
  const n = posterior.n;
  const { gamma, nBeta, wStar } = posterior;
  const draws = stepDraws(n, o.batchSize);
  const { rows, fge } = draws;
  const g = new Float64Array(d);
  const xi = new Float64Array(d);
  const epsI = new Float64Array(d).fill(o.stepSize);
  const prop = new Float64Array(d);
  const gProp = new Float64Array(d);
  const info: SgldInfo = { fge, step_size: o.stepSize };
  const result: { state: SgldState; info: SgldInfo } = { state: undefined as unknown as SgldState, info };
  const { beta1, beta2, precondEps, precond, malaEvery } = o;

  const kernel: SgldKernel = {
    stepSize: o.stepSize,
    freezeAfter: Infinity,
    guard: null,
    stepSizes: epsI,
    get lastRows() {
      return rows;
    },
    init(position: Float64Array): SgldState {
      return { position: Float64Array.from(position), v: new Float64Array(d).fill(1), m: new Float64Array(d), t: 0 };
    },
    copyState(from: SgldState, to: SgldState): void {
      to.position.set(from.position);
      to.v.set(from.v);
      to.m.set(from.m);
      to.t = from.t;
    },
    step(state: SgldState, key: Key): { state: SgldState; info: SgldInfo } {
      const w = state.position;
      const eps = kernel.stepSize;
      draws.drawRows(key);
      const Lb = posterior.lossAndGrad(w, g, rows);
      draws.drawNoise(key, xi);
      state.t += 1;
      const t = state.t;
      if (precond !== 'none') {
        const v = state.v;
        const m = state.m;
        const frozen = t > kernel.freezeAfter;
        // Frozen: v keeps its value at the freeze and the drift is the gradient itself.
        const adam = precond === 'adam' && !frozen;
        if (!frozen) updateMoments(adam ? m : null, v, g, beta1, beta2);
        const c2 = biasCorrection(beta2, Math.min(t, kernel.freezeAfter));
        const c1 = biasCorrection(beta1, t);
        for (let i = 0; i < d; i++) {
          epsI[i] = eps / (Math.sqrt(v[i]! / c2) + precondEps);
          // Adam's drift is the bias-corrected first moment of the loss gradient.
          if (adam) g[i] = m[i]! / c1;
        }
      } else if (epsI[0] !== eps) {
        epsI.fill(eps);
      }
      const mala = malaEvery > 0 && t % malaEvery === 0;
      let Ucur = 0;
      if (mala) {
        let sq = 0;
        for (let i = 0; i < d; i++) sq += (w[i]! - wStar[i]!) ** 2;
        Ucur = 0.5 * gamma * sq + nBeta * Lb;
      }
      let fgeStep = fge;
      if (mala) {
        // Proposal into `prop`; forward and reverse log densities need drift at both ends.
        let logQfwd = 0;
        for (let i = 0; i < d; i++) {
          const drift = gamma * (w[i]! - wStar[i]!) + nBeta * g[i]!;
          const e = epsI[i]!;
          prop[i] = w[i]! - 0.5 * e * drift + Math.sqrt(e) * xi[i]!;
          logQfwd += -0.5 * xi[i]! * xi[i]!;
        }
        const Lp = posterior.lossAndGrad(prop, gProp, rows);
        fgeStep += fge;
        let sq = 0;
        let logQrev = 0;
        for (let i = 0; i < d; i++) {
          const dp = prop[i]! - wStar[i]!;
          sq += dp * dp;
          const e = epsI[i]!;
          const drift = gamma * dp + nBeta * gProp[i]!;
          const r = w[i]! - prop[i]! + 0.5 * e * drift;
          logQrev += (-0.5 * r * r) / e;
        }
        const Uprop = 0.5 * gamma * sq + nBeta * Lp;
        const logA = -Uprop + Ucur + logQrev - logQfwd;
        info.mala_acceptance = Number.isNaN(logA) ? 0 : Math.min(1, Math.exp(logA));
        w.set(prop);
      } else {
        for (let i = 0; i < d; i++) {
          const drift = gamma * (w[i]! - wStar[i]!) + nBeta * g[i]!;
          const e = epsI[i]!;
          w[i] = w[i]! - 0.5 * e * drift + Math.sqrt(e) * xi[i]!;
        }
        if (malaEvery > 0) info.mala_acceptance = undefined;
      }
      info.step_size = eps;
      const guard = kernel.guard;
      if (guard !== null && t % guard.every === 0) {
        // Applies from the next step on; this step was taken at eps (recorded above).
        kernel.stepSize = guard.check(w, eps, epsI, foldIn(key, GUARD_KEY));
        fgeStep += guard.fgePerCheck;
      }
      info.fge = fgeStep;
      result.state = state;
      return result;
    },
  };
  return kernel;
}

export function sgldKernelOptions(cfg: SgldConfig, stepSize: number): SgldKernelOptions {
  return {
    stepSize,
    batchSize: cfg.batch_size,
    precond: cfg.precond,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    precondEps: cfg.precond_eps,
    malaEvery: cfg.mala_every,
  };
}

function prepareSgld(ctx: PrepareContext<SgldConfig>): Prepared {
  const { posterior, cfg } = ctx;
  let kernel: SgldKernel;
  let prepared: Omit<Prepared, 'adopt'>;
  if (cfg.step_size !== 'auto') {
    kernel = sgldKernel(posterior, sgldKernelOptions(cfg, cfg.step_size));
    prepared = { kernel, tuned: { step_size: cfg.step_size, step_size_source: 'config', localizer_gamma: posterior.gamma }, fge: 0 };
  } else {
    kernel = sgldKernel(posterior, sgldKernelOptions(cfg, 1));
    const cal = stepCalibration(kernel, {
      targetBias: cfg.target_bias,
      roundSteps: cfg.calibration_steps,
      rounds: cfg.calibration_rounds,
      probes: cfg.calibration_probes,
      minSteps: cfg.precond === 'none' ? 0 : Math.ceil(3 / (1 - cfg.beta2)),
      // Adam's lagging EMA drift inflates the step bias ~(1 + b1) / (1 - b1)-fold; frozen after
      // the burn-in, the recorded steps use the gradient itself and have ULA's bias.
      biasFactor: cfg.precond === 'adam' && cfg.precond_adapt === 'always' ? (1 + cfg.beta1) / (1 - cfg.beta1) : 1,
      // steps: auto: the burn-in happens here, at a step re-measured as the chain relaxes.
      ...(cfg.steps === 'auto' && cfg.warmup === null
        ? { relaxations: cfg.burn_in_relaxations, maxRelaxationSteps: Math.ceil((cfg.max_steps * cfg.burn_in_relaxations) / (cfg.burn_in_relaxations + cfg.kept_relaxations)) }
        : {}),
    })(ctx);
    prepared = {
      kernel,
      state: cal.state,
      tuned: {
        step_size: cal.params.stepSize,
        step_size_source: 'calibrated',
        localizer_gamma: posterior.gamma,
        relaxed_in_calibration: cal.report.relaxation_steps > 0,
        calibration: toJsonObject(cal.report),
      },
      fge: cal.fge,
    };
  }
  // Work of one step (the schedule keeps more of a cheap run).
  prepared.tuned.step_gflop = (flopsPerFge(posterior.n, posterior.dim) * Math.min(1, cfg.batch_size / posterior.n)) / 1e9;
  const stepsBefore = (prepared.state as SgldState | undefined)?.t ?? 0;
  return { ...prepared, adopt: (shared) => adoptSgld(kernel, posterior, prepared.tuned, shared, cfg, stepsBefore) };
}

/** The median (of an even count: the geometric mean of the middle two, steps being scales). */
export function medianStep(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : Math.sqrt(s[m - 1]! * s[m]!);
}

/** A chain's calibrated stability cap on the step, when its calibration reported one. */
function stabilityCapOf(tuned: TunedValues): number | null {
  const report = tuned.calibration;
  if (report === null || typeof report !== 'object' || Array.isArray(report)) return null;
  const cap = Number(report.stability_cap);
  return Number.isFinite(cap) && cap > 0 ? cap : null;
}

/**
 * One step for the run: the median of the chains' steps (all equal when configured), but no
 * larger than the tightest chain's stability cap: the median of steps that each sit on their
 * own chain's cap can exceed another chain's cap.
 */
function shareSgld(tuned: readonly TunedValues[]): SharedTuning {
  const steps = tuned.map((t) => Number(t.step_size));
  const gamma = Number(tuned[0]?.localizer_gamma);
  if (!steps.every((x) => Number.isFinite(x) && x > 0) || !(gamma > 0)) {
    throw new Error(`sgld: cannot pool the chains' tuning (step sizes ${JSON.stringify(steps)}, gamma ${gamma})`);
  }
  const caps = tuned.map(stabilityCapOf).filter((c): c is number => c !== null);
  const step = Math.min(medianStep(steps), ...caps);
  const relaxed = tuned.every((t) => t.relaxed_in_calibration === true);
  const stepGflop = Number(tuned[0]?.step_gflop);
  return { step_size: step, localizer_gamma: gamma, chains: steps.length, relaxed_in_calibration: relaxed, ...(stepGflop > 0 ? { step_gflop: stepGflop } : {}) };
}

/** Puts a chain's kernel on the run's step; the chain's final tuned values. */
function adoptSgld(kernel: SgldKernel, posterior: Posterior, own: TunedValues, shared: SharedTuning, cfg: SgldConfig, stepsBefore: number): TunedValues {
  const eps = Number(shared.step_size);
  kernel.stepSize = eps;
  const schedule = sgldSchedule(cfg, shared);
  if (cfg.precond !== 'none' && cfg.precond_adapt === 'burn_in') kernel.freezeAfter = stepsBefore + schedule.burnIn;
  if (cfg.step_size === 'auto' && cfg.step_guard_checks > 0) kernel.guard = stepGuard(posterior, schedule.steps / cfg.step_guard_checks);
  return {
    ...own,
    ...(kernel.guard !== null ? { step_guard_every: kernel.guard.every } : {}),
    step_size: eps,
    ...(Number.isFinite(kernel.freezeAfter) ? { precond_frozen_after_step: kernel.freezeAfter } : {}),
    ...(own.step_size_source === 'calibrated'
      ? { chain_step_size: own.step_size ?? null, step_size_source: `calibrated (median of ${String(shared.chains)} chains)` }
      : {}),
    relaxation_steps: relaxationSteps(eps, Number(shared.localizer_gamma)),
    ...(cfg.steps === 'auto' ? { auto_steps: schedule.steps, auto_burn_in: schedule.burnIn, steps_capped: schedule.steps >= cfg.max_steps } : {}),
  };
}

/** R = 2 / (gamma eps): steps for a direction held only by the localiser to relax by 1/e. */
export function relaxationSteps(stepSize: number, gamma: number): number {
  return 2 / (gamma * stepSize);
}

/**
 * lambda-hat that Adam-SGLD with fixed per-coordinate steps eps_i converges to on the quadratic
 * L = 1/2 |w - w*|^2 (minibatch gradients exact), t large (bias correction 1). Per coordinate
 * z = (x, m), x = w - w*:  m' = b1 m + (1 - b1) x,  x' = x - (eps/2)(gamma x + n beta m') + sqrt(eps) xi,
 * a linear AR system z' = A z + b xi whose stationary covariance solves S = A S A^T + b b^T.
 * The drift is the EMA m, which lags x, so this is NOT the ULA variance 1 / (a (1 - eps a / 4)):
 * the lag acts like negative damping, and for eps a << 1 - b1 the excess over the exact 1/a is
 * about (1 + b1) / (1 - b1) times ULA's (19x at b1 = 0.9). Returns sum_i (n beta / 2) S_xx(eps_i).
 */
export function quadraticAdamSgldLambda(s: { nBeta: number; gamma: number; beta1: number; stepSizes: ArrayLike<number> }): number {
  const { nBeta: nb, gamma, beta1: b1 } = s;
  let total = 0;
  for (let i = 0; i < s.stepSizes.length; i++) {
    const e = s.stepSizes[i]!;
    // A = [[p, q], [r, b1]] (z = (x, m)); doubling: S = sum_k A^k Q (A^k)^T, Q = diag(e, 0).
    let p = 1 - (e * gamma) / 2 - (e * nb * (1 - b1)) / 2;
    let q = (-e * nb * b1) / 2;
    let r = 1 - b1;
    let u = b1;
    let sxx = e;
    let sxm = 0;
    let smm = 0;
    for (let k = 0; k < 64; k++) {
      // S <- S + P S P^T with P = [[p, q], [r, u]]
      const axx = p * sxx + q * sxm;
      const axm = p * sxm + q * smm;
      const amx = r * sxx + u * sxm;
      const amm = r * sxm + u * smm;
      const nxx = sxx + axx * p + axm * q;
      const nxm = sxm + axx * r + axm * u;
      const nmm = smm + amx * r + amm * u;
      sxx = nxx;
      sxm = nxm;
      smm = nmm;
      const pp = p * p + q * r;
      const pq = p * q + q * u;
      const rp = r * p + u * r;
      const uu = r * q + u * u;
      p = pp;
      q = pq;
      r = rp;
      u = uu;
      if (!Number.isFinite(sxx) || sxx < 0) throw new RangeError(`Adam-SGLD on the quadratic is unstable at eps = ${e}`);
    }
    total += (nb / 2) * sxx;
  }
  return total;
}

/**
 * Burn-in after the chains' steps are pooled, in R, when the calibration already relaxed the
 * chains: a chain moving to the (median) run step from its own re-settles in its stiff
 * directions (~1 / (eps k) steps, far below R), not along the valley.
 */
export const SETTLE_RELAXATIONS = 0.05;

/** Recorded rows per chain that `eval_every: auto` aims at. */
export const ROWS_PER_CHAIN = 500;

export interface ScheduleConfig {
  steps: number | 'auto';
  warmup: number | null;
  eval_every: number | 'auto';
  burn_in_relaxations?: number;
  kept_relaxations?: number;
  cheap_kept_relaxations?: number;
  cheap_run_gflop?: number;
  max_steps?: number;
}

/**
 * The SGLD (and SGNHT) schedule. With `steps: auto` it needs the run's step (shared tuning);
 * without it (before calibration) it is provisional: max_steps.
 */
export function sgldSchedule(cfg: ScheduleConfig, shared?: SharedTuning): Schedule {
  let steps: number;
  let burnIn: number;
  if (cfg.steps === 'auto') {
    const max = cfg.max_steps ?? 400_000;
    const relaxed = shared?.relaxed_in_calibration === true;
    const burnR = relaxed ? SETTLE_RELAXATIONS : (cfg.burn_in_relaxations ?? 0.25);
    let keptR = cfg.kept_relaxations ?? 1;
    const eps = Number(shared?.step_size);
    const gamma = Number(shared?.localizer_gamma);
    // Provisional (no step yet): as if R filled max_steps exactly.
    const R = eps > 0 && gamma > 0 ? relaxationSteps(eps, gamma) : max / (burnR + keptR);
    const stepGflop = Number(shared?.step_gflop);
    const cheapR = cfg.cheap_kept_relaxations ?? keptR;
    if (stepGflop > 0 && eps > 0 && gamma > 0 && cheapR > keptR) {
      keptR = Math.max(keptR, Math.min(cheapR, (cfg.cheap_run_gflop ?? 0) / (stepGflop * R)));
    }
    const scale = Math.min(1, max / (R * (burnR + keptR)));
    burnIn = cfg.warmup ?? Math.min(max - 1, Math.ceil(scale * burnR * R));
    steps = Math.max(burnIn + 1, Math.min(max, Math.ceil(burnIn + scale * keptR * R)));
  } else {
    steps = cfg.steps;
    burnIn = cfg.warmup ?? Math.floor(cfg.steps / 2);
  }
  const evalEvery = cfg.eval_every === 'auto' ? Math.max(1, Math.floor((steps - Math.min(burnIn, steps)) / ROWS_PER_CHAIN)) : cfg.eval_every;
  return { steps, burnIn, evalEvery };
}

export const sampler = defineSampler<SgldConfig>({
  name: 'sgld',
  summary: 'SGLD with optional RMSProp/Adam preconditioning; step size calibrated from the target by default',
  schema: sgldSchema,
  traits: { family: 'stochastic-gradient', bias: 'discretisation', shares: ['step_size'], thresholds: {} },
  schedule: sgldSchedule,
  prepare: prepareSgld,
  share: shareSgld,
  columns: (cfg) => (cfg.mala_every > 0 ? ['step_size', 'mala_acceptance'] : ['step_size']),
  // With steps: auto the run is at most max_steps minibatch steps, plus its L_n evaluations, the
  // calibration's minibatch steps and the step guard's checks; a budget lowers that cap (the
  // run's own sizing rule and its burn-in proportions are unchanged).
  lengths: {
    keys: [{ key: 'max_steps', min: 1000 }],
    plannedFge: (cfg, n) => {
      const steps = cfg.steps === 'auto' ? cfg.max_steps : cfg.steps;
      const perStep = Math.min(1, cfg.batch_size / n);
      const evals = cfg.eval_every === 'auto' ? ROWS_PER_CHAIN : steps / cfg.eval_every;
      const calibration = cfg.step_size === 'auto' ? cfg.calibration_steps * cfg.calibration_rounds * perStep : 0;
      const guard = cfg.step_size === 'auto' ? cfg.step_guard_checks * stepGuardFge() : 0;
      return steps * perStep + evals + calibration + guard;
    },
  },
});
