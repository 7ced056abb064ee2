/**
 * Full-batch training of the student to w*: Adam (default), AdamW or SGD with momentum, with
 * the Python system's early stop (std of the last `window` losses below `tol`, checked after
 * step `after`), then an L-BFGS polish towards a critical point of L_n. For float32 targets the
 * parameters are rounded to f32 after every update so that w* is exactly representable in the
 * target's dtype.
 *
 * Why the polish: Adam ends a run oscillating at a gradient norm set by its learning rate (the
 * Python system's `base` target: |grad| 0.024 after 10 000 steps), and a residual gradient g at
 * w* pushes every sampler's chains along the flat directions with a drift n·beta·|g|, so they
 * never settle. A few hundred quasi-Newton iterations take |grad| down by one to two orders of
 * magnitude at the cost of a few percent of the training.
 */
import type { DType, LossFunction } from '../engine/types.js';
import type { RandomInitTraining } from '../config/resolve.js';
import { updateMoments } from '../optim/adam.js';
import { lbfgs } from '../optim/lbfgs.js';
import { PROGRESS_INTERVAL_MS, type TrainProgressEvent } from '../contracts/progress.js';

/** Training progress (the build stage adds the target id). */
export type TrainProgress = Omit<TrainProgressEvent, 'stage' | 'target_id'>;

/** Default polish: at most this many L-BFGS iterations... */
export const POLISH_STEPS = 1000;
/** ...ending once |grad L_n| is this small (a tenth of the build's "not a minimum" threshold). */
export const POLISH_TOL = 1e-4;

export interface PolishSummary {
  iterations: number;
  evaluations: number;
  grad_norm_before: number;
  loss_before: number;
  stopped: 'converged' | 'max_iter' | 'line_search' | 'non_finite';
}

export interface TrainResult {
  theta: Float64Array;
  stepsRun: number;
  earlyStopped: boolean;
  /** Loss before each update (index = step), then the final loss; length stepsRun + 1. */
  losses: Float64Array;
  finalLoss: number;
  finalGradNorm: number;
  /** Present when the polish ran. */
  polish?: PolishSummary;
}

export interface TrainOptions {
  onProgress?: (p: TrainProgress) => void;
  /** Minimum milliseconds between progress calls. */
  progressIntervalMs?: number;
  now?: () => number;
}

function std(a: Float64Array, from: number, to: number): number {
  const m = to - from;
  let mean = 0;
  for (let i = from; i < to; i++) mean += a[i]!;
  mean /= m;
  let v = 0;
  for (let i = from; i < to; i++) v += (a[i]! - mean) ** 2;
  return Math.sqrt(v / m);
}

/** Rounds every entry to the nearest float32, in place (w* must be representable in f32). */
function roundToF32(w: Float64Array): void {
  for (let i = 0; i < w.length; i++) w[i] = Math.fround(w[i]!);
}

