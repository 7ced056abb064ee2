// Exact-identity tests of SGLD on the quadratic target and of the chain runner's contract.
// Tolerances are 3 Monte Carlo standard errors (analytic where the chain is an AR(1),
// otherwise ArviZ's mcse_mean), never hand-picked margins.
import { describe, expect, it } from 'vitest';
import { keyAt, Stream, foldIn } from '../../rng/index.js';
import { makePosterior, quadraticLoss, resolvePosteriorSettings } from '../../posterior/posterior.js';
import type { PosteriorSource } from '../../posterior/source.js';
import { quadraticPreconditionedUlaLambda, quadraticUlaLambda, quadraticPosteriorLambda } from '../../posterior/truth.js';
import { mcseMean } from '../../diagnostics/index.js';
import { runChains } from '../runner/chains.js';
import { resolveChainSettings } from '../runner/settings.js';
import { loadSampler, resolveSamplerConfig, UnknownSamplerError } from '../registry.js';
import { initialPosition, runChain } from '../runner/chain.js';
import { quadraticAdamSgldLambda, relaxationSteps, sampler as sgld, sgldKernel, sgldSchedule, type SgldKernel, type SgldState } from './sgld.js';
import type { LossFunction } from '../../engine/types.js';

const D = 10;
const N = 1000;
const centre = Float64Array.from({ length: D }, (_, i) => 0.1 * i - 0.3);
const settings = resolvePosteriorSettings({});

function chainsOf(cols: Record<string, Float64Array | Int32Array>, name: string): Float64Array[] {
  const chain = cols.chain as Int32Array;
  const v = cols[name] as Float64Array;
  const out: number[][] = [];
  for (let i = 0; i < v.length; i++) (out[chain[i]!] ??= []).push(v[i]!);
  return out.map((a) => Float64Array.from(a));
}

/**
 * Runs `kernel` by hand for `chains` chains from `seed`: `burn` steps, then every 5th step's
 * lambda-hat recorded up to `steps`. Returns the recorded series, the per-coordinate step
 * averaged over the kept steps, and each chain's final state; `atBurn` sees the state after the
 * last burn-in step.
 */
function runByHand(
  post: ReturnType<typeof makePosterior>,
  kernel: SgldKernel,
  o: { seed: number; chains: number; burn: number; steps: number; atBurn?: (state: SgldState) => void },
): { series: Float64Array[]; epsMean: Float64Array; finals: SgldState[] } {
  const epsMean = new Float64Array(D);
  const series: Float64Array[] = [];
  const finals: SgldState[] = [];
  for (let c = 0; c < o.chains; c++) {
    let state = kernel.init(initialPosition(post, o.seed, c, 0.01), keyAt(o.seed, Stream.init, c));
    const ck = keyAt(o.seed, Stream.chain, c);
    const draws = new Float64Array((o.steps - o.burn) / 5);
    for (let t = 0; t < o.steps; t++) {
      state = kernel.step(state, foldIn(ck, t)).state;
      if (t + 1 === o.burn) o.atBurn?.(state);
      if (t < o.burn) continue;
      for (let i = 0; i < D; i++) epsMean[i]! += kernel.stepSizes[i]! / ((o.steps - o.burn) * o.chains);
      if ((t - o.burn) % 5 === 4) draws[(t - o.burn - 4) / 5] = post.llcOf(post.lossAt(state.position));
    }
    series.push(draws);
    finals.push(state);
  }
  return { series, epsMean, finals };
}

