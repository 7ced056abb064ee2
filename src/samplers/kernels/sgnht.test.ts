import { describe, expect, it } from 'vitest';
import { resolvePosteriorSettings } from '../../posterior/posterior.js';
import type { PosteriorSource } from '../../posterior/source.js';
import { runChains } from '../runner/chains.js';
import { resolveChainSettings } from '../runner/settings.js';
import { loadSampler, resolveSamplerConfig } from '../registry.js';
import { createModel } from '../../engine/index.js';
import { makePosterior } from '../../posterior/posterior.js';
import { foldIn, keyAt, normalInto } from '../../rng/index.js';
import { batchForGradientNoise, GRADIENT_NOISE_EVERY, gradientNoiseAt, sgnhtKernel } from './sgnht.js';

const D = 10;
const centre = Array.from({ length: D }, (_, i) => 0.1 * i - 0.3);
const source: PosteriorSource = { kind: 'quadratic', centre, n: 1000, posterior: resolvePosteriorSettings({}) };

describe('SGNHT step', () => {
  it('calibrated chains share one h: the median of their own, never above the tightest stability cap', async () => {
    const loaded = loadSampler('sgnht');
    const cfg = resolveSamplerConfig(loaded, { steps: 400, warmup: 200, eval_every: 20 });
    const run = await runChains({ source, sampler: 'sgnht', cfg, chains: resolveChainSettings({ count: 4 }), seed: 9 });
    const tuned = run.results.map((r) => r.tuned as Record<string, number>);
    const own = tuned.map((t) => t.chain_step_size!);
    const shared = tuned[0]!.step_size!;
    for (const t of tuned) expect(t.step_size).toBe(shared);
    // Each chain's own h is sqrt of its SGLD calibration, capped.
    for (const t of tuned) expect(t.chain_step_size).toBe(Math.min(Math.sqrt(t.sgld_step_size!), t.step_cap!));
    const sorted = [...own].sort((a, b) => a - b);
    expect(shared).toBeCloseTo(Math.min(Math.sqrt(sorted[1]! * sorted[2]!), ...tuned.map((t) => t.step_cap!)), 15);
    expect(new Set(own).size).toBeGreaterThan(1);
  });

  it('a configured h is every chain\'s', async () => {
    const loaded = loadSampler('sgnht');
    const cfg = resolveSamplerConfig(loaded, { step_size: 0.01, steps: 100, warmup: 50, eval_every: 10 });
    const run = await runChains({ source, sampler: 'sgnht', cfg, chains: resolveChainSettings({ count: 2 }), seed: 9 });
    for (const r of run.results) expect(r.tuned).toMatchObject({ step_size: 0.01, step_size_source: 'config' });
  });
});

describe('SGNHT gradient-noise probe', () => {
  it("is an unbiased estimate of h mean_i V_i / (2 A), V_i the batch gradient's variance", () => {
    // Linear regression 3 -> 1 on 200 rows: the per-row gradients of the MSE are known in closed
    // form, so V_i = (n beta)^2 Var_rows(G_r,i) / b exactly (rows drawn with replacement).
    const n = 200;
    const inDim = 3;
    const X = normalInto(keyAt(5, 1), new Float64Array(n * inDim));
    const wTrue = [0.5, -1, 2];
    const Y = new Float64Array(n).map((_, r) => wTrue.reduce((s, w, j) => s + w * X[r * inDim + j]!, 0) + 0.3 * Math.sin(r));
    const model = createModel({ spec: { sizes: [inDim, 1], activation: 'identity', bias: false, layerNorm: false }, data: { n, inDim, outDim: 1, X, Y }, loss: { kind: 'mse' }, dtype: 'float64', impl: 'ts' });
    try {
      const wStar = Float64Array.from(wTrue);
      const posterior = makePosterior({ loss: model, wStar, gamma: 1 });
      const w = Float64Array.from([0.8, -0.6, 1.7]);
      const b = 16;
      const nBeta = posterior.nBeta;
      const G = Array.from({ length: n }, (_, r) => {
        const res = wTrue.reduce((s, _w, j) => s + w[j]! * X[r * inDim + j]!, 0) - Y[r]!;
        return [0, 1, 2].map((j) => 2 * res * X[r * inDim + j]!);
      });
      let meanV = 0;
      for (let j = 0; j < inDim; j++) {
        const m = G.reduce((s, g) => s + g[j]!, 0) / n;
        const varRows = G.reduce((s, g) => s + (g[j]! - m) ** 2, 0) / n;
        meanV += (nBeta * nBeta * varRows) / b / inDim;
      }
      // A step so small that the chain stays at w (every probe sees the same V).
      const h = 1e-12;
      const A = 1;
      const kernel = sgnhtKernel(posterior, { stepSize: h, batchSize: b, diffusion: A });
      let state = kernel.init(w, keyAt(6, 0));
      const probes: number[] = [];
      for (let t = 0; t < 40_000; t++) {
        const out = kernel.step(state, keyAt(7, t));
        state = out.state;
        if (out.info.gradient_noise !== undefined) probes.push(out.info.gradient_noise);
        expect(out.info.fge).toBe(out.info.gradient_noise !== undefined ? 1.5 * (b / n) : b / n);
      }
      expect(probes.length).toBe(40_000 / GRADIENT_NOISE_EVERY);
      const mean = probes.reduce((s, x) => s + x, 0) / probes.length;
      const se = Math.sqrt(probes.reduce((s, x) => s + (x - mean) ** 2, 0) / (probes.length - 1) / probes.length);
      const expected = (h * meanV) / (2 * A);
      expect(Math.abs(mean - expected), `${mean} vs ${expected} (se ${se})`).toBeLessThan(4 * se);
      expect(se).toBeLessThan(0.1 * expected);
    } finally {
      model.dispose();
    }
  });
});

