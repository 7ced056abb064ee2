/**
 * Stan's windowed warmup for HMC (Stan reference manual, "HMC algorithm parameters";
 * BlackJAX `adaptation/window_adaptation.py`), run by every chain on its own:
 *
 *   | fast (step size) | slow windows, doubling (step size + mass matrix) | fast (step size) |
 *
 * - Step size: Nesterov dual averaging on the Metropolis acceptance probability (Hoffman &
 *   Gelman 2014, gamma 0.05, t0 10, kappa 0.75, mu = log(10 eps0)), started from a "reasonable"
 *   step size found by doubling/halving until the one-leapfrog acceptance crosses the target
 *   (Stan's init_stepsize, BlackJAX's find_reasonable_step_size).
 * - Mass matrix: at the end of each slow window M^{-1} = the Welford variance of the window's
 *   draws, regularised as Stan does, (n / (n + 5)) var + 1e-3 (5 / (n + 5)); then the step size
 *   is re-initialised for the new metric and dual averaging restarts.
 * - The final step size is the dual-averaging iterate average exp(x_bar).
 *
 * The Python system adapted chain 0 only and then discarded the result; here the function is
 * called once per chain and its result (state, step size, mass matrix) is what that chain samples
 * with.
 *
 * Any Metropolis-adjusted kernel with a step size and a diagonal metric can use it (HMC, MALA):
 * it sees the kernel only through a MetropolisFamily.
 */
import { foldIn, type Key } from '../../rng/index.js';
import type { SamplerState, StepInfo } from '../types.js';
import type { Adaptation, AdaptationContext, Adapted } from './types.js';

/** What window adaptation tunes: a step size and a diagonal inverse mass matrix M^{-1}. */
export interface MetricParams {
  stepSize: number;
  /** Diagonal of M^{-1}, length dim. */
  inverseMassMatrix: Float64Array;
}

/** A transition's report as window adaptation reads it. */
export interface MetropolisInfo extends StepInfo {
  /** Metropolis acceptance probability of the proposal (0 for a divergent one). */
  acceptance: number;
  diverging: boolean;
}

/** What window adaptation needs of a Metropolis-adjusted kernel family. */
export interface MetropolisFamily<S extends SamplerState> {
  /** The chain's state at a position (with whatever a transition caches there). */
  init(position: Float64Array): S;
  /** Work of `init` in full-gradient equivalents. */
  readonly initFge: number;
  /** One transition in place with the given step size and metric. */
  transition(state: S, params: MetricParams, key: Key): MetropolisInfo;
  /**
   * The acceptance probability of a single-step proposal from the state with fresh randomness,
   * without moving the state (Stan's init_stepsize criterion); costs one gradient.
   */
  probe(state: S, stepSize: number, inverseMassMatrix: Float64Array, key: Key): number;
}

// ---------------------------------------------------------------------------------------------
// Schedule

export interface WindowSchedule {
  /** Number of warmup steps. */
  numSteps: number;
  /** Slow windows as [start, end) step indices; the mass matrix updates after step end - 1. */
  slowWindows: Array<[number, number]>;
}

/**
 * Stan's window layout. Defaults: initial buffer 75, first slow window 25, final buffer 50.
 * With fewer than 20 steps there is no mass-matrix adaptation at all (only step size), and
 * when the three defaults do not fit, they are rescaled to 15% / 75% / 10% of the warmup, both
 * as Stan does. Each slow window doubles the previous one; a window that would leave less than
 * twice its size before the final buffer is stretched to the final buffer (Stan's
 * compute_next_window).
 */
export function buildSchedule(
  numSteps: number,
  initialBuffer = 75,
  firstWindow = 25,
  finalBuffer = 50,
): WindowSchedule {
  if (!Number.isInteger(numSteps) || numSteps < 0) throw new Error(`warmup must be a non-negative integer, got ${numSteps}`);
  if (numSteps < 20) return { numSteps, slowWindows: [] };
  let init = initialBuffer;
  let term = finalBuffer;
  let base = firstWindow;
  if (init + base + term > numSteps) {
    init = Math.floor(0.15 * numSteps);
    term = Math.floor(0.1 * numSteps);
    base = numSteps - init - term;
  }
  const slowEnd = numSteps - term;
  const windows: Array<[number, number]> = [];
  let start = init;
  let size = base;
  while (start < slowEnd) {
    let end = start + size;
    if (end + 2 * size > slowEnd) end = slowEnd;
    windows.push([start, end]);
    start = end;
    size *= 2;
  }
  return { numSteps, slowWindows: windows };
}