describe('SGLD on the quadratic target', () => {
  it('matches the ULA identity within 3 MCSE (and not the exact posterior)', async () => {
    const post = makePosterior({ loss: quadraticLoss(centre, N), wStar: centre });
    const a = post.gamma + post.nBeta;
    const eps = 0.8 / a; // eps a / 4 = 0.2: a 25% inflation that the test must see
    const source: PosteriorSource = { kind: 'quadratic', centre: Array.from(centre), n: N, posterior: settings };
    const loaded = await loadSampler('sgld');
    const cfg = resolveSamplerConfig(loaded, { step_size: eps, steps: 4000, warmup: 200, eval_every: 5 });
    const run = await runChains({ source, sampler: 'sgld', cfg, chains: resolveChainSettings({ count: 4 }), seed: 11 });
    const llc = run.columns.llc as Float64Array;
    const mean = llc.reduce((s, x) => s + x, 0) / llc.length;
    const truth = quadraticUlaLambda({ d: D, n: N, beta: post.beta, gamma: post.gamma, stepSize: eps });
    // Analytic MCSE: each coordinate is AR(1) with rho = 1 - eps a / 2, so z^2 has lag
    // correlation rho^(2h); draws are eval_every steps apart. Var(llc) = (n beta / 2)^2 d 2 s^4.
    const s2 = 1 / (a * (1 - (eps * a) / 4));
    const varDraw = (post.nBeta / 2) ** 2 * D * 2 * s2 * s2;
    const r = (1 - (eps * a) / 2) ** (2 * 5);
    const mcse = Math.sqrt((varDraw / llc.length) * ((1 + r) / (1 - r)));
    expect(Math.abs(mean - truth)).toBeLessThan(3 * mcse);
    const exact = quadraticPosteriorLambda({ d: D, n: N, beta: post.beta, gamma: post.gamma });
    expect(Math.abs(mean - exact)).toBeGreaterThan(10 * mcse);
    // The estimator's own MCSE agrees with the analytic one (within 30%).
    const est = mcseMean(chainsOf(run.columns, 'llc')).value!;
    expect(est / mcse).toBeGreaterThan(0.7);
    expect(est / mcse).toBeLessThan(1.3);
  });

  it('RMSProp-SGLD matches its per-coordinate identity with the realised step sizes', () => {
    const post = makePosterior({ loss: quadraticLoss(centre, N), wStar: centre });
    const a = post.gamma + post.nBeta;
    // v settles to E[g^2] = E[x^2] ~ 1/(0.8 a); eps chosen so that eps_i a is about 0.8.
    const kernel = sgldKernel(post, { stepSize: 0.8 / a / Math.sqrt(a * 0.8) * 1.0, batchSize: 256, precond: 'rmsprop', beta1: 0.9, beta2: 0.999, precondEps: 1e-4, malaEvery: 0 });
    const { series, epsMean } = runByHand(post, kernel, { seed: 5, chains: 4, burn: 4000, steps: 14000 });
    const all = series.flatMap((s) => Array.from(s));
    const mean = all.reduce((s, x) => s + x, 0) / all.length;
    const truth = quadraticPreconditionedUlaLambda({ n: N, beta: post.beta, gamma: post.gamma, stepSizes: epsMean });
    const mcse = mcseMean(series).value!;
    // The realised steps really differ from the unpreconditioned one and inflate the variance.
    expect(Math.max(...epsMean) * a).toBeGreaterThan(0.3);
    expect(Math.abs(mean - truth)).toBeLessThan(3 * mcse);
    expect(Math.abs(mean - quadraticPosteriorLambda({ d: D, n: N, beta: post.beta, gamma: post.gamma }))).toBeGreaterThan(3 * mcse);
  });

  it('Adam-SGLD with a fixed preconditioner matches its EMA-drift identity, not ULA', () => {
    // precond_eps = 10 >> sqrt(vhat) ~ 0.03 makes eps_i constant to 0.3%, isolating the lag of
    // Adam's drift (measured: identity z = 0.0 at eps_i a = 0.1; ULA 43 MCSE away).
    const post = makePosterior({ loss: quadraticLoss(centre, N), wStar: centre });
    const a = post.gamma + post.nBeta;
    const kernel = sgldKernel(post, { stepSize: (0.1 / a) * 10.03, batchSize: 256, precond: 'adam', beta1: 0.9, beta2: 0.999, precondEps: 10, malaEvery: 0 });
    const { series, epsMean } = runByHand(post, kernel, { seed: 7, chains: 4, burn: 2000, steps: 12000 });
    const all = series.flatMap((x) => Array.from(x));
    const mean = all.reduce((s, x) => s + x, 0) / all.length;
    const mcse = mcseMean(series).value!;
    const truth = quadraticAdamSgldLambda({ nBeta: post.nBeta, gamma: post.gamma, beta1: 0.9, stepSizes: epsMean });
    const ula = quadraticPreconditionedUlaLambda({ n: N, beta: post.beta, gamma: post.gamma, stepSizes: epsMean });
    expect(Math.abs(mean - truth)).toBeLessThan(3 * mcse);
    expect(mean - ula).toBeGreaterThan(10 * mcse);
    // The excess is ~(1 + b1) / (1 - b1) = 19x ULA's, the factor calibrate.ts budgets.
    const exact = quadraticPosteriorLambda({ d: D, n: N, beta: post.beta, gamma: post.gamma });
    expect((truth - exact) / (ula - exact)).toBeGreaterThan(17);
    expect((truth - exact) / (ula - exact)).toBeLessThan(19.5);
  });

  it('Adam-SGLD frozen after its burn-in is Langevin with a constant metric: the ULA identity, not the EMA-drift one', () => {
    // The same chains as above, but the preconditioner stops adapting at the burn-in: v is
    // constant from there, the drift is the gradient itself (no lagging EMA), so the recorded
    // law is preconditioned ULA's.
    const post = makePosterior({ loss: quadraticLoss(centre, N), wStar: centre });
    const a = post.gamma + post.nBeta;
    const kernel = sgldKernel(post, { stepSize: (0.1 / a) * 10.03, batchSize: 256, precond: 'adam', beta1: 0.9, beta2: 0.999, precondEps: 10, malaEvery: 0 });
    kernel.freezeAfter = 2000;
    const frozenV: Float64Array[] = [];
    const { series, epsMean, finals } = runByHand(post, kernel, { seed: 7, chains: 4, burn: 2000, steps: 12000, atBurn: (st) => frozenV.push(Float64Array.from(st.v)) });
    finals.forEach((st, c) => expect(st.v).toEqual(frozenV[c]));
    const all = series.flatMap((x) => Array.from(x));
    const mean = all.reduce((s, x) => s + x, 0) / all.length;
    const mcse = mcseMean(series).value!;
    const ula = quadraticPreconditionedUlaLambda({ n: N, beta: post.beta, gamma: post.gamma, stepSizes: epsMean });
    const ema = quadraticAdamSgldLambda({ nBeta: post.nBeta, gamma: post.gamma, beta1: 0.9, stepSizes: epsMean });
    expect(Math.abs(mean - ula)).toBeLessThan(3 * mcse);
    expect(ema - mean).toBeGreaterThan(10 * mcse);
  });

  it('RMSProp/Adam SGLD samplers freeze the preconditioner at the end of the burn-in (precond_adapt: always keeps it adapting)', async () => {
    const source: PosteriorSource = { kind: 'quadratic', centre: Array.from(centre), n: N, posterior: settings };
    for (const [name, adapt, frozen] of [['rmsprop_sgld', undefined, 300], ['adam_sgld', undefined, 300], ['rmsprop_sgld', 'always', undefined]] as const) {
      const loaded = await loadSampler(name);
      const cfg = resolveSamplerConfig(loaded, { step_size: 1e-4, steps: 600, warmup: 300, eval_every: 50, ...(adapt ? { precond_adapt: adapt } : {}) });
      const run = await runChains({ source, sampler: name, cfg, chains: resolveChainSettings({ count: 2 }), seed: 3 });
      for (const r of run.results) expect((r.tuned as Record<string, unknown>).precond_frozen_after_step).toBe(frozen);
    }
  });

  it('calibrated step (default) lands within the target bias of the exact posterior value', async () => {
    const source: PosteriorSource = { kind: 'quadratic', centre: Array.from(centre), n: N, posterior: settings };
    const loaded = await loadSampler('sgld');
    const cfg = resolveSamplerConfig(loaded, { steps: 3000, eval_every: 5 });
    const run = await runChains({ source, sampler: 'sgld', cfg, chains: resolveChainSettings({ count: 4 }), seed: 3 });
    const post = makePosterior({ loss: quadraticLoss(centre, N), wStar: centre });
    const exact = quadraticPosteriorLambda({ d: D, n: N, beta: post.beta, gamma: post.gamma });
    const llc = chainsOf(run.columns, 'llc');
    const mean = llc.flatMap((c) => Array.from(c)).reduce((s, x) => s + x, 0) / run.columns.llc!.length;
    const mcse = mcseMean(llc).value!;
    // For a Gaussian the rule sets eps a / 4 = target_bias per chain (up to the pilot's noise):
    // bias between 0 and 2 target_bias, plus 3 MCSE.
    expect(mean).toBeGreaterThan(exact - 3 * mcse);
    expect(mean).toBeLessThan(exact * (1 + 2 * 0.03) + 3 * mcse);
    // One step for the run: the median of the chains' own calibrated steps.
    const own = run.results.map((r) => (r.tuned as { chain_step_size: number }).chain_step_size).sort((x, y) => x - y);
    const shared = (run.results[0]!.tuned as { step_size: number }).step_size;
    expect(shared).toBeCloseTo(Math.sqrt(own[1]! * own[2]!), 15);
    for (const r of run.results) {
      expect((r.tuned as { step_size: number }).step_size).toBe(shared);
      const eps = (r.tuned as { chain_step_size: number }).chain_step_size;
      expect((eps * (post.gamma + post.nBeta)) / 4).toBeGreaterThan(0.01);
      expect((eps * (post.gamma + post.nBeta)) / 4).toBeLessThan(0.06);
      expect(r.tune_fge).toBeGreaterThan(0);
    }
  });
});

