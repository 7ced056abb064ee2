import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  essBulk,
  essTail,
  mcseMean,
  mean,
  rhat,
  sd,
  summarize,
  toJsonSafe,
  SUMMARY_KEYS,
  type Chains,
  type Statistic,
} from './index.js';
import { rankAverage, splitChains, quantileType7 } from './core.js';
import { iidNormalChains } from './testing/chains.js';
import { keyAt, normal } from '../rng/index.js';
import { essOneChain } from './index.js';

interface RefCase {
  chains: number[][];
  rhat: number;
  ess_bulk: number;
  ess_tail: number;
  mcse_mean: number;
  mean: number;
  sd: number;
}
// Copy of /work/shared/reference/arviz_diagnostics.json (values from ArviZ 0.23.4).
const reference = JSON.parse(
  readFileSync(new URL('./arviz_diagnostics.fixture.json', import.meta.url), 'utf8'),
) as { cases: Record<string, RefCase> };

const perStatistic: Record<(typeof SUMMARY_KEYS)[number], (c: Chains) => Statistic> = {
  rhat,
  ess_bulk: essBulk,
  ess_tail: essTail,
  mcse_mean: mcseMean,
  mean,
  sd,
};

function expectRelClose(actual: number | null, expected: number, rel: number): void {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

describe('agreement with ArviZ 0.23.4', () => {
  const cases = Object.entries(reference.cases);
  it('has the five reference cases', () => {
    expect(cases.map(([name]) => name).sort()).toEqual(
      ['ar08_4x301', 'iid_4x400', 'stuck_chain_3x200', 't3_2x500', 'trend_4x100'].sort(),
    );
  });
  for (const [name, c] of cases) {
    for (const key of SUMMARY_KEYS) {
      it(`${name}: ${key} to 1e-8 relative`, () => {
        const s = perStatistic[key](c.chains);
        expect(s.reason).toBeUndefined();
        expectRelClose(s.value, c[key], 1e-8);
      });
    }
    it(`${name}: summarize agrees with the per-statistic functions`, () => {
      const s = summarize(c.chains);
      expect(s.reasons).toEqual({});
      for (const key of SUMMARY_KEYS) expectRelClose(s[key], c[key], 1e-8);
    });
  }
});

describe('building blocks', () => {
  it('ranks ties by their average rank (scipy rankdata "average")', () => {
    expect(Array.from(rankAverage(Float64Array.of(3, 1, 3, 2, 3)))).toEqual([4, 1, 4, 2, 4]);
    expect(Array.from(rankAverage(Float64Array.of(5, 5)))).toEqual([1.5, 1.5]);
  });

  it('splits an odd-length chain into its first and last floor(n/2) draws, dropping the middle', () => {
    const split = splitChains([Float64Array.of(1, 2, 3, 4, 5), Float64Array.of(6, 7, 8, 9, 10)]);
    expect(split.map((c) => Array.from(c))).toEqual([[1, 2], [6, 7], [4, 5], [9, 10]]);
  });

  it('takes type-7 (numpy "linear") quantiles of all draws', () => {
    const chains = [Float64Array.of(1, 2, 3, 4), Float64Array.of(5, 6, 7, 8)];
    expect(quantileType7(chains, 0.5)).toBe(4.5);
    expect(quantileType7(chains, 0.05)).toBeCloseTo(1 + 0.05 * 7, 14);
    expect(quantileType7(chains, 0.95)).toBeCloseTo(1 + 0.95 * 7, 14);
  });
});

describe('edge cases give null with a reason, never NaN', () => {
  it('odd draw counts: the middle draw does not enter R-hat or bulk ESS, but enters the mean', () => {
    const base = iidNormalChains(4, 101, 1);
    const moved = base.map((c) => {
      const d = c.slice();
      d[50] = 1e6; // the middle draw of 101
      return d;
    });
    expect(rhat(moved).value).toBe(rhat(base).value);
    expect(essBulk(moved).value).toBe(essBulk(base).value);
    expect(mean(moved).value).not.toBe(mean(base).value);
  });

  it('heavy ties (discrete draws) are fine', () => {
    const chains = iidNormalChains(4, 200, 2).map((c) => c.map((x) => Math.round(x)));
    const s = summarize(chains);
    expect(s.reasons).toEqual({});
    expect(s.rhat).toBeGreaterThan(0.99);
    expect(s.rhat).toBeLessThan(1.1);
    expect(s.ess_bulk).toBeGreaterThan(100);
  });

  it('all draws identical: R-hat, ESS and MCSE are null; mean and sd are defined', () => {
    const s = summarize([new Float64Array(50).fill(2.5), new Float64Array(50).fill(2.5)]);
    for (const key of ['rhat', 'ess_bulk', 'ess_tail', 'mcse_mean'] as const) {
      expect(s[key]).toBeNull();
      expect(s.reasons[key]).toMatch(/identical/);
    }
    expect(s.mean).toBe(2.5);
    expect(s.sd).toBe(0);
    expect(s.reasons.mean).toBeUndefined();
  });

  it('one constant chain among moving ones is computed', () => {
    const chains = iidNormalChains(3, 100, 3);
    chains[1]!.fill(0.3);
    const s = summarize(chains);
    expect(s.reasons).toEqual({});
    expect(s.rhat).toBeGreaterThan(1.1);
  });

  it('stuck chains (each constant, at different values): R-hat is infinite, so null', () => {
    const s = summarize([new Float64Array(40).fill(0), new Float64Array(40).fill(1)]);
    expect(s.rhat).toBeNull();
    expect(s.reasons.rhat).toMatch(/infinite/);
    expect(s.ess_bulk).not.toBeNull();
    expect(Number.isFinite(s.ess_bulk)).toBe(true);
  });

  it('folded draws all tied (alternating around the median): R-hat is the bulk R-hat, as in ArviZ', () => {
    const alt = (start: number): Float64Array => Float64Array.from({ length: 40 }, (_, i) => (i % 2 ? -start : start));
    const s = summarize([alt(1), alt(-1), alt(1)]);
    expect(s.reasons).toEqual({});
    expect(Number.isFinite(s.rhat)).toBe(true);
    expect(s.rhat).toBeGreaterThan(0.9);
    expect(s.rhat).toBeLessThan(1.1);
  });

  it('one chain: R-hat is null, everything else is computed', () => {
    const s = summarize(iidNormalChains(1, 200, 4));
    expect(s.rhat).toBeNull();
    expect(s.reasons.rhat).toMatch(/at least 2 chains, got 1/);
    expect(Object.keys(s.reasons)).toEqual(['rhat']);
    expect(s.ess_bulk).toBeGreaterThan(50);
  });

  it.each([
    [Number.NaN, /NaN \(chain 1, draw 7\)/],
    [Infinity, /Infinity \(chain 1, draw 7\)/],
    [-Infinity, /-Infinity \(chain 1, draw 7\)/],
  ])('a %s draw makes every statistic null', (bad, pattern) => {
    const chains = iidNormalChains(2, 30, 5);
    chains[1]![7] = bad;
    const s = summarize(chains);
    for (const key of SUMMARY_KEYS) {
      expect(s[key]).toBeNull();
      expect(s.reasons[key]).toMatch(pattern);
    }
  });

  it('fewer than 4 draws per chain (ArviZ min_draws): R-hat, ESS, MCSE null; 4 draws computed', () => {
    const three = summarize([Float64Array.of(1, 2, 3), Float64Array.of(2, 3, 5)]);
    for (const key of ['rhat', 'ess_bulk', 'ess_tail', 'mcse_mean'] as const) {
      expect(three[key]).toBeNull();
      expect(three.reasons[key]).toMatch(/at least 4 draws per chain, got 3/);
    }
    expect(three.mean).toBeCloseTo(16 / 6, 14);
    expect(three.sd).not.toBeNull();
    const four = summarize([Float64Array.of(1, 2, 3, 4), Float64Array.of(2, 3, 5, 4.5)]);
    expect(four.reasons).toEqual({});
  });

  it('no chains or no draws', () => {
    expect(rhat([])).toEqual({ value: null, reason: 'no chains given' });
    expect(mean([[]]).reason).toMatch(/at least 1 draw/);
    expect(sd([[1]]).reason).toMatch(/at least 2 draws in total, got 1/);
    expect(sd([[1], [3]]).value).toBeCloseTo(Math.SQRT2, 14);
  });

  it('chains of unequal length are a caller error', () => {
    expect(() => rhat([[1, 2, 3, 4], [1, 2, 3]])).toThrow(RangeError);
    expect(() => summarize([[1, 2, 3, 4], [1, 2, 3]])).toThrow(/chain 1 has 3/);
  });

  it('accepts plain arrays as well as typed arrays', () => {
    const typed = iidNormalChains(2, 60, 6);
    expect(summarize(typed.map((c) => Array.from(c)))).toEqual(summarize(typed));
  });
});

describe('toJsonSafe', () => {
  it('replaces non-finite numbers by null, typed arrays by arrays, bigints by strings', () => {
    const safe = toJsonSafe({
      a: Number.NaN,
      b: [1, Infinity, -Infinity],
      c: Float64Array.of(1.5, Number.NaN),
      d: 12n,
      e: { f: 'x', g: null, h: true },
    });
    expect(safe).toEqual({ a: null, b: [1, null, null], c: [1.5, null], d: '12', e: { f: 'x', g: null, h: true } });
    const text = JSON.stringify(safe);
    expect(text).not.toMatch(/NaN|Infinity/);
    expect(JSON.parse(text)).toEqual(safe);
  });
});

describe('single-chain ESS (for tuning)', () => {
  it('single-chain ESS: ~n for white noise, ~n (1 - rho)/(1 + rho) for AR(1)', () => {
    const n = 4000;
    const z = normal(keyAt(42), n);
    const noise = z;
    const ar = new Float64Array(n);
    ar[0] = z[0]!;
    for (let i = 1; i < n; i++) ar[i] = 0.9 * ar[i - 1]! + Math.sqrt(1 - 0.81) * z[i]!;
    const essAr = essOneChain(ar, n, 1, 0);
    expect(essAr / n).toBeGreaterThan(0.5 * (0.1 / 1.9));
    expect(essAr / n).toBeLessThan(2 * (0.1 / 1.9));
    expect(essOneChain(noise, n, 1, 0) / n).toBeGreaterThan(0.5);
  });
});