// ---------------------------------------------------------------------------------------------
// Dual averaging

/** Hoffman & Gelman (2014), Algorithm 5, on x = log step size. */
export class DualAveraging {
  private mu = 0;
  private count = 0;
  private sBar = 0;
  private x = 0;
  private xBar = 0;

  constructor(
    private readonly target: number,
    private readonly gamma = 0.05,
    private readonly t0 = 10,
    private readonly kappa = 0.75,
  ) {}

  /** Restarts around eps0: the iterates are pulled towards mu = log(10 eps0). */
  restart(eps0: number): void {
    this.mu = Math.log(10 * eps0);
    this.count = 0;
    this.sBar = 0;
    this.x = Math.log(eps0);
    this.xBar = 0;
  }

  /** Feeds the acceptance probability of the last step; returns the next step size. */
  update(acceptance: number): number {
    // A NaN acceptance (should not happen: divergences report 0) would poison every later
    // iterate, so treat it as a rejection.
    const a = Number.isFinite(acceptance) ? acceptance : 0;
    this.count += 1;
    const t = this.count;
    const eta = 1 / (t + this.t0);
    this.sBar = (1 - eta) * this.sBar + eta * (this.target - a);
    this.x = this.mu - (Math.sqrt(t) / this.gamma) * this.sBar;
    const w = t ** -this.kappa;
    this.xBar = w * this.x + (1 - w) * this.xBar;
    return Math.exp(this.x);
  }

  get current(): number {
    return Math.exp(this.x);
  }

  /** exp(x_bar), the step size to sample with; the current iterate before any update. */
  get final(): number {
    return this.count === 0 ? Math.exp(this.x) : Math.exp(this.xBar);
  }
}

// ---------------------------------------------------------------------------------------------
// Welford variance

export class WelfordVariance {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(dim: number) {
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
  }

  reset(): void {
    this.n = 0;
    this.mean.fill(0);
    this.m2.fill(0);
  }

  get count(): number {
    return this.n;
  }

  add(x: Float64Array): void {
    this.n += 1;
    const n = this.n;
    for (let i = 0; i < x.length; i++) {
      const delta = x[i]! - this.mean[i]!;
      this.mean[i] = this.mean[i]! + delta / n;
      this.m2[i] = this.m2[i]! + delta * (x[i]! - this.mean[i]!);
    }
  }