describe('SGLD auto length', () => {
  it('burns in and records whole localiser relaxation times R = 2 / (gamma eps) at the shared step', () => {
    const cfg = { steps: 'auto' as const, warmup: null, eval_every: 'auto' as const, burn_in_relaxations: 0.75, kept_relaxations: 2, max_steps: 400_000 };
    const R = relaxationSteps(5e-5, 1);
    expect(R).toBe(40_000);
    const s = sgldSchedule(cfg, { step_size: 5e-5, localizer_gamma: 1 });
    expect(s.burnIn).toBe(30_000);
    expect(s.steps).toBe(110_000);
    expect(s.evalEvery).toBe(160); // 80k kept steps / 500 rows
    // Capped: burn-in and kept shrink in proportion.
    const capped = sgldSchedule({ ...cfg, max_steps: 55_000 }, { step_size: 5e-5, localizer_gamma: 1 });
    expect(capped.steps).toBe(55_000);
    expect(capped.burnIn).toBe(15_000);
    // A fixed step count keeps the old meaning (half burnt).
    expect(sgldSchedule({ ...cfg, steps: 1000 })).toEqual({ steps: 1000, burnIn: 500, evalEvery: 1 });
  });

  it('keeps more relaxation times when they are cheap: up to cheap_kept_relaxations within cheap_run_gflop', () => {
    const cfg = { steps: 'auto' as const, warmup: null, eval_every: 'auto' as const, burn_in_relaxations: 0.75, kept_relaxations: 2, cheap_kept_relaxations: 16, cheap_run_gflop: 4, max_steps: 10_000_000 };
    const shared = (stepGflop: number) => ({ step_size: 5e-5, localizer_gamma: 1, step_gflop: stepGflop });
    // R = 40 000 steps. At 1e-6 GFLOP a step, 4 GFLOP buys 100 R: capped at 16.
    expect(sgldSchedule(cfg, shared(1e-6))).toMatchObject({ burnIn: 30_000, steps: 30_000 + 16 * 40_000 });
    // At 1e-5, 4 GFLOP is 10 R.
    expect(sgldSchedule(cfg, shared(1e-5))).toMatchObject({ burnIn: 30_000, steps: 30_000 + 10 * 40_000 });
    // At 1e-4, 4 GFLOP is 1 R, below kept_relaxations: the run keeps its 2 R.
    expect(sgldSchedule(cfg, shared(1e-4))).toMatchObject({ burnIn: 30_000, steps: 30_000 + 2 * 40_000 });
    // Without the step's work (e.g. SGNHT's fixed steps, or before calibration) nothing changes.
    expect(sgldSchedule(cfg, { step_size: 5e-5, localizer_gamma: 1 })).toMatchObject({ steps: 110_000 });
  });

  it('records the work of a step, which the run\'s shared tuning carries to the schedule', async () => {
    const source: PosteriorSource = { kind: 'quadratic', centre: Array.from(centre), n: N, posterior: settings };
    const loaded = loadSampler('sgld');
    const cfg = resolveSamplerConfig(loaded, { step_size: 1e-4, steps: 20, warmup: 10, eval_every: 5 });
    const run = await runChains({ source, sampler: 'sgld', cfg, chains: resolveChainSettings({ count: 2 }), seed: 1 });
    // 256 of 1000 rows a step, 6 n d flops a full gradient.
    for (const r of run.results) expect((r.tuned as Record<string, number>).step_gflop).toBeCloseTo(6 * N * D * 0.256 / 1e9, 15);
  });
});

