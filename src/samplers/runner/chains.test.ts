// The chain runner: every chain is prepared (adapted) exactly once whatever the thread count,
// and where a chain runs never changes its numbers.
import { describe, expect, it } from 'vitest';
import type { PosteriorSource } from '../../contracts/index.js';
import { resolvePosteriorSettings } from '../../posterior/posterior.js';
import { loadSampler, resolveSamplerConfig } from '../registry.js';
import { runChains, type RunChainsResult } from './chains.js';
import { resolveChainSettings } from './settings.js';

const source: PosteriorSource = {
  kind: 'quadratic',
  centre: [0.3, -0.2, 0.1, 0.5, -0.4],
  n: 500,
  posterior: resolvePosteriorSettings({}),
};

async function run(
  sampler: string,
  overrides: Record<string, unknown>,
  count: number,
  threads: number,
): Promise<{ out: RunChainsResult; prepared: number[]; progressed: number[] }> {
  const cfg = resolveSamplerConfig(loadSampler(sampler), overrides);
  const prepared: number[] = [];
  const progressed = new Set<number>();
  const out = await runChains({
    source, sampler, cfg, chains: resolveChainSettings({ count, threads }), seed: 7,
    onPrepared: (c) => prepared.push(c), onProgress: (p) => progressed.add(p.chain),
  });
  return { out, prepared: prepared.sort((a, b) => a - b), progressed: [...progressed].sort((a, b) => a - b) };
}

/** Everything a run computed, time columns and timings left out. */
function numbers(r: RunChainsResult): unknown {
  const { time_s: _t, ...columns } = r.columns;
  return {
    columns: Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, Array.from(v)])),
    chains: r.results.map((c) => ({ chain: c.chain, tuned: c.tuned, tune_fge: c.tune_fge, sample_fge: c.sample_fge, eval_fge: c.eval_fge })),
    schedule: r.schedule,
  };
}

describe('chain runner', () => {
  // SGLD pools its calibrated step over the chains (two phases); HMC adapts each chain alone.
  const cases = [
    ['sgld', { steps: 200, eval_every: 10, calibration_steps: 60, calibration_rounds: 2 }],
    ['hmc', { draws: 20, warmup: 30, num_integration_steps: 3 }],
  ] as const;
  for (const [sampler, overrides] of cases) {
    it(`${sampler}: each of 3 chains is prepared exactly once in one thread and in two, with the same numbers`, async () => {
      const one = await run(sampler, overrides, 3, 1);
      expect(one.prepared).toEqual([0, 1, 2]);
      // Two workers: one of them prepares and samples two chains.
      const two = await run(sampler, overrides, 3, 2);
      expect(two.prepared).toEqual([0, 1, 2]);
      expect(two.progressed).toEqual([0, 1, 2]);
      expect(numbers(two.out)).toEqual(numbers(one.out));
    }, 60_000);
  }

  it('a worker that cannot open the posterior fails the run with its reason', async () => {
    const cfg = resolveSamplerConfig(loadSampler('hmc'), { draws: 10, warmup: 5 });
    const bad: PosteriorSource = { kind: 'target', home: '/nonexistent', target_id: 'tgt_000000000000', posterior: source.posterior };
    await expect(runChains({ source: bad, sampler: 'hmc', cfg, chains: resolveChainSettings({ count: 2, threads: 2 }), seed: 1 }))
      .rejects.toThrow(/target tgt_000000000000 not found/);
  }, 60_000);
});
