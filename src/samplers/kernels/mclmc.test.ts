import { describe, expect, it } from 'vitest';
import { keyAt, normal } from '../../rng/index.js';
import { resolveChainSettings } from '../runner/settings.js';
import { loadSampler, resolveSamplerConfig } from '../registry.js';
import { runChain, type ChainResult } from '../runner/chain.js';
import { mclmcConfigSchema, sampler as mclmc, tuningStages, type MclmcConfig } from './mclmc.js';
import { initMclmcState, mclmcTransition, MCLMC_GRADS_PER_STEP } from './mclmc.js';
import { StepSizePredictor } from '../adaptation/mclmc-tuning.js';
import { quadraticPosterior } from '../testing/targets.js';
import { mcseMean, mean as chainMean } from '../../diagnostics/index.js';
import type { Posterior } from '../../posterior/types.js';

function runAll(posterior: Posterior, cfg: MclmcConfig, chains: number, seed: number): ChainResult[] {
  const settings = resolveChainSettings({ count: chains });
  return Array.from({ length: chains }, (_, chain) =>
    runChain({ posterior, sampler: mclmc.configure(cfg), chains: settings, seed, chain }),
  );
}

describe('mclmc config', () => {
  it('accepts the smoke overrides; tuning stages follow BlackJAX fractions', async () => {
    const loaded = await loadSampler('mclmc');
    const cfg = resolveSamplerConfig(loaded, { draws: 10 }) as MclmcConfig;
    expect(cfg.draws).toBe(10);
    expect(cfg.desired_energy_var).toBe(2e-5);
    expect(tuningStages(cfg)).toEqual([100, 100, 100]);
    expect(tuningStages(mclmcConfigSchema.parse({ draws: 5000 }))).toEqual([500, 500, 500]);
    expect(tuningStages(mclmcConfigSchema.parse({ num_tuning_steps: 200, frac_tune3: 0 }))).toEqual([20, 20, 0]);
    expect(() => resolveSamplerConfig(loaded, { steps: 3 })).toThrow(/steps/);
  });

  it('runs the smoke config with finite traces and counts 2 gradients per step', () => {
    const { posterior } = quadraticPosterior({ dim: 10, nBeta: 100, gamma: 1 });
    const res = runAll(posterior, mclmcConfigSchema.parse({ draws: 10 }), 4, 2);
    for (const r of res) {
      expect(r.failure).toBeNull();
      expect(r.columns.llc!.length).toBe(10);
      expect([...r.columns.llc!].every(Number.isFinite)).toBe(true);
      expect(r.sample_fge).toBe(10 * MCLMC_GRADS_PER_STEP);
      expect(r.tuned.L as number).toBeGreaterThan(0);
    }
  });
});

describe('mclmc kernel', () => {
  it('keeps the velocity on the unit sphere and its energy error shrinks as eps^3', () => {
    const { posterior } = quadraticPosterior({ dim: 10, nBeta: 100, gamma: 1 });
    // Start off-centre with a finite L: from w* itself in an isotropic bowl the motion stays on
    // a line, where the isokinetic integrator is degenerate (no turning, no energy error).
    const start = normal(keyAt(8), 10);
    for (let i = 0; i < 10; i++) start[i] = posterior.wStar[i]! + 0.1 * start[i]!;
    const rms = (eps: number): number => {
      const state = initMclmcState(posterior, start, keyAt(3));
      const params = { L: 0.5, stepSize: eps, sqrtDiagCov: new Float64Array(10).fill(1) };
      let s2 = 0;
      for (let t = 0; t < 2000; t++) {
        const info = mclmcTransition(posterior, state, params, keyAt(4, t));
        s2 += info.energy_change ** 2;
        expect(info.fge).toBe(2);
        let u2 = 0;
        for (const u of state.momentum) u2 += u * u;
        expect(Math.abs(u2 - 1)).toBeLessThan(1e-12);
      }
      return Math.sqrt(s2 / 2000);
    };
    // McLachlan is second order: the per-step energy error is O(eps^3), a ratio of 8.
    const ratio = rms(0.02) / rms(0.01);
    expect(ratio).toBeGreaterThan(6);
    expect(ratio).toBeLessThan(11);
  });

  it('rolls back a non-finite step and reports it as diverging', () => {
    const { posterior } = quadraticPosterior({ dim: 4, nBeta: 100, gamma: 1 });
    const state = initMclmcState(posterior, posterior.wStar, keyAt(3));
    const before = Float64Array.from(state.position);
    const params = { L: 1, stepSize: 1e300, sqrtDiagCov: new Float64Array(4).fill(1) };
    const info = mclmcTransition(posterior, state, params, keyAt(5));
    expect(info.diverging).toBe(true);
    expect(info.energy_change).toBe(0);
    expect(state.position).toEqual(before);
  });
});

