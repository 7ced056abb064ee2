// Regression tests of the SGLD step calibration's stability cap and feedback guard
// (calibrate.ts). Fixed seeds; every target is analytic, so the tests are fast.
import { describe, expect, it } from 'vitest';
import { keyAt, normalInto, Stream } from '../../rng/index.js';
import { makePosterior, quadraticLoss } from '../../posterior/posterior.js';
import type { LossFunction } from '../../engine/types.js';
import { calibrateStepSize, stepGuard, topHessianEigenvalue } from './calibrate.js';
import { sgldKernel } from '../kernels/sgld.js';
import type { Posterior } from '../../posterior/types.js';
import { analyticData, NormalCrossingLoss } from '../../targets/singular.js';
import { loadSampler, resolveSamplerConfig } from '../registry.js';
import { prepareChain } from '../runner/chain.js';
import { resolveChainSettings } from '../runner/settings.js';
import type { SgldState } from '../kernels/sgld.js';

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

  it('the step guard lowers the step to the stability cap where the chain is, and only lowers it', () => {
    // One stiff direction (curvature 100) among soft ones: 4 warm-started power iterations find it.
    const d = 10;
    const n = 1000;
    const c = new Float64Array(d).fill(1);
    c[3] = 100;
    const post = makePosterior({ loss: quadraticLoss(new Float64Array(d), n, c), wStar: new Float64Array(d), L0: 0 });
    const cap = 0.5 / (post.nBeta * 100 + post.gamma);
    const w = normalInto(keyAt(5, 0), new Float64Array(d)).map((x) => 0.01 * x);
    const guard = stepGuard(post, 10);
    const steps = (eps: number, D: Float64Array | null = null) => Float64Array.from({ length: d }, (_, i) => eps * (D ? D[i]! : 1));
    expect(guard.check(w, 10 * cap, steps(10 * cap), keyAt(6, 0)) / cap).toBeCloseTo(1, 2);
    expect(guard.check(w, 0.5 * cap, steps(0.5 * cap), keyAt(6, 1))).toBe(0.5 * cap);
    expect([guard.checks, guard.falls]).toEqual([2, 1]);
    expect(guard.lambdaMax).toBeCloseTo(100, 1);
    // With per-coordinate steps eps D, the operator is D H: D = 1 / c makes it the identity, and
    // the cap counts gamma with max D_i.
    const D = Float64Array.from(c, (x) => 1 / x);
    const capD = 0.5 / (post.nBeta + post.gamma);
    expect(guard.check(w, 3 * capD, steps(3 * capD, D), keyAt(6, 2)) / capD).toBeCloseTo(1, 3);
  });

  it('an SGLD kernel with a guard applies the lowered step from the next step, and counts the check as work', () => {
    const d = 4;
    const n = 1000;
    const c = Float64Array.from([50, 1, 1, 1]);
    const post = makePosterior({ loss: quadraticLoss(new Float64Array(d), n, c), wStar: new Float64Array(d), L0: 0 });
    const cap = 0.5 / (post.nBeta * 50 + post.gamma);
    const kernel = sgldKernel(post, { stepSize: 3 * cap, batchSize: n, precond: 'none', beta1: 0.9, beta2: 0.999, precondEps: 1e-4, malaEvery: 0 });
    kernel.guard = stepGuard(post, 5);
    let state = kernel.init(new Float64Array(d), keyAt(0, 0));
    const seen: { eps: number; fge: number }[] = [];
    for (let t = 0; t < 10; t++) {
      const out = kernel.step(state, keyAt(7, t));
      state = out.state;
      seen.push({ eps: out.info.step_size, fge: out.info.fge });
    }
    expect(seen.slice(0, 5).every((s) => s.eps === 3 * cap)).toBe(true);
    expect(seen[4]!.fge).toBe(1 + kernel.guard.fgePerCheck);
    expect(seen[3]!.fge).toBe(1);
    expect(seen[5]!.eps / cap).toBeCloseTo(1, 2);
    // A later check may refine the power iteration's estimate (the step can only fall further).
    expect(kernel.guard.falls).toBeGreaterThanOrEqual(1);
    expect(kernel.stepSize).toBeLessThanOrEqual(seen[5]!.eps);
    expect(kernel.stepSize / cap).toBeCloseTo(1, 2);
    // Without a guard the step is left as set.
    const bare = sgldKernel(post, { stepSize: 3 * cap, batchSize: n, precond: 'none', beta1: 0.9, beta2: 0.999, precondEps: 1e-4, malaEvery: 0 });
    let s2 = bare.init(new Float64Array(d), keyAt(0, 0));
    for (let t = 0; t < 10; t++) s2 = bare.step(s2, keyAt(7, t)).state;
    expect(bare.stepSize).toBe(3 * cap);
  });

  it('sgld runs with step_size auto carry a guard (step_guard_checks per run); 0 or a fixed step turns it off', () => {
    const loaded = loadSampler('sgld');
    const d = 3;
    const post = makePosterior({ loss: quadraticLoss(new Float64Array(d), 1000), wStar: new Float64Array(d), L0: 0 });
    const chains = resolveChainSettings({ count: 1 });
    const every = (overrides: Record<string, unknown>): unknown => {
      const sampler = loaded.sampler.configure(resolveSamplerConfig(loaded, { steps: 6400, warmup: 100, calibration_steps: 40, calibration_rounds: 1, ...overrides }));
      const p = prepareChain({ posterior: post, sampler, chains, seed: 0, chain: 0 });
      const shared = sampler.share!([p.prepared.tuned]);
      return p.prepared.adopt!(shared).step_guard_every;
    };
    expect(every({})).toBe(100);
    expect(every({ step_guard_checks: 8 })).toBe(800);
    expect(every({ step_guard_checks: 0 })).toBeUndefined();
    expect(every({ step_size: 1e-4 })).toBeUndefined();
  });

  it("a preconditioner does not hide a divergence: Adam-SGLD's calibration on the normal crossing keeps every chain near w*", () => {
    // At w* = 0 the Hessian of K = w1^2 w2^2 vanishes, so the first pilot step is 1 / gamma. It
    // flung chain 0 of this run to w1 = -10.6, where Adam's v (5e8) made eps / sqrt(v) look
    // stable and lambda-hat stayed below RUNAWAY d / 2; the chain then sat there through the
    // run (0.60 against 0.38). The moves of that round are the drift's, which the calibration
    // now treats as divergence.
    const n = 10_000;
    const post = makePosterior({ loss: new NormalCrossingLoss([1, 1], analyticData(n, 1, 301)), wStar: new Float64Array(2) });
    const loaded = loadSampler('adam_sgld');
    const sampler = loaded.sampler.configure(resolveSamplerConfig(loaded, {}));
    const chains = resolveChainSettings({ count: 4 });
    for (let chain = 0; chain < 4; chain++) {
      const p = prepareChain({ posterior: post, sampler, chains, seed: 0, chain });
      const state = p.prepared.state as SgldState;
      const r2 = state.position[0]! ** 2 + state.position[1]! ** 2;
      // gamma |w|^2 ~ chi^2_2 under the localizer alone; the posterior is tighter still.
      expect(r2 * post.gamma).toBeLessThan(9);
      expect(Math.max(...state.v)).toBeLessThan(1);
    }
  }, 60_000);
});
