/**
 * The localized tempered posterior around w* (Lau et al.; Python lambda-hat's `posterior.*`):
 *
 *   log p(w) = -(gamma/2) |w - w*|^2 - n beta L_n(w),   U(w) = -log p(w)
 *   beta  = beta0 / ln(max(3, n))  (beta_mode '1_over_log_n', the default)  or beta0 ('fixed')
 *   gamma = gamma (default 1), or d / prior_radius^2 when prior_radius > 0
 *   llc draw = n beta (L_n(w) - L0),  L0 = L_n(w*)
 *
 * Settings come in three layers, later wins: defaults < target entry's `posterior` <
 * sampler entry's `posterior` (see resolvePosteriorSettings).
 */
import type { LossFunction } from '../engine/types.js';
import { BETA_MODES, posteriorSettings, type BetaMode, type PosteriorLayer, type PosteriorSettings } from '../contracts/index.js';
import type { Posterior } from './types.js';

export { BETA_MODES, posteriorSettings as posteriorSettingsSchema, type BetaMode, type PosteriorSettings };

/** Merges posterior blocks (later wins) and validates: defaults < target < sampler. */
export function resolvePosteriorSettings(...layers: (PosteriorLayer | undefined)[]): PosteriorSettings {
  const merged: PosteriorLayer = {};
  for (const layer of layers) if (layer) Object.assign(merged, layer);
  return posteriorSettings.parse(merged);
}

export interface MakePosteriorOptions {
  loss: LossFunction;
  wStar: Float64Array;
  /** L_n(w*); computed from the loss when absent. */
  L0?: number;
  /** Rows in n*beta; default loss.n. */
  n?: number;
  beta0?: number;
  betaMode?: BetaMode;
  gamma?: number;
  priorRadius?: number | null;
}

/** beta from (beta0, mode, n): beta0 / ln(max(3, n)), or beta0. */
export function betaOf(beta0: number, mode: BetaMode, n: number): number {
  return mode === 'fixed' ? beta0 : beta0 / Math.log(Math.max(3, n));
}

/** gamma, or d / prior_radius^2 when prior_radius > 0. */
export function gammaOf(gamma: number, priorRadius: number | null | undefined, dim: number): number {
  return priorRadius !== undefined && priorRadius !== null && priorRadius > 0
    ? dim / (priorRadius * priorRadius)
    : gamma;
}

export function makePosterior(opts: MakePosteriorOptions): Posterior {
  const { loss } = opts;
  const dim = loss.dim;
  if (opts.wStar.length !== dim) {
    throw new Error(`w* has ${opts.wStar.length} entries but the loss has ${dim} parameters`);
  }
  const n = opts.n ?? loss.n;
  if (!(n >= 1)) throw new Error(`posterior needs n >= 1, got ${n}`);
  const beta0 = opts.beta0 ?? 1;
  if (!(beta0 > 0)) throw new Error(`beta0 must be > 0, got ${beta0}`);
  const beta = betaOf(beta0, opts.betaMode ?? '1_over_log_n', n);
  const gamma = gammaOf(opts.gamma ?? 1, opts.priorRadius, dim);
  if (!(gamma > 0)) throw new Error(`gamma must be > 0, got ${gamma}`);
  const wStar = Float64Array.from(opts.wStar);
  const L0 = opts.L0 ?? loss.loss(wStar);
  if (!Number.isFinite(L0)) throw new Error(`L0 = L_n(w*) is not finite (${L0})`);
  const nBeta = n * beta;
  return {
    dim,
    n,
    beta,
    gamma,
    nBeta,
    wStar,
    L0,
    lossAndGrad(w: Float64Array, grad: Float64Array, rows?: Int32Array): number {
      return loss.lossAndGrad(w, grad, rows);
    },
    potentialAndGrad(w: Float64Array, grad: Float64Array, rows?: Int32Array): number {
      const L = loss.lossAndGrad(w, grad, rows);
      let sq = 0;
      for (let i = 0; i < dim; i++) {
        const dw = w[i]! - wStar[i]!;
        sq += dw * dw;
        grad[i] = nBeta * grad[i]! + gamma * dw;
      }
      return 0.5 * gamma * sq + nBeta * L;
    },
    lossAt(w: Float64Array): number {
      return loss.loss(w);
    },
    llcOf(Ln: number): number {
      return nBeta * (Ln - L0);
    },
  };
}

/** Posterior from resolved settings (snake_case config block). */
export function posteriorFromSettings(
  loss: LossFunction,
  wStar: Float64Array,
  settings: PosteriorSettings,
  L0?: number,
): Posterior {
  return makePosterior({
    loss,
    wStar,
    ...(L0 === undefined ? {} : { L0 }),
    beta0: settings.beta0,
    betaMode: settings.beta_mode,
    gamma: settings.gamma,
    priorRadius: settings.prior_radius,
  });
}

/**
 * L(w) = 0.5 sum_i c_i (w_i - centre_i)^2, the same for every row (so a minibatch gradient is
 * exact): the analytic target of the exact sampler identities. `curvature` defaults to all 1.
 */
export function quadraticLoss(
  centre: Float64Array,
  n: number,
  curvature?: Float64Array,
): LossFunction {
  const dim = centre.length;
  const c = curvature ?? new Float64Array(dim).fill(1);
  if (c.length !== dim) throw new Error('quadratic curvature length must equal its dimension');
  const value = (theta: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < dim; i++) {
      const d = theta[i]! - centre[i]!;
      s += c[i]! * d * d;
    }
    return 0.5 * s;
  };
  return {
    dim,
    n,
    loss: (theta) => value(theta),
    lossAndGrad(theta, grad) {
      for (let i = 0; i < dim; i++) grad[i] = c[i]! * (theta[i]! - centre[i]!);
      return value(theta);
    },
  };
}