describe('chain runner', () => {
  it('stops a chain that goes NaN, records why, and lets the others finish', async () => {
    const base = quadraticLoss(centre, N);
    const chains = resolveChainSettings({ count: 4, init_noise: 0.01 });
    const probe = makePosterior({ loss: base, wStar: centre });
    const offsets = [0, 1, 2, 3].map((c) => initialPosition(probe, 21, c, 0.01)[0]! - centre[0]!);
    const sorted = [...offsets].sort((x, y) => x - y);
    const threshold = (sorted[1]! + sorted[2]!) / 2; // two chains start above it
    // A loss whose gradient is NaN beyond the threshold: those chains fail at their first step.
    const loss: LossFunction = {
      dim: D,
      n: N,
      loss: (w) => base.loss(w),
      lossAndGrad(w, g, rows) {
        const L = base.lossAndGrad(w, g, rows);
        if (w[0]! - centre[0]! > threshold) g[0] = Number.NaN;
        return L;
      },
    };
    const post = makePosterior({ loss, wStar: centre });
    const cfg = resolveSamplerConfig(await loadSampler('sgld'), { step_size: 1e-12, steps: 100, eval_every: 10 });
    const results = [0, 1, 2, 3].map((chain) => runChain({ posterior: post, sampler: sgld.configure(cfg), chains, seed: 21, chain }));
    const failed = results.filter((r) => r.failure !== null);
    const ok = results.filter((r) => r.failure === null);
    expect(failed.length).toBe(2);
    expect(ok.length).toBe(2);
    for (const r of failed) {
      expect(r.failure!.step).toBe(1);
      expect(r.failure!.reason).toMatch(/non-finite/);
      expect(r.columns.llc!.length).toBe(0);
    }
    for (const r of ok) expect(r.columns.llc!.length).toBe(5);
  });
});

