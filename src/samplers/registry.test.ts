// The registry: every sampler declares itself consistently, and aliases resolve to it.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadSampler, resolveSamplerConfig, samplerNames, samplerTraits } from './registry.js';
import { defineSampler } from './sampler.js';

describe('sampler registry', () => {
  it('lists every sampler and alias, each with its declared traits', () => {
    expect(samplerNames()).toEqual(['sgld', 'sgnht', 'hmc', 'mclmc', 'vi', 'mala', 'rmsprop_sgld', 'adam_sgld']);
    const kinds = Object.fromEntries(samplerNames().map((n) => [n, `${samplerTraits(n)!.family}/${samplerTraits(n)!.bias}`]));
    expect(kinds).toEqual({
      sgld: 'stochastic-gradient/discretisation',
      sgnht: 'stochastic-gradient/discretisation',
      hmc: 'exact/none',
      mclmc: 'exact/discretisation',
      vi: 'variational/variational',
      mala: 'exact/none',
      rmsprop_sgld: 'stochastic-gradient/discretisation',
      adam_sgld: 'stochastic-gradient/discretisation',
    });
    expect(samplerTraits('sgld')!.shares).toEqual(['step_size']);
    expect(samplerTraits('nuts')).toBeUndefined();
  });

  it('an alias is its sampler with fixed config values, recorded under the canonical name', () => {
    const adam = loadSampler('adam_sgld');
    expect(adam.sampler.name).toBe('sgld');
    expect(resolveSamplerConfig(adam, {}).precond).toBe('adam');
  });

  it('refuses a declaration whose shared values and pooling disagree', () => {
    const base = {
      name: 'x',
      summary: 'x',
      schema: z.object({}).strict(),
      schedule: () => ({ steps: 1, burnIn: 0, evalEvery: 1 }),
      prepare: () => {
        throw new Error('not run');
      },
      columns: [],
    };
    expect(() => defineSampler({ ...base, traits: { family: 'exact', bias: 'none', shares: ['step_size'], thresholds: {} } }))
      .toThrow(/traits.shares/);
    expect(() => defineSampler({ ...base, traits: { family: 'exact', bias: 'none', shares: [], thresholds: {} }, share: () => ({}) }))
      .toThrow(/traits.shares/);
  });
});
