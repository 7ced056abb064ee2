import { describe, expect, it } from 'vitest';
import { keyAt, normal } from '../rng/index.js';
import { AGREEMENT_Z, crossSamplerAgreement, disagreementReason, type SamplerEstimate } from './agreement.js';

const est = (sampler: string, mean: number | null, mcse: number | null, extra: Partial<SamplerEstimate> = {}): SamplerEstimate => ({
  key: sampler, sampler, mean, mcse, trusted: true, variational: false, ...extra,
});

/** Two-sided tail of the standard normal beyond z. */
function normalTail2(z: number): number {
  // erfc(z / sqrt 2) by the Abramowitz-Stegun 7.1.26 bound is too coarse at z = 3; integrate instead.
  let s = 0;
  const h = 1e-4;
  for (let x = z; x < z + 12; x += h) s += Math.exp(-0.5 * (x + h / 2) ** 2) * h;
  return (2 * s) / Math.sqrt(2 * Math.PI);
}

describe('cross-sampler agreement', () => {
  it('compares every sampler with a warning-free HMC by |a - b| / sqrt(se_a² + se_b²)', () => {
    const r = crossSamplerAgreement([est('hmc', 7.5, 0.1), est('sgld', 8, 0.1), est('mclmc', 7.6, 0.05)]);
    expect(r.mode).toBe('hmc');
    expect(r.checks.map((c) => c.sampler)).toEqual(['sgld', 'mclmc']);
    const [sgld, mclmc] = r.checks;
    expect(sgld!.z).toBeCloseTo(0.5 / Math.hypot(0.1, 0.1), 12);
    expect(sgld!.disagrees).toBe(true);
    expect(mclmc!.z).toBeCloseTo(0.1 / Math.hypot(0.05, 0.1), 12);
    expect(mclmc!.disagrees).toBe(false);
    expect(disagreementReason(sgld!)).toBe('disagrees with hmc: 8 ± 0.1 vs 7.5 ± 0.1 (z = 3.5 > 3)');
  });

  it('flags exactly the estimates beyond z = 3, on either side', () => {
    const se = Math.hypot(0.1, 0.2);
    const r = crossSamplerAgreement([
      est('hmc', 5, 0.1),
      est('sgld', 5 + 3.01 * se, 0.2, { key: 'above' }),
      est('sgld', 5 - 3.01 * se, 0.2, { key: 'below' }),
      est('sgld', 5 + 2.99 * se, 0.2, { key: 'inside' }),
    ]);
    expect(Object.fromEntries(r.checks.map((c) => [c.key, c.disagrees]))).toEqual({ above: true, below: true, inside: false });
  });

  it('an HMC run with warnings of its own is not the reference: leave-one-out consensus instead', () => {
    const r = crossSamplerAgreement([est('hmc', 6.9, 0.1, { trusted: false }), est('sgld', 7.5, 0.1), est('mclmc', 7.45, 0.1)]);
    expect(r.mode).toBe('consensus');
    const hmc = r.checks.find((c) => c.sampler === 'hmc')!;
    // The others' inverse-variance mean: (7.5 + 7.45) / 2 with SE 0.1 / sqrt 2.
    expect(hmc.reference).toBe('consensus of sgld, mclmc');
    expect(hmc.reference_mean).toBeCloseTo(7.475, 12);
    expect(hmc.reference_se).toBeCloseTo(0.1 / Math.SQRT2, 12);
    expect(hmc.z).toBeCloseTo(0.575 / Math.hypot(0.1, 0.1 / Math.SQRT2), 12);
    expect(hmc.disagrees).toBe(true);
    expect(r.checks.filter((c) => c.disagrees).map((c) => c.sampler)).toEqual(['hmc']);
  });

  it('tests a variational estimate but never uses it as, or in, a reference', () => {
    const r = crossSamplerAgreement([est('vi', 12, 0.05, { variational: true }), est('sgld', 7.5, 0.1), est('mclmc', 7.6, 0.1)]);
    const sgld = r.checks.find((c) => c.sampler === 'sgld')!;
    expect(sgld.reference).toBe('consensus of mclmc');
    expect(sgld.disagrees).toBe(false);
    expect(r.checks.find((c) => c.sampler === 'vi')!.disagrees).toBe(true);
    const hmcVi = crossSamplerAgreement([est('hmc', 7.5, 0.1, { variational: true }), est('sgld', 7.5, 0.1)]);
    expect(hmcVi.mode).toBe('consensus');
  });

  it('never judges a warning-free estimate by one with warnings', () => {
    // sgld is clean, hmc has warnings and is far off: hmc is flagged, sgld is not compared at all.
    const r = crossSamplerAgreement([est('hmc', 9, 0.05, { trusted: false }), est('sgld', 7.5, 0.1)]);
    expect(r.checks.map((c) => [c.sampler, c.reference, c.disagrees])).toEqual([['hmc', 'consensus of sgld', true]]);
    expect(r.skipped).toEqual([{ key: 'sgld', sampler: 'sgld', reason: 'no estimate without warnings to compare with' }]);
    // Two estimates with warnings are still compared with each other.
    const both = crossSamplerAgreement([est('mclmc', 9, 0.05, { trusted: false }), est('sgld', 7.5, 0.1, { trusted: false })]);
    expect(both.checks.map((c) => c.disagrees)).toEqual([true, true]);
  });

  it('skips estimates without a mean or an MCSE, saying why', () => {
    const r = crossSamplerAgreement([est('hmc', 7, 0.1), est('vi', 7, null), est('sgld', null, null)]);
    expect(r.checks).toEqual([]);
    expect(r.skipped).toEqual([
      { key: 'vi', sampler: 'vi', reason: 'no MCSE' },
      { key: 'sgld', sampler: 'sgld', reason: 'no estimate' },
    ]);
  });

  it('is standard normal when the samplers agree: z has unit variance and the alarm rate is 2(1 - Φ(3))', () => {
    // 20 000 simulated targets, each with three unbiased estimates of one λ with unequal MCSEs.
    const trials = 20_000;
    const ses = [0.05, 0.1, 0.2];
    const noise = normal(keyAt(2024, 1), trials * ses.length);
    const zs: number[] = [];
    let alarms = 0;
    let comparisons = 0;
    for (let t = 0; t < trials; t++) {
      const r = crossSamplerAgreement(
        ses.map((se, j) => est(`s${j}`, 7 + se * noise[t * ses.length + j]!, se)),
      );
      for (const c of r.checks) {
        zs.push(c.z);
        comparisons++;
        if (c.disagrees) alarms++;
      }
    }
    // |z| of a standard normal: E z² = 1. Its sampling sd over m draws is sqrt(2/m).
    const meanSq = zs.reduce((s, z) => s + z * z, 0) / zs.length;
    expect(Math.abs(meanSq - 1)).toBeLessThan(4 * Math.sqrt(2 / zs.length));
    const p = normalTail2(AGREEMENT_Z);
    expect(p).toBeCloseTo(0.0027, 4);
    const rate = alarms / comparisons;
    // Binomial standard error of the rate; the three z's of a target are correlated, so allow 5 of them.
    expect(Math.abs(rate - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / comparisons));
  });

  it('finds a biased sampler: a shift of 5 combined standard errors is flagged almost always', () => {
    const trials = 2000;
    const noise = normal(keyAt(2024, 2), trials * 2);
    let found = 0;
    for (let t = 0; t < trials; t++) {
      const r = crossSamplerAgreement([est('hmc', 7 + 0.1 * noise[2 * t]!, 0.1), est('sgld', 7 + 5 * Math.SQRT2 * 0.1 + 0.1 * noise[2 * t + 1]!, 0.1)]);
      if (r.checks[0]!.disagrees) found++;
    }
    // P(N(5, 1) > 3) = Φ(2) = 0.977; the binomial sd over 2000 trials is 0.0033.
    expect(found / trials).toBeGreaterThan(0.977 - 4 * 0.0033);
    expect(found / trials).toBeLessThan(0.977 + 4 * 0.0033);
  });
});