describe('bad input', () => {
  it('rejects an unknown sampler, listing the valid ones', async () => {
    expect(() => loadSampler('nuts')).toThrow(UnknownSamplerError);
    expect(() => loadSampler('nuts')).toThrow(/valid samplers: sgld, sgnht, hmc, mclmc, vi.*rmsprop_sgld, adam_sgld/);
  });

  it('rejects step sizes <= 0 and unknown keys, naming the key', async () => {
    const loaded = await loadSampler('sgld');
    expect(() => resolveSamplerConfig(loaded, { step_size: 0 })).toThrow(/step_size: step_size must be > 0/);
    expect(() => resolveSamplerConfig(loaded, { step_size: -1e-4 })).toThrow(/step_size/);
    expect(() => resolveSamplerConfig(loaded, { stepsize: 1e-4 })).toThrow(/stepsize/);
    const rms = await loadSampler('rmsprop_sgld');
    expect(resolveSamplerConfig(rms, {}).precond).toBe('rmsprop');
    expect(() => resolveSamplerConfig(rms, { precond: 'adam' })).toThrow(/fixes precond/);
  });

  it('rejects a burn-in that leaves nothing to record', async () => {
    const source: PosteriorSource = { kind: 'quadratic', centre: Array.from(centre), n: N, posterior: settings };
    const cfg = resolveSamplerConfig(await loadSampler('sgld'), { step_size: 1e-3, steps: 100 });
    await expect(runChains({ source, sampler: 'sgld', cfg, chains: resolveChainSettings({ burn_in: 100 }), seed: 1 })).rejects.toThrow(/burn_in/);
  });
});

describe('SGLD pooled step', () => {
  it('is the median of the chains steps, never above the tightest chain stability cap', () => {
    const tuned = [1e-4, 2e-4, 3e-4, 4e-4].map((step_size) => ({ step_size, localizer_gamma: 1 }));
    const pooled = sgld.configure(sgld.parseConfig({}));
    const free = pooled.share!(tuned);
    expect(free.step_size).toBeCloseTo(Math.sqrt(2e-4 * 3e-4), 15);
    const capped = pooled.share!(
      tuned.map((t, i) => ({ ...t, calibration: { stability_cap: [5e-4, 1.5e-4, 6e-4, 7e-4][i] } })),
    );
    expect(capped.step_size).toBe(1.5e-4);
  });
});