describe('mclmc step-size tuning', () => {
  it('a fresh predictor raises the step size by at most 1.5x per step, then settles on target', () => {
    const d = 10;
    const dev = 5e-4;
    const p = new StepSizePredictor(d, dev, 1.5, 150);
    // A near-zero energy error on the first step: BlackJAX would jump to eps (xi)^(-1/6) ~ 10 eps.
    expect(p.update(1, 1e-6, true)).toBeCloseTo(1.5, 12);
    // An energy model dE^2 = d dev (eps / 2)^6: the target step size is 2. Shrinking is not capped.
    let eps = 1.5;
    const trace: number[] = [];
    for (let t = 0; t < 200; t++) {
      const dE = Math.sqrt(d * dev) * (eps / 2) ** 3;
      const next = p.update(eps, dE, true);
      expect(next).toBeLessThanOrEqual(1.5 * eps + 1e-12);
      eps = next;
      trace.push(eps);
    }
    expect(eps).toBeCloseTo(2, 2);
    expect(Math.max(...trace)).toBeLessThan(3.1);
    // A non-finite step caps the step size below the one that failed.
    expect(p.update(2, 0, false)).toBeLessThanOrEqual(1.6);
  });

  it('reaches the energy target without outliers: tuning mean dE^2/d within [1/20, 5] x target (32 chains)', () => {
    // Before the growth cap, the first update of the readjustment's fresh predictor could jump
    // ~10x; on this target 2 of the same 32 chains then reported 30x and 101x the target (and on a
    // 45-parameter tanh MLP 1e5x). Now 0.12x to 2.6x (33-step means of a heavy-tailed dE^2).
    const { posterior } = quadraticPosterior({ dim: 10, nBeta: 100, gamma: 1 });
    const settings = resolveChainSettings({ count: 4 });
    const cfg = mclmcConfigSchema.parse({ draws: 10 });
    const ratios: number[] = [];
    for (let seed = 0; seed < 8; seed++) {
      for (let chain = 0; chain < 4; chain++) {
        const r = runChain({ posterior, sampler: mclmc.configure(cfg), chains: settings, seed, chain });
        ratios.push((r.tuned.tuning_energy_var_per_dim as number) / cfg.desired_energy_var);
      }
    }
    expect(Math.min(...ratios)).toBeGreaterThan(1 / 20);
    expect(Math.max(...ratios)).toBeLessThan(5);
  });
});

