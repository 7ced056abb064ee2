import { describe, expect, it } from 'vitest';
import { resolvePosteriorSettings } from '../../posterior/posterior.js';
import type { PosteriorSource } from '../../posterior/source.js';
import { runChains } from '../runner/chains.js';
import { resolveChainSettings } from '../runner/settings.js';
import { loadSampler, resolveSamplerConfig } from '../registry.js';

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
