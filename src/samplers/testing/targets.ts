/**
 * Targets with known answers for sampler tests. Test support only. (MCSEs come from the shared
 * ArviZ diagnostics, src/diagnostics: every test here has several chains of equal length.)
 */
import { keyAt, normalInto } from '../../rng/index.js';
import type { LossFunction } from '../../engine/types.js';
import { makePosterior, quadraticLoss } from '../../posterior/posterior.js';
import type { Posterior } from '../types.js';

/**
 * L(w) = 0.5 sum_i c_i (w_i - w*_i)^2 with n beta = nBeta (n = 100, beta fixed): the posterior
 * is N(w*, diag 1/(nBeta c_i + gamma)) and E[llc] = (nBeta/2) sum_i c_i / (nBeta c_i + gamma),
 * i.e. (d/2) nBeta / (nBeta + gamma) for unit curvature.
 */
export function quadraticPosterior(opts: {
  dim: number;
  nBeta: number;
  gamma: number;
  seed?: number;
  curvature?: Float64Array;
}): { posterior: Posterior; exactLlc: number; variances: Float64Array } {
  const n = 100;
  const wStar = normalInto(keyAt(opts.seed ?? 0, 99), new Float64Array(opts.dim));
  const c = opts.curvature ?? new Float64Array(opts.dim).fill(1);
  const posterior = makePosterior({
    loss: quadraticLoss(wStar, n, c),
    wStar,
    beta0: opts.nBeta / n,
    betaMode: 'fixed',
    gamma: opts.gamma,
  });
  let exactLlc = 0;
  const variances = new Float64Array(opts.dim);
  for (let i = 0; i < opts.dim; i++) {
    const prec = opts.nBeta * c[i]! + opts.gamma;
    variances[i] = 1 / prec;
    exactLlc += (0.5 * opts.nBeta * c[i]!) / prec;
  }
  return { posterior, exactLlc, variances };
}

/**
 * 1-D monomial L(w) = w^(2k), w* = 0, gamma = 0 (built by hand: makePosterior insists on
 * gamma > 0). p(w) ∝ exp(-n beta w^(2k)), so n beta E[L] = 1/(2k) exactly.
 */
export function monomialPosterior(k: number, nBeta: number): Posterior {
  const loss: LossFunction = {
    dim: 1,
    n: 100,
    loss: (w) => w[0]! ** (2 * k),
    lossAndGrad(w, grad) {
      grad[0] = 2 * k * w[0]! ** (2 * k - 1);
      return w[0]! ** (2 * k);
    },
  };
  return {
    dim: 1,
    n: 100,
    beta: nBeta / 100,
    gamma: 0,
    nBeta,
    wStar: new Float64Array(1),
    L0: 0,
    lossAndGrad: (w, grad) => loss.lossAndGrad(w, grad),
    potentialAndGrad(w, grad) {
      const L = loss.lossAndGrad(w, grad);
      grad[0] = nBeta * grad[0]!;
      return nBeta * L;
    },
    lossAt: (w) => loss.loss(w),
    llcOf: (Ln) => nBeta * Ln,
  };
}
