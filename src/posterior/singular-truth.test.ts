// Known answers beyond deep linear networks (truth.ts): Aoyagi-Watanabe's reduced-rank
// regression against the two-layer case of Aoyagi's deep linear theorem, and the exact
// finite-n posterior LLC of the analytic singular targets against closed forms.
import { describe, expect, it } from 'vitest';
import {
  dlnLearningCoefficient, monomialLambda, monomialPosteriorLlc, normalCrossingLambda, normalCrossingPosteriorLlc, rrrLearningCoefficient,
} from './truth.js';

describe('reduced-rank regression (Aoyagi and Watanabe)', () => {
  it('equals the two-layer deep linear theorem on every shape up to 8 and every rank', () => {
    let checked = 0;
    for (let M = 1; M <= 8; M++) {
      for (let H = 1; H <= 8; H++) {
        for (let N = 1; N <= 8; N++) {
          for (let r = 0; r <= Math.min(M, H, N); r++) {
            const a = rrrLearningCoefficient(M, H, N, r);
            const b = dlnLearningCoefficient([M, H, N], r);
            expect([a.lambda, a.multiplicity], `M=${M} H=${H} N=${N} r=${r}`).toEqual([b.lambda, b.multiplicity]);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('matches hand-computed values', () => {
    expect(rrrLearningCoefficient(4, 3, 3, 0)).toEqual({ lambda: 4, multiplicity: 1 }); // (2*3*7 - 1 - 9) / 8
    expect(rrrLearningCoefficient(1, 5, 1, 0)).toEqual({ lambda: 0.5, multiplicity: 1 }); // M + N < H: MN/2
    expect(rrrLearningCoefficient(2, 1, 6, 0)).toEqual({ lambda: 1, multiplicity: 1 }); // M + H < N: HM/2
    expect(() => rrrLearningCoefficient(2, 1, 6, 3)).toThrow(/0 <= r <= min/);
  });
});

describe('analytic singular targets', () => {
  it('asymptotic coefficients', () => {
    expect(normalCrossingLambda([1, 2])).toEqual({ lambda: 0.25, multiplicity: 1 });
    expect(normalCrossingLambda([3, 1, 3])).toEqual({ lambda: 1 / 6, multiplicity: 2 });
    expect(monomialLambda([2, 4, 6])).toBeCloseTo(11 / 12, 15);
  });

  it('the exact posterior LLC of w^2 is the Gaussian value, and of w^p tends to 1/p without the localiser', () => {
    for (const nBeta of [10, 1e3, 1e5]) {
      // exp(-nBeta s w^2 / 2 - gamma w^2 / 2): E[nBeta s w^2 / 2] = (1/2) nBeta s / (nBeta s + gamma).
      const s = 1.3;
      expect(monomialPosteriorLlc({ powers: [2], scales: [s], nBeta, gamma: 1 })).toBeCloseTo((0.5 * nBeta * s) / (nBeta * s + 1), 9);
    }
    // exp(-c w^p): E[c w^p] = 1/p exactly; a tiny gamma leaves it.
    expect(monomialPosteriorLlc({ powers: [4, 6], scales: [1, 1], nBeta: 1e4, gamma: 1e-9 })).toBeCloseTo(1 / 4 + 1 / 6, 6);
  });

  it('the normal crossing is symmetric in its variables and tends to 1/(2 max k) from below as n beta grows', () => {
    const a = normalCrossingPosteriorLlc({ exponents: [1, 2], scale: 1, nBeta: 1e3, gamma: 1 });
    const b = normalCrossingPosteriorLlc({ exponents: [2, 1], scale: 1, nBeta: 1e3, gamma: 1 });
    expect(Math.abs(a - b)).toBeLessThan(1e-6);
    const values = [1e2, 1e4, 1e7].map((nBeta) => normalCrossingPosteriorLlc({ exponents: [1, 2], scale: 1, nBeta, gamma: 1 }));
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
    expect(values[values.length - 1]!).toBeLessThan(0.25);
    expect(values[values.length - 1]!).toBeGreaterThan(0.23);
    // k = (1, 1): the regular product w1 w2 at finite n is E[c w1^2 w2^2], which a 2-D
    // brute-force sum on a fine grid reproduces.
    const c = 50;
    let num = 0;
    let den = 0;
    const h = 0.007;
    for (let x = -7; x <= 7; x += h) {
      for (let y = -7; y <= 7; y += h) {
        const e = Math.exp(-c * x * x * y * y - 0.5 * (x * x + y * y));
        num += c * x * x * y * y * e;
        den += e;
      }
    }
    expect(normalCrossingPosteriorLlc({ exponents: [1, 1], scale: 1, nBeta: 2 * c, gamma: 1 })).toBeCloseTo(num / den, 4);
  });
});