export function l2(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

export function train(
  loss: LossFunction,
  theta0: Float64Array,
  cfg: RandomInitTraining,
  dtype: DType,
  opts: TrainOptions = {},
): TrainResult {
  const dim = loss.dim;
  const theta = Float64Array.from(theta0);
  const round = dtype === 'float32';
  if (round) roundToF32(theta);
  const grad = new Float64Array(dim);
  const m = new Float64Array(dim);
  const v = new Float64Array(dim);
  const losses = new Float64Array(cfg.steps + 1);
  const { lr } = cfg;
  const b1 = cfg.beta1 ?? 0.9;
  const b2 = cfg.beta2 ?? 0.999;
  const eps = cfg.eps ?? 1e-8;
  const wd = cfg.weight_decay ?? 0;
  const mom = cfg.momentum ?? 0;
  const now = opts.now ?? (() => performance.now());
  const interval = opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  const tStart = now();
  let lastReport = tStart;
  const report = (step: number, L: number, gradNorm: number): void => {
    const t = now();
    lastReport = t;
    const elapsed_s = (t - tStart) / 1000;
    const eta_s = step > 0 ? (elapsed_s * (cfg.steps - step)) / step : null;
    opts.onProgress!({ step, steps: cfg.steps, loss: L, grad_norm: Number.isFinite(gradNorm) ? gradNorm : null, elapsed_s, eta_s });
  };
  let b1t = 1;
  let b2t = 1;
  let step = 0;
  let earlyStopped = false;
  for (; step < cfg.steps; step++) {
    const L = loss.lossAndGrad(theta, grad);
    if (!Number.isFinite(L)) {
      throw new Error(`training diverged at step ${step} (loss ${L}): lower training.lr (now ${lr})`);
    }
    losses[step] = L;
    if (cfg.early_stop && step + 1 > cfg.early_stop.after && step + 1 >= cfg.early_stop.window
      && std(losses, step + 1 - cfg.early_stop.window, step + 1) < cfg.early_stop.tol) {
      earlyStopped = true;
      break;
    }
    switch (cfg.optimizer) {
      case 'adam':
      case 'adamw': {
        b1t *= b1;
        b2t *= b2;
        // Kingma & Ba's efficient form of the Adam step (see optim/adam.ts).
        const lrHat = lr * Math.sqrt(1 - b2t) / (1 - b1t);
        updateMoments(m, v, grad, b1, b2);
        for (let i = 0; i < dim; i++) {
          // Decoupled weight decay (AdamW) acts on the parameter, not through the moments.
          const decay = cfg.optimizer === 'adamw' ? lr * wd * theta[i]! : 0;
          theta[i] = theta[i]! - lrHat * m[i]! / (Math.sqrt(v[i]!) + eps * Math.sqrt(1 - b2t)) - decay;
        }
        break;
      }
      case 'sgd':
        for (let i = 0; i < dim; i++) {
          m[i] = mom * m[i]! + grad[i]!;
          theta[i] = theta[i]! - lr * m[i]!;
        }
        break;
    }
    if (round) roundToF32(theta);
    // grad still holds dL/dw at the parameters before this update (l2 only when reporting).
    if (opts.onProgress && now() - lastReport >= interval) report(step + 1, L, l2(grad));
  }
  const trainedLoss = loss.lossAndGrad(theta, grad);
  if (!Number.isFinite(trainedLoss)) throw new Error(`training ended with a non-finite loss (${trainedLoss})`);
  // On early stop, losses[step] already holds this value (the loss that triggered the stop).
  losses[step] = trainedLoss;
  if (opts.onProgress) report(step, trainedLoss, l2(grad));
  const result: TrainResult = {
    theta,
    stepsRun: step,
    earlyStopped,
    losses: losses.subarray(0, step + 1),
    finalLoss: trainedLoss,
    finalGradNorm: l2(grad),
  };
  const polish = cfg.polish;
  if (polish && polish.steps > 0) {
    const tPolish = now();
    let lastPolishReport = tPolish;
    const r = lbfgs(loss, theta, {
      maxIter: polish.steps,
      gradTol: polish.tol,
      project: round ? roundToF32 : undefined,
      onIter: opts.onProgress
        ? (k, L, gn) => {
          const t = now();
          if (t - lastPolishReport < interval) return;
          lastPolishReport = t;
          const elapsed_s = (t - tStart) / 1000;
          opts.onProgress!({ step: k, steps: polish.steps, loss: L, grad_norm: gn, elapsed_s, eta_s: ((t - tPolish) / 1000) * (polish.steps - k) / k, phase: 'polish' });
        }
        : undefined,
    });
    result.polish = {
      iterations: r.iterations,
      evaluations: r.evaluations,
      grad_norm_before: result.finalGradNorm,
      loss_before: trainedLoss,
      stopped: r.reason,
    };
    result.theta = r.w;
    result.finalLoss = r.loss;
    result.finalGradNorm = r.gradNorm;
    if (opts.onProgress) {
      opts.onProgress({ step: r.iterations, steps: polish.steps, loss: r.loss, grad_norm: r.gradNorm, elapsed_s: (now() - tStart) / 1000, eta_s: 0, phase: 'polish' });
    }
  }
  return result;
}

/** At most `max` (step, loss) points, evenly spaced, always including the first and last. */
export function subsampleCurve(losses: Float64Array, max = 200): { step: number[]; loss: number[] } {
  const n = losses.length;
  const stride = Math.max(1, Math.ceil(n / max));
  const step: number[] = [];
  const loss: number[] = [];
  for (let i = 0; i < n; i += stride) {
    step.push(i);
    loss.push(losses[i]!);
  }
  if (step[step.length - 1] !== n - 1) {
    step.push(n - 1);
    loss.push(losses[n - 1]!);
  }
  return { step, loss };
}
