import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { registerTruth } from '../cli/truth.js';
import {
  dlnLearningCoefficient,
  quadraticPosteriorLambda,
  quadraticPreconditionedUlaLambda,
  quadraticUlaLambda,
  rational,
  rationalToString,
  regularLambda,
  type Rational,
} from './truth.js';

// Copy of /work/shared/reference/dln_truth.json.
const reference = JSON.parse(
  readFileSync(new URL('./dln_truth.fixture.json', import.meta.url), 'utf8'),
) as { cases: { widths: number[]; rank: number; lambda: number; multiplicity: number; d: number }[] };

/** The exact rational value of a double (all doubles are dyadic rationals). */
function exactRational(x: number): Rational {
  let den = 1n;
  let y = x;
  while (!Number.isInteger(y)) {
    y *= 2;
    den *= 2n;
  }
  return rational(BigInt(y), den);
}

const widthsArb = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 7 });
const networkArb = widthsArb.chain((widths) =>
  fc.tuple(fc.constant(widths), fc.integer({ min: 0, max: Math.min(...widths) })),
);

describe("Aoyagi's learning coefficient of deep linear networks", () => {
  it('has 17 reference cases', () => expect(reference.cases).toHaveLength(17));

  it.each(reference.cases.map((c) => [c.widths.join(','), c.rank, c] as const))(
    'widths %s, rank %i matches the reference exactly',
    (_w, _r, c) => {
      const t = dlnLearningCoefficient(c.widths, c.rank);
      expect(t.lambdaExact).toEqual(exactRational(c.lambda));
      expect(t.lambda).toBe(c.lambda);
      expect(t.multiplicity).toBe(c.multiplicity);
      expect(t.d).toBe(c.d);
    },
  );

  it('a single layer is regular: lambda = d/2 for every rank', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), fc.nat(), (h1, h2, k) => {
        const r = k % (Math.min(h1, h2) + 1);
        const t = dlnLearningCoefficient([h1, h2], r);
        expect(t.lambdaExact).toEqual(rational(BigInt(h1 * h2), 2n));
        expect(t.lambda).toBe(regularLambda(t.d));
        expect(t.multiplicity).toBe(1);
      }),
    );
  });

  // With all widths k and full rank k the true set {W_L...W_1 = W} is GL(k)^(L-1), a smooth
  // submanifold of codimension k^2, so the model is regular transversally: lambda = k^2/2.
  it('equal widths at full rank: lambda = k^2 / 2 (smooth fibre of codimension k^2)', () => {
    for (const k of [1, 2, 3, 7]) {
      for (const layers of [2, 3, 5]) {
        const t = dlnLearningCoefficient(Array<number>(layers + 1).fill(k), k);
        expect(t.lambdaExact).toEqual(rational(BigInt(k * k), 2n));
        expect(t.multiplicity).toBe(1);
      }
    }
  });

  it('is invariant under reversing the widths (transposing the network)', () => {
    fc.assert(
      fc.property(networkArb, ([widths, r]) => {
        const a = dlnLearningCoefficient(widths, r);
        const b = dlnLearningCoefficient([...widths].reverse(), r);
        expect(b.lambdaExact).toEqual(a.lambdaExact);
        expect(b.multiplicity).toBe(a.multiplicity);
        expect(b.d).toBe(a.d);
      }),
    );
  });

  // The formula depends on the ends only through H_1 + H_{L+1} and otherwise on the multiset of
  // H_j - r, so hidden widths can be permuted, and at rank 0 all widths (cf. arXiv 2411.19920).
  it('is invariant under permuting hidden widths, and all widths at rank 0', () => {
    fc.assert(
      fc.property(networkArb, fc.nat(), ([widths, r], seed) => {
        const base = dlnLearningCoefficient(widths, r).lambdaExact;
        const hidden = widths.slice(1, -1);
        const rotated = hidden.map((_, i) => hidden[(i + seed) % hidden.length]!);
        const permuted = [widths[0]!, ...rotated, widths[widths.length - 1]!];
        expect(dlnLearningCoefficient(permuted, r).lambdaExact).toEqual(base);
        const all = widths.map((_, i) => widths[(i + seed) % widths.length]!);
        expect(dlnLearningCoefficient(all, 0).lambdaExact).toEqual(
          dlnLearningCoefficient(widths, 0).lambdaExact,
        );
      }),
    );
  });

  it('0 < lambda <= d/2 and multiplicity >= 1', () => {
    fc.assert(
      fc.property(networkArb, ([widths, r]) => {
        const t = dlnLearningCoefficient(widths, r);
        expect(t.lambda).toBeGreaterThan(0);
        expect(t.lambda).toBeLessThanOrEqual(t.d / 2);
        expect(t.multiplicity).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  // The implementation finds Sigma by a prefix rule on the sorted M_j; this checks the rule
  // against the theorem's three conditions by brute force over every subset.
  it("the chosen Sigma is the theorem's: the only subset meeting all three conditions", () => {
    fc.assert(
      fc.property(networkArb, ([widths, r]) => {
        const M = widths.map((h) => h - r);
        const n = M.length;
        const valid: number[][] = [];
        for (let mask = 0; mask < 1 << n; mask++) {
          const sigma = M.map((_, i) => i).filter((i) => mask & (1 << i));
          if (sigma.length < 2) continue;
          const rest = M.map((_, i) => i).filter((i) => !(mask & (1 << i)));
          const ell = sigma.length - 1;
          const sum = sigma.reduce((s, i) => s + M[i]!, 0);
          const maxIn = Math.max(...sigma.map((i) => M[i]!));
          const minOut = rest.length ? Math.min(...rest.map((i) => M[i]!)) : Infinity;
          if (maxIn < minOut && sum >= ell * maxIn && sum < ell * minOut) valid.push(sigma);
        }
        expect(valid).toHaveLength(1);
        expect(dlnLearningCoefficient(widths, r).sigma).toEqual(valid[0]);
      }),
    );
  });

  it.each([
    [[5, 3, 5], 4, /rank 4 exceeds the smallest width 3/],
    [[5, 0, 5], 0, /positive integers, width 1 is 0/],
    [[5, -2, 5], 0, /positive integers/],
    [[5, 2.5, 5], 0, /positive integers/],
    [[5], 0, /at least 2 widths/],
    [[5, 3], -1, /non-negative integer/],
    [[5, 3], 1.5, /non-negative integer/],
  ])('rejects widths %j with rank %d', (widths, r, message) => {
    expect(() => dlnLearningCoefficient(widths, r)).toThrow(message);
  });
});

describe('quadratic target L(w) = |w - w*|^2 / 2', () => {
  it('exact posterior: (d/2) n beta / (n beta + gamma), d/2 without localisation', () => {
    expect(quadraticPosteriorLambda({ d: 10, n: 1000, beta: 1, gamma: 0 })).toBe(5);
    expect(quadraticPosteriorLambda({ d: 10, n: 100, beta: 0.5, gamma: 50 })).toBe(2.5);
    expect(regularLambda(10)).toBe(5);
  });

  it('ULA: inflated by 1/(1 - eps a/4), tends to the posterior as eps -> 0, unstable at eps a >= 4', () => {
    const s = { d: 4, n: 100, beta: 1, gamma: 100 }; // a = 200
    expect(quadraticUlaLambda({ ...s, stepSize: 0.01 })).toBeCloseTo((2 * 0.5) / (1 - 0.5), 12);
    expect(quadraticUlaLambda({ ...s, stepSize: 1e-12 })).toBeCloseTo(quadraticPosteriorLambda(s), 9);
    expect(() => quadraticUlaLambda({ ...s, stepSize: 0.02 })).toThrow(/0 < ε·a < 4/);
    expect(() => quadraticUlaLambda({ ...s, stepSize: 0 })).toThrow(RangeError);
  });

  it('preconditioned ULA sums per-coordinate terms and equals ULA for equal steps', () => {
    const s = { n: 50, beta: 2, gamma: 10 }; // a = 110
    const eps = 0.01;
    expect(quadraticPreconditionedUlaLambda({ ...s, stepSizes: [eps, eps, eps] })).toBeCloseTo(
      quadraticUlaLambda({ ...s, d: 3, stepSize: eps }),
      12,
    );
    const mixed = quadraticPreconditionedUlaLambda({ ...s, stepSizes: [0.001, 0.02] });
    const each = (e: number): number => quadraticUlaLambda({ ...s, d: 1, stepSize: e });
    expect(mixed).toBeCloseTo(each(0.001) + each(0.02), 12);
  });

  // Checks the derivation itself: run ULA, w' = w - (eps/2)(a w) + sqrt(eps) xi in one
  // coordinate (w* = 0), and compare n beta * mean(L) with the formula. At eps a = 1 the chain is
  // AR(1) with rho = 1/2, so 400k steps estimate the variance to ~0.3% (sd); tolerance 2%.
  it('ULA simulated on the quadratic target converges to the stated lambda', () => {
    let state = 12345;
    const uniform = (): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const s = { d: 1, n: 80, beta: 1, gamma: 20 }; // a = 100
    const a = 100;
    const eps = 0.01;
    let w = 0;
    let sumL = 0;
    const steps = 400_000;
    for (let t = 0; t < steps; t++) {
      const xi = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
      w = w - (eps / 2) * a * w + Math.sqrt(eps) * xi;
      sumL += 0.5 * w * w;
    }
    const simulated = s.n * s.beta * (sumL / steps);
    const predicted = quadraticUlaLambda({ ...s, stepSize: eps });
    expect(Math.abs(simulated / predicted - 1)).toBeLessThan(0.02);
    // ... and differs clearly from the exact posterior value (factor 1/(1 - 1/4)).
    expect(simulated / quadraticPosteriorLambda(s)).toBeGreaterThan(1.25);
  });
});

describe('lambda-hat truth dln', () => {
  async function run(...args: string[]): Promise<string> {
    const program = new Command().exitOverride();
    registerTruth(program);
    // Commander errors (a missing required option) must reject, not exit the test process.
    for (const c of program.commands) {
      c.exitOverride();
      c.commands.forEach((sub) => sub.exitOverride().configureOutput({ writeErr: () => {} }));
    }
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      await program.parseAsync(['node', 'lambda-hat', 'truth', 'dln', ...args]);
    } finally {
      spy.mockRestore();
    }
    return out;
  }

  it('--json prints lambda, multiplicity and d', async () => {
    const out = JSON.parse(await run('--widths', '5,3,5', '--rank', '0', '--json'));
    expect(out).toEqual({
      widths: [5, 3, 5],
      rank: 0,
      lambda: 6.5,
      lambda_exact: '13/2',
      multiplicity: 2,
      d: 30,
      regular_lambda: 15,
    });
  });

  it('prints a readable summary without --json', async () => {
    const out = await run('--widths', '10,10,10,10', '--rank', '5');
    expect(out).toMatch(/lambda\s+46\n/);
    expect(out).toMatch(/multiplicity\s+3\n/);
    expect(out).toMatch(/d\s+300/);
    expect(await run('--widths', '5,3,5', '--rank', '0')).toMatch(/lambda\s+6\.5 \(= 13\/2\)/);
  });

  it.each([
    [['--widths', '5,3,5', '--rank', '4'], /rank 4 exceeds the smallest width 3/],
    [['--widths', '5,0,5', '--rank', '0'], /positive integers, entry 2 is '0'/],
    [['--widths', '5,-3,5', '--rank', '0'], /--widths must be at least two comma-separated positive integers/],
    [['--widths', '5', '--rank', '0'], /at least two/],
    [['--widths', '5,x', '--rank', '0'], /--widths must be/],
    [['--widths', '5,3', '--rank', '1.5'], /--rank must be a non-negative integer/],
    [['--widths', '5,3'], /required option '--rank <r>' not specified/],
  ])('rejects %j', async (args, message) => {
    await expect(run(...args)).rejects.toThrow(message);
  });

  it('rationalToString prints integers without a denominator', () => {
    expect(rationalToString(rational(6n, 4n))).toBe('3/2');
    expect(rationalToString(rational(-8n, -4n))).toBe('2');
  });
});
