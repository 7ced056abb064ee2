// Regression tests of the SGLD step calibration's stability cap and feedback guard
// (calibrate.ts). Fixed seeds; every target is analytic, so the tests are fast.
import { describe, expect, it } from 'vitest';
import { keyAt, normalInto, Stream } from '../../rng/index.js';
import { makePosterior, quadraticLoss } from '../../posterior/posterior.js';
import type { LossFunction } from '../../engine/types.js';
import { calibrateStepSize, topHessianEigenvalue } from './calibrate.js';
import { sgldKernel } from '../kernels/sgld.js';
import type { Posterior } from '../../posterior/types.js';

const TARGET_BIAS = 0.03;

function kernelFor(post: Posterior) {
  return sgldKernel(post, { stepSize: 1, batchSize: 256, precond: 'none', beta1: 0.9, beta2: 0.999, precondEps: 1e-4, malaEvery: 0 });
}

function calibrate(post: Posterior, init: Float64Array, seed: number) {
  const kernel = kernelFor(post);
  const cal = calibrateStepSize({ posterior: post, init, key: keyAt(seed, Stream.tune, 0) }, kernel, {
    targetBias: TARGET_BIAS,
    roundSteps: 400,
    rounds: 6,
    probes: 2,
  });
  return { ...cal, stepSize: cal.params.stepSize };
}

describe('SGLD step calibration', () => {
  it('power iteration finds the top Hessian eigenvalue (and of D H with weights)', () => {
    const d = 30;
    const c = Float64Array.from({ length: d }, (_, i) => 1 + i); // top 30
    const post = makePosterior({ loss: quadraticLoss(new Float64Array(d), 1000, c), wStar: new Float64Array(d) });
    const scratch = { wp: new Float64Array(d), gp: new Float64Array(d), gm: new Float64Array(d) };
    const v = normalInto(keyAt(1, 0), new Float64Array(d));
    const top = topHessianEigenvalue(post, post.wStar, undefined, 60, v, scratch);
    expect(top).toBeGreaterThan(30 * 0.98);
    expect(top).toBeLessThanOrEqual(30 * (1 + 1e-6));
    // D = diag(1 / c): D H = I, every eigenvalue 1.
    const w = Float64Array.from(c, (x) => 1 / x);
    expect(topHessianEigenvalue(post, post.wStar, undefined, 5, v, scratch, w)).toBeCloseTo(1, 6);
  });

  it('a stiff direction: the bias budget alone is beyond ULA stability, the calibrated step stays within kappa', () => {
    // 99 soft directions carry lambda ~ 49.5; one stiff direction (curvature 100) dominates
    // tr(H) = 101 and lambda_max. The bias budget eps = 8 tb lambda / (n beta tr H) then has
    // eps (n beta lambda_max + gamma) ~ 8 tb lambda lambda_max / tr H ~ 11.8 > 4: ULA diverges
    // in the stiff direction (this is the base-target failure in miniature).
    const d = 100;
    const n = 100_000;
    const c = new Float64Array(d).fill(0.01);
    c[0] = 100;
    const centre = new Float64Array(d);
    const post = makePosterior({ loss: quadraticLoss(centre, n, c), wStar: centre, L0: 0 });
    const lambda = 0.5 * Array.from(c).reduce((s, ci) => s + (post.nBeta * ci) / (post.nBeta * ci + post.gamma), 0);
    const budget = (8 * TARGET_BIAS * lambda) / (post.nBeta * 100.99);
    const aMax = post.nBeta * 100 + post.gamma;
    expect(budget * aMax).toBeGreaterThan(4);
    // Start at a draw from the exact posterior, so that every pilot is relaxed and lambda-hat is
    // right from the first round: only the stability cap stands between the rule and divergence.
    const init = normalInto(keyAt(3, Stream.init, 0), new Float64Array(d));
    for (let i = 0; i < d; i++) init[i] = init[i]! / Math.sqrt(post.nBeta * c[i]! + post.gamma);
    const cal = calibrate(post, init, 3);
    expect(cal.report.lambda_max_at_wstar).toBeCloseTo(100, 3);
    expect(cal.stepSize * aMax).toBeLessThanOrEqual(0.5 * (1 + 1e-9));
    expect(cal.stepSize * aMax).toBeGreaterThan(0.25);
    expect(cal.report.eps_a_max).toBeLessThanOrEqual(0.5 * (1 + 1e-9));
    expect(cal.report.rounds.every((r) => !r.diverged)).toBe(true);
  });

  it('a w* that is not a minimum, with curvature growing away from it: finite, and capped by the curvature the pilot reached', () => {
    // L(x) = g x0 + (s/4) x0^4 + 0.5 sum_{i>0} 0.01 x_i^2 (x = w - w*): the gradient at w* is
    // g = 1 and the x0-curvature there is 0, but the chain slides to x0 ~ -(g/s)^(1/3) = -0.1,
    // where it is 3 s x0^2 = 30: a step sized at w* (where lambda_max = 0.01) diverges there.
    const d = 20;
    const n = 10_000;
    const g = 1;
    const s = 1000;
    const soft = 0.01;
    const wStar = new Float64Array(d);
    const value = (w: Float64Array): number => {
      let q = 0;
      for (let i = 1; i < d; i++) q += soft * w[i]! * w[i]!;
      return g * w[0]! + (s / 4) * w[0]! ** 4 + 0.5 * q;
    };
    const loss: LossFunction = {
      dim: d,
      n,
      loss: value,
      lossAndGrad(w, grad) {
        grad[0] = g + s * w[0]! ** 3;
        for (let i = 1; i < d; i++) grad[i] = soft * w[i]!;
        return value(w);
      },
    };
    const post = makePosterior({ loss, wStar });
    const init = normalInto(keyAt(4, Stream.init, 0), new Float64Array(d));
    for (let i = 0; i < d; i++) init[i] = 0.01 * init[i]!;
    const cal = calibrate(post, init, 4);
    expect(cal.report.lambda_max_at_wstar).toBeLessThan(0.02);
    expect(cal.report.lambda_max).toBeGreaterThan(25);
    const x0 = -Math.cbrt(g / s);
    const aMin = post.nBeta * 3 * s * x0 * x0 + post.gamma;
    expect(cal.stepSize * aMin).toBeLessThan(0.5 * 1.2);
    // Sampling at the calibrated step from the pilot's state stays finite.
    const kernel = kernelFor(post);
    kernel.stepSize = cal.stepSize;
    let state = cal.state;
    const key: [number, number] = [0, 0];
    for (let t = 0; t < 5000; t++) {
      key[0] = t;
      state = kernel.step(state, key).state;
    }
    expect(state.position.every((x) => Number.isFinite(x))).toBe(true);
    expect(Math.abs(state.position[0]! - x0)).toBeLessThan(0.05);
  });
});