describe('SGNHT batch rule', () => {
  /** Linear regression 3 -> 1 on n rows with its closed-form batch-gradient variance. */
  function regression(n: number) {
    const inDim = 3;
    const X = normalInto(keyAt(15, 1), new Float64Array(n * inDim));
    const wTrue = [0.5, -1, 2];
    const Y = new Float64Array(n).map((_, r) => wTrue.reduce((s, w, j) => s + w * X[r * inDim + j]!, 0) + 0.3 * Math.sin(r));
    const model = createModel({ spec: { sizes: [inDim, 1], activation: 'identity', bias: false, layerNorm: false }, data: { n, inDim, outDim: 1, X, Y }, loss: { kind: 'mse' }, dtype: 'float64', impl: 'ts' });
    const posterior = makePosterior({ loss: model, wStar: Float64Array.from(wTrue), gamma: 1 });
    const w = Float64Array.from([0.8, -0.6, 1.7]);
    /** h mean_i V_i / (2 A) for batches of b rows at w. */
    const noiseOf = (b: number, h: number, A: number): number => {
      const G = Array.from({ length: n }, (_, r) => {
        const res = [0, 1, 2].reduce((s, j) => s + w[j]! * X[r * inDim + j]!, 0) - Y[r]!;
        return [0, 1, 2].map((j) => 2 * res * X[r * inDim + j]!);
      });
      let meanV = 0;
      for (let j = 0; j < inDim; j++) {
        const m = G.reduce((s, g) => s + g[j]!, 0) / n;
        meanV += (posterior.nBeta ** 2 * (G.reduce((s, g) => s + (g[j]! - m) ** 2, 0) / n)) / b / inDim;
      }
      return (h * meanV) / (2 * A);
    };
    return { model, posterior, w, noiseOf };
  }

  it('gradientNoiseAt estimates the closed-form noise without bias, and is 0 for full batches', () => {
    const { model, posterior, w, noiseOf } = regression(200);
    try {
      const h = 1e-3;
      const xs = Array.from({ length: 300 }, (_, k) => gradientNoiseAt(posterior, w, 16, h, 1, keyAt(21, k)).noise);
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      const se = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1) / xs.length);
      expect(Math.abs(mean - noiseOf(16, h, 1)), `${mean} vs ${noiseOf(16, h, 1)} (se ${se})`).toBeLessThan(4 * se);
      expect(gradientNoiseAt(posterior, w, 200, h, 1, keyAt(21, 0))).toEqual({ noise: 0, fge: 0 });
    } finally {
      model.dispose();
    }
  });

  it('doubles the batch until the measured noise is at most the target, stopping at full data', () => {
    const { model, posterior, w, noiseOf } = regression(4000);
    try {
      const h = 1e-4;
      const target = noiseOf(8, h, 1) / 20;
      const key = keyAt(22, 0);
      const r = batchForGradientNoise(posterior, w, 8, h, 1, target, key);
      // A power-of-two multiple of 8, whose noise is below the target and whose half's was not.
      expect(Math.log2(r.batch / 8) % 1).toBe(0);
      expect(r.noise).toBeLessThanOrEqual(target);
      expect(gradientNoiseAt(posterior, w, r.batch / 2, h, 1, foldIn(key, r.batch / 2)).noise).toBeGreaterThan(target);
      // The closed form says 20x less noise needs 160 rows: 128 or 256 after the measurement noise.
      expect([128, 256]).toContain(r.batch);
      expect(r.initialNoise).toBeGreaterThan(10 * target);
      // A target no minibatch meets ends at full data, whose noise is 0.
      const full = batchForGradientNoise(posterior, w, 8, h, 1, target / 1e6, key);
      expect(full).toMatchObject({ batch: 4000, noise: 0 });
    } finally {
      model.dispose();
    }
  });

  it('a run grows every chain to one batch, and max_gradient_noise: null keeps batch_size', async () => {
    const { model, posterior } = regression(2000);
    try {
      const loaded = loadSampler('sgnht');
      const run = async (extra: Record<string, unknown>) =>
        runChains({ posterior, sampler: 'sgnht', cfg: resolveSamplerConfig(loaded, { steps: 200, warmup: 100, eval_every: 10, batch_size: 4, ...extra }), chains: resolveChainSettings({ count: 3 }), seed: 4 });
      const grownRun = await run({});
      const grown = grownRun.results.map((r) => r.tuned as Record<string, unknown>);
      const batches = grown.map((t) => t.batch_size as number);
      expect(new Set(batches).size).toBe(1);
      expect(batches[0]).toBeGreaterThan(4);
      expect(batches[0]).toBe(Math.max(...grown.map((t) => t.chain_batch_size as number)));
      expect(String(grown[0]!.batch_size_source ?? '')).toMatch(/grown from 4|config/);
      expect(grown.some((t) => String(t.batch_size_source).startsWith('grown from 4: gradient noise'))).toBe(true);
      // The chains sample with that batch: 200 steps of b / n each, every 10th with a half batch more.
      const perRun = (b: number): number => 200 * (b / 2000) * (1 + 0.5 / GRADIENT_NOISE_EVERY);
      for (const r of grownRun.results) expect(r.sample_fge).toBeCloseTo(perRun(batches[0]!), 9);
      const keptRun = await run({ max_gradient_noise: null });
      const kept = keptRun.results.map((r) => r.tuned as Record<string, unknown>);
      expect(kept.map((t) => t.batch_size)).toEqual([4, 4, 4]);
      for (const r of keptRun.results) expect(r.sample_fge).toBeCloseTo(perRun(4), 9);
    } finally {
      model.dispose();
    }
  });
});