  /**
   * Stan's regularised sample variance into out: shrinks towards 1e-3 with weight 5/(n+5), so
   * a short window cannot produce a zero or wildly noisy variance.
   */
  regularizedVarianceInto(out: Float64Array): Float64Array {
    const n = this.n;
    if (n < 2) throw new Error('Welford: need at least 2 draws for a variance');
    const shrink = n / (n + 5);
    const floor = 1e-3 * (5 / (n + 5));
    for (let i = 0; i < out.length; i++) out[i] = shrink * (this.m2[i]! / (n - 1)) + floor;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Reasonable initial step size

/**
 * Doubles or halves the step size until the acceptance probability of a single leapfrog step
 * (fresh momentum each try) crosses `target` (Stan's init_stepsize with BlackJAX's loop
 * structure). Returns the step size and the gradients spent.
 */
export function findReasonableStepSize<S extends SamplerState>(
  family: MetropolisFamily<S>,
  state: S,
  invMass: Float64Array,
  initialStepSize: number,
  target: number,
  k: Key,
  maxIterations = 100,
): { stepSize: number; fge: number } {
  let eps = initialStepSize;
  let fge = 0;
  let previousDirection = 0;
  for (let it = 0; it < maxIterations; it++) {
    const a = family.probe(state, eps, invMass, foldIn(k, it));
    fge += 1;
    const direction = a > target ? 1 : -1;
    if (previousDirection !== 0 && direction !== previousDirection) {
      // Crossed the threshold: BlackJAX keeps the last step size tried.
      break;
    }
    const next = direction > 0 ? eps * 2 : eps / 2;
    if (!(next > Number.MIN_VALUE && next < Number.MAX_VALUE)) break;
    eps = next;
    previousDirection = direction;
  }
  return { stepSize: eps, fge };
}

// ---------------------------------------------------------------------------------------------
// The warmup

export interface WindowAdaptationOptions {
  numSteps: number;
  initialStepSize: number;
  targetAccept: number;
  adaptStepSize: boolean;
  adaptMassMatrix: boolean;
  /** Initial M^{-1}; default ones. */
  initialInverseMassMatrix?: Float64Array;
  initialBuffer?: number;
  firstWindow?: number;
  finalBuffer?: number;
}

const WARMUP_STREAM = 0;
const FIND_STREAM = 1;

/** Window adaptation of `family` as an adaptation (see windowAdapt). */
export function windowAdaptation<S extends SamplerState>(family: MetropolisFamily<S>, opts: WindowAdaptationOptions): Adaptation<MetricParams, S> {
  return (ctx) => windowAdapt(ctx, family, opts);
}

/**
 * Runs the warmup of one chain from ctx.init. Randomness: step i uses
 * foldIn(foldIn(key, 0), i); the j-th step-size search uses foldIn(foldIn(key, 1), j). The report
 * holds the mean acceptance of the warmup steps and how many diverged.
 */
export function windowAdapt<S extends SamplerState>(
  ctx: AdaptationContext,
  family: MetropolisFamily<S>,
  opts: WindowAdaptationOptions,
): Adapted<MetricParams, S> {
  const d = ctx.posterior.dim;
  if (!(opts.targetAccept > 0 && opts.targetAccept < 1)) {
    throw new Error(`target_accept must be in (0, 1), got ${opts.targetAccept}`);
  }
  if (!(opts.initialStepSize > 0)) throw new Error(`step_size must be positive, got ${opts.initialStepSize}`);
  const state = family.init(ctx.init);
  let fge = family.initFge;
  const params: MetricParams = {
    stepSize: opts.initialStepSize,
    inverseMassMatrix: opts.initialInverseMassMatrix
      ? Float64Array.from(opts.initialInverseMassMatrix)
      : new Float64Array(d).fill(1),
  };
  const schedule = opts.adaptMassMatrix
    ? buildSchedule(opts.numSteps, opts.initialBuffer, opts.firstWindow, opts.finalBuffer)
    : { numSteps: opts.numSteps, slowWindows: [] as Array<[number, number]> };
  const kWarm = foldIn(ctx.key, WARMUP_STREAM);
  const kFind = foldIn(ctx.key, FIND_STREAM);
  let searches = 0;

  const da = new DualAveraging(opts.targetAccept);
  const reinitStepSize = (): void => {
    const found = findReasonableStepSize(
      family, state, params.inverseMassMatrix, params.stepSize, opts.targetAccept, foldIn(kFind, searches++),
    );
    fge += found.fge;
    params.stepSize = found.stepSize;
    da.restart(found.stepSize);
  };
  if (opts.adaptStepSize && opts.numSteps > 0) reinitStepSize();

  const welford = new WelfordVariance(d);
  let windowIndex = 0;
  let accSum = 0;
  let divergences = 0;
  for (let i = 0; i < opts.numSteps; i++) {
    const info = family.transition(state, params, foldIn(kWarm, i));
    fge += info.fge;
    accSum += info.acceptance;
    if (info.diverging) divergences++;
    if (opts.adaptStepSize) params.stepSize = da.update(info.acceptance);
    const w = schedule.slowWindows[windowIndex];
    if (w && i >= w[0] && i < w[1]) {
      welford.add(state.position);
      if (i === w[1] - 1) {
        // End of a slow window: new metric, fresh variance estimate, and a step size
        // re-initialised for the new metric (the old one is tuned to the old metric).
        welford.regularizedVarianceInto(params.inverseMassMatrix);
        welford.reset();
        windowIndex += 1;
        if (opts.adaptStepSize) reinitStepSize();
      }
    }
  }
  if (opts.adaptStepSize && opts.numSteps > 0) params.stepSize = da.final;
  const meanAcceptance = opts.numSteps > 0 ? accSum / opts.numSteps : Number.NaN;
  return {
    params,
    state,
    fge,
    report: {
      warmup_acceptance: Number.isFinite(meanAcceptance) ? meanAcceptance : null,
      warmup_divergences: divergences,
    },
  };
}