describe('mclmc against the exact answer', () => {
  /**
   * MCLMC is unadjusted: its step size, tuned to an energy-error variance per dimension of
   * desired_energy_var, sets a bias (O(eps^2), eps ∝ desired_energy_var^(1/6)). Measured on this
   * target, 4 chains x 10k draws, seeds 13-18, with
   *   npx tsx src/samplers/testing/mclmc-bias.ts 5e-4,1e-4,5e-5,2e-5,1e-5 13,14,15,16,17,18
   * (relative error; MCSE 0.2-0.35% per seed):
   *   5e-4 (BlackJAX's default): -1.9%, -2.4% (seeds 13, 14)
   *   1e-4: -0.9 .. -1.6% (mean -1.25%)
   *   2e-5 (our default): -0.2 .. -1.4% (mean -0.59%)
   *   1e-5: -0.0 .. -1.5% (mean -0.45%)
   * With fixed step sizes 0.4 / 0.2 / 0.1 (parameter units) the bias is -2.5% / -0.3% / +0.1%
   * (± 0.2-0.3%): it vanishes with the step size, so it is the integrator's, not a kernel error.
   */
  it.each([
    // Within 2% at the default.
    [2e-5, 0.02],
    // BlackJAX's default: about -2%, shown here so a change of the bias is noticed.
    [5e-4, 0.03],
  ])('quadratic, d = 10, n beta = 100, gamma = 1, desired_energy_var %f: llc within %f of exact', (dev, tol) => {
    const { posterior, exactLlc } = quadraticPosterior({ dim: 10, nBeta: 100, gamma: 1 });
    const cfg = mclmcConfigSchema.parse({ draws: 10000, desired_energy_var: dev });
    const res = runAll(posterior, cfg, 4, 13);
    const chains = res.map((r) => r.columns.llc!);
    const mean = chainMean(chains).value!;
    const mcse = mcseMean(chains).value!;
    const bias = mean / exactLlc - 1;
    console.log(
      `MCLMC quadratic (desired_energy_var ${dev}): llc ${mean.toFixed(4)} ± ${mcse.toFixed(4)} ` +
        `(exact ${exactLlc.toFixed(4)}, relative error ${(100 * bias).toFixed(2)}%)`,
    );
    // The run resolves the tolerance (measured: MCSE 0.33% at 2e-5, 0.21% at 5e-4).
    expect(mcse).toBeLessThan((tol / 4) * exactLlc);
    expect(Math.abs(bias)).toBeLessThan(tol);
    // Every chain tuned itself to a finite step size and L, and hit the energy target within
    // a factor of 3 while sampling.
    for (const r of res) {
      expect(r.tuned.step_size as number).toBeGreaterThan(0.1);
      expect(r.tuned.L as number).toBeGreaterThan(0.1);
      let e2 = 0;
      for (const v of r.columns.energy_change!) e2 += v * v;
      const perDim = e2 / r.columns.energy_change!.length / 10;
      expect(perDim).toBeGreaterThan(dev / 3);
      expect(perDim).toBeLessThan(dev * 3);
    }
  });

  it('honours L and step_size overrides (no tuning of the given value)', () => {
    const { posterior } = quadraticPosterior({ dim: 10, nBeta: 100, gamma: 1 });
    const cfg = mclmcConfigSchema.parse({ draws: 10, L: 0.3, step_size: 0.05 });
    const p = mclmc.configure(cfg).prepare({
      posterior, chain: 0, key: keyAt(1), init: Float64Array.from(posterior.wStar),
      schedule: { steps: 10, burnIn: 0, evalEvery: 1 },
    });
    expect(p.tuned.L).toBe(0.3);
    expect(p.tuned.step_size).toBe(0.05);
    const onlyL = mclmc.configure(mclmcConfigSchema.parse({ draws: 10, L: 0.3 })).prepare({
      posterior, chain: 0, key: keyAt(1),
      init: Float64Array.from(posterior.wStar), schedule: { steps: 10, burnIn: 0, evalEvery: 1 },
    });
    expect(onlyL.tuned.L).toBe(0.3);
    expect(onlyL.tuned.step_size).not.toBe(0.05);
  });

  it('is deterministic: the same key gives identical draws', () => {
    const { posterior } = quadraticPosterior({ dim: 10, nBeta: 100, gamma: 1 });
    const cfg = mclmcConfigSchema.parse({ draws: 50 });
    const a = runAll(posterior, cfg, 2, 3);
    const b = runAll(posterior, cfg, 2, 3);
    expect(a[1]!.columns.llc).toEqual(b[1]!.columns.llc);
    expect(a[1]!.tuned).toEqual(b[1]!.tuned);
    expect(a[0]!.columns.llc).not.toEqual(a[1]!.columns.llc);
  });
});
